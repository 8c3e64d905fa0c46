package ring

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
)

var cleanupNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// makeRing creates a closed ring for container n, last written age before
// cleanupNow.
func makeRing(t *testing.T, s *testStore, n int, age time.Duration) string {
	t.Helper()
	id := containerID(n)
	w := openWriter(t, s, id)
	writeRecords(t, w, 0, 200, 0)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	setAge(t, s.dir, id, age)
	return id
}

func setAge(t *testing.T, dir, id string, age time.Duration) {
	t.Helper()
	at := cleanupNow.Add(-age)
	err := filepathWalk(filepath.Join(dir, id), func(path string, _ os.DirEntry) error {
		return os.Chtimes(path, at, at)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func fakeContainers(t *testing.T, ids ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, id := range ids {
		if err := os.Mkdir(filepath.Join(dir, id), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func ringExists(t *testing.T, s *testStore, id string) bool {
	_, err := os.Stat(filepath.Join(s.dir, id))
	return err == nil
}

func TestCleanupContainerGone(t *testing.T) {
	running := containerID(100)
	other := containerID(101)
	containers := fakeContainers(t, running, other)
	s := openStore(t, t.TempDir(), func(c *Config) { c.ContainersDir = containers })

	goneOld := makeRing(t, s, 1, 6*time.Minute)
	goneFresh := makeRing(t, s, 2, 4*time.Minute)
	existsOld := makeRing(t, s, 3, 1000*time.Hour)
	if err := os.Mkdir(filepath.Join(containers, existsOld), 0o750); err != nil {
		t.Fatal(err)
	}
	// A ring with an open writer is never removed, even if its folder in
	// ContainersDir is missing and it is old... (see also the next test).
	w := openWriter(t, s, running)
	defer w.Close()
	writeRecords(t, w, 0, 10, 0)
	setAge(t, s.dir, running, 1000*time.Hour)
	// Files that are not rings are left alone.
	if err := os.WriteFile(filepath.Join(s.dir, "README"), nil, 0o640); err != nil {
		t.Fatal(err)
	}

	removed, err := s.Cleanup(cleanupNow)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{goneOld}) {
		t.Fatalf("removed %v, want [%s]", removed, goneOld)
	}
	for id, want := range map[string]bool{goneOld: false, goneFresh: true, existsOld: true, running: true} {
		if ringExists(t, s, id) != want {
			t.Errorf("ring %s exists=%v, want %v", id[:8], !want, want)
		}
	}
	if _, err := os.Stat(filepath.Join(s.dir, "README")); err != nil {
		t.Error("cleanup removed a file that is not a ring")
	}
	if got := s.counter(`logship_ring_removed_total{reason="container_gone"}`); got != 1 {
		t.Errorf("removed{container_gone} = %d", got)
	}
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		if len(e.Name()) > len(trashPref) && e.Name()[:len(trashPref)] == trashPref {
			t.Errorf("trash left behind: %s", e.Name())
		}
	}
	// The writer goes on after a cleanup.
	writeRecords(t, w, 10, 20, 0)
}

func TestCleanupMaxAge(t *testing.T) {
	for _, tc := range []struct {
		name       string
		containers func(t *testing.T, running string) string
	}{
		{"unset", func(*testing.T, string) string { return "" }},
		{"missing", func(t *testing.T, _ string) string { return filepath.Join(t.TempDir(), "nope") }},
		{"empty", func(t *testing.T, _ string) string { return t.TempDir() }},
		// Holds containers, but not the one being logged right now: it is
		// not the folder dockerd uses.
		{"wrong", func(t *testing.T, _ string) string { return fakeContainers(t, containerID(999)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			running := containerID(100)
			s := openStore(t, t.TempDir(), func(c *Config) { c.ContainersDir = tc.containers(t, running) })
			w := openWriter(t, s, running)
			defer w.Close()
			old := makeRing(t, s, 1, 169*time.Hour)
			young := makeRing(t, s, 2, 167*time.Hour)
			removed, err := s.Cleanup(cleanupNow)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(removed, []string{old}) {
				t.Fatalf("removed %v, want [%s]", removed, old)
			}
			if !ringExists(t, s, young) || !ringExists(t, s, running) {
				t.Fatal("removed a ring younger than MaxAge, or one with a writer")
			}
			if got := s.counter(`logship_ring_removed_total{reason="max_age"}`); got != 1 {
				t.Errorf("removed{max_age} = %d", got)
			}
		})
	}
}

func TestCleanupMaxTotal(t *testing.T) {
	ids := []string{containerID(1), containerID(2), containerID(3), containerID(4), containerID(5)}
	containers := fakeContainers(t, ids...)
	s := openStore(t, t.TempDir(), func(c *Config) { c.ContainersDir = containers })
	// A ring with an open writer counts for nothing.
	w := openWriter(t, s, ids[4])
	defer w.Close()
	writeRecords(t, w, 0, 5000, 0)

	oldest := makeRing(t, s, 1, 3*time.Hour)
	middle := makeRing(t, s, 2, 2*time.Hour)
	newest := makeRing(t, s, 3, 1*time.Hour)
	_, size, err := ringStat(filepath.Join(s.dir, newest))
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.MaxTotal = size + size/2
	// A ring being read is in use: neither removed nor counted, though it
	// is the oldest; the next cleanup deals with it.
	reading := makeRing(t, s, 4, 4*time.Hour)
	r, err := s.acquire(reading, false)
	if err != nil {
		t.Fatal(err)
	}
	removed, err := s.Cleanup(cleanupNow)
	s.release(r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{oldest, middle}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	for _, id := range []string{newest, reading, ids[4]} {
		if !ringExists(t, s, id) {
			t.Errorf("ring %s removed", id[:8])
		}
	}
	if got := s.counter(`logship_ring_removed_total{reason="max_total"}`); got != 2 {
		t.Errorf("removed{max_total} = %d", got)
	}
	// Once the read is over, the next run removes that ring, the oldest,
	// and a third has nothing left to do.
	if removed, err := s.Cleanup(cleanupNow); err != nil || !slices.Equal(removed, []string{reading}) {
		t.Fatalf("second cleanup removed %v, %v", removed, err)
	}
	if removed, err := s.Cleanup(cleanupNow); err != nil || len(removed) != 0 {
		t.Fatalf("third cleanup removed %v, %v", removed, err)
	}
}

func TestCleanupThenReuse(t *testing.T) {
	s := openStore(t, t.TempDir())
	id := makeRing(t, s, 1, 200*time.Hour)
	if removed, err := s.Cleanup(cleanupNow); err != nil || len(removed) != 1 {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if got := readAll(t, s, id, all); len(got) != 0 {
		t.Fatalf("read %d records of a removed ring", len(got))
	}
	// A container with the same id (it came back) starts a new ring.
	w := openWriter(t, s, id)
	recs := writeRecords(t, w, 0, 5, 0)
	w.Close()
	if recs[0].Seq != 1 {
		t.Fatalf("first Seq of a new ring %d", recs[0].Seq)
	}
	checkRecords(t, readAll(t, s, id, pipeline.ReadConfig{Tail: -1}), recs)
}
