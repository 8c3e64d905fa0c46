package driver

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/docker/docker/api/types/plugins/logdriver"
)

// The example frames of docker-protocol.md §2.2, computed by hand there.
const (
	frameDocHello = "00 00 00 19 0a 06 73 74 64 6f 75 74 10 80 80 a8 b1 e3 9f e7 cb 17 1a 05 68 65 6c 6c 6f"
	frameDocXYZ   = "00 00 00 25 0a 06 73 74 64 65 72 72 10 80 80 a8 b1 e3 9f e7 cb 17 1a 03 78 79 7a 20 01 2a 0a 08 01 12 04 61 62 63 64 18 02"
)

func frameHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func frameDocEntries() (hello, xyz Entry) {
	hello = Entry{Source: []byte("stdout"), TimeNano: 1700000000000000000, Line: []byte("hello")}
	xyz = Entry{
		Source: []byte("stderr"), TimeNano: 1700000000000000000, Line: []byte("xyz"), Partial: true,
		HasPartialMeta: true, PartialLast: true, PartialID: []byte("abcd"), PartialOrdinal: 2,
	}
	return hello, xyz
}

// frameClone detaches e from the reader's buffer.
func frameClone(e *Entry) Entry {
	c := *e
	c.Source = bytes.Clone(e.Source)
	c.Line = bytes.Clone(e.Line)
	c.PartialID = bytes.Clone(e.PartialID)
	return c
}

// frameEqual compares field by field; nil and empty byte slices are equal,
// as they are on the wire.
func frameEqual(a, b *Entry) bool {
	return bytes.Equal(a.Source, b.Source) && a.TimeNano == b.TimeNano && bytes.Equal(a.Line, b.Line) &&
		a.Partial == b.Partial && a.HasPartialMeta == b.HasPartialMeta && bytes.Equal(a.PartialID, b.PartialID) &&
		a.PartialOrdinal == b.PartialOrdinal && a.PartialLast == b.PartialLast
}

func frameString(e *Entry) string {
	return fmt.Sprintf("{src=%q t=%d line(%d)=%.40q partial=%v meta=%v id=%q ord=%d last=%v}",
		e.Source, e.TimeNano, len(e.Line), e.Line, e.Partial, e.HasPartialMeta, e.PartialID, e.PartialOrdinal, e.PartialLast)
}

func frameToGogo(e *Entry) *logdriver.LogEntry {
	l := &logdriver.LogEntry{Source: string(e.Source), TimeNano: e.TimeNano, Line: e.Line, Partial: e.Partial}
	if e.HasPartialMeta {
		l.PartialLogMetadata = &logdriver.PartialLogEntryMetadata{
			Last: e.PartialLast, Id: string(e.PartialID), Ordinal: e.PartialOrdinal,
		}
	}
	return l
}

func frameFromGogo(l *logdriver.LogEntry) Entry {
	e := Entry{Source: []byte(l.Source), TimeNano: l.TimeNano, Line: l.Line, Partial: l.Partial}
	if m := l.PartialLogMetadata; m != nil {
		e.HasPartialMeta, e.PartialLast, e.PartialOrdinal = true, m.Last, m.Ordinal
		e.PartialID = []byte(m.Id)
	}
	return e
}

// frameRandEntry covers the value ranges that change the encoding: empty and
// absent fields, negative and multi-byte varints, long lines.
func frameRandEntry(rng *rand.Rand) Entry {
	var e Entry
	switch rng.IntN(4) {
	case 0:
		e.Source = []byte("stdout")
	case 1:
		e.Source = []byte("stderr")
	case 2:
		e.Source = frameRandBytes(rng, rng.IntN(20))
	}
	switch rng.IntN(4) {
	case 0:
	case 1:
		e.TimeNano = rng.Int64() - rng.Int64() // either sign, any width
	default:
		e.TimeNano = 1700000000000000000 + rng.Int64N(1e18)
	}
	switch rng.IntN(10) {
	case 0:
	case 1:
		e.Line = frameRandBytes(rng, 16384)
	case 2:
		e.Line = frameRandBytes(rng, rng.IntN(40000))
	default:
		e.Line = frameRandBytes(rng, rng.IntN(400))
	}
	e.Partial = rng.IntN(2) == 0
	if rng.IntN(2) == 0 {
		e.HasPartialMeta = true
		e.PartialLast = rng.IntN(2) == 0
		if rng.IntN(5) > 0 {
			e.PartialID = frameRandBytes(rng, 64)
		}
		switch rng.IntN(4) {
		case 0:
		case 1:
			e.PartialOrdinal = int32(rng.Uint32()) // negative half the time
		default:
			e.PartialOrdinal = 1 + rng.Int32N(300)
		}
	}
	return e
}

func frameRandBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// frameReadAll decodes every frame of a stream.
func frameReadAll(t testing.TB, r io.Reader, bufSize, maxFrame int) ([]Entry, error) {
	t.Helper()
	fr := NewFrameReader(r, bufSize, maxFrame)
	var out []Entry
	var e Entry
	for {
		err := fr.Next(&e)
		if err != nil {
			return out, err
		}
		out = append(out, frameClone(&e))
	}
}

func TestFrameDocExamples(t *testing.T) {
	hello, xyz := frameDocEntries()
	for _, tc := range []struct {
		name string
		hex  string
		e    Entry
	}{{"hello", frameDocHello, hello}, {"xyz", frameDocXYZ, xyz}} {
		t.Run(tc.name, func(t *testing.T) {
			want := frameHex(t, tc.hex)
			if got := AppendFrame(nil, &tc.e); !bytes.Equal(got, want) {
				t.Fatalf("AppendFrame:\n got % x\nwant % x", got, want)
			}
			prefix := []byte("keep")
			if got := AppendFrame(prefix, &tc.e); !bytes.Equal(got, append([]byte("keep"), want...)) {
				t.Fatalf("AppendFrame does not append: % x", got)
			}
			out, err := frameReadAll(t, bytes.NewReader(want), 0, 0)
			if err != io.EOF || len(out) != 1 {
				t.Fatalf("decoded %d entries, err %v", len(out), err)
			}
			if !frameEqual(&out[0], &tc.e) {
				t.Fatalf("decoded %s\nwant %s", frameString(&out[0]), frameString(&tc.e))
			}
		})
	}
}

// AppendFrame must produce dockerd's bytes exactly, and each side must read
// the other's frames.
func TestFrameGogoCrossCheck(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var stream bytes.Buffer
	enc := logdriver.NewLogEntryEncoder(&stream)
	var want []Entry
	for i := range 3000 {
		e := frameRandEntry(rng)
		g := frameToGogo(&e)
		msg, err := g.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ours := AppendFrame(nil, &e)
		if !bytes.Equal(ours[frameHeaderLen:], msg) || binary.BigEndian.Uint32(ours) != uint32(len(msg)) {
			t.Fatalf("entry %d %s:\nAppendFrame % x\ngogo Marshal % x", i, frameString(&e), ours, msg)
		}
		var back logdriver.LogEntry
		if err := back.Unmarshal(ours[frameHeaderLen:]); err != nil {
			t.Fatalf("entry %d: gogo cannot decode AppendFrame output: %v", i, err)
		}
		if b := frameFromGogo(&back); !frameEqual(&b, &e) {
			t.Fatalf("entry %d: gogo decoded %s\nwant %s", i, frameString(&b), frameString(&e))
		}
		if err := enc.Encode(g); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	got, err := frameReadAll(t, &stream, 0, 0)
	if err != io.EOF {
		t.Fatalf("err = %v after %d entries", err, len(got))
	}
	if len(got) != len(want) {
		t.Fatalf("decoded %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if !frameEqual(&got[i], &want[i]) {
			t.Fatalf("entry %d: decoded %s\nwant %s", i, frameString(&got[i]), frameString(&want[i]))
		}
	}
}

// frameGogoWide is false on 32-bit platforms, where gogo's generated decoder
// accumulates varints in an int and so misreads values beyond 32 bits.
const frameGogoWide = math.MaxInt == math.MaxInt64

// Builders of raw protobuf, for fields AppendFrame never writes.
func frameKey(num, typ int) []byte { return binary.AppendUvarint(nil, uint64(num)<<3|uint64(typ)) }

func frameLenField(num int, v []byte) []byte {
	b := frameKey(num, frameWireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func frameVarField(num int, v uint64) []byte {
	return binary.AppendUvarint(frameKey(num, frameWireVarint), v)
}

func frameCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func frameWrap(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(msg))), msg...)
}

