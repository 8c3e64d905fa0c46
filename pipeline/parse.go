package pipeline

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxJSONDepth is the deepest nesting of objects and arrays a JSON line may
// have and still be parsed; the line's own object counts as 1. The tokenizer
// recurses once per level, so the cap bounds its stack whatever the input.
const MaxJSONDepth = 64

// Kind is the JSON type of a member's value.
type Kind uint8

// The JSON value types. The zero Kind is never set on a Field.
const (
	KindString Kind = iota + 1
	KindNumber
	KindBool
	KindNull
	KindObject
	KindArray
)

var kindNames = [...]string{"", "string", "number", "bool", "null", "object", "array"}

// String returns the lowercase JSON type name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return ""
}

// Field is one top-level member of a JSON line.
//
// Key is the member's name. When the name has no escape sequence it aliases
// the line; otherwise it is the unescaped name in the Event's scratch buffer.
// Value is the raw JSON text of the value as it appears in the line (strings
// with their quotes and escapes, nested objects and arrays whole), aliasing
// the line: the redactor and the sinks re-emit it verbatim, so it is never
// decoded unless someone asks (AppendString).
//
// Bytes that are not valid UTF-8 are kept as they are in both; only a \u
// escape of a lone surrogate becomes U+FFFD, as in encoding/json.
type Field struct {
	Key   []byte
	Value []byte
	Kind  Kind
}

// ErrInvalidString is returned by AppendString for input that is not a
// complete, valid JSON string literal.
var ErrInvalidString = errors.New("invalid JSON string")

// AppendString appends the decoded contents of the JSON string literal raw
// (with its quotes) to dst. It handles every escape of RFC 8259, including
// \uXXXX surrogate pairs; a \u escape of a lone surrogate decodes to U+FFFD,
// as encoding/json does. Raw bytes that are not valid UTF-8 are copied as
// they are. On an error, dst is returned unchanged.
func AppendString(dst, raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return dst, ErrInvalidString
	}
	orig := len(dst)
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		// Copy the run up to the next byte that needs attention in one go.
		j := i
		for j < len(s) && strPlain[s[j]] {
			j++
		}
		dst = append(dst, s[i:j]...)
		if j == len(s) {
			break
		}
		if s[j] != '\\' { // an unescaped quote or a control character
			return dst[:orig], ErrInvalidString
		}
		if j+1 == len(s) {
			return dst[:orig], ErrInvalidString
		}
		c := s[j+1]
		if c == 'u' {
			r, ok := hex4(s, j+2)
			if !ok {
				return dst[:orig], ErrInvalidString
			}
			i = j + 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		}
		u := unescape[c]
		if u == 0 {
			return dst[:orig], ErrInvalidString
		}
		dst = append(dst, u)
		i = j + 2
	}
	return dst, nil
}

