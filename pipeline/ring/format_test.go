package ring

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/logship/logship/pipeline"
)

// TestBlockLayout pins the block format documented in doc.go, byte by
// byte, so a change to one shows up as a change to the other.
func TestBlockLayout(t *testing.T) {
	s := openStore(t, t.TempDir())
	recs := []pipeline.Record{
		{Time: 1000, Source: pipeline.SourceStdout, Line: []byte("hi")},
		{Time: 998, Source: pipeline.SourceStderr, Partial: true, Line: []byte("")},
	}
	var raw []byte
	prev := int64(0)
	for i := range recs {
		raw = appendRecord(raw, prev, &recs[i])
		prev = recs[i].Time
	}
	// flags, zigzag(1000)=2000 as uvarint d0 0f, len 2, "hi";
	// flags stderr|partial, zigzag(-2)=3, len 0.
	if got, want := hex.EncodeToString(raw), "01d00f02"+hex.EncodeToString([]byte("hi"))+"060300"; got != want {
		t.Fatalf("records %s, want %s", got, want)
	}

	blk := s.encodeBlock(nil, raw, false, &blockHeader{count: 2, first: 7, minTime: 998, maxTime: 1000})
	le := binary.LittleEndian
	if len(blk) != 48+len(raw)+8 {
		t.Fatalf("block is %d bytes", len(blk))
	}
	check := func(name string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	if string(blk[0:4]) != "LSBK" || string(blk[len(blk)-4:]) != "LSBE" {
		t.Errorf("magics %q %q", blk[0:4], blk[len(blk)-4:])
	}
	check("version", uint64(blk[4]), 1)
	check("codec", uint64(blk[5]), 0)
	check("reserved", uint64(le.Uint16(blk[6:])), 0)
	check("stored", uint64(le.Uint32(blk[8:])), uint64(len(raw)))
	check("raw", uint64(le.Uint32(blk[12:])), uint64(len(raw)))
	check("count", uint64(le.Uint32(blk[16:])), 2)
	check("first", le.Uint64(blk[20:]), 7)
	check("min", le.Uint64(blk[28:]), 998)
	check("max", le.Uint64(blk[36:]), 1000)
	crc := crc32.Checksum(append(append([]byte{}, blk[:44]...), raw...), crc32.MakeTable(crc32.Castagnoli))
	check("crc", uint64(le.Uint32(blk[44:])), uint64(crc))
	if !bytes.Equal(blk[48:48+len(raw)], raw) {
		t.Error("payload is not the records")
	}
	check("trailer length", uint64(le.Uint32(blk[len(blk)-8:])), uint64(len(blk)))

	// Compressed: codec byte set, payload smaller than raw.
	big := bytes.Repeat(raw, 100)
	cblk := s.encodeBlock(nil, big, true, &blockHeader{count: 200, first: 1, minTime: 998, maxTime: 1000})
	h, err := parseBlockHeader(cblk)
	if err != nil || h.codec != codecS2 || h.stored >= h.raw || h.raw != uint32(len(big)) {
		t.Fatalf("compressed block header %+v, %v", h, err)
	}
	// Incompressible: stored as is.
	noise := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	h, _ = parseBlockHeader(s.encodeBlock(nil, noise, true, &blockHeader{count: 1, first: 1}))
	if h.codec != codecNone || h.stored != h.raw {
		t.Fatalf("a payload that does not shrink was kept compressed: %+v", h)
	}
}

// TestHeaderCaps: length fields beyond the caps are corruption, never an
// allocation.
func TestHeaderCaps(t *testing.T) {
	s := openStore(t, t.TempDir())
	blk := s.encodeBlock(nil, []byte{1, 0, 0}, false, &blockHeader{count: 1, first: 1})
	for _, tc := range []struct {
		off int
		v   uint32
	}{
		{8, 3_000_000_000},  // stored: 3 GB
		{12, 3_000_000_000}, // raw: 3 GB
		{12, maxBlockRaw + 1},
		{16, 2},          // more records than 3 bytes can hold
		{16, 0},          // no record
		{8, 4},           // stored > raw
		{20, 0},          // seq 0
		{28, 0xffffffff}, // min time > max time
	} {
		b := bytes.Clone(blk)
		binary.LittleEndian.PutUint32(b[tc.off:], tc.v)
		if _, err := parseBlockHeader(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("field at %d = %d accepted: %v", tc.off, tc.v, err)
		}
	}
	w := make([]byte, walHeaderSize)
	putWALHeader(w, 1, 1, nil)
	binary.LittleEndian.PutUint32(w[8:], 3_000_000_000)
	if _, err := parseWALHeader(w); !errors.Is(err, ErrCorrupt) {
		t.Errorf("WAL chunk of 3 GB accepted: %v", err)
	}
}

func TestWALLayout(t *testing.T) {
	payload := []byte{1, 2, 0}
	b := make([]byte, walHeaderSize)
	putWALHeader(b, 1, 42, payload)
	le := binary.LittleEndian
	if string(b[0:4]) != "LSWC" || b[4] != 1 || b[5]|b[6]|b[7] != 0 {
		t.Fatalf("header %x", b)
	}
	if le.Uint32(b[8:]) != 3 || le.Uint32(b[12:]) != 1 || le.Uint64(b[16:]) != 42 {
		t.Fatalf("header %x", b)
	}
	crc := crc32.Checksum(append(append([]byte{}, b[:24]...), payload...), crc32.MakeTable(crc32.Castagnoli))
	if le.Uint32(b[24:]) != crc {
		t.Fatal("WAL CRC does not cover header and payload")
	}
}

func TestSegmentNames(t *testing.T) {
	if got := segName(52817); got != "00000000000000052817.seg" {
		t.Fatal(got)
	}
	for name, want := range map[string]uint64{
		"00000000000000000001.seg": 1,
		"00000000000000000000.seg": 0, // Seqs start at 1
		"0000000000000000001.seg":  0,
		"00000000000000000001.log": 0,
		"0000000000000000000x.seg": 0,
		"99999999999999999999.seg": 0, // beyond maxSeq
	} {
		got, ok := parseSegName(name)
		if got != want || ok != (want != 0) {
			t.Errorf("parseSegName(%q) = %d, %v", name, got, ok)
		}
	}
}

// TestEvictedWhileReading rotates every segment away while a read is in
// the middle of the first one.
func TestEvictedWhileReading(t *testing.T) {
	s := openStore(t, t.TempDir())
	opts := func(o *Options) { o.MaxSize = minMaxSize; o.MaxFile = 2; o.Compress = false }
	w := openWriter(t, s, cid, opts)
	defer w.Close()
	recs := writeRecords(t, w, 0, 800, 0)
	segs := segFiles(t, s.dir, cid)
	if len(segs) != 2 {
		t.Fatalf("%d segments", len(segs))
	}
	secondFirst, _ := parseSegName(segs[1][len(segs[1])-segNameLen:])

	var got []pipeline.Record
	evicted := false
	err := s.ReadLogs(context.Background(), cid, all, func(r *pipeline.Record) error {
		got = append(got, cloneRecord(r))
		if !evicted {
			evicted = true
			// The callback runs without the ring's lock, so the writer
			// can go on meanwhile; this rotates both segments away.
			writeRecords(t, w, 800, 3000, 0)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(segs[0]); !os.IsNotExist(err) {
		t.Fatalf("the segment being read was not evicted: %v", err)
	}
	// The first segment was open: read to its end. The second was deleted
	// before the reader got to it: skipped. What follows is read.
	if got[0].Seq != recs[0].Seq {
		t.Fatalf("first record %d", got[0].Seq)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("seq %d after %d", got[i].Seq, got[i-1].Seq)
		}
	}
	firstSeg := got[:0]
	for _, r := range got {
		if r.Seq < secondFirst {
			firstSeg = append(firstSeg, r)
		}
	}
	checkRecords(t, firstSeg, recs[:secondFirst-1])
}
