package ring

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/s2"

	"github.com/logship/logship/pipeline"
)

// ring is one container's log: sealed blocks in segment files, plus the
// open block in memory and in the WAL.
//
// Sequence numbers split into three ranges, in order:
//
//	[oldest, openFirst)   sealed, in segment files
//	[openFirst, durable)  in the open block and in the WAL
//	[durable, nextSeq)    in the open block only (written, not yet flushed)
//
// Readers see records below durable only: a record that a crash could
// still lose is never handed out, so a Seq that a reader has seen is never
// given to another record.
type ring struct {
	s   *Store
	id  string
	dir string

	refs int // writers + active reads; guarded by Store.mu

	mu      sync.Mutex
	loaded  bool
	closed  bool // the Store was closed
	writers int
	opts    Options
	meta    []byte

	segs []segment // oldest first; the last one is appended to
	cur  *os.File  // the last segment, opened for writing on first need
	wal  *os.File  // opened on first need
	// walSize is where the next WAL chunk goes.
	walSize int64

	raw        []byte // the open block's encoded records
	openFirst  uint64
	count      uint32 // records in raw
	minTime    int64
	maxTime    int64
	prevTime   int64 // time of raw's last record, for the delta encoding
	flushedLen int   // bytes of raw that are in the WAL
	durable    uint64
	nextSeq    uint64

	// After a failed seal (disk full, say), sealing is retried only once
	// the block has doubled, not on every record: each try compresses the
	// whole block. rejected counts Writes refused at the memory cap.
	sealRetryAt int
	sealErr     error
	rejected    int

	// notify is closed when records become durable or the last writer
	// leaves; followers wait on it. It is made only when someone waits, so
	// a Flush without followers allocates nothing.
	notify chan struct{}
}

func (r *ring) segPath(first uint64) string { return filepath.Join(r.dir, segName(first)) }

// load reads the ring's folder and repairs what a crash can leave behind:
// a torn block at the end of the last segment, a torn WAL chunk, and a WAL
// whose block was already sealed.
func (r *ring) load(create bool) error {
	if create {
		if err := os.MkdirAll(r.dir, dirPerm); err != nil {
			return fmt.Errorf("ring: %w", err)
		}
	}
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errNoRing
		}
		return fmt.Errorf("ring: %w", err)
	}
	r.segs = r.segs[:0]
	for _, e := range ents {
		name := e.Name()
		if first, ok := parseSegName(name); ok {
			info, err := e.Info()
			if err != nil {
				return fmt.Errorf("ring: %w", err)
			}
			r.segs = append(r.segs, segment{first: first, size: info.Size()})
		} else if strings.HasSuffix(name, tmpSuffix) {
			_ = os.Remove(filepath.Join(r.dir, name))
		}
	}
	slices.SortFunc(r.segs, func(a, b segment) int { return cmp.Compare(a.first, b.first) })

	r.meta, err = readCapped(filepath.Join(r.dir, metaName), maxMetaLen)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		// A damaged meta file must not make the logs unreadable; the next
		// OpenWriter rewrites it.
		r.s.log.Warn("ring: ignoring unreadable meta file", "container", r.id, "error", err)
	}

	sealedEnd := uint64(1)
	if n := len(r.segs); n > 0 {
		last := &r.segs[n-1]
		end, size, err := r.recoverSegment(*last)
		if err != nil {
			return err
		}
		last.size = size
		sealedEnd = end
	}
	if err := r.recoverWAL(sealedEnd); err != nil {
		return err
	}
	r.loaded = true
	return nil
}

// recoverSegment cuts a torn tail off the last segment and returns the
// sequence number after its last complete block and its valid size.
// Earlier segments were complete when the next one was started.
func (r *ring) recoverSegment(seg segment) (uint64, int64, error) {
	path := r.segPath(seg.first)
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("ring: %w", err)
	}
	sf := segFile{f: f, name: path, size: seg.size}
	var buf []byte
	end, size, err := sf.validEnd(seg.first, nil, &buf)
	f.Close()
	if err != nil {
		return 0, 0, err
	}
	if size < seg.size {
		r.s.m.torn.Inc()
		r.s.log.Warn("ring: cutting off an incomplete segment tail", "container", r.id,
			"segment", segName(seg.first), "size", seg.size, "valid", size)
		if err := os.Truncate(path, size); err != nil {
			return 0, 0, fmt.Errorf("ring: %w", err)
		}
	}
	return end, size, nil
}

