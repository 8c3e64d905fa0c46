package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"maps"
	"sync"

	"github.com/logship/logship/pipeline"
)

// Masker masks secrets in log lines. It is built once per policy by New and
// is immutable afterwards: one Masker serves any number of goroutines.
type Masker struct {
	mode     Mode
	disabled bool
	keys     *wordTable
	allow    map[string]struct{}
	patterns []userPattern
	pii      piiSet
	hmacs    *sync.Pool // of hash.Hash; nil unless ModeHash

	linesChanged *pipeline.Counter
	secrets      [numFamilies]*pipeline.Counter
}

// The metric names. Every rule family's series exists (as 0) from New on.
const (
	MetricLinesChanged = "logship_redact_lines_changed_total"
	MetricSecrets      = "logship_redact_secrets_total"
)

// Families returns the rule families, the values of the rule label of
// logship_redact_secrets_total.
func Families() []string {
	out := make([]string, 0, numFamilies-1)
	for f := famNone + 1; f < numFamilies; f++ {
		out = append(out, f.String())
	}
	return out
}

// New builds a Masker for pol, which is validated first (the error is the
// one Validate returns). Counters are registered in metrics, which may be
// nil.
func New(pol Policy, metrics *pipeline.Metrics) (*Masker, error) {
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	m := &Masker{
		mode:     pol.Mode,
		disabled: pol.Disabled,
		keys:     newWordTable(pol.ExtraKeys, pol.AllowKeys),
	}
	if m.mode == "" {
		m.mode = ModeMask
	}
	if len(pol.Allow) > 0 {
		m.allow = make(map[string]struct{}, len(pol.Allow))
		for _, a := range pol.Allow {
			m.allow[a] = struct{}{}
		}
	}
	for _, expr := range pol.Patterns {
		p, err := compilePattern(expr)
		if err != nil {
			return nil, err // unreachable: Validate compiled it
		}
		m.patterns = append(m.patterns, p)
	}
	m.pii, _ = parsePII(pol.PII)
	if m.mode == ModeHash {
		key := append([]byte(nil), pol.HashKey...)
		m.hmacs = &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	}
	metrics.Help(MetricLinesChanged, "Log lines in which at least one secret was masked.")
	metrics.Help(MetricSecrets, "Secrets masked, by rule family.")
	m.linesChanged = metrics.Counter(MetricLinesChanged)
	for f := famNone + 1; f < numFamilies; f++ {
		m.secrets[f] = metrics.Counter(MetricSecrets + `{rule="` + f.String() + `"}`)
	}
	return m, nil
}

// Disabled reports whether the policy turned masking off.
func (m *Masker) Disabled() bool { return m.disabled }

func (m *Masker) allowed(v []byte) bool {
	if m.allow == nil {
		return false
	}
	_, ok := m.allow[string(v)]
	return ok
}

// AppendLine appends the masked form of line to dst. When nothing in line
// needs masking it returns dst unchanged and false, without allocating: the
// caller keeps using line. A PEM private key whose lines arrive one by one
// needs a Stream.
func (m *Masker) AppendLine(dst, line []byte) ([]byte, bool) {
	out, changed, _ := m.appendLine(dst, line, nil)
	return out, changed
}

// appendLine also reports a private key block left open at the end of a
// text line. kc is the Stream's key cache, or nil.
func (m *Masker) appendLine(dst, line []byte, kc *keyCache) ([]byte, bool, bool) {
	if m.disabled || len(line) == 0 {
		return dst, false, false
	}
	var sc scanner
	sc.m = m
	sc.s = line
	sc.kc = kc
	sc.reset()
	if len(m.patterns) > 0 {
		sc.patActive = m.activePatterns(line)
	}
	i := skipWS(line, 0)
	if i < len(line) && isJSONStart(line[i]) {
		if sc.scanJSON(i) {
			if sc.n == 0 {
				return dst, false, false
			}
			return m.write(dst, &sc), true, false
		}
		sc.reset()
	}
	sc.topText = true
	sc.scanText(0, len(line))
	if sc.n == 0 {
		return dst, false, sc.pemOpen
	}
	return m.write(dst, &sc), true, sc.pemOpen
}

// isJSONStart reports the bytes a JSON text can start with. Objects and
// arrays are what structured logs are; a line that is a lone JSON string or
// number is parsed as JSON too, so that it stays valid JSON when masked.
// Text lines that start with a digit or a quote fail the parse within a few
// bytes.
func isJSONStart(c byte) bool {
	return c == '{' || c == '[' || c == '"' || c == '-' || isDigit(c)
}

// write appends the line with its spans replaced, and counts them.
func (m *Masker) write(dst []byte, sc *scanner) []byte {
	sc.normalize()
	s := sc.s
	prev := 0
	for k := 0; k < sc.n; k++ {
		sp := sc.at(k)
		dst = append(dst, s[prev:sp.start]...)
		dst = m.replacement(dst, s[sp.start:sp.end], sp.kind)
		prev = sp.end
		m.secrets[sp.fam].Inc()
	}
	dst = append(dst, s[prev:]...)
	m.linesChanged.Inc()
	return dst
}

