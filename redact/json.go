package redact

import "github.com/logship/logship/pipeline"

// The JSON pass: a line that starts with '{' or '[' is tokenised once, by a
// hand-written recursive descent over the bytes (no decoding, no
// allocation). Keys are classified as they are read; a string under a
// sensitive key is masked inside its quotes, an object or array under one
// is replaced by a masked JSON string, numbers, booleans and null are kept
// (except card numbers); every other string is scanned as text. The output
// therefore stays valid JSON. A line that is not valid JSON (or nests deeper
// than maxDepth) is scanned as text instead.

const maxDepth = pipeline.MaxJSONDepth

func skipWS(s []byte, i int) int {
	if i < len(s) && s[i] > ' ' {
		return i
	}
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// scanJSON scans the JSON value at i, which must be all of the line but
// blanks. It reports false if the line is not valid JSON.
func (sc *scanner) scanJSON(i int) bool {
	e, ok := sc.value(i, 0, 0)
	return ok && skipWS(sc.s, e) == len(sc.s)
}

// value scans one JSON value at i (blanks skipped) whose key is ki (zero for
// array elements and the top level). It returns the end of the value.
func (sc *scanner) value(i int, ki keyInfo, depth int) (int, bool) {
	s := sc.s
	i = skipWS(s, i)
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		e, ok, sep := skipStringSep(s, i)
		if !ok {
			return e, false
		}
		sc.stringValue(i+1, e-1, ki, sep)
		return e, true
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return i, false
		}
		switch ki.class() {
		case kSecret, kAuth, kCookie, kCard:
			e, ok := skipJSON(s, i, depth)
			if ok && !sc.emptyContainer(i, e) {
				sc.add(i, e, famKey, spanJSON)
			}
			return e, ok
		}
		if c == '{' {
			return sc.object(i, depth+1)
		}
		return sc.array(i, depth+1)
	case c == '-' || isDigit(c):
		e, ok := skipNumber(s, i)
		if !ok {
			return e, false
		}
		switch {
		case ki.class() == kCard:
			sc.add(i, e, famCard, spanJSON)
		case !ki.idLike() && e-i >= 13 && e-i <= 19 && c != '-' && matchCard(s[:e], i, e) == e:
			sc.add(i, e, famCard, spanJSON)
		}
		return e, true
	case c == 't':
		return literal(s, i, "true")
	case c == 'f':
		return literal(s, i, "false")
	case c == 'n':
		return literal(s, i, "null")
	}
	return i, false
}

// emptyContainer reports whether s[i:e] is {} or [] (with blanks): there is
// nothing to mask.
func (sc *scanner) emptyContainer(i, e int) bool {
	return skipWS(sc.s, i+1) == e-1
}

