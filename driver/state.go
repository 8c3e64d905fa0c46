package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/logship/logship/pipeline"
)

// stateStore persists the set of open streams: one small JSON file per FIFO,
// named by a hash of its path, holding {File, Info}. It is written when a
// stream starts and removed when it ends at EOF; a killed or restarted
// plugin reads it to re-attach. Files are replaced atomically (write to a
// temporary name, then rename), so a crash leaves the old or the new
// version, never a torn one; a file that does not decode is logged by the
// caller and removed.
type stateStore struct{ dir string }

type stateEntry struct {
	File string
	Info pipeline.Info
}

// maxStateFile caps what is read back: Info holds the container's env and
// labels, which are small, but the folder is not trusted blindly.
const maxStateFile = 4 << 20

func newStateStore(dir string) (*stateStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("driver state folder: %w", err)
	}
	return &stateStore{dir: dir}, nil
}

func (s *stateStore) path(file string) string {
	sum := sha256.Sum256([]byte(file))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:16])+".json")
}

func (s *stateStore) save(file string, info *pipeline.Info) error {
	b, err := json.Marshal(stateEntry{File: file, Info: *info})
	if err != nil {
		return err
	}
	p := s.path(file)
	tmp := p + ".tmp"
	// 0600: Info.Config holds log-opts, which may name credential files.
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func (s *stateStore) remove(file string) error {
	err := os.Remove(s.path(file))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// list returns every recorded stream. Unreadable entries are removed and
// skipped: they cannot be re-attached anyway.
func (s *stateStore) list() ([]stateEntry, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []stateEntry
	for _, de := range des {
		name := de.Name()
		p := filepath.Join(s.dir, name)
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(p)
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		e, err := readStateFile(p)
		if err != nil || !filepath.IsAbs(e.File) || s.path(e.File) != p || !validContainerID(e.Info.ContainerID) {
			os.Remove(p)
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func readStateFile(p string) (stateEntry, error) {
	var e stateEntry
	f, err := os.Open(p)
	if err != nil {
		return e, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return e, err
	}
	if st.Size() > maxStateFile {
		return e, fmt.Errorf("state file %s too large", p)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		return e, err
	}
	err = json.Unmarshal(b, &e)
	return e, err
}
