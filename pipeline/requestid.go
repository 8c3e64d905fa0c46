package pipeline

import "bytes"

// DefaultRequestIDKeys are the keys the request-id-keys option defaults to.
// Each entry stands for every spelling that normalises to the same form (see
// normalizeKey): "request_id" also covers requestId, requestID, RequestID,
// request-id and request.id. Earlier entries win when a line has several.
var DefaultRequestIDKeys = []string{
	"request_id",       // requestId, request-id, request.id, REQUEST_ID, ...
	"x-request-id",     // X-Request-ID, x_request_id, xRequestId, ...
	"req_id",           // reqId, req-id, req.id, ...
	"correlation_id",   // correlationId, correlation-id, ...
	"x-correlation-id", // X-Correlation-ID, ...
	"rid",
}

const (
	// maxKeyLen is the longest normalised key that can match. Longer keys
	// are rejected without further work.
	maxKeyLen = 63
	// maxTextKeyLen bounds how far the text scan looks back from a '=' or
	// ':' for the key, separators included; a longer word is not a key.
	maxTextKeyLen = 2 * maxKeyLen
	// MaxIDLen is the longest request, trace or span id that is promoted.
	// A longer value is not an id, whatever its key says.
	MaxIDLen = 256
)

// normalizeKey writes the normalised form of key into buf: ASCII letters
// folded to lower case, and '_', '-' and '.' removed; every other byte is
// kept. Two keys match when their normalised forms are equal, so one
// configured key covers snake_case, camelCase, kebab-case, dotted and header
// spellings of the same name. It reports false for a key whose normalised
// form is longer than any key can be; the fixed-size buffer keeps the
// per-line lookups free of allocations.
func normalizeKey(buf *[maxKeyLen]byte, key []byte) ([]byte, bool) {
	n := 0
	for _, c := range key {
		if c == '_' || c == '-' || c == '.' {
			continue
		}
		if n == len(buf) {
			return nil, false
		}
		buf[n] = lowerASCII(c)
		n++
	}
	return buf[:n], true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// role is what a key means to the id search. A key can have several roles:
// a request-id key may also name a container object (say "req").
type role uint8

const (
	roleRequestID role = 1 << iota
	roleTraceID
	roleSpanID
	roleTraceparent
	roleContainer // an object searched one level down
)

// fixedKeys are the keys whose meaning does not depend on configuration,
// already normalised. Config.Validate rejects request-id keys that normalise
// to one of the id keys, so a trace id is never taken for a request id.
var fixedKeys = []struct {
	norm string
	role role
}{
	{"traceid", roleTraceID},
	{"spanid", roleSpanID},
	{"traceparent", roleTraceparent},
	{"http", roleContainer},
	{"request", roleContainer},
	{"req", roleContainer},
	{"context", roleContainer},
	{"ctx", roleContainer},
	{"meta", roleContainer},
}

type matchKey struct {
	norm string
	role role
	rank int // position in the request-id key list; lower wins
}

// keyMatcher recognises the keys of the id search. It is built once per
// Parser and only read afterwards.
type keyMatcher struct {
	keys    []matchKey
	lenMask uint64    // bit n is set if some key normalises to n bytes
	first   [256]bool // the first byte of some normalised key
}

// newKeyMatcher builds the matcher for the request-id keys. Keys that
// Config.Validate would reject are skipped, as are repeats.
func newKeyMatcher(requestIDKeys []string) keyMatcher {
	var m keyMatcher
	add := func(norm string, r role, rank int) {
		for i := range m.keys {
			if m.keys[i].norm == norm {
				// Request-id keys come first, so a repeated one keeps
				// its first rank; a fixed key adds its role.
				if r != roleRequestID {
					m.keys[i].role |= r
				}
				return
			}
		}
		m.keys = append(m.keys, matchKey{norm: norm, role: r, rank: rank})
		m.lenMask |= 1 << len(norm)
		m.first[norm[0]] = true
	}
	rank := 0
	for _, k := range requestIDKeys {
		if checkRequestIDKey(k) != "" {
			continue
		}
		var buf [maxKeyLen]byte
		norm, _ := normalizeKey(&buf, []byte(k)) // checked above
		add(string(norm), roleRequestID, rank)
		rank++
	}
	for _, f := range fixedKeys {
		add(f.norm, f.role, 0)
	}
	return m
}

// checkRequestIDKey returns what is wrong with a configured request-id key,
// or "".
func checkRequestIDKey(k string) string {
	n := 0
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !isKeyByte(c) || c >= 0x80 {
			return "letters, digits, '_', '-' and '.' only"
		}
		if c != '_' && c != '-' && c != '.' {
			n++
		}
	}
	switch {
	case n == 0:
		return "at least one letter or digit"
	case n > maxKeyLen:
		return "at most 63 letters and digits"
	}
	var buf [maxKeyLen]byte
	norm, _ := normalizeKey(&buf, []byte(k)) // n <= maxKeyLen
	for _, f := range fixedKeys {
		if f.norm == string(norm) && f.role != roleContainer {
			return "not a trace key (trace_id, span_id and traceparent are always searched)"
		}
	}
	return ""
}