// recoverWAL restores the open block from the WAL.
func (r *ring) recoverWAL(sealedEnd uint64) error {
	r.raw, r.count, r.flushedLen, r.prevTime = r.raw[:0], 0, 0, 0
	r.openFirst, r.durable, r.nextSeq, r.walSize = sealedEnd, sealedEnd, sealedEnd, 0
	path := filepath.Join(r.dir, walName)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("ring: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("ring: %w", err)
	}
	size := info.Size()
	if size == 0 {
		f.Close()
		return nil
	}
	st, valid, err := readWAL(f, size)
	f.Close()
	if err != nil {
		return err
	}
	keep := valid
	switch {
	case st.count == 0:
	case st.first < sealedEnd:
		// The process died between appending the block to its segment and
		// resetting the WAL: the records are sealed already.
		r.s.log.Info("ring: dropping WAL of an already sealed block", "container", r.id,
			"first", st.first, "sealed_end", sealedEnd)
		keep = 0
	default:
		if st.first > sealedEnd {
			r.s.log.Warn("ring: records missing between the last segment and the WAL", "container", r.id,
				"sealed_end", sealedEnd, "wal_first", st.first)
		}
		r.raw = st.raw
		r.openFirst, r.count = st.first, st.count
		r.minTime, r.maxTime, r.prevTime = st.minTime, st.maxTime, st.prevTime
		r.flushedLen = len(st.raw)
		r.durable = st.first + uint64(st.count)
		r.nextSeq = r.durable
	}
	if valid < size {
		r.s.m.torn.Inc()
		r.s.log.Warn("ring: cutting off an incomplete WAL tail", "container", r.id, "size", size, "valid", valid)
	}
	if keep < size {
		if err := os.Truncate(path, keep); err != nil {
			return fmt.Errorf("ring: %w", err)
		}
	}
	r.walSize = keep
	return nil
}

// walState is the open block rebuilt from a WAL.
type walState struct {
	raw              []byte
	first            uint64
	count            uint32
	minTime, maxTime int64
	prevTime         int64
}

// readWAL decodes the chunks of a WAL of size bytes and returns the open
// block they hold and the length of the valid prefix. It stops at the
// first chunk that is torn, fails its CRC, does not continue the sequence
// numbers of the one before, or holds a bad record. Every length is
// checked against the bytes actually present and against maxBlockRaw
// before anything is allocated.
func readWAL(f io.ReaderAt, size int64) (walState, int64, error) {
	var st walState
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
	var hdr [walHeaderSize]byte
	var rec pipeline.Record
	var off int64
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return st, off, fmt.Errorf("ring: read WAL: %w", err)
		}
		h, err := parseWALHeader(hdr[:])
		if err != nil ||
			int64(h.length) > size-off-walHeaderSize ||
			len(st.raw)+int(h.length) > maxBlockRaw ||
			(st.count > 0 && h.first != st.first+uint64(st.count)) {
			break
		}
		n := len(st.raw)
		st.raw = slices.Grow(st.raw, int(h.length))[:n+int(h.length)]
		if _, err := io.ReadFull(br, st.raw[n:]); err != nil {
			st.raw = st.raw[:n]
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return st, off, fmt.Errorf("ring: read WAL: %w", err)
		}
		if !checkWALCRC(hdr[:], h, st.raw[n:]) {
			st.raw = st.raw[:n]
			break
		}
		it := recIter{b: st.raw, off: n, seq: h.first, prev: st.prevTime}
		minT, maxT := st.minTime, st.maxTime
		k := uint32(0)
		for ; !it.done(); k++ {
			if err = it.next(&rec); err != nil {
				break
			}
			if (st.count == 0 && k == 0) || rec.Time < minT {
				minT = rec.Time
			}
			if (st.count == 0 && k == 0) || rec.Time > maxT {
				maxT = rec.Time
			}
		}
		if err != nil || k != h.count {
			st.raw = st.raw[:n]
			break
		}
		if st.count == 0 {
			st.first = h.first
		}
		st.count += h.count
		st.minTime, st.maxTime, st.prevTime = minT, maxT, it.prev
		off += walHeaderSize + int64(h.length)
	}
	return st, off, nil
}