// Unknown fields of every wire type, including the attrs of newer daemons
// (field 6, LogAttr{key=1, value=2}), anywhere in the message and inside the
// metadata, are skipped as gogo skips them.
func TestFrameUnknownFields(t *testing.T) {
	attr := func(k, v string) []byte {
		return frameLenField(6, frameCat(frameLenField(1, []byte(k)), frameLenField(2, []byte(v))))
	}
	group := frameCat(frameKey(10, frameWireStart),
		frameVarField(1, 300), frameLenField(2, []byte("in group")),
		frameKey(3, frameWireStart), frameKey(1, frameWireFixed32), []byte{1, 2, 3, 4}, frameKey(3, frameWireEnd),
		frameKey(10, frameWireEnd))
	meta := frameCat(frameVarField(1, 1), frameLenField(9, []byte("future")), frameLenField(2, []byte("abcd")),
		frameKey(8, frameWireFixed64), []byte{1, 2, 3, 4, 5, 6, 7, 8}, frameVarField(3, 2))
	msgs := map[string][]byte{
		"attrs at the end": frameCat(frameLenField(1, []byte("stdout")), frameVarField(2, 1700000000000000000),
			frameLenField(3, []byte("hello")), attr("tag", "web"), attr("env", "prod")),
		"every wire type, everywhere": frameCat(attr("first", "1"), frameLenField(1, []byte("stderr")),
			frameVarField(7, math.MaxUint64), frameVarField(2, 42), frameKey(8, frameWireFixed64), []byte{9, 9, 9, 9, 9, 9, 9, 9},
			frameLenField(3, []byte("xyz")), frameKey(9, frameWireFixed32), []byte{1, 1, 1, 1}, group,
			frameVarField(4, 1), frameLenField(5, meta), frameLenField(1<<29-1, []byte("max field number"))),
		"metadata in two pieces merges": frameCat(frameLenField(3, []byte("l")), frameVarField(4, 1),
			frameLenField(5, frameVarField(3, 7)), attr("k", "v"), frameLenField(5, frameLenField(2, []byte("id2")))),
		"repeated scalars, last wins": frameCat(frameLenField(1, []byte("stdout")), frameLenField(1, []byte("stderr")),
			frameVarField(2, 5), frameVarField(2, 6), frameLenField(3, []byte("a")), frameLenField(3, []byte("b")),
			frameVarField(4, 1), frameVarField(4, 0)),
		"overlong bool and int32 ordinal": frameCat(frameVarField(4, 1<<40),
			frameLenField(5, frameCat(frameVarField(1, 2), frameVarField(3, 1<<32|5)))),
	}
	for name, msg := range msgs {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "overlong") && !frameGogoWide {
				t.Skip("gogo decodes varints into int, which drops high bits on 32-bit platforms")
			}
			var g logdriver.LogEntry
			if err := g.Unmarshal(msg); err != nil {
				t.Fatalf("gogo rejects the test message: %v", err)
			}
			want := frameFromGogo(&g)
			out, err := frameReadAll(t, bytes.NewReader(frameWrap(msg)), 0, 0)
			if err != io.EOF || len(out) != 1 {
				t.Fatalf("decoded %d entries, err %v", len(out), err)
			}
			if !frameEqual(&out[0], &want) {
				t.Fatalf("decoded %s\ngogo    %s", frameString(&out[0]), frameString(&want))
			}
		})
	}
}

