package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/logship/logship/pipeline"
)

// The on-disk format is documented byte by byte in doc.go; keep both in
// step.

const (
	formatVersion = 1

	blockHeaderSize  = 48
	blockTrailerSize = 8
	blockOverhead    = blockHeaderSize + blockTrailerSize
	walHeaderSize    = 28

	// MaxLineSize is the longest line a record may carry. Write rejects
	// longer ones with ErrLineTooLong; the driver cuts lines well before.
	MaxLineSize = 8 << 20

	// maxRecordOverhead is the most bytes a record adds to its line: the
	// flags byte and two 10-byte varints.
	maxRecordOverhead = 1 + 2*binary.MaxVarintLen64

	// maxBlockRaw caps the uncompressed size of a block and of the WAL.
	// Writers stay below it (BlockSize + one record); decoders treat any
	// larger claim as corruption, so a damaged length field can never make
	// them allocate more than this.
	maxBlockRaw = 16 << 20

	// minRecordSize is the smallest encoded record (flags, one-byte time
	// delta, zero length), used to bound record counts claimed by headers.
	minRecordSize = 3

	// maxSeq keeps sequence arithmetic far away from overflow, so that a
	// corrupt header claiming seq 2^64-1 is rejected instead of wrapping.
	maxSeq = 1 << 62
)

// Codec bytes in block headers.
const (
	codecNone byte = 0
	codecS2   byte = 1
	codecZstd byte = 2
)

var (
	blockMagic   = [4]byte{'L', 'S', 'B', 'K'}
	trailerMagic = [4]byte{'L', 'S', 'B', 'E'}
	walMagic     = [4]byte{'L', 'S', 'W', 'C'}

	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// ErrCorrupt is wrapped by every error about on-disk bytes that fail a
// check (magic, length, CRC, record encoding).
var ErrCorrupt = errors.New("ring: corrupt data")

// Pre-built corruption errors: the resynchronising scan can test many
// candidate offsets, and must not allocate an error for each.
var (
	errBadMagic    = fmt.Errorf("%w: bad magic", ErrCorrupt)
	errBadVersion  = fmt.Errorf("%w: unknown format version", ErrCorrupt)
	errBadHeader   = fmt.Errorf("%w: header field out of range", ErrCorrupt)
	errBadCRC      = fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	errBadTrailer  = fmt.Errorf("%w: bad trailer", ErrCorrupt)
	errTruncated   = fmt.Errorf("%w: block extends past the end of the file", ErrCorrupt)
	errBadRecord   = fmt.Errorf("%w: bad record encoding", ErrCorrupt)
	errBadPayload  = fmt.Errorf("%w: payload does not decompress to the stated length", ErrCorrupt)
	errRecordCount = fmt.Errorf("%w: record count does not match header", ErrCorrupt)
	errSeqRange    = fmt.Errorf("%w: block sequence numbers outside their segment", ErrCorrupt)
)

// blockHeader is the decoded fixed header of a sealed block.
type blockHeader struct {
	codec   byte
	stored  uint32 // payload bytes on disk
	raw     uint32 // payload bytes after decompression
	count   uint32
	first   uint64
	minTime int64
	maxTime int64
	crc     uint32
	hcrc    uint32 // CRC of the header bytes before the crc field, seed for the payload
}

// total is the size of the whole block on disk.
func (h *blockHeader) total() int64 { return blockOverhead + int64(h.stored) }

// end is the sequence number after the block's last record.
func (h *blockHeader) end() uint64 { return h.first + uint64(h.count) }

// putBlockHeader writes the header into b[:blockHeaderSize], leaving the
// CRC field to finishBlock.
func putBlockHeader(b []byte, h *blockHeader) {
	copy(b[0:4], blockMagic[:])
	b[4] = formatVersion
	b[5] = h.codec
	b[6], b[7] = 0, 0
	le := binary.LittleEndian
	le.PutUint32(b[8:], h.stored)
	le.PutUint32(b[12:], h.raw)
	le.PutUint32(b[16:], h.count)
	le.PutUint64(b[20:], h.first)
	le.PutUint64(b[28:], uint64(h.minTime))
	le.PutUint64(b[36:], uint64(h.maxTime))
}

// finishBlock fills in the CRC and the trailer of a block laid out in b
// (header, payload, room for the trailer).
func finishBlock(b []byte) {
	le := binary.LittleEndian
	n := len(b)
	crc := crc32.Update(0, castagnoli, b[:44])
	crc = crc32.Update(crc, castagnoli, b[blockHeaderSize:n-blockTrailerSize])
	le.PutUint32(b[44:], crc)
	le.PutUint32(b[n-8:], uint32(n))
	copy(b[n-4:], trailerMagic[:])
}

// parseBlockHeader decodes and range-checks a block header. It cannot
// check the CRC, which covers the payload too.
func parseBlockHeader(b []byte) (blockHeader, error) {
	var h blockHeader
	if len(b) < blockHeaderSize || [4]byte(b[0:4]) != blockMagic {
		return h, errBadMagic
	}
	if b[4] != formatVersion {
		return h, errBadVersion
	}
	le := binary.LittleEndian
	h.codec = b[5]
	h.stored = le.Uint32(b[8:])
	h.raw = le.Uint32(b[12:])
	h.count = le.Uint32(b[16:])
	h.first = le.Uint64(b[20:])
	h.minTime = int64(le.Uint64(b[28:]))
	h.maxTime = int64(le.Uint64(b[36:]))
	h.crc = le.Uint32(b[44:])
	switch {
	case b[6] != 0 || b[7] != 0,
		h.codec > codecZstd,
		h.raw > maxBlockRaw,
		// A compressed payload is only kept when it is smaller; otherwise
		// the block is stored as is.
		h.codec == codecNone && h.stored != h.raw,
		h.stored > h.raw,
		h.count == 0 || uint64(h.count)*minRecordSize > uint64(h.raw),
		h.first == 0 || h.first > maxSeq,
		h.minTime > h.maxTime:
		return h, errBadHeader
	}
	h.hcrc = crc32.Update(0, castagnoli, b[:44])
	return h, nil
}

// checkTrailer reports whether the 8 trailer bytes match a block of total
// bytes.
func checkTrailer(t []byte, total int64) bool {
	return [4]byte(t[4:8]) == trailerMagic && int64(binary.LittleEndian.Uint32(t)) == total
}

// parseTrailer returns the block length a trailer claims, or an error.
func parseTrailer(t []byte) (int64, error) {
	if [4]byte(t[4:8]) != trailerMagic {
		return 0, errBadTrailer
	}
	n := int64(binary.LittleEndian.Uint32(t))
	if n < blockOverhead || n > blockOverhead+maxBlockRaw {
		return 0, errBadTrailer
	}
	return n, nil
}

// walHeader is the decoded header of a WAL chunk.
type walHeader struct {
	length uint32
	count  uint32
	first  uint64
	crc    uint32
}

// putWALHeader writes a chunk header for payload into b[:walHeaderSize],
// CRC included.
func putWALHeader(b []byte, count uint32, first uint64, payload []byte) {
	copy(b[0:4], walMagic[:])
	b[4] = formatVersion
	b[5], b[6], b[7] = 0, 0, 0
	le := binary.LittleEndian
	le.PutUint32(b[8:], uint32(len(payload)))
	le.PutUint32(b[12:], count)
	le.PutUint64(b[16:], first)
	crc := crc32.Update(0, castagnoli, b[:24])
	crc = crc32.Update(crc, castagnoli, payload)
	le.PutUint32(b[24:], crc)
}

func parseWALHeader(b []byte) (walHeader, error) {
	var h walHeader
	if [4]byte(b[0:4]) != walMagic {
		return h, errBadMagic
	}
	if b[4] != formatVersion {
		return h, errBadVersion
	}
	le := binary.LittleEndian
	h.length = le.Uint32(b[8:])
	h.count = le.Uint32(b[12:])
	h.first = le.Uint64(b[16:])
	h.crc = le.Uint32(b[24:])
	if b[5] != 0 || b[6] != 0 || b[7] != 0 ||
		h.length > maxBlockRaw ||
		h.count == 0 || uint64(h.count)*minRecordSize > uint64(h.length) ||
		h.first == 0 || h.first > maxSeq {
		return h, errBadHeader
	}
	return h, nil
}

func checkWALCRC(hdr []byte, h walHeader, payload []byte) bool {
	crc := crc32.Update(0, castagnoli, hdr[:24])
	return crc32.Update(crc, castagnoli, payload) == h.crc
}

// Record encoding, inside block payloads and WAL chunks:
//
//	flags byte: bits 0-1 source, bit 2 partial, bits 3-7 zero
//	uvarint zigzag(time - previous record's time in the block; 0 before the first)
//	uvarint line length
//	line bytes
const (
	flagSourceMask = 0x03
	flagPartial    = 0x04
)

// appendRecord encodes rec after dst. prev is the time of the previous
// record of the same block. The subtraction wraps on purpose: decoding
// adds it back with the same wrap-around, so any int64 times round-trip.
func appendRecord(dst []byte, prev int64, rec *pipeline.Record) []byte {
	flags := byte(rec.Source) & flagSourceMask
	if rec.Partial {
		flags |= flagPartial
	}
	d := rec.Time - prev
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(d<<1)^uint64(d>>63))
	dst = binary.AppendUvarint(dst, uint64(len(rec.Line)))
	return append(dst, rec.Line...)
}

