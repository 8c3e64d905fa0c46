package fluentd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// A small MessagePack reader for what a forward server sends back: HELO,
// PONG and ack messages. They are a few hundred bytes at most, and they come
// from the network, so the reader caps what one message may make it read
// (maxResponseBytes), how many container items it may have
// (maxResponseItems, which bounds the allocation) and how deep it may nest
// (maxResponseDepth), whatever the length fields claim.

const (
	maxResponseBytes = 64 << 10
	maxResponseDepth = 8
	maxResponseItems = 1024 // array elements plus map keys and values
)

// errResponseTooLarge is returned for a message over maxResponseBytes or nested
// deeper than maxResponseDepth.
var errResponseTooLarge = errors.New("response over the size or depth cap")

type kind uint8

const (
	kindNil kind = iota
	kindBool
	kindInt // int64 in i
	kindUint
	kindFloat
	kindStr
	kindBin
	kindArray
	kindMap // items alternate key, value
	kindExt
)

// value is a decoded msgpack value. Only the fields of its kind are set.
type value struct {
	kind  kind
	b     bool
	i     int64
	u     uint64
	f     float64
	s     []byte // str, bin or ext data
	ext   int8
	items []value
}

// bytes returns the contents of a str or bin value.
func (v *value) bytes() ([]byte, bool) {
	if v.kind == kindStr || v.kind == kindBin {
		return v.s, true
	}
	return nil, false
}

// get returns the value of a map's first entry whose key is the string k.
func (v *value) get(k string) (*value, bool) {
	if v.kind != kindMap {
		return nil, false
	}
	for i := 0; i+1 < len(v.items); i += 2 {
		if key, ok := v.items[i].bytes(); ok && string(key) == k {
			return &v.items[i+1], true
		}
	}
	return nil, false
}

// reader decodes one msgpack value at a time from r.
type reader struct {
	r      *bufio.Reader
	budget int // bytes the current message may still consume
	items  int // container items it may still have
}

func newReader(r io.Reader) *reader {
	return &reader{r: bufio.NewReaderSize(r, 4096)}
}

// next reads one complete value.
func (d *reader) next() (value, error) {
	d.budget, d.items = maxResponseBytes, maxResponseItems
	return d.value(0)
}

func (d *reader) take(n int) ([]byte, error) {
	if n < 0 || n > d.budget {
		return nil, errResponseTooLarge
	}
	d.budget -= n
	b := make([]byte, n)
	_, err := io.ReadFull(d.r, b)
	return b, noEOF(err)
}

// fixed reads n ≤ 8 bytes into a stack buffer.
func (d *reader) fixed(n int) (uint64, error) {
	if n > d.budget {
		return 0, errResponseTooLarge
	}
	d.budget -= n
	var buf [8]byte
	if _, err := io.ReadFull(d.r, buf[8-n:]); err != nil {
		return 0, noEOF(err)
	}
	return binary.BigEndian.Uint64(buf[:]), nil
}

// noEOF turns an EOF in the middle of a value into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *reader) value(depth int) (value, error) {
	if depth > maxResponseDepth {
		return value{}, errResponseTooLarge
	}
	if d.budget < 1 {
		return value{}, errResponseTooLarge
	}
	c, err := d.r.ReadByte()
	if err != nil {
		if depth > 0 {
			err = noEOF(err)
		}
		return value{}, err
	}
	d.budget--
	switch {
	case c <= 0x7f:
		return value{kind: kindUint, u: uint64(c)}, nil
	case c >= 0xe0:
		return value{kind: kindInt, i: int64(int8(c))}, nil
	case c&0xf0 == 0x80:
		return d.container(kindMap, int(c&0x0f), depth)
	case c&0xf0 == 0x90:
		return d.container(kindArray, int(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		return d.blob(kindStr, int(c&0x1f))
	}
	switch c {
	case 0xc0:
		return value{kind: kindNil}, nil
	case 0xc2, 0xc3:
		return value{kind: kindBool, b: c == 0xc3}, nil
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		return d.sized(kindBin, 1<<(c-0xc4))
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		return d.sized(kindStr, 1<<(c-0xd9))
	case 0xc7, 0xc8, 0xc9:
		n, err := d.fixed(1 << (c - 0xc7))
		if err != nil {
			return value{}, err
		}
		return d.ext(clampLen(n))
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return d.ext(1 << (c - 0xd4))
	case 0xca:
		u, err := d.fixed(4)
		return value{kind: kindFloat, f: float64(math.Float32frombits(uint32(u)))}, err
	case 0xcb:
		u, err := d.fixed(8)
		return value{kind: kindFloat, f: math.Float64frombits(u)}, err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.fixed(1 << (c - 0xcc))
		return value{kind: kindUint, u: u}, err
	case 0xd0, 0xd1, 0xd2, 0xd3:
		n := 1 << (c - 0xd0)
		u, err := d.fixed(n)
		shift := 64 - 8*n
		return value{kind: kindInt, i: int64(u<<shift) >> shift}, err
	case 0xdc, 0xdd: // array 16/32
		n, err := d.fixed(2 << (c - 0xdc))
		if err != nil {
			return value{}, err
		}
		return d.container(kindArray, clampLen(n), depth)
	case 0xde, 0xdf: // map 16/32
		n, err := d.fixed(2 << (c - 0xde))
		if err != nil {
			return value{}, err
		}
		return d.container(kindMap, clampLen(n), depth)
	}
	return value{}, fmt.Errorf("invalid msgpack type byte 0x%02x", c)
}

// clampLen turns a length field into an int that take() will refuse when
// it is over the budget, on any platform.
func clampLen(n uint64) int {
	if n > maxResponseBytes {
		return maxResponseBytes + 1
	}
	return int(n)
}

// sized reads a str or bin whose length takes lenBytes bytes.
func (d *reader) sized(k kind, lenBytes int) (value, error) {
	n, err := d.fixed(lenBytes)
	if err != nil {
		return value{}, err
	}
	return d.blob(k, clampLen(n))
}

func (d *reader) blob(k kind, n int) (value, error) {
	b, err := d.take(n)
	return value{kind: k, s: b}, err
}

func (d *reader) ext(n int) (value, error) {
	t, err := d.fixed(1)
	if err != nil {
		return value{}, err
	}
	b, err := d.take(n)
	return value{kind: kindExt, ext: int8(t), s: b}, err
}

func (d *reader) container(k kind, n, depth int) (value, error) {
	items := n
	if k == kindMap {
		items = 2 * n
	}
	// Checked before the allocation, whatever the header claims.
	if items > d.budget || items > d.items {
		return value{}, errResponseTooLarge
	}
	d.items -= items
	v := value{kind: k, items: make([]value, items)}
	for i := range v.items {
		var err error
		if v.items[i], err = d.value(depth + 1); err != nil {
			return value{}, err
		}
	}
	return v, nil
}
