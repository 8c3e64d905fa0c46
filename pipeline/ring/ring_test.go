package ring

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/pipeline"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		codec    string
		compress bool
	}{
		{"s2", CodecS2, true},
		{"zstd", CodecZstd, true},
		{"uncompressed", CodecS2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, func(c *Config) { c.Codec = tc.codec })
			w := openWriter(t, s, cid, func(o *Options) { o.Compress = tc.compress })

			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			want := []pipeline.Record{
				{Time: 1, Source: pipeline.SourceStdout, Line: []byte("hello")},
				{Time: 2, Source: pipeline.SourceStderr, Line: []byte("oops")},
				{Time: 3, Source: pipeline.SourceStdout, Line: []byte{}},
				{Time: 4, Source: pipeline.SourceStdout, Partial: true, Line: []byte("no newline")},
				{Time: 5, Source: pipeline.SourceStderr, Partial: true, Line: big},
				{Time: 5, Source: pipeline.SourceStderr, Line: big[:1000]},
				{Time: -7, Source: pipeline.SourceStdout, Line: []byte("time went back")},
				{Time: 1 << 62, Source: pipeline.SourceStdout, Line: []byte{0, '\n', 0xff}},
			}
			for i := range want {
				if err := w.Write(&want[i]); err != nil {
					t.Fatal(err)
				}
				if want[i].Seq != uint64(i+1) {
					t.Fatalf("record %d got Seq %d", i, want[i].Seq)
				}
			}
			more := writeRecords(t, w, 0, 300, 7)
			want = append(want, more...)

			// Open block, flushed but not sealed, is readable.
			checkRecords(t, readAll(t, s, cid, all), want)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			checkRecords(t, readAll(t, s, cid, all), want)

			// After a clean restart, the same, and Seq continues.
			s.Close()
			s = openStore(t, dir, func(c *Config) { c.Codec = tc.codec })
			checkRecords(t, readAll(t, s, cid, all), want)
			w = openWriter(t, s, cid)
			r := genRecord(1)
			if err := w.Write(&r); err != nil {
				t.Fatal(err)
			}
			if r.Seq != uint64(len(want)+1) {
				t.Fatalf("after reopen Seq = %d, want %d", r.Seq, len(want)+1)
			}
			w.Close()

			if got := s.counter("logship_ring_records_written_total"); got != 1 {
				t.Errorf("records_written after reopen = %d, want 1 (new store)", got)
			}
		})
	}
}

func TestMetricsRegisteredAtOpen(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, name := range []string{
		"logship_ring_records_written_total",
		"logship_ring_bytes_written_total",
		"logship_ring_bytes_stored_total",
		"logship_ring_evicted_records_total",
		"logship_ring_corrupt_blocks_total",
		"logship_ring_torn_tails_total",
		`logship_ring_removed_total{reason="container_gone"}`,
		`logship_ring_removed_total{reason="max_age"}`,
		`logship_ring_removed_total{reason="max_total"}`,
	} {
		if _, ok := s.m.Value(name); !ok {
			t.Errorf("%s not registered", name)
		}
	}
}

func TestCounters(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	recs := writeRecords(t, w, 0, 1000, 0)
	w.Close()
	var lineBytes uint64
	for _, r := range recs {
		lineBytes += uint64(len(r.Line))
	}
	if got := s.counter("logship_ring_records_written_total"); got != 1000 {
		t.Errorf("records_written = %d", got)
	}
	if got := s.counter("logship_ring_bytes_written_total"); got != lineBytes {
		t.Errorf("bytes_written = %d, want %d", got, lineBytes)
	}
	var onDisk int64
	for _, p := range segFiles(t, s.dir, cid) {
		fi, _ := os.Stat(p)
		onDisk += fi.Size()
	}
	if got := s.counter("logship_ring_bytes_stored_total"); got != uint64(onDisk) {
		t.Errorf("bytes_stored = %d, segment files hold %d", got, onDisk)
	}
}

func TestSeqSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	w := openWriter(t, s, cid)
	want := writeRecords(t, w, 0, 500, 10)
	// Written but not flushed: lost in a crash, and never seen by readers.
	unflushed := genRecord(9999)
	if err := w.Write(&unflushed); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, cid, all); len(got) != len(want) {
		t.Fatalf("reader saw %d records, want the %d flushed ones", len(got), len(want))
	}

	crash := t.TempDir()
	copyDir(t, dir, crash)
	s2 := openStore(t, crash)
	checkRecords(t, readAll(t, s2, cid, all), want)
	w2 := openWriter(t, s2, cid)
	r := genRecord(1)
	if err := w2.Write(&r); err != nil {
		t.Fatal(err)
	}
	if r.Seq != uint64(len(want)+1) {
		t.Fatalf("Seq after crash = %d, want %d", r.Seq, len(want)+1)
	}
	w2.Close()
	w.Close()
}

func TestWriteErrors(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	long := pipeline.Record{Source: pipeline.SourceStdout, Line: make([]byte, MaxLineSize+1)}
	if err := w.Write(&long); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("long line: %v", err)
	}
	bad := pipeline.Record{Source: 7, Line: []byte("x")}
	if err := w.Write(&bad); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("bad source: %v", err)
	}
	w.Close()
	ok := genRecord(1)
	if err := w.Write(&ok); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
}

