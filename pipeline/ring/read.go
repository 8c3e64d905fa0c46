package ring

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sort"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/logship/logship/pipeline"
)

// ReadLogs implements pipeline.LogReader with the semantics of Docker's
// built-in drivers: Tail first (the last cfg.Tail records; negative means
// all, 0 none of the history), then records with Time before Since are
// skipped, then reading stops at the first record with Time after Until.
// With Follow, records flushed later are delivered too, until ctx is
// cancelled (ctx.Err() is returned) or the container's last writer closes
// and everything it wrote has been delivered (nil is returned). Follow on
// a ring without an open writer returns after the history.
//
// Tail counts sequence numbers: records lost to corruption inside the
// tail window make it return fewer than Tail records.
//
// A container without a ring gives no records and no error.
func (s *Store) ReadLogs(ctx context.Context, containerID string, cfg pipeline.ReadConfig, fn func(*pipeline.Record) error) error {
	r, err := s.acquire(containerID, false)
	if err != nil {
		if errors.Is(err, errNoRing) {
			return nil
		}
		return err
	}
	defer s.release(r)
	r.mu.Lock()
	end := r.durable
	r.mu.Unlock()
	var start uint64 = 1
	if cfg.Tail >= 0 && uint64(cfg.Tail) < end {
		start = end - uint64(cfg.Tail)
	}
	var f filter
	if !cfg.Since.IsZero() {
		f.hasSince, f.since = true, cfg.Since.UnixNano()
	}
	if !cfg.Until.IsZero() {
		f.hasUntil, f.until = true, cfg.Until.UnixNano()
	}
	rd := reader{s: s, r: r, next: start}
	rd.takeBufs()
	defer rd.putBufs()
	return rd.run(ctx, cfg.Follow, f, fn)
}

// ReadFrom is the read for sinks: it calls fn with every stored record
// whose Seq is at least seq, in order, and returns when it has delivered
// the last durable one (it does not follow).
//
// next is the Seq to ask for next time: one past the last record handed
// to fn successfully, or, when fn fails, the Seq of the record it failed
// on. skipped counts the sequence numbers in [seq, next) that were not
// delivered because they are no longer stored: evicted by rotation (seq
// older than the oldest record), or lost to corruption. A cursor that is
// ahead of the ring returns next == seq. A container without a ring
// returns (seq, 0, nil).
func (s *Store) ReadFrom(ctx context.Context, containerID string, seq uint64, fn func(*pipeline.Record) error) (next, skipped uint64, err error) {
	seq = max(seq, 1)
	r, err := s.acquire(containerID, false)
	if err != nil {
		if errors.Is(err, errNoRing) {
			return seq, 0, nil
		}
		return seq, 0, err
	}
	defer s.release(r)
	rd := reader{s: s, r: r, next: seq}
	rd.takeBufs()
	defer rd.putBufs()
	err = rd.run(ctx, false, filter{}, fn)
	return rd.next, rd.next - seq - rd.delivered, err
}

// filter holds the time bounds of a read, in Unix nanoseconds.
type filter struct {
	hasSince, hasUntil bool
	since, until       int64
}

// reader is the state of one read. It needs at most one compressed and
// one decompressed block, or one copy of the open block, at a time.
type reader struct {
	s         *Store
	r         *ring
	next      uint64 // Seq of the next record wanted
	delivered uint64

	segs   []segment
	stored []byte    // compressed payload
	raw    []byte    // decompressed payload
	open   []byte    // copy of the open block's new bytes
	win    []byte    // resync scratch, made on first need
	bufs   *readBufs // where the buffers above came from (takeBufs)
	rec    pipeline.Record

	// Where the previous pass over the open block stopped, so a follower
	// copies and decodes only the bytes flushed since. Valid while the
	// ring's open block still starts at posBlock.
	posBlock uint64
	posOff   int
	posSeq   uint64
	posPrev  int64
}

// readBufs are a reader's scratch buffers. They are pooled because sinks
// call ReadFrom for every batch: allocating a block's worth each time (the
// decompressed block, its compressed bytes, the copy of the open block) was
// two thirds of the plugin's garbage while shipping (pprof -sample_index=
// alloc_space), and the GC work that came with it.
type readBufs struct {
	segs                   []segment
	stored, raw, open, win []byte
}

var readPool = sync.Pool{New: func() any { return new(readBufs) }}

// maxPooledBuf keeps a buffer that a huge block grew (blocks go up to
// 16 MiB) out of the pool, so that it does not stay pinned.
const maxPooledBuf = 1 << 20

