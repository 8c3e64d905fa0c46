package fluentd

import (
	"bytes"
	"math"
	"strconv"
	"unsafe"

	"github.com/logship/logship/pipeline"
)

// JSON to MessagePack, for the values of a JSON line's fields. The pipeline
// has validated the line (pipeline.Parser), but these functions do not rely
// on it: on anything unexpected they report failure and the caller sends
// the raw JSON text as a string instead, so a bad value never loses the
// rest of the record and never panics.

// maxJSONDepth bounds the recursion of appendJSONValue; it matches the
// pipeline's own cap, so every line the pipeline parsed converts.
const maxJSONDepth = pipeline.MaxJSONDepth

// appendJSONField appends the msgpack form of a top-level field's value.
func appendJSONField(dst []byte, f *pipeline.Field) []byte {
	switch f.Kind {
	case pipeline.KindString:
		return appendJSONString(dst, f.Value)
	case pipeline.KindNumber:
		return appendJSONNumber(dst, f.Value)
	case pipeline.KindBool:
		return appendBool(dst, len(f.Value) > 0 && f.Value[0] == 't')
	case pipeline.KindNull:
		return appendNil(dst)
	}
	start := len(dst)
	out, end, ok := appendJSONValue(dst, f.Value, 0, 2)
	if ok && skipWS(f.Value, end) == len(f.Value) {
		return out
	}
	return appendStrBytes(out[:start], f.Value)
}

// appendJSONString appends the decoded JSON string literal raw (with its
// quotes) as a msgpack str.
func appendJSONString(dst, raw []byte) []byte {
	if len(raw) < 2 {
		return appendStrBytes(dst, raw)
	}
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return appendStrBytes(dst, body)
	}
	// Decoding only shrinks an escaped string, so reserve the header for
	// the raw length, decode in place and move the bytes back in the rare
	// case the header gets smaller.
	start := len(dst)
	h := strHeaderLen(len(body))
	dst = append(dst, make([]byte, h)...)
	out, err := pipeline.AppendString(dst, raw)
	if err != nil {
		return appendStrBytes(dst[:start], body)
	}
	n := len(out) - start - h
	if h2 := strHeaderLen(n); h2 != h {
		copy(out[start+h2:], out[start+h:])
		out = out[:start+h2+n]
	}
	putStrHeader(out[start:], n)
	return out
}

// appendJSONNumber appends a JSON number as a msgpack int when it is an
// integer that fits int64 (or uint64), else as a float64, else (out of
// float64's range, or not a number at all) as a str holding its text.
func appendJSONNumber(dst, raw []byte) []byte {
	if u, neg, ok := parseJSONInt(raw); ok {
		switch {
		case !neg:
			return appendUint(dst, u)
		case u <= 1<<63:
			return appendInt(dst, int64(-u)) // -(1<<63) wraps to MinInt64, as wanted
		}
	}
	// ParseFloat neither keeps its argument nor returns it uncloned in an
	// error, so viewing the line's bytes as a string is safe and saves an
	// allocation per float.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(raw), len(raw)), 64)
	if err != nil || math.IsInf(f, 0) {
		return appendStrBytes(dst, raw)
	}
	return appendFloat64(dst, f)
}

// parseJSONInt parses an integer literal (optional '-', digits only) that
// fits in 64 bits of magnitude.
func parseJSONInt(b []byte) (u uint64, neg bool, ok bool) {
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 20 {
		return 0, false, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		d := uint64(c - '0')
		if u > (math.MaxUint64-d)/10 {
			return 0, false, false
		}
		u = u*10 + d
	}
	return u, neg, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// appendJSONValue converts the JSON value starting at b[i] (after optional
// whitespace) and returns dst, the index just past the value, and whether
// it was well-formed. depth is the nesting level of the value (the line's
// own object is 1). On failure dst may hold partial output; the caller
// truncates it.
func appendJSONValue(dst, b []byte, i, depth int) ([]byte, int, bool) {
	i = skipWS(b, i)
	if i >= len(b) {
		return dst, i, false
	}
	switch c := b[i]; {
	case c == '"':
		end := stringEnd(b, i)
		if end < 0 {
			return dst, i, false
		}
		return appendJSONString(dst, b[i:end]), end, true
	case c == '{' || c == '[':
		if depth > maxJSONDepth {
			return dst, i, false
		}
		return appendJSONContainer(dst, b, i, depth)
	case c == 't':
		return appendBool(dst, true), i + 4, hasLiteral(b, i, "true")
	case c == 'f':
		return appendBool(dst, false), i + 5, hasLiteral(b, i, "false")
	case c == 'n':
		return appendNil(dst), i + 4, hasLiteral(b, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		j := i + 1
		for j < len(b) && isNumberByte(b[j]) {
			j++
		}
		return appendJSONNumber(dst, b[i:j]), j, true
	}
	return dst, i, false
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// stringEnd returns the index just past the string literal starting at
// b[i] == '"', or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// appendJSONContainer converts the object or array at b[i]. The element
// count is known only at the end, so it reserves the largest header and
// moves the elements back over the unused bytes once the count is known:
// one copy per nesting level, and none at all for the 5-byte case.
func appendJSONContainer(dst, b []byte, i, depth int) ([]byte, int, bool) {
	isObj := b[i] == '{'
	closer := byte(']')
	if isObj {
		closer = '}'
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0)
	n := 0
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == closer {
		i++
	} else {
		for {
			var ok bool
			if isObj {
				i = skipWS(b, i)
				if i >= len(b) || b[i] != '"' {
					return dst, i, false
				}
				end := stringEnd(b, i)
				if end < 0 {
					return dst, i, false
				}
				dst = appendJSONString(dst, b[i:end])
				i = skipWS(b, end)
				if i >= len(b) || b[i] != ':' {
					return dst, i, false
				}
				i++
			}
			if dst, i, ok = appendJSONValue(dst, b, i, depth+1); !ok {
				return dst, i, false
			}
			n++
			i = skipWS(b, i)
			if i >= len(b) {
				return dst, i, false
			}
			if b[i] == closer {
				i++
				break
			}
			if b[i] != ',' {
				return dst, i, false
			}
			i++
		}
	}
	var hdr [5]byte
	var h []byte
	if isObj {
		h = appendMapHeader(hdr[:0], n)
	} else {
		h = appendArrayHeader(hdr[:0], n)
	}
	if len(h) != 5 {
		copy(dst[start+len(h):], dst[start+5:])
		dst = dst[:len(dst)-(5-len(h))]
	}
	copy(dst[start:], h)
	return dst, i, true
}
