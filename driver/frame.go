package driver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// DefaultMaxFrameSize caps the protobuf size a frame header may announce.
// dockerd's frames are at most about 16.5 KB (a 16 KiB chunk plus metadata);
// the cap only exists so that garbage cannot make us allocate gigabytes.
const DefaultMaxFrameSize = 1 << 20

// ErrFrameTooLarge means a frame header announced more than the cap. The
// stream cannot be resynchronised after it: a bare 4-byte length prefix has
// no marker to search for, so the caller must give up on the stream.
var ErrFrameTooLarge = errors.New("driver: log frame larger than the maximum frame size")

// ErrBadFrame means a frame's protobuf message does not parse. The length
// prefix was valid and the frame has been consumed, so the stream stays in
// sync and the caller may skip the frame and call Next again.
var ErrBadFrame = errors.New("driver: malformed log frame")

const (
	frameHeaderLen     = 4
	frameDefaultBuf    = 64 << 10
	frameMinBuf        = 16
	frameMaxEmptyReads = 100 // same tolerance as bufio for readers returning (0, nil)
	frameMaxGroupDepth = 64  // nesting limit for skipped proto2 groups
	frameMaxFieldNum   = 1<<29 - 1
)

// Protobuf wire types.
const (
	frameWireVarint  = 0
	frameWireFixed64 = 1
	frameWireBytes   = 2
	frameWireStart   = 3
	frameWireEnd     = 4
	frameWireFixed32 = 5
)

// Entry is one decoded LogEntry frame. It has no pointers to fill, so a
// single Entry can be reused for every frame without allocating.
//
// Source, Line and PartialID alias the FrameReader's buffer: they are valid
// until the next call to Next, and a caller that keeps them must copy them.
type Entry struct {
	Source   []byte
	TimeNano int64
	Line     []byte
	Partial  bool
	// PartialID, PartialOrdinal and PartialLast come from
	// partial_log_metadata; they are zero when HasPartialMeta is false,
	// which is the case for complete lines and for every chunk sent by
	// daemons older than 19.03.
	PartialID      []byte
	PartialOrdinal int32
	PartialLast    bool
	HasPartialMeta bool
}

// FrameReader decodes the length-prefixed LogEntry stream that dockerd writes
// into a logging FIFO.
//
// A frame that fits in the read buffer is decoded in place. A larger one
// (only possible with a read buffer smaller than dockerd's frames, or with
// garbage) is read into a scratch buffer that grows on demand, never beyond
// the frame cap, and is kept for reuse.
//
// Next can be called again after a read error such as a read deadline: the
// bytes of a partly read frame are kept and reading resumes where it stopped.
type FrameReader struct {
	rd       io.Reader
	buf      []byte
	r, w     int   // buf[r:w] is read and not yet consumed
	err      error // read error held back until the buffered bytes are used
	maxFrame int

	// A frame too big for buf is being read into big[:bigN] of bigSize.
	big     []byte
	bigN    int
	bigSize int
}

// NewFrameReader returns a reader of dockerd's frames from r. bufSize is the
// read buffer size (64 KiB when <= 0): bigger than any real frame, so that
// frames are decoded without copying, and as big as a Linux pipe, so that one
// read can drain the pipe. maxFrame caps the protobuf size of a frame
// (DefaultMaxFrameSize when <= 0).
func NewFrameReader(r io.Reader, bufSize, maxFrame int) *FrameReader {
	if bufSize <= 0 {
		bufSize = frameDefaultBuf
	}
	bufSize = max(bufSize, frameMinBuf)
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	// No header can announce more than MaxUint32, so a larger cap means
	// nothing; the second bound keeps header+size in an int on 32-bit.
	maxFrame = int(min(uint64(maxFrame), math.MaxUint32, uint64(math.MaxInt-frameHeaderLen)))
	return &FrameReader{rd: r, buf: make([]byte, bufSize), maxFrame: maxFrame}
}

// Buffered returns the number of bytes read from the underlying reader and
// not yet consumed by Next. When it is 0, the next call to Next reads, and may
// block: that is the moment to flush whatever the caller has produced. A
// non-zero value may still be the start of an incomplete frame, in which case
// Next reads too, but only to fetch the rest of a frame that dockerd is in the
// middle of writing.
func (fr *FrameReader) Buffered() int {
	n := fr.w - fr.r
	if fr.bigSize > 0 {
		n += frameHeaderLen + fr.bigN // the frame in progress, header included
	}
	return n
}