func (rd *reader) takeBufs() {
	b := readPool.Get().(*readBufs)
	rd.bufs = b
	rd.segs, rd.stored, rd.raw, rd.open, rd.win = b.segs[:0], b.stored[:0], b.raw[:0], b.open[:0], b.win
}

// putBufs returns the buffers, grown or not. Records handed to fn alias
// them, and fn must not keep them (pipeline.LogReader's contract), so
// after the read they are free.
func (rd *reader) putBufs() {
	b := rd.bufs
	if b == nil {
		return
	}
	keep := func(p []byte) []byte {
		if cap(p) > maxPooledBuf {
			return nil
		}
		return p[:0]
	}
	b.segs, b.stored, b.raw, b.open, b.win = rd.segs[:0], keep(rd.stored), keep(rd.raw), keep(rd.open), rd.win
	rd.bufs, rd.segs, rd.stored, rd.raw, rd.open, rd.win = nil, nil, nil, nil, nil, nil
	readPool.Put(b)
}

// run delivers records from rd.next on. Each round looks at the ring under
// its lock, takes what it needs (the segment list, or the new bytes of the
// open block), and decodes and calls fn without the lock, so a slow fn
// never holds up the writer.
func (rd *reader) run(ctx context.Context, follow bool, f filter, fn func(*pipeline.Record) error) error {
	r := rd.r
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return ErrClosed
		}
		switch {
		case rd.next < r.openFirst:
			rd.segs = append(rd.segs[:0], r.segs...)
			limit := r.openFirst
			r.mu.Unlock()
			if stop, err := rd.readSegments(ctx, limit, f, fn); stop || err != nil {
				return err
			}
		case rd.next < r.durable:
			it := recIter{seq: r.openFirst}
			start := 0
			if rd.posBlock == r.openFirst && rd.posSeq <= rd.next {
				start, it.seq, it.prev = rd.posOff, rd.posSeq, rd.posPrev
			}
			rd.open = append(rd.open[:0], r.raw[start:r.flushedLen]...)
			block := r.openFirst
			r.mu.Unlock()
			it.b = rd.open
			stop, derr, ferr := rd.emit(&it, f, fn)
			if stop || ferr != nil {
				return ferr
			}
			if derr != nil {
				return derr // memory written by this process: a bug, not disk damage
			}
			rd.posBlock, rd.posOff, rd.posSeq, rd.posPrev = block, start+it.off, it.seq, it.prev
		default:
			if !follow || r.writers == 0 {
				r.mu.Unlock()
				return nil
			}
			ch := r.waitChan()
			r.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// emit decodes the records of it and passes those selected to fn. stop
// reports that a record after Until was reached. derr is a decoding error,
// ferr an error from fn.
func (rd *reader) emit(it *recIter, f filter, fn func(*pipeline.Record) error) (stop bool, derr, ferr error) {
	for !it.done() {
		if err := it.next(&rd.rec); err != nil {
			return false, err, nil
		}
		seq := rd.rec.Seq
		if seq < rd.next {
			continue
		}
		if f.hasSince && rd.rec.Time < f.since {
			rd.next = seq + 1
			continue
		}
		if f.hasUntil && rd.rec.Time > f.until {
			return true, nil, nil
		}
		if err := fn(&rd.rec); err != nil {
			return false, nil, err
		}
		rd.next = seq + 1
		rd.delivered++
	}
	return false, nil, nil
}

// readSegments delivers the sealed records from rd.next up to limit (the
// open block's first seq when the segment list was taken). Whatever it
// cannot find (evicted, corrupt) is skipped, so rd.next always reaches
// limit unless it stops early.
func (rd *reader) readSegments(ctx context.Context, limit uint64, f filter, fn func(*pipeline.Record) error) (bool, error) {
	segs := rd.segs
	i := sort.Search(len(segs), func(i int) bool { return segs[i].first > rd.next }) - 1
	for i = max(i, 0); i < len(segs); i++ {
		end := limit
		if i+1 < len(segs) {
			end = segs[i+1].first
		}
		if rd.next >= end {
			continue
		}
		if stop, err := rd.readSegment(ctx, segs[i], end, f, fn); stop || err != nil {
			return stop, err
		}
		rd.next = max(rd.next, end)
	}
	rd.next = max(rd.next, limit)
	return false, nil
}

// readSegment delivers the records of one segment from rd.next on; end is
// the first seq of the next segment (or the limit). It skips whole blocks
// that are before rd.next or entirely before Since without decompressing
// them, and stops at a block that starts after Until.
func (rd *reader) readSegment(ctx context.Context, seg segment, end uint64, f filter, fn func(*pipeline.Record) error) (bool, error) {
	path := rd.r.segPath(seg.first)
	file, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil // evicted since the segment list was taken
		}
		return false, err
	}
	defer file.Close()
	sf := segFile{f: file, name: path, size: seg.size}
	off := rd.locate(&sf, seg, end)
	// expect is the first seq the next block should have (0: unknown). A
	// header that does not continue its predecessor is checked against
	// its CRC before its fields are trusted to skip anything.
	var expect uint64
	if off == 0 {
		expect = seg.first
	}
	for off < seg.size {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		h, err := sf.header(off)
		if err == nil && (h.first < seg.first || h.end() > end) {
			err = errSeqRange
		}
		var p []byte
		crcOK := false
		if err == nil && expect != 0 && h.first != expect {
			p, _, err = sf.payload(off, &h, &rd.stored)
			crcOK = err == nil
		}
		if err == nil {
			if h.end() <= rd.next || (f.hasSince && h.maxTime < f.since) {
				rd.next = max(rd.next, h.end())
				expect = h.end()
				off += h.total()
				continue
			}
			if f.hasUntil && h.minTime > f.until {
				return true, nil
			}
			if !crcOK {
				p, _, err = sf.payload(off, &h, &rd.stored)
				crcOK = err == nil
			}
			if err == nil {
				p, err = rd.decompress(&h, p)
			}
			if err == nil {
				it := recIter{b: p, seq: h.first}
				stop, derr, ferr := rd.emit(&it, f, fn)
				if stop || ferr != nil {
					return stop, ferr
				}
				if derr == nil && it.seq != h.end() {
					derr = errRecordCount
				}
				if err = derr; err == nil {
					rd.next = max(rd.next, h.end())
					expect = h.end()
					off += h.total()
					continue
				}
			}
		}
		if !isCorrupt(err) {
			return false, err
		}
		rd.s.m.corrupt.Inc()
		rd.s.log.Warn("ring: skipping corrupt block", "container", rd.r.id,
			"segment", segName(seg.first), "offset", off, "error", err)
		if crcOK {
			// The header passed the CRC, so its length can be trusted.
			rd.next = max(rd.next, h.end())
			expect = h.end()
			off += h.total()
			continue
		}
		if rd.win == nil {
			rd.win = make([]byte, resyncWindow)
		}
		next, ok, err := sf.resync(off+1, rd.win, &rd.stored)
		if err != nil {
			return false, err
		}
		if !ok {
			break
		}
		off, expect = next, 0
	}
	return false, nil
}