// appendLocked adds rec to the open block, and seals the block when it
// reaches BlockSize.
func (r *ring) appendLocked(rec *pipeline.Record) error {
	if len(r.raw)+len(rec.Line)+maxRecordOverhead > maxBlockRaw {
		// Only a block whose sealing failed gets this big (or one
		// recovered from a WAL written with a larger BlockSize). It must
		// not grow further; retry the seal now and then, not per record,
		// since each try compresses the whole block.
		r.rejected++
		err := r.sealErr
		if err == nil || r.rejected%1024 == 0 {
			err = r.sealLocked()
		}
		if err != nil {
			r.sealErr = err
			return fmt.Errorf("%w: %w", ErrFull, err)
		}
	}
	if r.raw == nil {
		r.raw = make([]byte, 0, r.s.cfg.BlockSize+r.s.cfg.BlockSize/4)
	}
	if r.count == 0 || rec.Time < r.minTime {
		r.minTime = rec.Time
	}
	if r.count == 0 || rec.Time > r.maxTime {
		r.maxTime = rec.Time
	}
	r.raw = appendRecord(r.raw, r.prevTime, rec)
	r.prevTime = rec.Time
	r.count++
	rec.Seq = r.nextSeq
	r.nextSeq++
	r.s.m.recordsWritten.Inc()
	r.s.m.bytesWritten.Add(uint64(len(rec.Line)))
	if len(r.raw) >= r.s.cfg.BlockSize && len(r.raw) >= r.sealRetryAt {
		if err := r.sealLocked(); err != nil {
			// The record is stored (in memory, and in the WAL at the next
			// Flush), so Write succeeds; the seal is retried later.
			if r.sealErr == nil {
				r.s.log.Error("ring: cannot seal block", "container", r.id, "error", err)
			}
			r.sealErr = err
			r.sealRetryAt = 2 * len(r.raw)
		}
	}
	return nil
}

// bufPool holds scratch buffers for sealed blocks and WAL chunks: both
// are written once and dropped, and a ring seals rarely, so sharing them
// across rings keeps an idle container from pinning its own.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func putBuf(bp *[]byte) {
	if cap(*bp) <= 2*maxBlockSize {
		bufPool.Put(bp)
	}
}

// flushLocked appends the records not yet in the WAL as one chunk, with
// one write(2).
func (r *ring) flushLocked() error {
	if r.flushedLen == len(r.raw) {
		return nil
	}
	if err := r.openWAL(); err != nil {
		return err
	}
	unflushed := r.raw[r.flushedLen:]
	bp := bufPool.Get().(*[]byte)
	b := slices.Grow((*bp)[:0], walHeaderSize+len(unflushed))[:walHeaderSize]
	b = append(b, unflushed...)
	putWALHeader(b, uint32(r.nextSeq-r.durable), r.durable, b[walHeaderSize:])
	_, err := r.wal.WriteAt(b, r.walSize)
	*bp = b
	putBuf(bp)
	if err != nil {
		// A partial chunk fails its CRC on reopen, and the next Flush
		// overwrites it with a longer one.
		return fmt.Errorf("ring: write WAL of %s: %w", r.id, err)
	}
	r.walSize += int64(len(b))
	r.flushedLen = len(r.raw)
	r.durable = r.nextSeq
	r.broadcast()
	return nil
}

func (r *ring) openWAL() error {
	if r.wal != nil {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(r.dir, walName), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return fmt.Errorf("ring: %w", err)
	}
	r.wal = f
	return nil
}

// sealLocked compresses the open block, appends it to the current segment
// (rotating and evicting as needed) and resets the WAL. The order makes a
// crash harmless at every step: until the block is in the segment the WAL
// holds it; after, a WAL whose first seq is already sealed is dropped on
// reopen.
func (r *ring) sealLocked() error {
	if r.count == 0 {
		return nil
	}
	bp := bufPool.Get().(*[]byte)
	blk := r.s.encodeBlock((*bp)[:0], r.raw, r.opts.Compress, &blockHeader{
		count: r.count, first: r.openFirst, minTime: r.minTime, maxTime: r.maxTime,
	})
	err := r.appendBlock(blk)
	*bp = blk
	putBuf(bp)
	if err != nil {
		return err
	}

	if r.walSize > 0 {
		err := r.openWAL()
		if err == nil {
			err = r.wal.Truncate(0)
		}
		if err != nil {
			// Not fatal: the next chunk is written at offset 0 anyway, and
			// stale chunks behind it fail the sequence check on reopen.
			r.s.log.Warn("ring: cannot reset WAL", "container", r.id, "error", err)
		}
		r.walSize = 0
	}
	r.openFirst, r.durable = r.nextSeq, r.nextSeq
	r.count, r.flushedLen, r.prevTime = 0, 0, 0
	r.raw = r.raw[:0]
	if cap(r.raw) > 2*(r.s.cfg.BlockSize+r.s.cfg.BlockSize/4) {
		r.raw = nil // a huge line grew it; an idle container should not keep that
	}
	r.sealRetryAt, r.sealErr, r.rejected = 0, nil, 0
	r.broadcast()
	return nil
}