// lookup returns the roles of key and, for a request-id key, its rank. It
// does not allocate.
func (m *keyMatcher) lookup(key []byte) (role, int) {
	// Most keys are rejected on their first letter, before normalisation.
	i := 0
	for i < len(key) && (key[i] == '_' || key[i] == '-' || key[i] == '.') {
		i++
	}
	if i == len(key) || !m.first[lowerASCII(key[i])] {
		return 0, 0
	}
	var buf [maxKeyLen]byte
	norm, ok := normalizeKey(&buf, key[i:])
	if !ok || m.lenMask&(1<<len(norm)) == 0 {
		return 0, 0
	}
	for i := range m.keys {
		if string(norm) == m.keys[i].norm {
			return m.keys[i].role, m.keys[i].rank
		}
	}
	return 0, 0
}

// idSearch collects the best candidate for each id while a line is searched.
type idSearch struct {
	req     []byte
	reqRank int
	trace   []byte
	span    []byte
	tpTrace []byte // from a valid traceparent
	tpSpan  []byte
}

func (s *idSearch) reset() { *s = idSearch{reqRank: -1} }

// offer records value for every role of the key it was found under. Slots
// already filled keep their value, except that a request id of a better rank
// replaces one of a worse rank: callers offer values in search order, so
// first found wins among equals.
func (s *idSearch) offer(r role, rank int, value []byte) {
	if len(value) == 0 || len(value) > MaxIDLen {
		return
	}
	if r&roleRequestID != 0 && (s.reqRank < 0 || rank < s.reqRank) {
		s.req, s.reqRank = value, rank
	}
	if r&roleTraceID != 0 && s.trace == nil {
		s.trace = value
	}
	if r&roleSpanID != 0 && s.span == nil {
		s.span = value
	}
	if r&roleTraceparent != 0 && s.tpTrace == nil {
		if trace, span, ok := ParseTraceparent(value); ok {
			s.tpTrace, s.tpSpan = trace, span
		}
	}
}

// done reports whether nothing found later could change the result.
func (s *idSearch) done() bool {
	return s.reqRank == 0 && s.trace != nil && s.span != nil
}

// result resolves the candidates: explicit trace and span keys win over a
// traceparent, and a traceparent's span id is only used together with its
// own trace id, so that TraceID and SpanID never come from two sources that
// disagree.
func (s *idSearch) result() (req, trace, span []byte) {
	req, trace, span = s.req, s.trace, s.span
	if trace == nil {
		trace = s.tpTrace
	}
	if span == nil && trace != nil && bytes.Equal(trace, s.tpTrace) {
		span = s.tpSpan
	}
	return req, trace, span
}

// searchFields looks for ids in the members of a parsed JSON line: first all
// top-level members, then the members of top-level objects whose key names a
// container (http, request, req, context, ctx, meta), for the slots the top
// level left empty. Only string and number values count. Unescaped strings
// go to *scratch.
func (m *keyMatcher) searchFields(fields []Field, s *idSearch, scratch *[]byte) {
	containers := false
	for i := range fields {
		f := &fields[i]
		r, rank := m.lookup(f.Key)
		if r&roleContainer != 0 && f.Kind == KindObject {
			containers = true
		}
		if r &^= roleContainer; r != 0 {
			s.offer(r, rank, idValue(f.Value, f.Kind, scratch))
		}
		if s.done() {
			return
		}
	}
	if !containers {
		return
	}
	nested := idSearch{reqRank: -1}
	for i := range fields {
		f := &fields[i]
		if f.Kind != KindObject {
			continue
		}
		if r, _ := m.lookup(f.Key); r&roleContainer == 0 {
			continue
		}
		it := objIter{b: f.Value, i: 1, depth: 2}
		for it.next() {
			if it.kind != KindString && it.kind != KindNumber {
				continue
			}
			mark := len(*scratch)
			r, rank := m.lookup(it.keyBytes(scratch))
			*scratch = (*scratch)[:mark] // the key is not kept
			if r &^= roleContainer; r != 0 {
				nested.offer(r, rank, idValue(it.val, it.kind, scratch))
			}
		}
	}
	if s.reqRank < 0 {
		s.req, s.reqRank = nested.req, nested.reqRank
	}
	if s.trace == nil {
		s.trace = nested.trace
	}
	if s.span == nil {
		s.span = nested.span
	}
	if s.tpTrace == nil {
		s.tpTrace, s.tpSpan = nested.tpTrace, nested.tpSpan
	}
}

// idValue returns the id text of a JSON string or number, or nil.
func idValue(v []byte, k Kind, scratch *[]byte) []byte {
	switch k {
	case KindNumber:
		return v
	case KindString:
		if bytes.IndexByte(v, '\\') < 0 {
			return v[1 : len(v)-1]
		}
		if len(v) > 6*MaxIDLen+2 { // cannot decode to MaxIDLen bytes or fewer
			return nil
		}
		start := len(*scratch)
		*scratch, _ = AppendString(*scratch, v)
		return (*scratch)[start:]
	}
	return nil
}