func (sc *scanner) object(i, depth int) (int, bool) {
	s := sc.s
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	// Name/value pairs ({"name":"DB_PASSWORD","value":"..."}, the shape
	// of Kubernetes and ECS environment lists): a value seen before its
	// name is remembered and masked when the name turns out sensitive.
	pairSecret := false
	pendS, pendE := -1, -1
	for {
		if i >= len(s) || s[i] != '"' {
			return i, false
		}
		ke, ok := skipString(s, i)
		if !ok {
			return ke, false
		}
		ki := sc.classify(s[i+1 : ke-1])
		i = skipWS(s, ke)
		if i >= len(s) || s[i] != ':' {
			return i, false
		}
		vs := skipWS(s, i+1)
		if ki.value() && !ki.sensitive() {
			if pairSecret {
				ki = ki.withClass(kSecret)
			} else if vs < len(s) && s[vs] == '"' {
				if e, ok := skipString(s, vs); ok {
					pendS, pendE = vs+1, e-1
				}
			}
		}
		e, ok := sc.value(vs, ki, depth)
		if !ok {
			return e, false
		}
		if ki.name() && !pairSecret && s[vs] == '"' && e-vs > 2 {
			switch sc.classify(s[vs+1 : e-1]).class() {
			case kSecret, kAuth, kCookie, kCard:
				pairSecret = true
				if pendS >= 0 {
					sc.maskValue(pendS, pendE, keyInfo(kSecret), true)
				}
			}
		}
		i = skipWS(s, e)
		if i >= len(s) {
			return i, false
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

func (sc *scanner) array(i, depth int) (int, bool) {
	s := sc.s
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == ']' {
		return i + 1, true
	}
	for {
		e, ok := sc.value(i, 0, depth)
		if !ok {
			return e, false
		}
		i = skipWS(s, e)
		if i >= len(s) {
			return i, false
		}
		switch s[i] {
		case ',':
			i++
		case ']':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// stringValue handles the inside s[cs:ce] of a JSON string value; sep is
// mayAssign(s[cs:ce]).
func (sc *scanner) stringValue(cs, ce int, ki keyInfo, sep bool) {
	switch ki.class() {
	case kSecret, kCookie, kCard:
		if sc.maskValue(cs, ce, ki, true) {
			return
		}
	case kAuth:
		if sc.maskValue(skipScheme(sc.s, cs, ce), ce, ki, true) {
			return
		}
	case kWeak:
		if sc.maskValue(cs, ce, ki, true) {
			return
		}
	}
	if ce-cs < 7 && sc.patActive == 0 {
		// Too short for any token, card or key=value secret.
		return
	}
	if ki.idLike() {
		sc.noCardAt = cs
	}
	sc.scanSegment(cs, ce, sep)
	sc.noCardAt = -1
}

// skipString returns the end (after the closing quote) of the JSON string
// starting at s[i] == '"'. Control bytes make it invalid.
func skipString(s []byte, i int) (int, bool) {
	e, ok, _ := skipStringSep(s, i)
	return e, ok
}

// skipStringSep is skipString that also reports whether the inside of the
// string holds a byte mayAssign looks for, so that the scan of a string
// value need not look for them again. It, skipNumber and literal are the
// validators of this file that pipeline does not share: see skipJSON.
func skipStringSep(s []byte, i int) (int, bool, bool) {
	i++
	var sep uint64
	for i < len(s) {
		if i+8 <= len(s) {
			// Eight bytes at a time up to the first quote, backslash
			// or control byte.
			x := load64(s, i)
			m := hasbyte(x, '"') | hasbyte(x, '\\') | hasless(x, 0x20)
			r := inRange(x, ':', '>')
			if m == 0 {
				sep |= r
				i += 8
				continue
			}
			k := firstMarked(m)
			sep |= r & (1<<(8*k) - 1) // the bytes before the mark
			i += k
		}
		c := s[i]
		switch {
		case c == '"':
			return i + 1, true, sep != 0
		case c == '\\':
			if i+1 >= len(s) {
				return i, false, false
			}
			sep = 1
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return i, false, false
				}
				i += 6
			default:
				return i, false, false
			}
		case c < 0x20:
			return i, false, false
		default:
			if ':' <= c && c <= '>' {
				sep = 1
			}
			i++
		}
	}
	return i, false, false
}

func skipNumber(s []byte, i int) (int, bool) {
	if s[i] == '-' {
		i++
	}
	d := run(s, i, len(s), cDigit)
	if d == i || (s[i] == '0' && d-i > 1) {
		return d, false
	}
	i = d
	if i < len(s) && s[i] == '.' {
		d = run(s, i+1, len(s), cDigit)
		if d == i+1 {
			return d, false
		}
		i = d
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d = run(s, i, len(s), cDigit)
		if d == i {
			return d, false
		}
		i = d
	}
	return i, true
}

func literal(s []byte, i int, lit string) (int, bool) {
	if hasPrefixAt(s, i, len(s), lit) {
		return i + len(lit), true
	}
	return i, false
}

// skipJSON validates and steps over the JSON value at i, at the nesting
// level depth of this file's scanner (the top level is 0), without looking
// inside it: an object or array under a sensitive key, masked whole. It is
// pipeline.SkipJSON, the parser's validator, so that both accept the same
// JSON. Keys, strings, numbers and literals, which every line has, keep
// their own inlined scanners here: going through pipeline for each made
// the masker 5–10 % slower (BenchmarkBenchJSON).
func skipJSON(s []byte, i, depth int) (int, bool) {
	if e := pipeline.SkipJSON(s, i, depth+1); e >= 0 {
		return e, true
	}
	return i, false
}
