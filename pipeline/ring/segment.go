package ring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Segment files are named by the sequence number of their first record,
// zero-padded so that names sort like numbers: a reader looking for seq N
// opens the last segment whose name is <= N without reading any file.
const (
	segSuffix  = ".seg"
	segNameLen = 20 + len(segSuffix)
)

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

func parseSegName(name string) (uint64, bool) {
	if len(name) != segNameLen || !strings.HasSuffix(name, segSuffix) {
		return 0, false
	}
	first, err := strconv.ParseUint(name[:20], 10, 64)
	if err != nil || first == 0 || first > maxSeq {
		return 0, false
	}
	return first, true
}

// segment is what a ring knows about one segment file.
type segment struct {
	first uint64 // sequence number of the first record, from the name
	size  int64  // bytes of complete blocks
}

func isCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }

// segFile reads blocks out of one segment file up to size, a length known
// to end on a block boundary (or, during recovery, the file's length).
// Segment files are append-only while open, so reads below size never
// race with the writer.
type segFile struct {
	f    io.ReaderAt
	name string // for errors
	size int64
	hdr  [blockHeaderSize]byte
	tr   [blockTrailerSize]byte
}

// readAt reads exactly len(b) bytes at off. A short read means the file is
// shorter than its size says, which only corruption can explain.
func (sf *segFile) readAt(b []byte, off int64) error {
	n, err := sf.f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return errTruncated
	}
	return fmt.Errorf("ring: read %s: %w", sf.name, err)
}

// header reads and range-checks the block header at off.
func (sf *segFile) header(off int64) (blockHeader, error) {
	if off < 0 || off+blockOverhead > sf.size {
		return blockHeader{}, errTruncated
	}
	if err := sf.readAt(sf.hdr[:], off); err != nil {
		return blockHeader{}, err
	}
	h, err := parseBlockHeader(sf.hdr[:])
	if err != nil {
		return h, err
	}
	if off+h.total() > sf.size {
		return h, errTruncated
	}
	return h, nil
}

// payload reads the payload and trailer of the block at off into *buf,
// checks the CRC, and returns the payload and whether the trailer is
// intact. Readers can use a block whose trailer is damaged; recovery
// cannot, since the trailer is what --tail walks.
func (sf *segFile) payload(off int64, h *blockHeader, buf *[]byte) ([]byte, bool, error) {
	n := int(h.stored) + blockTrailerSize
	if cap(*buf) < n {
		// Headroom: compressed sizes vary from block to block, and a buffer
		// of exactly this one's size would be replaced by the next bigger
		// one, again and again (readers keep theirs in a pool).
		*buf = make([]byte, n, n+n/4)
	}
	b := (*buf)[:n]
	if err := sf.readAt(b, off+blockHeaderSize); err != nil {
		return nil, false, err
	}
	p := b[:h.stored]
	if crc32Update(h.hcrc, p) != h.crc {
		return nil, false, errBadCRC
	}
	return p, checkTrailer(b[h.stored:], h.total()), nil
}

// prev returns the block that ends at end, found through its trailer.
func (sf *segFile) prev(end int64) (int64, blockHeader, error) {
	if end < blockOverhead || end > sf.size {
		return 0, blockHeader{}, errBadTrailer
	}
	if err := sf.readAt(sf.tr[:], end-blockTrailerSize); err != nil {
		return 0, blockHeader{}, err
	}
	n, err := parseTrailer(sf.tr[:])
	if err != nil {
		return 0, blockHeader{}, err
	}
	if n > end {
		return 0, blockHeader{}, errBadTrailer
	}
	off := end - n
	h, err := sf.header(off)
	if err != nil {
		return 0, h, err
	}
	if h.total() != n {
		return 0, h, errBadTrailer
	}
	return off, h, nil
}

// resyncWindow is how much of a segment resync reads at a time.
const resyncWindow = 64 << 10

// resync finds the first offset >= from where a block with a valid header
// and CRC starts, by searching for the block magic. It is how readers and
// recovery get past a damaged block whose length fields cannot be trusted.
// win is scratch space of resyncWindow bytes; buf receives payloads.
func (sf *segFile) resync(from int64, win []byte, buf *[]byte) (int64, bool, error) {
	pos := from
	for pos >= 0 && pos+blockOverhead <= sf.size {
		n := int(min(int64(len(win)), sf.size-pos))
		if err := sf.readAt(win[:n], pos); err != nil {
			return 0, false, err
		}
		for i := 0; ; {
			j := bytes.Index(win[i:n], blockMagic[:])
			if j < 0 {
				break
			}
			cand := pos + int64(i+j)
			h, err := sf.header(cand)
			if err == nil {
				_, _, err = sf.payload(cand, &h, buf)
			}
			if err == nil {
				return cand, true, nil
			}
			if !isCorrupt(err) {
				return 0, false, err
			}
			i += j + 1
		}
		if pos+int64(n) >= sf.size {
			break
		}
		// Overlap windows so a magic split across two is still found.
		pos += int64(n - len(blockMagic) + 1)
	}
	return 0, false, nil
}

// validEnd finds where the complete blocks of a segment end after a crash:
// the byte offset to truncate to and the sequence number after its last
// record. The common case, an intact last block, costs one block read;
// otherwise it walks the whole file forwards, resynchronising past damaged
// blocks, and keeps everything up to the last good one.
func (sf *segFile) validEnd(first uint64, win []byte, buf *[]byte) (uint64, int64, error) {
	if sf.size == 0 {
		return first, 0, nil
	}
	if off, h, err := sf.prev(sf.size); err == nil && h.first >= first {
		if _, trailerOK, err := sf.payload(off, &h, buf); err == nil && trailerOK {
			return h.end(), sf.size, nil
		}
	}
	end, good := first, int64(0)
	for off := int64(0); off < sf.size; {
		h, err := sf.header(off)
		trailerOK := false
		if err == nil {
			_, trailerOK, err = sf.payload(off, &h, buf)
		}
		if err == nil && trailerOK && h.first >= end && h.end() <= maxSeq {
			end, good = h.end(), off+h.total()
			off = good
			continue
		}
		if err != nil && !isCorrupt(err) {
			return 0, 0, err
		}
		next, ok, err := sf.resync(off+1, win, buf)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			break
		}
		off = next
	}
	return end, good, nil
}