// replacement appends the replacement of secret. A spanJSON secret is a
// whole JSON value, replaced by a JSON string.
func (m *Masker) replacement(dst, secret []byte, kind spanKind) []byte {
	if kind == spanJSON {
		dst = append(dst, '"')
	}
	switch m.mode {
	case ModePartial:
		dst = append(dst, partialMark...)
		// The tail must be plain ASCII and not the end of an escape
		// (\u00e9, \n) inside a JSON string.
		if n := len(secret); n >= 12 && plainTail(secret[n-4:]) && !hasBackslash(secret[n-6:]) {
			dst = append(dst, secret[n-4:]...)
		}
	case ModeHash:
		dst = m.appendHash(dst, secret)
	default:
		dst = append(dst, maskText...)
	}
	if kind == spanJSON {
		dst = append(dst, '"')
	}
	return dst
}

// plainTail reports whether the last four bytes may be kept as they are:
// ASCII letters and digits, so that no escape sequence, quote or UTF-8
// sequence is cut.
func plainTail(b []byte) bool {
	for _, c := range b {
		if !isPlainTail(c) {
			return false
		}
	}
	return true
}

// isPlainTail: only letters and digits are kept, so that the tail never
// holds a separator that would make the masked line read differently.
func isPlainTail(c byte) bool { return isAlnum(c) }

func (m *Masker) appendHash(dst, secret []byte) []byte {
	if hasBackslash(secret) {
		// The inside of a JSON string: hash the text it stands for, so
		// that the same secret gives the same tag in JSON and in text.
		secret = unescapeJSON(nil, secret)
	}
	h := m.hmacs.Get().(hash.Hash)
	h.Reset()
	h.Write(secret)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	m.hmacs.Put(h)
	var hx [hashHexLen]byte
	hex.Encode(hx[:], sum[:hashHexLen/2])
	dst = append(dst, hashPrefix...)
	dst = append(dst, hx[:]...)
	return append(dst, hashSuffix...)
}

func hasBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// unescapeJSON appends the text a JSON string body stands for. Invalid
// escapes are copied as they are.
func unescapeJSON(dst, b []byte) []byte {
	for k := 0; k < len(b); k++ {
		c := b[k]
		if c != '\\' || k+1 >= len(b) {
			dst = append(dst, c)
			continue
		}
		k++
		switch b[k] {
		case 'n':
			dst = append(dst, '\n')
		case 't':
			dst = append(dst, '\t')
		case 'r':
			dst = append(dst, '\r')
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'u':
			if k+4 < len(b) {
				var r rune
				ok := true
				for _, h := range b[k+1 : k+5] {
					v, good := hexVal(h)
					ok = ok && good
					r = r<<4 | rune(v)
				}
				if ok {
					dst = appendRune(dst, r)
					k += 4
					continue
				}
			}
			dst = append(dst, '\\', 'u')
		default:
			dst = append(dst, b[k])
		}
	}
	return dst
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func appendRune(dst []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(dst, byte(r))
	case r < 0x800:
		return append(dst, byte(0xC0|r>>6), byte(0x80|r&0x3F))
	default:
		return append(dst, byte(0xE0|r>>12), byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
	}
}

// Attrs masks attribute values (labels and environment variables attached
// to every record): by key (DB_PASSWORD=... is masked whole, in the
// policy's mode) and by value (a token in any attribute). It returns attrs
// itself when nothing changed, otherwise a masked copy; attrs is never
// modified.
func (m *Masker) Attrs(attrs map[string]string) map[string]string {
	if m.disabled {
		return attrs
	}
	var out map[string]string
	for k, v := range attrs {
		nv, changed := m.maskAttr(k, v)
		if !changed {
			continue
		}
		if out == nil {
			out = maps.Clone(attrs)
		}
		out[k] = nv
	}
	if out == nil {
		return attrs
	}
	return out
}

func (m *Masker) maskAttr(k, v string) (string, bool) {
	if v == "" {
		return v, false
	}
	// An attribute is KEY=value with the value unquoted: scan it as the
	// text line `KEY="value"` would be, so that the key rules, the value
	// checks and the replacement are the ones lines get.
	ki := m.keys.classify([]byte(k))
	switch ki.class() {
	case kSecret, kAuth, kCookie, kCard:
		var sc scanner
		sc.m = m
		sc.s = []byte(v)
		sc.reset()
		st := 0
		if ki.class() == kAuth {
			st = skipScheme(sc.s, 0, len(sc.s))
		}
		if sc.maskValue(st, len(sc.s), ki, true) {
			return string(m.write(nil, &sc)), true
		}
	}
	out, changed := m.AppendLine(nil, []byte(v))
	if !changed {
		return v, false
	}
	return string(out), true
}
