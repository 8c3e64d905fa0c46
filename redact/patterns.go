package redact

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// userPattern is one redact-patterns regexp, compiled once in New.
type userPattern struct {
	re *regexp.Regexp
	// prefix is the literal every match starts with, if the pattern has
	// one: a line without it is skipped with one bytes.Index, which is
	// what makes a prefixed pattern almost free.
	prefix []byte
	// group: the pattern has a capture group; only group 1 is masked
	// (token=(\w+) keeps "token=").
	group bool
}

func compilePattern(expr string) (userPattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return userPattern{}, err
	}
	p := userPattern{re: re, group: re.NumSubexp() > 0}
	if lit, _ := re.LiteralPrefix(); lit != "" {
		p.prefix = []byte(lit)
	}
	return p, nil
}

// activePatterns returns the set of patterns that can match in line: those
// without a literal prefix, and those whose prefix occurs in it. One
// substring search per pattern and line is all a prefixed pattern costs on
// a line it cannot match.
func (m *Masker) activePatterns(line []byte) uint64 {
	var set uint64
	for k := range m.patterns {
		if p := m.patterns[k].prefix; p == nil || bytes.Contains(line, p) {
			set |= 1 << k
		}
	}
	return set
}

// userPatterns runs the policy's patterns over s[lo:hi]. Matches inside a
// JSON string are widened so that they never split an escape sequence or a
// UTF-8 sequence.
func (sc *scanner) userPatterns(lo, hi int) {
	seg := sc.s[lo:hi]
	for k := range sc.m.patterns {
		if sc.patActive&(1<<k) == 0 {
			continue
		}
		p := &sc.m.patterns[k]
		if p.prefix != nil && !bytes.Contains(seg, p.prefix) {
			continue
		}
		if !p.re.Match(seg) {
			continue
		}
		for _, loc := range p.re.FindAllSubmatchIndex(seg, -1) {
			a, b := loc[0], loc[1]
			if p.group && len(loc) >= 4 && loc[2] >= 0 {
				a, b = loc[2], loc[3]
			}
			if a >= b {
				continue
			}
			a, b = alignSpan(seg, a, b)
			if isMasked(seg[a:b]) {
				continue
			}
			sc.unsorted = true
			sc.add(lo+a, lo+b, famPattern, spanText)
		}
	}
}

// alignSpan widens [a,b) of seg to whole escape sequences (\n, \uXXXX)
// and whole UTF-8 sequences. It looks only at the few bytes before each
// end, so many matches on a long line stay linear.
func alignSpan(seg []byte, a, b int) (int, int) {
	if k := escapeAround(seg, a); k >= 0 {
		a = k
	}
	if k := escapeAround(seg, b); k >= 0 {
		b = k + escapeLen(seg, k)
	}
	for a > 0 && !utf8.RuneStart(seg[a]) {
		a--
	}
	for b < len(seg) && !utf8.RuneStart(seg[b]) {
		b++
	}
	return a, b
}

// escapeAround returns the start of the escape sequence that position p is
// strictly inside of, or -1.
func escapeAround(seg []byte, p int) int {
	for k := p - 1; k >= 0 && k >= p-5; k-- {
		if seg[k] != '\\' {
			continue
		}
		// seg[k] starts an escape if an even number of backslashes
		// precede it.
		n := 0
		for x := k - 1; x >= 0 && seg[x] == '\\'; x-- {
			n++
		}
		if n%2 == 1 {
			continue
		}
		if p < k+escapeLen(seg, k) {
			return k
		}
		return -1
	}
	return -1
}

func escapeLen(seg []byte, k int) int {
	if k+1 < len(seg) && seg[k+1] == 'u' {
		return min(6, len(seg)-k)
	}
	return min(2, len(seg)-k)
}

// patternError turns a regexp error into one that names what is wrong but
// not the pattern itself: options are never echoed.
func patternError(err error) error {
	if se, ok := err.(*syntax.Error); ok {
		return &regexpError{code: se.Code}
	}
	return errPatternInvalid
}

type regexpError struct{ code syntax.ErrorCode }

func (e *regexpError) Error() string { return "regexp: " + e.code.String() }
