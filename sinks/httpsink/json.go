package httpsink

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// This file holds the JSON primitives: everything the sink sends is
// hand-encoded into a reused buffer, never through encoding/json.

const hexDigits = "0123456789abcdef"

// replacement is U+FFFD in UTF-8: what an invalid byte becomes, one per
// byte, as encoding/json.Marshal does.
const replacement = "\xef\xbf\xbd"

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// appendString appends s as a JSON string literal. Control characters are
// escaped, and each byte that is not part of valid UTF-8 becomes U+FFFD,
// so the output is valid JSON and valid UTF-8 whatever s holds.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start, i := 0, 0
	for i < len(s) {
		// Eight bytes at a time while none needs attention: log lines are
		// mostly plain ASCII. A byte needs attention when it is below 0x20,
		// '"', '\\' or has the high bit set; the lowest flagged byte is
		// exact because borrows only run upwards.
		for i+8 <= len(s) {
			x := binary.LittleEndian.Uint64(s[i:])
			q := x ^ ('"' * lsb8)
			b := x ^ ('\\' * lsb8)
			special := (((x - 0x20*lsb8) | (q - lsb8) | (b - lsb8)) &^ x & msb8) | (x & msb8)
			if special != 0 {
				i += bits.TrailingZeros64(special) / 8
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plainASCII[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		if n := validRuneLen(s, i); n > 0 {
			i += n
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, replacement...)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendStr is appendString for a string, without copying it.
func appendStr(dst []byte, s string) []byte {
	return appendString(dst, unsafe.Slice(unsafe.StringData(s), len(s)))
}

var (
	plainASCII [utf8.RuneSelf]bool
	// rawSpecial marks the bytes appendRaw must look at: CR, LF and
	// anything not ASCII.
	rawSpecial [256]bool
)

func init() {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		plainASCII[c] = c != '"' && c != '\\'
	}
	rawSpecial['\n'], rawSpecial['\r'] = true, true
	for c := utf8.RuneSelf; c < 256; c++ {
		rawSpecial[c] = true
	}
}

// validRuneLen returns the length of the valid UTF-8 sequence starting at
// s[i] (a byte >= 0x80), or 0 if there is none. It rejects what
// utf8.Valid rejects: overlong forms, surrogates, code points above
// U+10FFFF.
func validRuneLen(s []byte, i int) int {
	c := s[i]
	var n int
	lo, hi := byte(0x80), byte(0xbf)
	switch {
	case c < 0xc2:
		return 0
	case c < 0xe0:
		n = 2
	case c < 0xf0:
		n = 3
		if c == 0xe0 {
			lo = 0xa0
		} else if c == 0xed {
			hi = 0x9f
		}
	case c < 0xf5:
		n = 4
		if c == 0xf0 {
			lo = 0x90
		} else if c == 0xf4 {
			hi = 0x8f
		}
	default:
		return 0
	}
	if i+n > len(s) {
		return 0
	}
	if b := s[i+1]; b < lo || b > hi {
		return 0
	}
	for _, b := range s[i+2 : i+n] {
		if b < 0x80 || b > 0xbf {
			return 0
		}
	}
	return n
}

// appendRaw appends a raw JSON value from pipeline.Field.Value. The parser
// validated its syntax but keeps bytes that are not UTF-8, so those become
// U+FFFD (they can only sit inside string literals, where that is valid).
// CR and LF can only be whitespace between tokens (raw control characters
// are not allowed in strings) and become spaces, so that a value never
// breaks a newline-delimited body.
func appendRaw(dst, v []byte) []byte {
	// Values are mostly short numbers and strings: one table-driven pass
	// finds the first byte that needs a look.
	i := 0
	for i < len(v) && !rawSpecial[v[i]] {
		i++
	}
	if i == len(v) {
		return append(dst, v...)
	}
	start := 0
	for i < len(v) {
		c := v[i]
		switch {
		case c == '\n' || c == '\r':
			dst = append(dst, v[start:i]...)
			dst = append(dst, ' ')
			i++
			start = i
		case c < utf8.RuneSelf:
			i++
		default:
			if n := validRuneLen(v, i); n > 0 {
				i += n
				continue
			}
			dst = append(dst, v[start:i]...)
			dst = append(dst, replacement...)
			i++
			start = i
		}
	}
	return append(dst, v[start:]...)
}

// appendKey appends ,"key": for a key known to need no escaping.
func appendKey(dst []byte, key string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

// timeCache remembers the formatted date and time of the last whole second,
// since the records of a batch mostly share it.
type timeCache struct {
	sec    int64
	prefix [32]byte
	n      int
}

// appendRFC3339Nano appends ns (Unix nanoseconds) as time.RFC3339Nano in
// UTC, as a JSON string: "2006-01-02T15:04:05.999999999Z", trailing zeros
// of the fraction trimmed.
func (tc *timeCache) appendRFC3339Nano(dst []byte, ns int64) []byte {
	sec, frac := floorDiv(ns, 1e9)
	if tc.n == 0 || sec != tc.sec {
		tc.sec = sec
		tc.n = len(unixTime(sec).AppendFormat(tc.prefix[:0], "2006-01-02T15:04:05"))
	}
	dst = append(dst, '"')
	dst = append(dst, tc.prefix[:tc.n]...)
	if frac != 0 {
		var d [10]byte
		d[0] = '.'
		f := frac
		for i := 9; i >= 1; i-- {
			d[i] = byte('0' + f%10)
			f /= 10
		}
		end := 10
		for d[end-1] == '0' {
			end--
		}
		dst = append(dst, d[:end]...)
	}
	return append(dst, 'Z', '"')
}

// appendSecondsMicro appends ns as decimal seconds with six fractional
// digits (Splunk HEC's "time", as Docker's splunk driver writes it).
func appendSecondsMicro(dst []byte, ns int64) []byte {
	u := uint64(ns)
	if ns < 0 {
		dst = append(dst, '-')
		u = uint64(-ns)
	}
	dst = strconv.AppendUint(dst, u/1e9, 10)
	us := (u % 1e9) / 1e3
	var d [7]byte
	d[0] = '.'
	for i := 6; i >= 1; i-- {
		d[i] = byte('0' + us%10)
		us /= 10
	}
	return append(dst, d[:]...)
}

func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}