// A message that does not parse is reported with ErrBadFrame, and the stream
// stays usable: the next frame decodes.
func TestFrameBadFrames(t *testing.T) {
	bad := map[string][]byte{
		"truncated tag":              {0x80},
		"field number 0":             frameVarField(0, 1),
		"field number too large":     frameVarField(1<<29, 1),
		"wire type 6":                frameKey(9, 6),
		"wire type 7":                frameKey(9, 7),
		"stray end group":            frameKey(9, frameWireEnd),
		"unterminated group":         frameCat(frameKey(9, frameWireStart), frameVarField(1, 1)),
		"group closed by another":    frameCat(frameKey(9, frameWireStart), frameKey(8, frameWireEnd)),
		"truncated varint":           {0x10, 0x80, 0x80},
		"varint beyond 64 bits":      {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
		"varint of 11 bytes":         {0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
		"line longer than message":   {0x1a, 0x05, 'a', 'b'},
		"length beyond int range":    {0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
		"source as varint":           frameVarField(1, 3),
		"time as bytes":              frameLenField(2, []byte("x")),
		"line as fixed32":            frameCat(frameKey(3, frameWireFixed32), []byte{1, 2, 3, 4}),
		"partial as bytes":           frameLenField(4, nil),
		"metadata as varint":         frameVarField(5, 1),
		"metadata truncated":         frameCat(frameKey(5, frameWireBytes), []byte{0x05, 0x08}),
		"metadata with bad content":  frameLenField(5, []byte{0x12, 0x09, 'a'}),
		"metadata id as varint":      frameLenField(5, frameVarField(2, 1)),
		"metadata last as bytes":     frameLenField(5, frameLenField(1, nil)),
		"metadata unknown truncated": frameLenField(5, frameCat(frameKey(9, frameWireFixed64), []byte{1})),
		"unknown fixed64 truncated":  frameCat(frameKey(9, frameWireFixed64), []byte{1, 2, 3}),
		"unknown fixed32 truncated":  frameCat(frameKey(9, frameWireFixed32), []byte{1, 2, 3}),
		"unknown bytes truncated":    frameCat(frameKey(9, frameWireBytes), []byte{3, 1}),
		"deeply nested groups": func() []byte {
			var b []byte
			for range frameMaxGroupDepth + 1 {
				b = append(b, frameKey(9, frameWireStart)...)
			}
			for range frameMaxGroupDepth + 1 {
				b = append(b, frameKey(9, frameWireEnd)...)
			}
			return b
		}(),
	}
	hello, _ := frameDocEntries()
	for name, msg := range bad {
		t.Run(name, func(t *testing.T) {
			stream := frameCat(frameWrap(msg), AppendFrame(nil, &hello))
			fr := NewFrameReader(bytes.NewReader(stream), 0, 0)
			var e Entry
			err := fr.Next(&e)
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("err = %v, want ErrBadFrame", err)
			}
			if err := fr.Next(&e); err != nil || !frameEqual(&e, &hello) {
				t.Fatalf("frame after the bad one: %s, %v", frameString(&e), err)
			}
			if err := fr.Next(&e); err != io.EOF {
				t.Fatalf("err = %v, want io.EOF", err)
			}
		})
	}
}

func TestFrameEmptyFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Entry
		hex  string
	}{
		{"zero entry (keep-alive)", Entry{}, "00 00 00 00"},
		{"blank line: no field 3", Entry{Source: []byte("stdout"), TimeNano: 1}, "00 00 00 0a 0a 06 73 74 64 6f 75 74 10 01"},
		{"empty source", Entry{Line: []byte("x")}, "00 00 00 03 1a 01 78"},
		{"empty last chunk", Entry{Source: []byte("stderr"), Partial: true, HasPartialMeta: true, PartialLast: true, PartialOrdinal: 3},
			"00 00 00 10 0a 06 73 74 64 65 72 72 20 01 2a 04 08 01 18 03"},
		{"empty metadata is still present", Entry{HasPartialMeta: true}, "00 00 00 02 2a 00"},
		{"negative ordinal is ten bytes", Entry{HasPartialMeta: true, PartialOrdinal: -1},
			"00 00 00 0d 2a 0b 18 ff ff ff ff ff ff ff ff ff 01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := frameHex(t, tc.hex)
			if got := AppendFrame(nil, &tc.e); !bytes.Equal(got, want) {
				t.Fatalf("AppendFrame % x, want % x", got, want)
			}
			g, err := frameToGogo(&tc.e).Marshal()
			if err != nil || !bytes.Equal(g, want[frameHeaderLen:]) {
				t.Fatalf("gogo Marshal % x (%v), want % x", g, err, want[frameHeaderLen:])
			}
			// A reused Entry must not keep fields of the previous frame.
			_, full := frameDocEntries()
			stream := frameCat(AppendFrame(nil, &full), want)
			out, err := frameReadAll(t, bytes.NewReader(stream), 0, 0)
			if err != io.EOF || len(out) != 2 {
				t.Fatalf("decoded %d entries, err %v", len(out), err)
			}
			if !frameEqual(&out[1], &tc.e) {
				t.Fatalf("decoded %s\nwant %s", frameString(&out[1]), frameString(&tc.e))
			}
			if len(tc.e.Line) == 0 && len(out[1].Line) != 0 {
				t.Fatalf("line %q, want empty", out[1].Line)
			}
		})
	}
}