// isKeyByte reports whether c can be part of a key in a text line. Bytes of
// multi-byte UTF-8 characters count, so that a key preceded by a letter of
// any script is part of a longer word and does not match.
func isKeyByte(c byte) bool { return keyByte[c] }

var (
	keyByte [256]bool
	// valueEnd ends an unquoted value in a text line.
	valueEnd [256]bool
	// kvDelim is a byte that can separate a key from its value.
	kvDelim [256]bool
)

func init() {
	for c := 0; c < 256; c++ {
		keyByte[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c >= 0x80
	}
	for _, c := range []byte(" \t\r\n\v\f,;&\"')]}") {
		valueEnd[c] = true
	}
	valueEnd[0] = true
	kvDelim['='] = true
	kvDelim[':'] = true
}

// scanText looks for ids in a text line: `key=value`, `key: value` (any
// number of blanks after a colon, none after '='), and `"key":"value"` or
// `'key': 'value'` with a quoted key. The key must be a whole word: the
// byte before it is not a letter, digit, '_', '-', '.' or part of a
// multi-byte character. An unquoted value ends at whitespace, ',', ';',
// '&', a quote, ')', ']', '}' or the end of the line; a quoted value ends at
// the same quote and must not contain a backslash (escapes are not decoded
// here).
//
// The scan visits each '=' and ':' and looks back over the key before it, so
// the bytes of the line are mostly inspected once; candidates are rejected
// on their normalised length and first byte before they are compared.
func (m *keyMatcher) scanText(line []byte, s *idSearch) {
	// [runStart, runEnd) is a stretch known to hold no valueEnd byte, so a
	// run of overlong unquoted values (think "rid=rid=rid=...") costs
	// linear time rather than MaxIDLen per candidate.
	runStart, runEnd := -1, -1
	for d := 0; d < len(line); d++ {
		if !kvDelim[line[d]] {
			continue
		}
		ks, ke := d, d
		if ke > 0 && (line[ke-1] == '"' || line[ke-1] == '\'') && line[d] == ':' {
			q := line[ke-1]
			ke--
			ks = ke
			for ks > 0 && ke-ks <= maxTextKeyLen && isKeyByte(line[ks-1]) {
				ks--
			}
			if ks == 0 || line[ks-1] != q {
				continue
			}
		} else {
			for ks > 0 && ke-ks <= maxTextKeyLen && isKeyByte(line[ks-1]) {
				ks--
			}
			if ks > 0 && isKeyByte(line[ks-1]) { // longer than any key
				continue
			}
		}
		if ks == ke {
			continue
		}
		r, rank := m.lookup(line[ks:ke])
		if r &^= roleContainer; r == 0 {
			continue
		}
		vs := d + 1
		if line[d] == ':' {
			for vs < len(line) && (line[vs] == ' ' || line[vs] == '\t') {
				vs++
			}
		}
		if vs >= len(line) {
			return
		}
		var value []byte
		if q := line[vs]; q == '"' || q == '\'' {
			limit := min(len(line), vs+1+MaxIDLen+1)
			if n := bytes.IndexByte(line[vs+1:limit], q); n >= 0 {
				value = line[vs+1 : vs+1+n]
				if bytes.IndexByte(value, '\\') >= 0 {
					value = nil
				}
			}
		} else {
			ve := vs
			if runStart <= vs && vs < runEnd {
				ve = runEnd
			}
			for ve < len(line) && ve-vs <= MaxIDLen && !valueEnd[line[ve]] {
				ve++
			}
			if ve-vs > MaxIDLen {
				runStart, runEnd = vs, ve
				continue
			}
			value = line[vs:ve]
		}
		s.offer(r, rank, value)
		if s.done() {
			return
		}
	}
}

// ParseTraceparent validates a W3C Trace Context traceparent header value
// (https://www.w3.org/TR/trace-context/#traceparent-header) and returns its
// trace id and parent (span) id, aliasing v. Version 00 must be exactly
// "00-<32 hex>-<16 hex>-<2 hex>"; a later version may append "-..." fields,
// as the specification asks parsers to allow. Hex digits must be lowercase,
// version ff and all-zero ids are invalid.
func ParseTraceparent(v []byte) (traceID, spanID []byte, ok bool) {
	const size = 2 + 1 + 32 + 1 + 16 + 1 + 2
	if len(v) < size || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return nil, nil, false
	}
	if !lowerHex(v[0:2]) || !lowerHex(v[3:35]) || !lowerHex(v[36:52]) || !lowerHex(v[53:55]) {
		return nil, nil, false
	}
	switch {
	case v[0] == 'f' && v[1] == 'f':
		return nil, nil, false
	case v[0] == '0' && v[1] == '0':
		if len(v) != size {
			return nil, nil, false
		}
	default:
		if len(v) > size && v[size] != '-' {
			return nil, nil, false
		}
	}
	traceID, spanID = v[3:35], v[36:52]
	if allZero(traceID) || allZero(spanID) {
		return nil, nil, false
	}
	return traceID, spanID, true
}

func lowerHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != '0' {
			return false
		}
	}
	return true
}
