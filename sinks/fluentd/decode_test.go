package fluentd

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

func TestReaderMessages(t *testing.T) {
	var b []byte
	b = msgp.AppendMapHeader(b, 1)
	b = msgp.AppendString(b, "ack")
	b = msgp.AppendString(b, "Y2h1bmsK")
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendString(b, "HELO")
	b = msgp.AppendMapHeader(b, 3)
	b = msgp.AppendString(b, "nonce")
	b = msgp.AppendBytes(b, []byte{0, 1, 2})
	b = msgp.AppendString(b, "auth")
	b = msgp.AppendString(b, "")
	b = msgp.AppendString(b, "keepalive")
	b = msgp.AppendBool(b, false)
	r := newReader(bytes.NewReader(b))
	v, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	if ack, ok := v.get("ack"); !ok || string(ack.s) != "Y2h1bmsK" {
		t.Fatalf("ack: %+v", v)
	}
	v, err = r.next()
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHELO(&v)
	if err != nil || !bytes.Equal(h.nonce, []byte{0, 1, 2}) || h.keepalive || len(h.auth) != 0 {
		t.Fatalf("HELO %+v %v", h, err)
	}
	if _, err := r.next(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestReaderCaps(t *testing.T) {
	for name, b := range map[string][]byte{
		"str32 claiming 4 GiB": {0xdb, 0xff, 0xff, 0xff, 0xff},
		"map32 claiming 4G":    {0xdf, 0xff, 0xff, 0xff, 0xff},
		"array past the cap":   msgp.AppendArrayHeader(nil, maxResponseBytes),
		"deep nesting":         bytes.Repeat([]byte{0x91}, maxResponseDepth+2),
		"bin over the cap":     append(msgp.AppendBytesHeader(nil, maxResponseBytes), make([]byte, maxResponseBytes)...),
	} {
		_, err := newReader(bytes.NewReader(b)).next()
		if !errors.Is(err, errResponseTooLarge) {
			t.Errorf("%s: %v, want errResponseTooLarge", name, err)
		}
	}
	if _, err := newReader(bytes.NewReader([]byte{0x92, 0x01})).next(); err != io.ErrUnexpectedEOF {
		t.Errorf("truncated: %v", err)
	}
	if _, err := newReader(bytes.NewReader([]byte{0xc1})).next(); err == nil {
		t.Error("0xc1 (never used) accepted")
	}
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzReader feeds arbitrary bytes to the response reader: it must not
// panic, must stay within its caps, and what it accepts must be one whole
// msgpack value by msgp's reading too.
func FuzzReader(f *testing.F) {
	f.Add(msgp.AppendString(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "ack"), "abc"))
	f.Add([]byte{0x92, 0xa4, 'H', 'E', 'L', 'O', 0x81, 0xa5, 'n', 'o', 'n', 'c', 'e', 0xc4, 1, 0})
	f.Add([]byte{0x95, 0xa4, 'P', 'O', 'N', 'G', 0xc3, 0xa0, 0xa1, 'h', 0xa1, 'd'})
	f.Add([]byte{0xd7, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xdd, 0, 0, 0, 2, 0xd0, 0x80, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		cr := &countReader{r: bytes.NewReader(b)}
		r := newReader(cr)
		v, err := r.next()
		if cr.n > maxResponseBytes+4096 {
			t.Fatalf("read %d bytes for one message", cr.n)
		}
		if err != nil {
			return
		}
		used := maxResponseBytes - r.budget
		rest, merr := msgp.Skip(b)
		if merr != nil {
			t.Fatalf("we accepted %x, msgp: %v", b[:used], merr)
		}
		if len(b)-len(rest) != used {
			t.Fatalf("we consumed %d bytes, msgp %d", used, len(b)-len(rest))
		}
		// Whatever was decoded is safe to inspect.
		_, _ = parseHELO(&v)
		_ = checkPONG(&v, helo{}, "", "")
		_, _ = v.get("ack")
	})
}