// Next decodes the next frame into e, overwriting every field.
//
// It returns io.EOF when the stream ends cleanly between frames,
// io.ErrUnexpectedEOF when it ends inside a frame, an error wrapping
// ErrFrameTooLarge when a header announces more than the cap (the stream is
// lost; the reader keeps returning it), an error wrapping ErrBadFrame when the
// protobuf does not parse (the frame is skipped; Next may be called again),
// and any other read error wrapped.
func (fr *FrameReader) Next(e *Entry) error {
	if fr.bigSize > 0 {
		return fr.nextBig(e)
	}
	if err := fr.fill(frameHeaderLen); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(fr.buf[fr.r:])
	if uint64(size) > uint64(fr.maxFrame) {
		// The header stays unconsumed: nothing after it can be trusted.
		return fmt.Errorf("%w: header announces %d bytes, cap is %d", ErrFrameTooLarge, size, fr.maxFrame)
	}
	n := frameHeaderLen + int(size)
	if n > len(fr.buf) {
		fr.r += frameHeaderLen
		fr.startBig(int(size))
		return fr.nextBig(e)
	}
	if err := fr.fill(n); err != nil {
		return err
	}
	msg := fr.buf[fr.r+frameHeaderLen : fr.r+n]
	fr.r += n
	return frameDecode(msg, e)
}

// fill makes buf[r:r+n] available, with n <= len(buf). An error is returned
// only when it cannot; bytes read before the error stay buffered.
func (fr *FrameReader) fill(n int) error {
	if fr.w-fr.r >= n {
		return nil
	}
	// Moving the incomplete frame to the front (less than a frame, so cheap)
	// lets each read take as much as the pipe holds.
	if fr.r > 0 {
		fr.w = copy(fr.buf, fr.buf[fr.r:fr.w])
		fr.r = 0
	}
	empty := 0
	for fr.w < n {
		if fr.err != nil {
			return fr.takeErr()
		}
		m, err := fr.rd.Read(fr.buf[fr.w:])
		if m < 0 || m > len(fr.buf)-fr.w {
			return fmt.Errorf("driver: read frame: reader returned invalid count %d", m)
		}
		fr.w += m
		fr.err = err
		if m > 0 || err != nil {
			empty = 0
		} else if empty++; empty >= frameMaxEmptyReads {
			return fmt.Errorf("driver: read frame: %w", io.ErrNoProgress)
		}
	}
	return nil
}

// takeErr returns the held-back read error, translated for the position in
// the stream, and clears it so that a caller may retry after a transient
// error (a read deadline) without losing the bytes already read.
func (fr *FrameReader) takeErr() error {
	err := fr.err
	fr.err = nil
	if errors.Is(err, io.EOF) {
		if fr.w == fr.r && fr.bigSize == 0 {
			return io.EOF
		}
		return io.ErrUnexpectedEOF
	}
	return fmt.Errorf("driver: read frame: %w", err)
}

// startBig moves what is buffered of an oversized frame to the scratch buffer.
func (fr *FrameReader) startBig(size int) {
	if cap(fr.big) < size {
		// Grow geometrically so that a stream of slowly increasing frames
		// does not reallocate each time, but never past the cap.
		fr.big = make([]byte, min(max(size, 2*cap(fr.big)), fr.maxFrame))
	}
	fr.big = fr.big[:cap(fr.big)]
	fr.bigSize = size
	fr.bigN = copy(fr.big[:size], fr.buf[fr.r:fr.w])
	fr.r += fr.bigN
	if fr.r == fr.w {
		fr.r, fr.w = 0, 0
	}
}

// nextBig reads the rest of an oversized frame straight from the underlying
// reader, so that nothing past the frame is read and Buffered is 0 after it.
func (fr *FrameReader) nextBig(e *Entry) error {
	empty := 0
	for fr.bigN < fr.bigSize {
		if fr.err != nil {
			return fr.takeErr()
		}
		m, err := fr.rd.Read(fr.big[fr.bigN:fr.bigSize])
		if m < 0 || m > fr.bigSize-fr.bigN {
			return fmt.Errorf("driver: read frame: reader returned invalid count %d", m)
		}
		fr.bigN += m
		fr.err = err
		if m > 0 || err != nil {
			empty = 0
		} else if empty++; empty >= frameMaxEmptyReads {
			return fmt.Errorf("driver: read frame: %w", io.ErrNoProgress)
		}
	}
	msg := fr.big[:fr.bigSize]
	fr.bigN, fr.bigSize = 0, 0
	return frameDecode(msg, e)
}