// frameTestStream mixes frames that fit a small buffer with frames that do
// not (the scratch path), an empty frame, and unknown fields.
func frameTestStream(t testing.TB) ([]byte, []Entry) {
	hello, xyz := frameDocEntries()
	rng := rand.New(rand.NewPCG(3, 4))
	big := Entry{Source: []byte("stdout"), TimeNano: 7, Line: frameRandBytes(rng, 1500), Partial: true,
		HasPartialMeta: true, PartialID: []byte(strings.Repeat("f", 64)), PartialOrdinal: 1}
	mid := Entry{Source: []byte("stderr"), TimeNano: -3, Line: bytes.Repeat([]byte("m"), 90)}
	withAttrs := frameCat(AppendFrame(nil, &hello)[frameHeaderLen:],
		frameLenField(6, frameCat(frameLenField(1, []byte("k")), frameLenField(2, []byte("v")))))
	entries := []Entry{hello, xyz, big, {}, mid, hello, big, xyz}
	var stream []byte
	for i := range entries {
		if i == 5 {
			stream = append(stream, frameWrap(withAttrs)...)
			continue
		}
		stream = AppendFrame(stream, &entries[i])
	}
	return stream, entries
}

// frameSplitReader returns data in pieces: up to step bytes per Read, a
// break at split (so one Read ends exactly there), and optionally one
// transient error at split.
type frameSplitReader struct {
	data      []byte
	off       int
	step      int
	split     int
	failAt    bool
	failed    bool
	errAtRead error
}

var errFrameTransient = errors.New("transient read error")

func (r *frameSplitReader) Read(p []byte) (int, error) {
	if r.failAt && !r.failed && r.off == r.split {
		r.failed = true
		return 0, errFrameTransient
	}
	if r.off == len(r.data) {
		return 0, io.EOF
	}
	end := len(r.data)
	if r.step > 0 {
		end = min(end, r.off+r.step)
	}
	if r.off < r.split {
		end = min(end, r.split)
	}
	n := copy(p, r.data[r.off:end])
	r.off += n
	return n, nil
}

