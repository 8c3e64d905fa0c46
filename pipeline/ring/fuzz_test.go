package ring

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
)

// seedRings returns the files of small real rings (each codec, sealed
// blocks and an open block in the WAL) to seed the fuzzers.
func seedRings(f *testing.F) []ringFiles {
	var out []ringFiles
	for _, codec := range []string{CodecS2, CodecZstd, ""} {
		dir := f.TempDir()
		s := openStore(f, dir, func(c *Config) {
			if codec != "" {
				c.Codec = codec
			}
		})
		w := openWriter(f, s, cid, func(o *Options) { o.Compress = codec != "" })
		writeRecords(f, w, 0, 60, 0)
		writeRecords(f, w, 60, 64, 2)
		out = append(out, snapshot(f, dir, cid))
		w.Close()
		s.Close()
	}
	return out
}

// FuzzOpenRing opens a ring whose segment and WAL bytes come from the
// fuzzer and reads it every way there is, then appends to it. Nothing may
// panic, allocate past the caps, or deliver sequence numbers out of order.
func FuzzOpenRing(f *testing.F) {
	for _, files := range seedRings(f) {
		seg := files[lastSeg(files)]
		wal := files[walName]
		f.Add(seg, wal, uint64(1))
		f.Add(seg[:len(seg)-3], wal[:len(wal)/2], uint64(1))
		f.Add(seg[len(seg)/3:], wal, uint64(1))
		f.Add(seg, wal, uint64(20))
		f.Add(seg, []byte{}, uint64(1<<40))
	}
	f.Fuzz(func(t *testing.T, seg, wal []byte, first uint64) {
		first = max(1, first%maxSeq)
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, cid), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, cid, segName(first)), seg, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, cid, walName), wal, 0o640); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, dir)
		ctx := context.Background()
		ordered := func(r *pipeline.Record) error {
			return nil
		}
		for _, cfg := range []pipeline.ReadConfig{
			{Tail: -1}, {Tail: 3}, {Tail: 0}, {Tail: -1, Since: time.Unix(0, 1_700_000_000_050_000_000)},
			{Tail: 50, Until: time.Unix(0, 1_700_000_000_020_000_000)},
		} {
			var last uint64
			err := s.ReadLogs(ctx, cid, cfg, func(r *pipeline.Record) error {
				if r.Seq <= last {
					t.Fatalf("seq %d after %d", r.Seq, last)
				}
				last = r.Seq
				return ordered(r)
			})
			if err != nil {
				t.Fatalf("ReadLogs %+v: %v", cfg, err)
			}
		}
		for _, from := range []uint64{1, first + 5} {
			var n uint64
			next, skipped, err := s.ReadFrom(ctx, cid, from, func(*pipeline.Record) error { n++; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if next < from || next-from != n+skipped {
				t.Fatalf("ReadFrom(%d): next %d, %d delivered, %d skipped", from, next, n, skipped)
			}
		}

		// The ring stays writable, and what is written is read back.
		w := openWriter(t, s, cid)
		var want []pipeline.Record
		for i := range 3 {
			r := genRecord(i)
			if err := w.Write(&r); err != nil {
				t.Fatal(err)
			}
			want = append(want, r)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if want[1].Seq != want[0].Seq+1 || want[2].Seq != want[0].Seq+2 {
			t.Fatalf("seqs %d %d %d", want[0].Seq, want[1].Seq, want[2].Seq)
		}
		s.Close()
		s = openStore(t, dir)
		got := readAll(t, s, cid, pipeline.ReadConfig{Tail: 3})
		checkRecords(t, got, want)
	})
}

// FuzzReadWAL feeds arbitrary bytes to the WAL decoder.
func FuzzReadWAL(f *testing.F) {
	for _, files := range seedRings(f) {
		f.Add(files[walName])
	}
	f.Add([]byte("LSWC\x01\x00\x00\x00\xff\xff\xff\x7f\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, valid, err := readWAL(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if valid < 0 || valid > int64(len(b)) || len(st.raw) > maxBlockRaw || len(st.raw) > len(b) {
			t.Fatalf("valid %d raw %d of %d bytes", valid, len(st.raw), len(b))
		}
		it := recIter{b: st.raw, seq: st.first}
		var rec pipeline.Record
		for !it.done() {
			if err := it.next(&rec); err != nil {
				t.Fatalf("readWAL accepted bytes that do not decode: %v", err)
			}
		}
		if it.seq-st.first != uint64(st.count) || it.prev != st.prevTime {
			t.Fatalf("count %d, decoded %d", st.count, it.seq-st.first)
		}
	})
}