// frameDecode parses one LogEntry message into e, aliasing msg. It follows
// the gogo-generated Unmarshal that dockerd uses: the last occurrence of a
// scalar field wins, repeated metadata messages merge, a known field with the
// wrong wire type is an error, and unknown fields (attrs = 6, anything newer)
// are skipped.
func frameDecode(msg []byte, e *Entry) error {
	*e = Entry{}
	for i := 0; i < len(msg); {
		start := i
		num, typ, n := frameTag(msg[i:])
		if n <= 0 {
			return frameBad("invalid tag", start)
		}
		i += n
		switch num {
		case 1, 3:
			if typ != frameWireBytes {
				return frameBad("wrong wire type for a bytes field", start)
			}
			v, n := frameBytes(msg[i:])
			if n <= 0 {
				return frameBad("truncated bytes field", start)
			}
			i += n
			if num == 1 {
				e.Source = v
			} else {
				e.Line = v
			}
		case 2, 4:
			if typ != frameWireVarint {
				return frameBad("wrong wire type for a varint field", start)
			}
			v, n := frameVarint(msg[i:])
			if n <= 0 {
				return frameBad("invalid varint", start)
			}
			i += n
			if num == 2 {
				e.TimeNano = int64(v)
			} else {
				e.Partial = v != 0
			}
		case 5:
			if typ != frameWireBytes {
				return frameBad("wrong wire type for partial_log_metadata", start)
			}
			v, n := frameBytes(msg[i:])
			if n <= 0 {
				return frameBad("truncated partial_log_metadata", start)
			}
			if err := frameDecodeMeta(v, e); err != nil {
				return err
			}
			i += n
		default:
			n := frameSkip(msg[i:], num, typ, 0)
			if n < 0 {
				return frameBad("invalid unknown field", start)
			}
			i += n
		}
	}
	return nil
}

func frameDecodeMeta(msg []byte, e *Entry) error {
	e.HasPartialMeta = true
	for i := 0; i < len(msg); {
		start := i
		num, typ, n := frameTag(msg[i:])
		if n <= 0 {
			return frameBad("invalid tag in partial_log_metadata", start)
		}
		i += n
		switch num {
		case 1, 3:
			if typ != frameWireVarint {
				return frameBad("wrong wire type in partial_log_metadata", start)
			}
			v, n := frameVarint(msg[i:])
			if n <= 0 {
				return frameBad("invalid varint in partial_log_metadata", start)
			}
			i += n
			if num == 1 {
				e.PartialLast = v != 0
			} else {
				e.PartialOrdinal = int32(v) // proto int32: the low 32 bits
			}
		case 2:
			if typ != frameWireBytes {
				return frameBad("wrong wire type in partial_log_metadata", start)
			}
			v, n := frameBytes(msg[i:])
			if n <= 0 {
				return frameBad("truncated id in partial_log_metadata", start)
			}
			i += n
			e.PartialID = v
		default:
			n := frameSkip(msg[i:], num, typ, 0)
			if n < 0 {
				return frameBad("invalid unknown field in partial_log_metadata", start)
			}
			i += n
		}
	}
	return nil
}

// frameBad builds the detailed error only on the failure path, so decoding
// a good frame allocates nothing.
func frameBad(what string, off int) error {
	return fmt.Errorf("%w: %s at message offset %d", ErrBadFrame, what, off)
}

// frameVarint decodes a base-128 varint. n is the number of bytes used, or 0
// when b ends inside the varint or it overflows 64 bits (as protowire does).
func frameVarint(b []byte) (v uint64, n int) {
	for shift := uint(0); shift < 64; shift += 7 {
		if n >= len(b) {
			return 0, 0
		}
		c := b[n]
		n++
		if n == 10 && c > 1 {
			return 0, 0
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, n
		}
	}
	return 0, 0
}

// frameTag decodes a field key; n is 0 for an invalid one (field number 0 or
// beyond the protobuf maximum).
func frameTag(b []byte) (num uint64, typ int, n int) {
	v, n := frameVarint(b)
	if n == 0 {
		return 0, 0, 0
	}
	num = v >> 3
	if num == 0 || num > frameMaxFieldNum {
		return 0, 0, 0
	}
	return num, int(v & 7), n
}

// frameBytes decodes a length-delimited value; n is 0 when it does not fit.
func frameBytes(b []byte) (v []byte, n int) {
	l, n := frameVarint(b)
	if n == 0 || l > uint64(len(b)-n) {
		return nil, 0
	}
	end := n + int(l)
	return b[n:end:end], end
}

