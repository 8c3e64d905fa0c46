package ring

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/logship/logship/pipeline"
)

// ringFiles is the content of one ring folder, by file name.
type ringFiles map[string][]byte

func snapshot(t testing.TB, dir, id string) ringFiles {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	out := ringFiles{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, id, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// reopen writes files as the ring of cid in a fresh store folder (reusing
// scratch) and opens a store on it.
func reopen(t testing.TB, scratch string, files ringFiles) *testStore {
	t.Helper()
	if err := os.RemoveAll(scratch); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(scratch, cid), 0o750); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(scratch, cid, name), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return openStore(t, scratch)
}

func lastSeg(files ringFiles) string {
	last := ""
	for name := range files {
		if _, ok := parseSegName(name); ok && name > last {
			last = name
		}
	}
	return last
}

// checkReopened checks that the reopened ring holds exactly want, that
// tail reads agree, and that the next record gets the next Seq.
func checkReopened(t *testing.T, s *testStore, want []pipeline.Record) {
	t.Helper()
	checkRecords(t, readAll(t, s, cid, all), want)
	checkRecords(t, readAll(t, s, cid, pipeline.ReadConfig{Tail: 7}), model(want, pipeline.ReadConfig{Tail: 7}))
	w := openWriter(t, s, cid)
	r := genRecord(1)
	if err := w.Write(&r); err != nil {
		t.Fatal(err)
	}
	var wantSeq uint64 = 1
	if len(want) > 0 {
		wantSeq = want[len(want)-1].Seq + 1
	}
	if r.Seq != wantSeq {
		t.Fatalf("next Seq %d, want %d", r.Seq, wantSeq)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestCrashDuringSeal cuts the block being sealed at every byte, with the
// WAL as it was before the seal (the process died inside the write), and
// at the full length (it died between the write and the WAL reset). Every
// record must be there exactly once.
func TestCrashDuringSeal(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	w := openWriter(t, s, cid)
	recs := writeRecords(t, w, 0, 200, 0) // several sealed blocks
	recs = append(recs, writeRecords(t, w, 200, 215, 4)...)
	before := snapshot(t, dir, cid)
	if len(before[walName]) == 0 {
		t.Fatal("test needs an open block in the WAL")
	}
	w.Close() // seals the open block, resets the WAL
	after := snapshot(t, dir, cid)
	if len(after[walName]) != 0 {
		t.Fatal("WAL not reset by the seal")
	}
	seg := lastSeg(after)
	from, to := len(before[seg]), len(after[seg])
	if to <= from {
		t.Fatal("seal did not append to the last segment")
	}
	scratch := filepath.Join(t.TempDir(), "s")
	for cut := from; cut <= to; cut++ {
		files := ringFiles{}
		for k, v := range before {
			files[k] = v
		}
		files[seg] = after[seg][:cut]
		s := reopen(t, scratch, files)
		checkReopened(t, s, recs)
		torn := uint64(0)
		if cut != from && cut != to {
			torn = 1
		}
		if got := s.counter("logship_ring_torn_tails_total"); got != torn {
			t.Fatalf("cut %d: torn tails %d, want %d", cut, got, torn)
		}
	}
}

// TestTornSegmentTail cuts the last block of a sealed ring (no WAL) at
// every byte: the cut block is lost, every earlier block stays.
func TestTornSegmentTail(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	w := openWriter(t, s, cid)
	recs := writeRecords(t, w, 0, 300, 0)
	w.Close()
	files := snapshot(t, dir, cid)
	seg := lastSeg(files)
	offs, size := blockOffsets(t, filepath.Join(dir, cid, seg))
	lastOff := offs[len(offs)-1]
	h, _ := parseBlockHeader(files[seg][lastOff:])
	kept := recs[:h.first-1]
	scratch := filepath.Join(t.TempDir(), "s")
	for cut := lastOff; cut < size; cut++ {
		f := ringFiles{}
		for k, v := range files {
			f[k] = v
		}
		f[seg] = files[seg][:cut]
		s := reopen(t, scratch, f)
		checkReopened(t, s, kept)
	}
}

// TestTornWAL cuts the WAL at every byte of its last chunk.
func TestTornWAL(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, func(c *Config) { c.BlockSize = 64 << 10 })
	w := openWriter(t, s, cid)
	recs := writeRecords(t, w, 0, 40, 0)
	lastChunk := writeRecords(t, w, 40, 45, 0)
	files := snapshot(t, dir, cid)
	w.Close()
	wal := files[walName]
	var off int
	for off < len(wal) {
		n := walHeaderSize + int(binary.LittleEndian.Uint32(wal[off+8:]))
		if off+n == len(wal) {
			break
		}
		off += n
	}
	scratch := filepath.Join(t.TempDir(), "s")
	for cut := off; cut <= len(wal); cut++ {
		f := ringFiles{}
		for k, v := range files {
			f[k] = v
		}
		f[walName] = wal[:cut]
		s := reopen(t, scratch, f)
		want := recs
		if cut == len(wal) {
			want = append(recs[:len(recs):len(recs)], lastChunk...)
		}
		checkReopened(t, s, want)
		torn := uint64(0)
		if cut != off && cut != len(wal) {
			torn = 1
		}
		if got := s.counter("logship_ring_torn_tails_total"); got != torn {
			t.Fatalf("cut %d (last chunk %d..%d): torn tails %d, want %d", cut, off, len(wal), got, torn)
		}
	}
}

// TestWALGarbage: a WAL that is garbage from the first byte holds
// nothing, and does not harm the sealed blocks.
func TestWALGarbage(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	w := openWriter(t, s, cid)
	recs := writeRecords(t, w, 0, 100, 0)
	w.Close()
	files := snapshot(t, dir, cid)
	files[walName] = []byte("LSWC\x01\x00\x00\x00\xff\xff\xff\xff garbage that claims 4 GB")
	checkReopened(t, reopen(t, filepath.Join(t.TempDir(), "s"), files), recs)
}

func TestCorruptMiddleBlock(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   func(h blockHeader) int64 // offset inside the block
		// lost reports whether the block's records are lost: a damaged
		// trailer does not hurt forward reads.
		lost bool
	}{
		{"payload", func(h blockHeader) int64 { return blockHeaderSize + int64(h.stored)/2 }, true},
		{"magic", func(blockHeader) int64 { return 1 }, true},
		{"stored-length", func(blockHeader) int64 { return 9 }, true},
		{"record-count", func(blockHeader) int64 { return 16 }, true},
		{"first-seq", func(blockHeader) int64 { return 20 }, true},
		{"max-time", func(blockHeader) int64 { return 43 }, true},
		{"crc", func(blockHeader) int64 { return 45 }, true},
		{"trailer", func(h blockHeader) int64 { return h.total() - 2 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			w := openWriter(t, s, cid)
			recs := writeRecords(t, w, 0, 400, 0)
			w.Close()
			s.Close()
			segs := segFiles(t, dir, cid)
			if len(segs) != 1 {
				t.Fatalf("%d segments", len(segs))
			}
			offs, _ := blockOffsets(t, segs[0])
			if len(offs) < 5 {
				t.Fatalf("only %d blocks", len(offs))
			}
			k := len(offs) / 2
			b, _ := os.ReadFile(segs[0])
			h, _ := parseBlockHeader(b[offs[k]:])
			flipByte(t, segs[0], offs[k]+tc.at(h))

			s = openStore(t, dir)
			want := recs
			if tc.lost {
				want = append(recs[:h.first-1:h.first-1], recs[h.end()-1:]...)
			}
			checkRecords(t, readAll(t, s, cid, all), want)
			wantCorrupt := uint64(0)
			if tc.lost {
				wantCorrupt = 1
			}
			if got := s.counter("logship_ring_corrupt_blocks_total"); got != wantCorrupt {
				t.Fatalf("corrupt blocks %d, want %d", got, wantCorrupt)
			}
			if got := s.counter("logship_ring_torn_tails_total"); got != 0 {
				t.Fatalf("a middle block was treated as a torn tail")
			}
			// Tail windows that cover the damaged block, and ones that
			// start right after it.
			for _, tail := range []int{1, 10, int(uint64(len(recs)) - h.end() + 1), int(uint64(len(recs)) - h.first + 2), len(recs)} {
				cfg := pipeline.ReadConfig{Tail: tail}
				var wantTail []pipeline.Record
				for _, r := range model(recs, cfg) {
					if !tc.lost || r.Seq < h.first || r.Seq >= h.end() {
						wantTail = append(wantTail, r)
					}
				}
				checkRecords(t, readAll(t, s, cid, cfg), wantTail)
			}
			// A sink reading through the damage is told what it missed.
			next, skipped, err := s.ReadFrom(context.Background(), cid, 1, func(*pipeline.Record) error { return nil })
			if err != nil || next != uint64(len(recs)+1) {
				t.Fatalf("ReadFrom: next %d err %v", next, err)
			}
			if tc.lost && skipped != uint64(h.count) {
				t.Fatalf("ReadFrom skipped %d, block held %d", skipped, h.count)
			}
		})
	}
}

// TestCorruptLastBlock: a damaged last block (not torn, flipped) is cut
// off on reopen like a torn one, and the ring goes on.
func TestCorruptLastBlock(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	w := openWriter(t, s, cid)
	recs := writeRecords(t, w, 0, 300, 0)
	w.Close()
	s.Close()
	seg := segFiles(t, dir, cid)[0]
	offs, _ := blockOffsets(t, seg)
	b, _ := os.ReadFile(seg)
	h, _ := parseBlockHeader(b[offs[len(offs)-1]:])
	flipByte(t, seg, offs[len(offs)-1]+blockHeaderSize+3)
	checkReopened(t, openStore(t, dir), recs[:h.first-1])
}