// recIter walks the records of one block's uncompressed payload.
type recIter struct {
	b    []byte
	off  int
	seq  uint64 // sequence number of the record at off
	prev int64  // time of the record before off
}

// done reports whether every byte has been decoded.
func (it *recIter) done() bool { return it.off >= len(it.b) }

// next decodes the record at it.off into rec; rec.Line aliases it.b with
// its capacity clipped, so a callee that appends to it cannot overwrite
// the next record.
func (it *recIter) next(rec *pipeline.Record) error {
	b := it.b[it.off:]
	if len(b) < minRecordSize {
		return errBadRecord
	}
	flags := b[0]
	if flags&^(flagSourceMask|flagPartial) != 0 || flags&flagSourceMask > byte(pipeline.SourceStderr) {
		return errBadRecord
	}
	zz, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return errBadRecord
	}
	pos := 1 + n
	l, m := binary.Uvarint(b[pos:])
	if m <= 0 {
		return errBadRecord
	}
	pos += m
	if l > MaxLineSize || l > uint64(len(b)-pos) {
		return errBadRecord
	}
	end := pos + int(l)
	t := it.prev + (int64(zz>>1) ^ -int64(zz&1))
	rec.Seq = it.seq
	rec.Time = t
	rec.Source = pipeline.Source(flags & flagSourceMask)
	rec.Partial = flags&flagPartial != 0
	rec.Line = b[pos:end:end]
	it.prev = t
	it.off += end
	it.seq++
	return nil
}

func crc32Update(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoli, p) }