// frameSkip returns the length of the value of an unknown field whose key has
// already been consumed, or -1 when it is malformed. A group must be closed
// by an end-group key with its own field number.
func frameSkip(b []byte, num uint64, typ int, depth int) int {
	switch typ {
	case frameWireVarint:
		_, n := frameVarint(b)
		if n == 0 {
			return -1
		}
		return n
	case frameWireFixed64:
		if len(b) < 8 {
			return -1
		}
		return 8
	case frameWireFixed32:
		if len(b) < 4 {
			return -1
		}
		return 4
	case frameWireBytes:
		_, n := frameBytes(b)
		if n == 0 {
			return -1
		}
		return n
	case frameWireStart:
		if depth >= frameMaxGroupDepth {
			return -1
		}
		for i := 0; i < len(b); {
			inNum, inTyp, n := frameTag(b[i:])
			if n == 0 {
				return -1
			}
			i += n
			if inTyp == frameWireEnd {
				if inNum != num {
					return -1
				}
				return i
			}
			m := frameSkip(b[i:], inNum, inTyp, depth+1)
			if m < 0 {
				return -1
			}
			i += m
		}
		return -1
	}
	// A stray end-group, or wire types 6 and 7, which do not exist.
	return -1
}

// AppendFrame appends e as a frame (length prefix and LogEntry message) to
// dst. The bytes are those of dockerd's gogo-generated Marshal: fields in
// number order, zero values left out as proto3 does, and partial_log_metadata
// present exactly when HasPartialMeta is set.
//
// It panics if the message would exceed 4 GiB, which a length prefix cannot
// express.
func AppendFrame(dst []byte, e *Entry) []byte {
	metaSize := 0
	if e.HasPartialMeta {
		metaSize = frameMetaSize(e)
	}
	size := 0
	if len(e.Source) > 0 {
		size += 1 + frameVarintLen(uint64(len(e.Source))) + len(e.Source)
	}
	if e.TimeNano != 0 {
		size += 1 + frameVarintLen(uint64(e.TimeNano))
	}
	if len(e.Line) > 0 {
		size += 1 + frameVarintLen(uint64(len(e.Line))) + len(e.Line)
	}
	if e.Partial {
		size += 2
	}
	if e.HasPartialMeta {
		size += 1 + frameVarintLen(uint64(metaSize)) + metaSize
	}
	if uint64(size) > math.MaxUint32 {
		panic("driver: AppendFrame: LogEntry larger than a frame can hold")
	}

	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	if len(e.Source) > 0 {
		dst = append(dst, 1<<3|frameWireBytes)
		dst = binary.AppendUvarint(dst, uint64(len(e.Source)))
		dst = append(dst, e.Source...)
	}
	if e.TimeNano != 0 {
		dst = append(dst, 2<<3|frameWireVarint)
		dst = binary.AppendUvarint(dst, uint64(e.TimeNano))
	}
	if len(e.Line) > 0 {
		dst = append(dst, 3<<3|frameWireBytes)
		dst = binary.AppendUvarint(dst, uint64(len(e.Line)))
		dst = append(dst, e.Line...)
	}
	if e.Partial {
		dst = append(dst, 4<<3|frameWireVarint, 1)
	}
	if e.HasPartialMeta {
		dst = append(dst, 5<<3|frameWireBytes)
		dst = binary.AppendUvarint(dst, uint64(metaSize))
		if e.PartialLast {
			dst = append(dst, 1<<3|frameWireVarint, 1)
		}
		if len(e.PartialID) > 0 {
			dst = append(dst, 2<<3|frameWireBytes)
			dst = binary.AppendUvarint(dst, uint64(len(e.PartialID)))
			dst = append(dst, e.PartialID...)
		}
		if e.PartialOrdinal != 0 {
			// Negative int32 values are sign-extended to 10 bytes, as
			// protobuf requires.
			dst = append(dst, 3<<3|frameWireVarint)
			dst = binary.AppendUvarint(dst, uint64(int64(e.PartialOrdinal)))
		}
	}
	return dst
}

func frameMetaSize(e *Entry) int {
	n := 0
	if e.PartialLast {
		n += 2
	}
	if len(e.PartialID) > 0 {
		n += 1 + frameVarintLen(uint64(len(e.PartialID))) + len(e.PartialID)
	}
	if e.PartialOrdinal != 0 {
		n += 1 + frameVarintLen(uint64(int64(e.PartialOrdinal)))
	}
	return n
}

func frameVarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