// Every way the stream can be cut into reads gives the same entries, for the
// in-place and the scratch-buffer paths, and Buffered always counts exactly
// the bytes read and not consumed.
func TestFrameEverySplitPoint(t *testing.T) {
	stream, want := frameTestStream(t)
	ends := make([]int, len(want)) // stream offset just after frame i
	for i, off := 0, 0; i < len(want); i++ {
		off += frameHeaderLen + int(binary.BigEndian.Uint32(stream[off:]))
		ends[i] = off
	}
	check := func(t *testing.T, r *frameSplitReader, bufSize int) {
		t.Helper()
		fr := NewFrameReader(r, bufSize, 0)
		var e Entry
		for i := 0; ; {
			err := fr.Next(&e)
			if errors.Is(err, errFrameTransient) {
				// Nothing read is lost, even inside a frame; the next
				// call resumes, as after a read deadline.
				prev := 0
				if i > 0 {
					prev = ends[i-1]
				}
				if got, exp := fr.Buffered(), r.off-prev; got != exp {
					t.Fatalf("after a transient error before frame %d: Buffered() = %d, want %d", i, got, exp)
				}
				continue
			}
			if i == len(want) {
				if err != io.EOF {
					t.Fatalf("after the last frame: err = %v, want io.EOF", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
			if !frameEqual(&e, &want[i]) {
				t.Fatalf("frame %d: %s\nwant %s", i, frameString(&e), frameString(&want[i]))
			}
			if got, exp := fr.Buffered(), r.off-ends[i]; got != exp {
				t.Fatalf("frame %d: Buffered() = %d, want %d", i, got, exp)
			}
			i++
		}
	}
	for _, bufSize := range []int{1, 16, 100, 0} {
		t.Run(fmt.Sprintf("buf=%d", bufSize), func(t *testing.T) {
			for split := 0; split <= len(stream); split++ {
				check(t, &frameSplitReader{data: stream, split: split}, bufSize)
				check(t, &frameSplitReader{data: stream, split: split, failAt: true}, bufSize)
			}
			for step := 1; step <= len(stream); step++ {
				check(t, &frameSplitReader{data: stream, step: step}, bufSize)
			}
			check(t, &frameSplitReader{data: stream, step: 1, split: len(stream) / 2, failAt: true}, bufSize)
		})
	}
}

// A stream cut anywhere yields the frames before the cut, then io.EOF at a
// frame boundary and io.ErrUnexpectedEOF inside a frame.
func TestFrameTruncated(t *testing.T) {
	stream, want := frameTestStream(t)
	boundary := map[int]int{0: 0} // offset → frames before it
	for i, off := 0, 0; i < len(want); i++ {
		off += frameHeaderLen + int(binary.BigEndian.Uint32(stream[off:]))
		boundary[off] = i + 1
	}
	for _, bufSize := range []int{16, 0} {
		complete := 0
		for cut := 0; cut <= len(stream); cut++ {
			if n, ok := boundary[cut]; ok {
				complete = n
			}
			for _, r := range []io.Reader{bytes.NewReader(stream[:cut]), iotest.DataErrReader(bytes.NewReader(stream[:cut]))} {
				got, err := frameReadAll(t, r, bufSize, 0)
				_, atBoundary := boundary[cut]
				switch {
				case atBoundary && err != io.EOF, !atBoundary && err != io.ErrUnexpectedEOF:
					t.Fatalf("buf=%d cut=%d: err = %v", bufSize, cut, err)
				case len(got) != complete:
					t.Fatalf("buf=%d cut=%d: %d entries, want %d", bufSize, cut, len(got), complete)
				}
			}
		}
	}
}

// frameHeaderOnly returns one header, then panics if asked for anything
// else: the reader must reject the size without reading on.
type frameHeaderOnly struct {
	hdr  []byte
	done bool
}

func (r *frameHeaderOnly) Read(p []byte) (int, error) {
	if r.done {
		panic("FrameReader read past an oversized frame header")
	}
	r.done = true
	return copy(p, r.hdr), nil
}

func TestFrameTooLarge(t *testing.T) {
	hdr := binary.BigEndian.AppendUint32(nil, DefaultMaxFrameSize+1)
	fr := NewFrameReader(&frameHeaderOnly{hdr: hdr}, 0, 0)
	var e Entry
	for range 3 { // the stream is lost for good: the error repeats
		if err := fr.Next(&e); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("err = %v, want ErrFrameTooLarge", err)
		}
	}
	if fr.Buffered() != frameHeaderLen {
		t.Fatalf("Buffered() = %d: the bad header must stay unconsumed", fr.Buffered())
	}

	// Exactly the cap is accepted (through the scratch buffer).
	line := bytes.Repeat([]byte("x"), 1000)
	frame := AppendFrame(nil, &Entry{Line: line})
	capped := len(frame) - frameHeaderLen
	out, err := frameReadAll(t, bytes.NewReader(frame), 16, capped)
	if err != io.EOF || len(out) != 1 || !bytes.Equal(out[0].Line, line) {
		t.Fatalf("frame at the cap: %d entries, %v", len(out), err)
	}
	if _, err := frameReadAll(t, bytes.NewReader(frame), 16, capped-1); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("frame one byte over the cap: err = %v", err)
	}
}

// An absurd header must not allocate what it announces, even when the cap is
// large; only the reader itself and the error are allocated.
func TestFrameTooLargeDoesNotAllocate(t *testing.T) {
	hdr := []byte{0xff, 0xff, 0xff, 0xff}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fr := NewFrameReader(bytes.NewReader(hdr), 4096, 1<<30)
	var e Entry
	err := fr.Next(&e)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("allocated %d bytes for a rejected header", n)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := fr.Next(&e); !errors.Is(err, ErrFrameTooLarge) {
			t.Fatal(err)
		}
	})
	if allocs > 8 { // the wrapped error and its arguments, nothing sized by the header
		t.Fatalf("%v allocations per rejected header", allocs)
	}
}

