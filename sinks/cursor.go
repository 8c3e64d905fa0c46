package sinks

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// On disk, below Config.Dir:
//
//	<container id>/plan.json              the delivery plan given to Ship (opaque; the container's log-opts)
//	<container id>/<hash>.cursor          one per target: 8-byte big-endian Seq of the next record to send,
//	                                      then a 4-byte CRC-32C of those 8 bytes
//
// <hash> is the first 16 bytes of SHA-256(Name + "\x00" + Key), in hex. A
// cursor is replaced atomically (temporary file, then rename) after every
// acknowledged batch; a missing or damaged cursor starts at the oldest
// record the ring holds, so a crash can only cause re-sending (at least
// once), never skipping.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (d *Delivery) cursorPath(id string, t Target) string {
	sum := sha256.Sum256([]byte(t.Name + "\x00" + t.Key))
	return filepath.Join(d.cfg.Dir, id, hex.EncodeToString(sum[:16])+".cursor")
}

func (s *shipper) loadCursor() uint64 {
	b, err := os.ReadFile(s.cursorPath)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.d.log.Warn("cannot read sink cursor; starting from the oldest record", "sink", s.t.Name,
				"container_id", s.id, "error", err)
		}
		return 1
	}
	if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.BigEndian.Uint32(b[8:]) {
		s.d.log.Warn("damaged sink cursor; starting from the oldest record", "sink", s.t.Name, "container_id", s.id)
		return 1
	}
	return max(binary.BigEndian.Uint64(b[:8]), 1)
}

func (s *shipper) saveCursor(seq uint64) error {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], seq)
	binary.BigEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	return writeFileAtomic(s.cursorPath, b[:])
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

const maxPlan = 1 << 20

func (d *Delivery) savePlan(id string, plan []byte) error {
	if plan == nil {
		return nil
	}
	if len(plan) > maxPlan {
		return fmt.Errorf("sinks: delivery plan of %d bytes is over the %d limit", len(plan), maxPlan)
	}
	p := filepath.Join(d.cfg.Dir, id, "plan.json")
	if old, err := os.ReadFile(p); err == nil && slices.Equal(old, plan) {
		return nil
	}
	return writeFileAtomic(p, plan)
}

// Plans returns the stored delivery plan of every container, by id, so
// that after a restart the caller can call Ship again for containers that
// are not running any more but still have records to deliver.
func (d *Delivery) Plans() (map[string][]byte, error) {
	des, err := os.ReadDir(d.cfg.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, de := range des {
		if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		p := filepath.Join(d.cfg.Dir, de.Name(), "plan.json")
		st, err := os.Stat(p)
		if err != nil || st.Size() > maxPlan {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			out[de.Name()] = b
		}
	}
	return out, nil
}

// Forget stops delivery for containers not in keep (their rings are gone,
// so nothing more can be read, and a batch retrying against a dead receiver
// would retry forever) and removes their cursors and plans.
func (d *Delivery) Forget(keep map[string]bool) (int, error) {
	des, err := os.ReadDir(d.cfg.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	for _, s := range d.shippers {
		if !keep[s.id] {
			s.cancel()
		}
	}
	d.mu.Unlock()
	n := 0
	for _, de := range des {
		id := de.Name()
		if !de.IsDir() || keep[id] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(d.cfg.Dir, id)); err == nil {
			n++
		}
	}
	return n, nil
}