// encodeBlock lays out a whole block (header, payload, trailer) in dst.
// The payload is compressed when asked and when that makes it smaller.
func (s *Store) encodeBlock(dst, raw []byte, compress bool, h *blockHeader) []byte {
	h.raw = uint32(len(raw))
	h.codec = codecNone
	dst = slices.Grow(dst[:0], blockOverhead+s2.MaxEncodedLen(len(raw)))[:blockHeaderSize]
	if compress {
		if s.enc != nil {
			dst = s.enc.EncodeAll(raw, dst)
			h.codec = codecZstd
		} else {
			// The capacity reserved above makes s2 encode in place.
			n := len(s2.Encode(dst[blockHeaderSize:cap(dst)], raw))
			dst = dst[:blockHeaderSize+n]
			h.codec = codecS2
		}
		if len(dst)-blockHeaderSize >= len(raw) {
			h.codec = codecNone
			dst = dst[:blockHeaderSize]
		}
	}
	if h.codec == codecNone {
		dst = append(dst, raw...)
	}
	h.stored = uint32(len(dst) - blockHeaderSize)
	dst = append(dst, make([]byte, blockTrailerSize)...)
	putBlockHeader(dst, h)
	finishBlock(dst)
	return dst
}

// appendBlock writes a sealed block at the end of the current segment,
// starting a new segment first when the current one has reached MaxSize,
// and deletes the oldest segments beyond MaxFile afterwards.
func (r *ring) appendBlock(blk []byte) error {
	if err := r.prepareSegment(); err != nil {
		return err
	}
	last := &r.segs[len(r.segs)-1]
	if _, err := r.cur.WriteAt(blk, last.size); err != nil {
		// Cut a partial block so the next one starts on a boundary.
		_ = r.cur.Truncate(last.size)
		return fmt.Errorf("ring: append block to %s: %w", r.id, err)
	}
	last.size += int64(len(blk))
	r.s.m.bytesStored.Add(uint64(len(blk)))
	r.evictLocked()
	return nil
}

func (r *ring) prepareSegment() error {
	if n := len(r.segs); n > 0 && r.segs[n-1].size < r.opts.MaxSize {
		if r.cur != nil {
			return nil
		}
		f, err := os.OpenFile(r.segPath(r.segs[n-1].first), os.O_WRONLY, filePerm)
		if err != nil {
			return fmt.Errorf("ring: %w", err)
		}
		r.cur = f
		return nil
	}
	// A new segment is named after the first record of the block about to
	// be written into it.
	f, err := os.OpenFile(r.segPath(r.openFirst), os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return fmt.Errorf("ring: new segment: %w", err)
	}
	if r.cur != nil {
		r.cur.Close()
	}
	r.cur = f
	r.segs = append(r.segs, segment{first: r.openFirst})
	return nil
}

// evictLocked deletes the oldest segments beyond MaxFile. Readers that
// have one open keep reading it (an unlinked file stays readable); readers
// that have not opened it yet skip it.
func (r *ring) evictLocked() {
	for len(r.segs) > max(r.opts.MaxFile, 1) {
		old := r.segs[0]
		if err := os.Remove(r.segPath(old.first)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			r.s.log.Error("ring: cannot delete old segment", "container", r.id, "segment", segName(old.first), "error", err)
			return
		}
		r.s.m.evicted.Add(r.segs[1].first - old.first)
		r.segs = slices.Delete(r.segs, 0, 1)
	}
}

// writeMeta replaces the meta file atomically (write, then rename).
func (r *ring) writeMeta(meta []byte) error {
	path := filepath.Join(r.dir, metaName)
	tmp := path + tmpSuffix
	if err := os.WriteFile(tmp, meta, filePerm); err != nil {
		return fmt.Errorf("ring: write meta: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("ring: write meta: %w", err)
	}
	r.meta = append(r.meta[:0], meta...)
	return nil
}

func (r *ring) broadcast() {
	if r.notify != nil {
		close(r.notify)
		r.notify = nil
	}
}

func (r *ring) waitChan() <-chan struct{} {
	if r.notify == nil {
		r.notify = make(chan struct{})
	}
	return r.notify
}

func (r *ring) closeFiles() {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	if r.wal != nil {
		r.wal.Close()
		r.wal = nil
	}
}