func TestInvalidID(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, id := range []string{"", "..", "../" + strings.Repeat("a", 61), strings.Repeat("A", 64),
		strings.Repeat("a", 63), strings.Repeat("a", 65), ".lock", strings.Repeat("a", 63) + "/"} {
		if _, err := s.OpenWriter(id, DefaultOptions(), nil); !errors.Is(err, ErrInvalidID) {
			t.Errorf("OpenWriter(%q): %v", id, err)
		}
		err := s.ReadLogs(context.Background(), id, all, func(*pipeline.Record) error { return nil })
		if !errors.Is(err, ErrInvalidID) {
			t.Errorf("ReadLogs(%q): %v", id, err)
		}
		if _, _, err := s.ReadFrom(context.Background(), id, 1, func(*pipeline.Record) error { return nil }); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ReadFrom(%q): %v", id, err)
		}
	}
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		if e.Name() != lockName {
			t.Errorf("unexpected entry %s", e.Name())
		}
	}
}

func TestUnknownContainer(t *testing.T) {
	s := openStore(t, t.TempDir())
	n := 0
	err := s.ReadLogs(context.Background(), cid, pipeline.ReadConfig{Tail: -1, Follow: true}, func(*pipeline.Record) error { n++; return nil })
	if err != nil || n != 0 {
		t.Fatalf("ReadLogs of unknown container: n=%d err=%v", n, err)
	}
	next, skipped, err := s.ReadFrom(context.Background(), cid, 5, func(*pipeline.Record) error { n++; return nil })
	if err != nil || next != 5 || skipped != 0 || n != 0 {
		t.Fatalf("ReadFrom of unknown container: next=%d skipped=%d err=%v", next, skipped, err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, cid)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a read created the ring folder: %v", err)
	}
}

func TestStoreLock(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if _, err := Open(Config{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s2, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestStoreCloseWithOpenWriter(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	w := openWriter(t, s, cid)
	want := writeRecords(t, w, 0, 50, 0)
	r := genRecord(50)
	if err := w.Write(&r); err != nil {
		t.Fatal(err)
	}
	want = append(want, r) // Close flushes it
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&r); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after store Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("writer Close after store Close: %v", err)
	}
	if _, err := s.OpenWriter(cid, DefaultOptions(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("OpenWriter after Close: %v", err)
	}
	s = openStore(t, dir)
	checkRecords(t, readAll(t, s, cid, all), want)
}

func TestMeta(t *testing.T) {
	s := openStore(t, t.TempDir())
	if _, err := s.ReadMeta(cid); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadMeta before any: %v", err)
	}
	w1, err := s.OpenWriter(cid, DefaultOptions(), []byte(`{"name":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	w2, err := s.OpenWriter(cid, DefaultOptions(), nil) // nil keeps it
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ReadMeta(cid); string(got) != `{"name":"a"}` {
		t.Fatalf("meta = %s", got)
	}
	w3, err := s.OpenWriter(cid, DefaultOptions(), []byte(`{"name":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ReadMeta(cid); string(got) != `{"name":"b"}` {
		t.Fatalf("meta = %s", got)
	}
	for _, w := range []pipeline.StreamWriter{w1, w2, w3} {
		w.Close()
	}
	if _, err := s.OpenWriter(cid, DefaultOptions(), make([]byte, maxMetaLen+1)); err == nil {
		t.Fatal("oversized meta accepted")
	}
}

func TestWriteDoesNotAllocate(t *testing.T) {
	s := openStore(t, t.TempDir(), func(c *Config) { c.BlockSize = maxBlockSize })
	w := openWriter(t, s, cid)
	defer w.Close()
	r := genRecord(5)
	r.Line = bytes.Repeat([]byte("x"), 300)
	allocs := testing.AllocsPerRun(1000, func() {
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Write allocates %.1f times per record", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() {
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Write+Flush allocates %.1f times", allocs)
	}
}

// TestSealFailure makes segment writes fail (as on a full disk): records
// are still accepted, flushed to the WAL and readable; the open block is
// capped in memory; once writes work again everything is sealed, in
// order.
func TestSealFailure(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	defer w.Close()
	r := w.(*writer).r
	want := writeRecords(t, w, 0, 100, 0) // a few sealed blocks
	broken, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	r.mu.Lock()
	if r.cur != nil {
		r.cur.Close()
	}
	r.cur = broken // every WriteAt now fails with os.ErrClosed
	r.mu.Unlock()

	line := bytes.Repeat([]byte("x"), 4000)
	var full error
	for i := 0; full == nil; i++ {
		rec := pipeline.Record{Time: int64(i), Source: pipeline.SourceStdout, Line: line}
		full = w.Write(&rec)
		if full == nil {
			want = append(want, cloneRecord(&rec))
			if i%100 == 0 {
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if i > 2*maxBlockRaw/len(line) {
			t.Fatal("the open block grew past its cap")
		}
	}
	if !errors.Is(full, ErrFull) || !errors.Is(full, os.ErrClosed) {
		t.Fatalf("Write at the cap: %v", full)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, s, cid, all), want)

	r.mu.Lock()
	r.cur = nil // the disk has room again
	r.mu.Unlock()
	// Refused writes retry the seal now and then; the 1024th does.
	for i := 0; ; i++ {
		rec := pipeline.Record{Time: 1, Source: pipeline.SourceStdout, Line: line}
		if err := w.Write(&rec); err == nil {
			want = append(want, cloneRecord(&rec))
			break
		}
		if i > 1024 {
			t.Fatal("seal not retried")
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, s, cid, all), want)
	r.mu.Lock()
	sealed := r.openFirst
	r.mu.Unlock()
	if sealed != want[len(want)-1].Seq {
		t.Fatalf("open block starts at %d; the big block was not sealed", sealed)
	}
}
