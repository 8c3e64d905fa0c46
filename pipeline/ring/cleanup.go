package ring

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Cleanup removes the rings of containers that are gone. Docker never
// tells a log plugin that a container was removed, so the store decides
// from the disk; the policy is in doc.go ("Orphan cleanup"). Rings in use
// (an open writer or an active read) are left out entirely: neither
// removed nor counted towards MaxTotal. now is the clock the policy uses. It returns the ids removed and every error met (it goes on
// after an error).
func (s *Store) Cleanup(now time.Time) ([]string, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("ring: cleanup: %w", err)
	}
	usable := s.containersUsable()
	type candidate struct {
		id   string
		last time.Time
		size int64
	}
	var (
		cands   []candidate
		errs    []error
		removed []string
	)
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, trashPref) { // a removal cut short by a crash
			if err := os.RemoveAll(filepath.Join(s.cfg.Dir, name)); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if !e.IsDir() || !validID(name) || s.inUse(name) {
			continue
		}
		last, size, err := ringStat(filepath.Join(s.cfg.Dir, name))
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		cands = append(cands, candidate{name, last, size})
	}

	kept := cands[:0]
	for _, c := range cands {
		reason, limit := "", time.Duration(0)
		switch {
		case usable && !s.containerExists(c.id):
			reason, limit = reasonGone, s.cfg.OrphanGrace
		case !usable:
			reason, limit = reasonMaxAge, s.cfg.MaxAge
		}
		if reason != "" && now.Sub(c.last) > limit {
			ok, err := s.remove(c.id, reason, func(last time.Time) bool { return now.Sub(last) > limit })
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				removed = append(removed, c.id)
				continue
			}
		}
		kept = append(kept, c)
	}

	if s.cfg.MaxTotal > 0 {
		var total int64
		for _, c := range kept {
			total += c.size
		}
		slices.SortFunc(kept, func(a, b candidate) int { return a.last.Compare(b.last) })
		for _, c := range kept {
			if total <= s.cfg.MaxTotal {
				break
			}
			ok, err := s.remove(c.id, reasonMaxTotal, nil)
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				total -= c.size
				removed = append(removed, c.id)
			}
		}
	}
	slices.SortFunc(removed, cmp.Compare)
	return removed, errors.Join(errs...)
}

// containersUsable reports whether ContainersDir can tell which containers
// exist. An empty or wrongly mounted folder would make every ring look
// orphaned, so the folder must hold at least one container, and every
// container with an open writer (which surely exists) must be in it.
func (s *Store) containersUsable() bool {
	dir := s.cfg.ContainersDir
	if dir == "" {
		return false
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		s.log.Warn("ring: containers folder unusable, cleaning up by age", "dir", dir, "error", err)
		return false
	}
	if !slices.ContainsFunc(ents, func(e fs.DirEntry) bool { return validID(e.Name()) }) {
		s.log.Warn("ring: containers folder holds no container, cleaning up by age", "dir", dir)
		return false
	}
	s.mu.Lock()
	open := make([]*ring, 0, len(s.rings))
	for _, r := range s.rings {
		open = append(open, r)
	}
	s.mu.Unlock()
	for _, r := range open {
		r.mu.Lock()
		writing := r.writers > 0
		r.mu.Unlock()
		if writing && !s.containerExists(r.id) {
			s.log.Warn("ring: containers folder lacks a running container, cleaning up by age",
				"dir", dir, "container", r.id)
			return false
		}
	}
	return true
}

// containerExists treats any error but "not found" as "exists": removing a
// ring is the irreversible choice.
func (s *Store) containerExists(id string) bool {
	_, err := os.Lstat(filepath.Join(s.cfg.ContainersDir, id))
	return !errors.Is(err, fs.ErrNotExist)
}

// inUse reports whether the ring has an open writer or an active read.
func (s *Store) inUse(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.rings[id]
	return ok
}

// ringStat returns when a ring folder was last written (the newest
// modification time of the folder and its files) and its size in bytes.
func ringStat(dir string) (time.Time, int64, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return time.Time{}, 0, err
	}
	last := info.ModTime()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return time.Time{}, 0, err
	}
	var size int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		size += fi.Size()
		if fi.ModTime().After(last) {
			last = fi.ModTime()
		}
	}
	return last, size, nil
}

// remove deletes a ring folder unless the ring is in use. Under the store
// lock, which acquire also takes, it checks that the ring is still unused
// (and, with stale, still old enough) and renames the folder away; the
// slow recursive delete happens after, without the lock.
func (s *Store) remove(id, reason string, stale func(last time.Time) bool) (bool, error) {
	dir := filepath.Join(s.cfg.Dir, id)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, ErrClosed
	}
	if _, inUse := s.rings[id]; inUse {
		s.mu.Unlock()
		return false, nil
	}
	if stale != nil {
		last, _, err := ringStat(dir)
		if err != nil || !stale(last) {
			s.mu.Unlock()
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
			return false, err
		}
	}
	trash := filepath.Join(s.cfg.Dir, fmt.Sprintf("%s%s-%d", trashPref, id, time.Now().UnixNano()))
	err := os.Rename(dir, trash)
	s.mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("ring: remove %s: %w", id, err)
	}
	s.m.removed[reason].Inc()
	s.log.Info("ring: removed ring", "container", id, "reason", reason)
	if err := os.RemoveAll(trash); err != nil {
		return true, fmt.Errorf("ring: remove %s: %w", id, err)
	}
	return true, nil
}