// FuzzRecords checks that encoding round-trips and that decoding
// arbitrary bytes never panics or reads out of bounds.
func FuzzRecords(f *testing.F) {
	f.Add([]byte{1, 2, 3, 'a', 'b', 'c'}, int64(5), []byte("line"), uint8(6))
	f.Add([]byte{}, int64(-1<<63), []byte{}, uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, tm int64, line []byte, flags uint8) {
		it := recIter{b: b, seq: 1}
		var rec pipeline.Record
		for !it.done() {
			if err := it.next(&rec); err != nil {
				break
			}
			if cap(rec.Line) != len(rec.Line) {
				t.Fatal("decoded line is not capacity-clipped")
			}
		}
		in := []pipeline.Record{
			{Time: tm, Source: pipeline.Source(flags % 3), Partial: flags&4 != 0, Line: line},
			{Time: -tm, Source: pipeline.SourceStderr, Line: b},
			{Time: tm ^ 0x5555, Source: pipeline.SourceStdout, Partial: true},
		}
		var enc []byte
		prev := int64(0)
		for i := range in {
			enc = appendRecord(enc, prev, &in[i])
			prev = in[i].Time
		}
		it = recIter{b: enc, seq: 1}
		for i := range in {
			if err := it.next(&rec); err != nil {
				t.Fatal(err)
			}
			if rec.Time != in[i].Time || rec.Source != in[i].Source || rec.Partial != in[i].Partial || !bytes.Equal(rec.Line, in[i].Line) {
				t.Fatalf("record %d does not round-trip", i)
			}
		}
		if !it.done() {
			t.Fatal("trailing bytes")
		}
	})
}

// FuzzSegment runs the segment walkers (recovery, the backwards trailer
// walk, resync, decompression, record decoding) over arbitrary bytes in
// memory, which is much faster than FuzzOpenRing.
func FuzzSegment(f *testing.F) {
	for _, files := range seedRings(f) {
		seg := files[lastSeg(files)]
		f.Add(seg)
		f.Add(seg[:len(seg)-1])
		f.Add(seg[17:])
	}
	s := openStore(f, f.TempDir())
	f.Fuzz(func(t *testing.T, b []byte) {
		sf := segFile{f: bytes.NewReader(b), name: "fuzz", size: int64(len(b))}
		var buf []byte
		end, size, err := sf.validEnd(1, nil, &buf)
		if err != nil || size < 0 || size > int64(len(b)) || end < 1 || end > maxSeq {
			t.Fatalf("validEnd: end %d size %d err %v", end, size, err)
		}
		// What validEnd keeps ends with a complete block (damage before it
		// is the readers' business), so appending after it is safe and
		// --tail can start there.
		sf.size = size
		if size > 0 {
			off, h, err := sf.prev(size)
			if err == nil {
				_, trailerOK, perr := sf.payload(off, &h, &buf)
				if perr != nil || !trailerOK {
					err = fmt.Errorf("payload: %v, trailer ok %v", perr, trailerOK)
				}
			}
			if err != nil || h.end() != end {
				t.Fatalf("recovered segment does not end with a good block ending at seq %d: %v", end, err)
			}
		}
		// Forward, as readers do, decoding every block found.
		sf.size = int64(len(b))
		rd := reader{s: s.Store}
		win := make([]byte, resyncWindow)
		var rec pipeline.Record
		for off := int64(0); off < sf.size; {
			h, err := sf.header(off)
			var p []byte
			if err == nil {
				p, _, err = sf.payload(off, &h, &rd.stored)
			}
			if err == nil {
				if p, err = rd.decompress(&h, p); err == nil {
					if len(p) != int(h.raw) {
						t.Fatalf("decompressed %d bytes, header says %d", len(p), h.raw)
					}
					it := recIter{b: p, seq: h.first}
					for !it.done() && it.next(&rec) == nil {
					}
				}
				off += h.total()
				continue
			}
			next, ok, err := sf.resync(off+1, win, &rd.stored)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if next <= off {
				t.Fatalf("resync went backwards: %d -> %d", off, next)
			}
			off = next
		}
	})
}
