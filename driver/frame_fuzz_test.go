package driver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/docker/docker/api/types/plugins/logdriver"
)

// frameFuzzMax is small so that the fuzzer reaches the cap, the scratch
// buffer and the in-place path with short inputs.
const (
	frameFuzzBuf = 64
	frameFuzzMax = 1024
)

// FuzzFrameReader feeds arbitrary bytes to the reader. It must never panic,
// never allocate past the cap, read the same entries however the input is
// split into reads, return only classified errors, and every entry it returns
// must re-encode with AppendFrame to bytes that decode to the same entry and
// that dockerd's own decoder agrees with.
func FuzzFrameReader(f *testing.F) {
	hello, xyz := frameDocEntries()
	helloFrame, xyzFrame := AppendFrame(nil, &hello), AppendFrame(nil, &xyz)
	stream, _ := frameTestStream(f)
	for _, seed := range [][]byte{
		helloFrame,
		xyzFrame,
		frameCat(helloFrame, xyzFrame),
		stream,
		helloFrame[:len(helloFrame)-1],
		{0, 0, 0, 0},
		{0xff, 0xff, 0xff, 0xff},
		binary.BigEndian.AppendUint32(nil, frameFuzzMax+1),
		frameWrap(frameCat(frameLenField(3, []byte("x")), frameLenField(6, frameLenField(1, []byte("k"))))),
		frameWrap(frameCat(frameKey(9, frameWireStart), frameVarField(1, 1), frameKey(9, frameWireEnd))),
		frameWrap([]byte{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
		frameCat(frameWrap([]byte{0x80}), helloFrame),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frameFuzzCompareGogo(t, data)
		whole := frameFuzzRead(t, bytes.NewReader(data))
		bytewise := frameFuzzRead(t, iotest.OneByteReader(bytes.NewReader(data)))
		if len(whole) != len(bytewise) {
			t.Fatalf("%d results reading at once, %d byte by byte", len(whole), len(bytewise))
		}
		for i := range whole {
			a, b := &whole[i], &bytewise[i]
			if !errors.Is(a.err, frameFuzzClass(b.err)) || !frameEqual(&a.e, &b.e) {
				t.Fatalf("result %d differs: %s %v / %s %v", i, frameString(&a.e), a.err, frameString(&b.e), b.err)
			}
		}
	})
}

type frameFuzzResult struct {
	e   Entry
	err error
}

func frameFuzzClass(err error) error {
	for _, c := range []error{io.EOF, io.ErrUnexpectedEOF, ErrFrameTooLarge, ErrBadFrame} {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

func frameFuzzRead(t *testing.T, r io.Reader) []frameFuzzResult {
	fr := NewFrameReader(r, frameFuzzBuf, frameFuzzMax)
	var out []frameFuzzResult
	var e Entry
	for {
		err := fr.Next(&e)
		if len(fr.buf) != frameFuzzBuf || cap(fr.big) > frameFuzzMax {
			t.Fatalf("buffers grew past their limits: read buffer %d, scratch %d", len(fr.buf), cap(fr.big))
		}
		if err != nil {
			class := frameFuzzClass(err)
			if class == nil {
				t.Fatalf("unclassified error %v", err)
			}
			out = append(out, frameFuzzResult{err: err})
			if class == ErrBadFrame {
				continue // framing is intact: the stream goes on
			}
			return out
		}
		frameFuzzCheckEntry(t, &e)
		out = append(out, frameFuzzResult{e: frameClone(&e)})
	}
}

func frameFuzzCheckEntry(t *testing.T, e *Entry) {
	if !e.HasPartialMeta && (e.PartialID != nil || e.PartialOrdinal != 0 || e.PartialLast) {
		t.Fatalf("metadata fields without metadata: %s", frameString(e))
	}
	enc := AppendFrame(nil, e)
	if got := binary.BigEndian.Uint32(enc); int(got) != len(enc)-frameHeaderLen {
		t.Fatalf("AppendFrame header %d for a %d-byte message", got, len(enc)-frameHeaderLen)
	}
	var back Entry
	if err := frameDecode(enc[frameHeaderLen:], &back); err != nil {
		t.Fatalf("re-encoded entry does not decode: %v\n%s", err, frameString(e))
	}
	if !frameEqual(&back, e) {
		t.Fatalf("re-encoded entry decodes to %s\nwant %s", frameString(&back), frameString(e))
	}
	if !frameGogoWide {
		return
	}
	var g logdriver.LogEntry
	if err := g.Unmarshal(enc[frameHeaderLen:]); err != nil {
		t.Fatalf("dockerd's decoder rejects the re-encoded entry: %v", err)
	}
	if ge := frameFromGogo(&g); !frameEqual(&ge, e) {
		t.Fatalf("dockerd's decoder reads %s\nwant %s", frameString(&ge), frameString(e))
	}
}

// frameFuzzCompareGogo walks the frames of data and checks that any message
// our decoder accepts, dockerd's decoder accepts too, with the same fields.
// (The converse does not hold on purpose: we reject varints longer than 64
// bits and mismatched group ends, which gogo lets through.)
func frameFuzzCompareGogo(t *testing.T, data []byte) {
	if !frameGogoWide {
		return
	}
	for len(data) >= frameHeaderLen {
		size := binary.BigEndian.Uint32(data)
		if size > frameFuzzMax || int(size) > len(data)-frameHeaderLen {
			return
		}
		msg := data[frameHeaderLen : frameHeaderLen+size]
		data = data[frameHeaderLen+size:]
		var e Entry
		if frameDecode(msg, &e) != nil {
			continue
		}
		var g logdriver.LogEntry
		if err := g.Unmarshal(msg); err != nil {
			t.Fatalf("we accept % x, dockerd's decoder does not: %v", msg, err)
		}
		if ge := frameFromGogo(&g); !frameEqual(&ge, &e) {
			t.Fatalf("message % x:\nwe read %s\ngogo    %s", msg, frameString(&e), frameString(&ge))
		}
	}
}
