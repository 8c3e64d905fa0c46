package ring

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/logship/logship/pipeline"
)

// containerID returns a valid, distinct container id for n.
func containerID(n int) string { return fmt.Sprintf("%064x", n) }

var cid = containerID(1)

type testStore struct {
	*Store
	dir string
	m   *pipeline.Metrics
}

// openStore opens a store in dir with small blocks, so that tests get many
// blocks out of little data.
func openStore(t testing.TB, dir string, mod ...func(*Config)) *testStore {
	t.Helper()
	m := pipeline.NewMetrics()
	cfg := Config{Dir: dir, BlockSize: 4 << 10, Metrics: m}
	for _, f := range mod {
		f(&cfg)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &testStore{Store: s, dir: dir, m: m}
}

func (s *testStore) counter(name string) uint64 {
	v, _ := s.m.Value(name)
	return uint64(v)
}

// genRecord makes a deterministic record: times increase with a little
// jitter, sources alternate irregularly, some records are partial, some
// lines empty.
func genRecord(i int) pipeline.Record {
	src := pipeline.SourceStdout
	if i%3 == 1 {
		src = pipeline.SourceStderr
	}
	n := (i * 37) % 300
	if i%17 == 0 {
		n = 0
	}
	line := make([]byte, n)
	for j := range line {
		line[j] = byte('a' + (i+j*7)%26)
	}
	return pipeline.Record{
		Time:    1_700_000_000_000_000_000 + int64(i)*1_000_000 - int64(i%5)*300_000,
		Source:  src,
		Partial: i%11 == 3,
		Line:    line,
	}
}

// writeRecords writes records i in [from, to) and returns them with their
// assigned Seq, flushing every flushEvery records (0: only at the end).
func writeRecords(t testing.TB, w pipeline.StreamWriter, from, to, flushEvery int) []pipeline.Record {
	t.Helper()
	var out []pipeline.Record
	for i := from; i < to; i++ {
		r := genRecord(i)
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		if flushEvery > 0 && (i-from+1)%flushEvery == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out
}

func openWriter(t testing.TB, s *testStore, id string, opts ...func(*Options)) pipeline.StreamWriter {
	t.Helper()
	o := DefaultOptions()
	for _, f := range opts {
		f(&o)
	}
	w, err := s.OpenWriter(id, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// cloneRecord copies a record out of a reader's buffers.
func cloneRecord(r *pipeline.Record) pipeline.Record {
	c := *r
	c.Line = bytes.Clone(r.Line)
	if c.Line == nil {
		c.Line = []byte{}
	}
	return c
}

func readAll(t testing.TB, s *testStore, id string, cfg pipeline.ReadConfig) []pipeline.Record {
	t.Helper()
	var out []pipeline.Record
	err := s.ReadLogs(context.Background(), id, cfg, func(r *pipeline.Record) error {
		out = append(out, cloneRecord(r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var all = pipeline.ReadConfig{Tail: -1}

func sameRecord(a, b pipeline.Record) bool {
	return a.Seq == b.Seq && a.Time == b.Time && a.Source == b.Source && a.Partial == b.Partial && bytes.Equal(a.Line, b.Line)
}

func checkRecords(t testing.TB, got, want []pipeline.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d (got seqs %s, want %s)", len(got), len(want), seqs(got), seqs(want))
	}
	for i := range got {
		if !sameRecord(got[i], want[i]) {
			t.Fatalf("record %d: got seq=%d time=%d src=%v partial=%v len=%d, want seq=%d time=%d src=%v partial=%v len=%d",
				i, got[i].Seq, got[i].Time, got[i].Source, got[i].Partial, len(got[i].Line),
				want[i].Seq, want[i].Time, want[i].Source, want[i].Partial, len(want[i].Line))
		}
	}
}

func seqs(recs []pipeline.Record) string {
	if len(recs) == 0 {
		return "[]"
	}
	if len(recs) > 6 {
		return fmt.Sprintf("[%d %d %d ... %d %d]", recs[0].Seq, recs[1].Seq, recs[2].Seq, recs[len(recs)-2].Seq, recs[len(recs)-1].Seq)
	}
	s := make([]uint64, len(recs))
	for i := range recs {
		s[i] = recs[i].Seq
	}
	return fmt.Sprint(s)
}

// copyDir copies a store folder: a snapshot of the disk at this instant is
// exactly what a kill -9 leaves, since the ring does not fsync.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepathWalk(src, func(path string, d os.DirEntry) error {
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		defer out.Close()
		_, err = io.Copy(out, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func filepathWalk(root string, fn func(string, os.DirEntry) error) error {
	return filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return fn(path, d)
	})
}

// segFiles lists a ring's segment files, oldest first.
func segFiles(t testing.TB, dir, id string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, ok := parseSegName(e.Name()); ok {
			out = append(out, filepath.Join(dir, id, e.Name()))
		}
	}
	slices.Sort(out)
	return out
}

// blockOffsets returns the start offsets of the blocks of a segment file,
// and its size, by walking the headers.
func blockOffsets(t testing.TB, path string) ([]int64, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for off := int64(0); off < int64(len(b)); {
		h, err := parseBlockHeader(b[off:])
		if err != nil {
			t.Fatalf("%s at %d: %v", path, off, err)
		}
		offs = append(offs, off)
		off += h.total()
	}
	return offs, int64(len(b))
}

// flipByte inverts one byte of a file in place.
func flipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b[:], off); err != nil {
		t.Fatal(err)
	}
}