// The scratch buffer for frames larger than the read buffer grows only as
// needed, never beyond the cap, and is reused.
func TestFrameScratchBuffer(t *testing.T) {
	var stream []byte
	for _, n := range []int{100, 5000, 300, 4000, 5000} {
		stream = AppendFrame(stream, &Entry{Line: bytes.Repeat([]byte{'a'}, n)})
	}
	fr := NewFrameReader(bytes.NewReader(stream), 64, 6000)
	var e Entry
	caps := []int{}
	for {
		if err := fr.Next(&e); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		caps = append(caps, cap(fr.big))
	}
	if caps[len(caps)-1] != caps[1] || caps[1] > 6000 || caps[1] < 5003 {
		t.Fatalf("scratch capacity after each frame: %v (cap 6000)", caps)
	}
}

type frameErrReader struct {
	data []byte
	err  error
}

func (r *frameErrReader) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}

type frameFuncReader func(p []byte) (int, error)

func (f frameFuncReader) Read(p []byte) (int, error) { return f(p) }

func TestFrameReadErrors(t *testing.T) {
	hello, _ := frameDocEntries()
	frame := AppendFrame(nil, &hello)
	errBoom := errors.New("boom")

	// Data returned with an error is used before the error is reported.
	fr := NewFrameReader(&frameErrReader{data: frame, err: errBoom}, 0, 0)
	var e Entry
	if err := fr.Next(&e); err != nil || !frameEqual(&e, &hello) {
		t.Fatalf("first Next: %s, %v", frameString(&e), err)
	}
	err := fr.Next(&e)
	if !errors.Is(err, errBoom) || errors.Is(err, ErrBadFrame) || errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want wrapped errBoom", err)
	}

	// Data and io.EOF together: the frame, then a clean io.EOF.
	fr = NewFrameReader(&frameErrReader{data: frame, err: io.EOF}, 0, 0)
	if err := fr.Next(&e); err != nil {
		t.Fatal(err)
	}
	if err := fr.Next(&e); err != io.EOF {
		t.Fatalf("err = %v, want io.EOF", err)
	}

	// A reader that never makes progress is not spun on forever.
	fr = NewFrameReader(frameFuncReader(func([]byte) (int, error) { return 0, nil }), 0, 0)
	if err := fr.Next(&e); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}

	// A broken reader claiming more than it was given is an error, not a panic.
	fr = NewFrameReader(frameFuncReader(func(p []byte) (int, error) { return len(p) + 1, nil }), 0, 0)
	if err := fr.Next(&e); err == nil {
		t.Fatal("no error for an invalid read count")
	}
}

// frameLoopReader serves data over and over, as a busy FIFO would, without
// allocating.
type frameLoopReader struct {
	data []byte
	off  int
}

func (r *frameLoopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off += c
		if r.off == len(r.data) {
			r.off = 0
		}
	}
	return n, nil
}

func frameBenchEntry(lineLen int) Entry {
	e := Entry{Source: []byte("stdout"), TimeNano: 1700000000123456789, Line: bytes.Repeat([]byte("l"), lineLen)}
	if lineLen >= 16384 {
		e.Partial, e.HasPartialMeta = true, true
		e.PartialID, e.PartialOrdinal = bytes.Repeat([]byte("a"), 64), 3
	}
	return e
}

func TestFrameDecodeZeroAllocs(t *testing.T) {
	for _, n := range []int{130, 16384} {
		e := frameBenchEntry(n)
		fr := NewFrameReader(&frameLoopReader{data: AppendFrame(nil, &e)}, 0, 0)
		var got Entry
		allocs := testing.AllocsPerRun(1000, func() {
			if err := fr.Next(&got); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 || !frameEqual(&got, &e) {
			t.Fatalf("line %d: %v allocs per frame, entry %s", n, allocs, frameString(&got))
		}
	}
}

func BenchmarkFrameDecode(b *testing.B) {
	for _, bc := range []struct {
		name string
		line int
	}{{"line=130", 130}, {"line=300", 300}, {"chunk=16KiB", 16384}} {
		b.Run(bc.name, func(b *testing.B) {
			e := frameBenchEntry(bc.line)
			frame := AppendFrame(nil, &e)
			fr := NewFrameReader(&frameLoopReader{data: frame}, 0, 0)
			var got Entry
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if err := fr.Next(&got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFrameEncode(b *testing.B) {
	e := frameBenchEntry(130)
	buf := AppendFrame(nil, &e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFrame(buf[:0], &e)
	}
}