// hex4 decodes the four hex digits at s[i:i+4].
func hex4(s []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		v := hexVal[c]
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

var (
	// strPlain marks the bytes that stand for themselves inside a JSON
	// string: everything but control characters, '"' and '\\'.
	strPlain [256]bool
	// unescape maps the character after a backslash to its value (0: not
	// a valid single-character escape).
	unescape [256]byte
	hexVal   [256]int8
	// jsonSpace is JSON's whitespace (RFC 8259), which is also all that
	// encoding/json.Valid accepts around a value.
	jsonSpace [256]bool
)

func init() {
	for c := 0x20; c < 256; c++ {
		strPlain[c] = c != '"' && c != '\\'
	}
	for _, p := range [][2]byte{{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'b', '\b'}, {'f', '\f'}, {'n', '\n'}, {'r', '\r'}, {'t', '\t'}} {
		unescape[p[0]] = p[1]
	}
	for c := range hexVal {
		hexVal[c] = -1
	}
	for c := '0'; c <= '9'; c++ {
		hexVal[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		hexVal[c] = int8(c - 'a' + 10)
		hexVal[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	for _, c := range " \t\r\n" {
		jsonSpace[c] = true
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && jsonSpace[b[i]] {
		i++
	}
	return i
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// scanString validates the string literal starting at b[i] == '"' and
// returns the index just past its closing quote (-1 if invalid) and whether
// it contains an escape.
func scanString(b []byte, i int) (end int, escaped bool) {
	i++
	for {
		// Eight bytes at a time while none of them is special: strings
		// dominate log lines, and most of their bytes are plain.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q := x ^ ('"' * lsb8)
			s := x ^ ('\\' * lsb8)
			special := ((x - 0x20*lsb8) | (q - lsb8) | (s - lsb8)) &^ x & msb8
			if special != 0 {
				// The lowest flagged byte is exact (borrows only run upwards).
				i += bits.TrailingZeros64(special) / 8
				break
			}
			i += 8
		}
		for i < len(b) && strPlain[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1, false
		}
		switch b[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			if i+1 >= len(b) {
				return -1, false
			}
			escaped = true
			if b[i+1] == 'u' {
				if _, ok := hex4(b, i+2); !ok {
					return -1, false
				}
				i += 6
			} else if unescape[b[i+1]] != 0 {
				i += 2
			} else {
				return -1, false
			}
		default: // a control character
			return -1, false
		}
	}
}

// scanNumber validates the number starting at b[i] and returns the index
// just past it, or -1.
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// scanValue validates the value starting at b[i] (no leading space) and
// returns the index just past it (-1 if invalid) and its kind. depth is the
// nesting level the value would have if it is an object or an array.
func scanValue(b []byte, i, depth int) (int, Kind) {
	if i >= len(b) {
		return -1, 0
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := scanString(b, i)
		return end, KindString
	case c == '{':
		if depth > MaxJSONDepth {
			return -1, 0
		}
		it := objIter{b: b, i: i + 1, depth: depth}
		for it.next() {
		}
		if it.err {
			return -1, 0
		}
		return it.i, KindObject
	case c == '[':
		if depth > MaxJSONDepth {
			return -1, 0
		}
		return scanArray(b, i+1, depth), KindArray
	case c == 't':
		return scanLiteral(b, i, "true"), KindBool
	case c == 'f':
		return scanLiteral(b, i, "false"), KindBool
	case c == 'n':
		return scanLiteral(b, i, "null"), KindNull
	case c == '-' || '0' <= c && c <= '9':
		return scanNumber(b, i), KindNumber
	}
	return -1, 0
}

// SkipJSON returns the index just past the JSON value that starts at b[i]
// (after JSON whitespace), or -1 if there is no valid value there. It
// validates as encoding/json.Valid does and allocates nothing. depth is the
// nesting level the value would have if it is an object or an array, as
// for a member of a line (the line's own object is 1); a value nesting
// deeper than MaxJSONDepth is invalid. The redactor uses it to step over
// what it does not look inside, so that both packages accept the same JSON.
func SkipJSON(b []byte, i, depth int) int {
	end, _ := scanValue(b, skipSpace(b, i), depth)
	return end
}

// scanArray validates the rest of an array whose '[' is just before b[i].
func scanArray(b []byte, i, depth int) int {
	i = skipSpace(b, i)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		var end int
		if end, _ = scanValue(b, i, depth+1); end < 0 {
			return -1
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ']':
			return i + 1
		case ',':
			i = skipSpace(b, i+1)
		default:
			return -1
		}
	}
}

// objIter walks the members of a JSON object, validating as it goes. Start
// it with i just past the '{'. After next returns false, err tells whether
// the object was malformed; if not, i is just past the '}'.
type objIter struct {
	b     []byte
	i     int
	depth int // the object's own nesting level
	n     int // members returned so far

	key     []byte // raw key literal, with quotes
	escaped bool   // key has an escape sequence
	val     []byte
	kind    Kind
	err     bool
}

func (it *objIter) next() bool {
	b := it.b
	i := skipSpace(b, it.i)
	if i >= len(b) {
		it.err = true
		return false
	}
	if it.n == 0 {
		if b[i] == '}' {
			it.i = i + 1
			return false
		}
	} else {
		switch b[i] {
		case '}':
			it.i = i + 1
			return false
		case ',':
			i = skipSpace(b, i+1)
		default:
			it.err = true
			return false
		}
	}
	if i >= len(b) || b[i] != '"' {
		it.err = true
		return false
	}
	ke, esc := scanString(b, i)
	if ke < 0 {
		it.err = true
		return false
	}
	it.key, it.escaped = b[i:ke], esc
	i = skipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		it.err = true
		return false
	}
	i = skipSpace(b, i+1)
	ve, kind := scanValue(b, i, it.depth+1)
	if ve < 0 {
		it.err = true
		return false
	}
	it.val, it.kind = b[i:ve], kind
	it.i = ve
	it.n++
	return true
}

// keyBytes returns the iterator's current key, unescaped into *scratch if it
// needs to be.
func (it *objIter) keyBytes(scratch *[]byte) []byte {
	if !it.escaped {
		return it.key[1 : len(it.key)-1]
	}
	start := len(*scratch)
	// The literal was validated by scanString, so this cannot fail.
	*scratch, _ = AppendString(*scratch, it.key)
	return (*scratch)[start:]
}

// parseObject parses line as one JSON object surrounded by optional JSON
// whitespace and appends its top-level members to fields. Unescaped keys are
// appended to *scratch. It reports false, with fields' length undefined, if
// the line is anything else.
func parseObject(line []byte, fields []Field, scratch *[]byte) ([]Field, bool) {
	i := skipSpace(line, 0)
	if i >= len(line) || line[i] != '{' {
		return fields, false
	}
	it := objIter{b: line, i: i + 1, depth: 1}
	for it.next() {
		fields = append(fields, Field{Key: it.keyBytes(scratch), Value: it.val, Kind: it.kind})
	}
	if it.err || skipSpace(line, it.i) != len(line) {
		return fields, false
	}
	return fields, true
}