// locate returns the offset of the block holding rd.next, or of the first
// block after it. When rd.next is in the second half of the segment (the
// case of --tail and of sinks that keep up) it walks backwards from the end
// through the trailers; otherwise forwards through the headers. Neither
// reads a payload. Damage makes it return an earlier offset, from which
// readSegment resynchronises.
func (rd *reader) locate(sf *segFile, seg segment, end uint64) int64 {
	next := rd.next
	if next <= seg.first || sf.size == 0 {
		return 0
	}
	if next-seg.first > (end-seg.first)/2 {
		for e := sf.size; e > 0; {
			off, h, err := sf.prev(e)
			if err != nil {
				break
			}
			if h.first <= next {
				return off
			}
			e = off
		}
	}
	var off int64
	for off < sf.size {
		h, err := sf.header(off)
		if err != nil || h.end() > next {
			return off
		}
		off += h.total()
	}
	return off
}

// decompress returns the uncompressed payload of a block whose CRC has
// been checked, into rd.raw. Sizes are checked against the header before
// anything is allocated.
func (rd *reader) decompress(h *blockHeader, p []byte) ([]byte, error) {
	n := int(h.raw)
	switch h.codec {
	case codecNone:
		return p, nil
	case codecS2:
		if dn, err := s2.DecodedLen(p); err != nil || dn != n {
			return nil, errBadPayload
		}
		if cap(rd.raw) < n {
			rd.raw = make([]byte, n)
		}
		out, err := s2.Decode(rd.raw[:n], p)
		if err != nil || len(out) != n {
			return nil, errBadPayload
		}
		return out, nil
	case codecZstd:
		dec, err := rd.s.decoder()
		if err != nil {
			return nil, err
		}
		if cap(rd.raw) < n {
			rd.raw = make([]byte, 0, n)
		}
		out, err := dec.DecodeAll(p, rd.raw[:0])
		if errors.Is(err, zstd.ErrDecoderClosed) {
			return nil, ErrClosed
		}
		if err != nil || len(out) != n {
			return nil, errBadPayload
		}
		return out, nil
	}
	return nil, errBadHeader
}
