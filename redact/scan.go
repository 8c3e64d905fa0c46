package redact

import "bytes"

// spanKind says how a span is replaced.
type spanKind uint8

const (
	// spanText replaces bytes of text or of the inside of a JSON string
	// with the bare replacement.
	spanText spanKind = iota
	// spanJSON replaces a whole JSON value (object, array, number) with
	// the replacement as a JSON string.
	spanJSON
)

type span struct {
	start, end int
	fam        family
	kind       spanKind
}

// maxFixedSpans spans fit in the scanner itself; more (rare) go to a slice.
const maxFixedSpans = 16

// scanner finds the secrets of one line. It lives on the stack of
// AppendLine; nothing in it allocates unless a line holds more than
// maxFixedSpans secrets.
type scanner struct {
	m     *Masker
	s     []byte
	n     int
	fixed [maxFixedSpans]span
	more  []span
	// unsorted is set when a span was added before the end of the last
	// one (name/value pairs, user patterns, e-mail local parts).
	unsorted bool
	// pemOpen reports a private key header whose END marker is not on
	// this line (a Stream then masks the lines that follow).
	pemOpen bool
	// topText is set while the scanner runs over a whole text line (not
	// inside a JSON string): only then can a PEM block continue on the
	// next line.
	topText bool
	// noCardAt is the start of a value whose key names an id or a time:
	// digits there are not card numbers.
	noCardAt int
	// pairNext: a "name" key named a secret (name="DB_PASSWORD"): if
	// the next assignment is to a "value" key, its value is masked.
	pairNext bool
	// k8sSecret: the segment holds "kind: Secret".
	k8sSecret bool
	// noClose: a quoted value starting at or after this offset has no
	// closing quote in the segment (keeps unbalanced quotes linear).
	noClose int
	// patActive: the user patterns that can match in this line.
	patActive uint64
	// kc caches key classifications: the Stream's, or nil.
	kc *keyCache
	// noAssign: the segment being scanned has no byte that can separate
	// a key from a value but a comma after a quoted key (mayAssign).
	noAssign bool
}

func (sc *scanner) reset() {
	sc.n = 0
	sc.more = sc.more[:0]
	sc.unsorted = false
	sc.pemOpen = false
	sc.noCardAt = -1
	sc.pairNext = false
	sc.k8sSecret = false
	sc.noClose = 1 << 62
}

func (sc *scanner) at(k int) *span {
	if k < maxFixedSpans {
		return &sc.fixed[k]
	}
	return &sc.more[k-maxFixedSpans]
}

// add records s[start:end] as a secret of family f. Values on the policy's
// allow list are skipped.
func (sc *scanner) add(start, end int, f family, k spanKind) {
	if start >= end {
		return
	}
	if sc.m.allowed(sc.s[start:end]) {
		return
	}
	if sc.n > 0 {
		last := sc.at(sc.n - 1)
		if start < last.end {
			if start >= last.start && end <= last.end {
				return
			}
			sc.unsorted = true
		}
	}
	sp := span{start: start, end: end, fam: f, kind: k}
	if sc.n < maxFixedSpans {
		sc.fixed[sc.n] = sp
	} else {
		sc.more = append(sc.more, sp)
	}
	sc.n++
}

// normalize sorts the spans by start and merges overlapping ones.
func (sc *scanner) normalize() {
	if !sc.unsorted {
		return
	}
	for a := 1; a < sc.n; a++ {
		for b := a; b > 0 && sc.at(b).start < sc.at(b-1).start; b-- {
			*sc.at(b), *sc.at(b - 1) = *sc.at(b - 1), *sc.at(b)
		}
	}
	w := 0
	for r := 1; r < sc.n; r++ {
		prev, cur := sc.at(w), sc.at(r)
		if cur.start < prev.end {
			if cur.end > prev.end {
				prev.end = cur.end
			}
			if cur.kind == spanJSON {
				prev.kind = spanJSON
			}
			continue
		}
		w++
		*sc.at(w) = *cur
	}
	sc.n = w + 1
	if sc.n <= maxFixedSpans {
		sc.more = sc.more[:0]
	} else {
		sc.more = sc.more[:sc.n-maxFixedSpans]
	}
}

// skipBlank skips spaces and tabs.
func skipBlank(s []byte, i, hi int) int {
	for i < hi && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// skipLayout skips white space, including the two-byte escapes \n, \r and
// \t that stand for white space in JSON strings and in logged code.
func skipLayout(s []byte, i, hi int) int {
	for i < hi {
		switch c := s[i]; {
		case cls[c]&cSpace != 0:
			i++
		case c == '\\' && i+1 < hi && (s[i+1] == 'n' || s[i+1] == 'r' || s[i+1] == 't'):
			i += 2
		default:
			return i
		}
	}
	return i
}

// scanText scans s[lo:hi]: a text line, or the raw (still escaped) inside of
// a JSON string. It is one pass over the bytes: non-word bytes cost a table
// lookup, and each word is checked against the token formats (by its first
// byte), card numbers (if it starts with a digit), URL userinfo (if "://"
// follows) and key=value forms (if a separator follows).
func (sc *scanner) scanText(lo, hi int) {
	sc.scanSegment(lo, hi, mayAssign(sc.s[lo:hi]))
}

// scanSegment is scanText when mayAssign(s[lo:hi]) is known.
func (sc *scanner) scanSegment(lo, hi int, sep bool) {
	s := sc.s
	m := sc.m
	i := lo
	sh := s[:hi] // the segment's end as a length: no bounds checks
	sc.noClose = 1 << 62
	sc.noAssign = !sep
	for i < len(sh) {
		c := sh[i]
		cc := cls[c]
		if cc&cWord == 0 {
			if cc&cScan == 0 {
				i++
				continue
			}
			switch c {
			case '\\':
				// An escape: never the start of a word ("\ntoken" is
				// "token").
				if i+1 < hi && s[i+1] == 'u' {
					i += 6
				} else {
					i += 2
				}
				continue
			case '-':
				if i+10 < hi && s[i+1] == '-' && hasPrefixAt(s, i, hi, "-----BEGIN ") {
					i = sc.pem(i, hi)
					continue
				}
			case '*':
				if hasPrefixAt(s, i, hi, partialMark) {
					// A partial mask and the tail it keeps
					// ("****0+-u"): nothing in there starts a
					// new match, or masking would not be
					// idempotent.
					k := i + len(partialMark)
					for lim := min(hi, k+4); k < lim && isPlainTail(s[k]); k++ {
					}
					i = k
					continue
				}
			case '~':
				if e := sc.azure(i, lo, hi); e > 0 {
					i = e
					continue
				}
			case '@':
				if m.pii&piiEmail != 0 {
					if e := sc.email(i, lo, hi); e > 0 {
						i = e
						continue
					}
				}
			case '+', '(':
				if m.pii&piiPhone != 0 {
					if e := sc.phone(i, lo, hi); e > 0 {
						i = e
						continue
					}
				}
			case ':':
				if m.pii&piiIP != 0 && i+1 < hi && s[i+1] == ':' {
					if e := sc.ipv6(i, lo, hi); e > 0 {
						i = e
						continue
					}
				}
			}
			i++
			continue
		}
		j := i + 1
		for j < len(sh) && cls[sh[j]]&cKey != 0 {
			j++
		}
		n := j - i
		if i > lo && s[i-1] == '*' {
			// The tail a partial mask keeps ("****1111"): never the
			// start of a new match.
			i = j
			continue
		}
		if (n >= minTokenLen || (j < hi && tokInside[sh[j]])) && hi-i >= 8 && tokPrefixOK(c, s[i+1]) &&
			(i == lo || insideOK(s, lo, i)) {
			if e, f := matchToken(s, i, hi); e > 0 {
				sc.add(i, e, f, spanText)
				if f == famAWS {
					sc.awsSecretNear(e, hi)
				}
				i = e
				continue
			}
		}
		if n >= 35 {
			if e := matchWordShape(s, i, hi); e > 0 {
				sc.add(i, e, famToken, spanText)
				i = e
				continue
			}
		}
		if cc&cDigit != 0 {
			// (a run of fewer than four digits is no card, bot token
			// or app token)
			if n >= 4 || m.pii != 0 {
				if e := sc.digits(i, j, lo, hi); e > 0 {
					i = e
					continue
				}
			}
		} else if m.pii&piiIP != 0 && isHex(c) && j < hi && s[j] == ':' {
			if e := sc.ipv6(i, lo, hi); e > 0 {
				i = e
				continue
			}
		}
		if j < hi && cls[sh[j]]&cSepStart != 0 {
			d := sh[j]
			switch d {
			case ' ':
				if (n == 5 || n == 6) && c|0x20 == 'b' {
					if e := sc.scheme(i, j, hi); e > 0 {
						i = e
						continue
					}
				}
				if i > lo && s[i-1] == '-' {
					if e := sc.flag(i, j, lo, hi); e > 0 {
						i = e
						continue
					}
				}
			case ':':
				if j+2 < hi && s[j+1] == '/' && s[j+2] == '/' {
					i = sc.url(j+3, hi)
					continue
				}
			case '=':
				if n == 4 && i > lo && s[i-1] == '-' && equalFold(s[i:j], "user") {
					if e := sc.userFlag(j+1, hi); e > 0 {
						i = e
						continue
					}
				}
			}
			if !sc.noAssign || d == '"' || d == '\'' {
				if e := sc.assign(i, j, lo, hi); e > 0 {
					i = e
					continue
				}
			}
		}
		i = j
	}
	if sc.k8sSecret {
		sc.k8sSecret = false
		sc.k8sSecretData(lo, hi)
	}
	if sc.patActive != 0 {
		sc.userPatterns(lo, hi)
	}
}

// maxQuoted bounds the search for the closing quote of a command-line
// argument.
const maxQuoted = 1024

// insideOK reports whether a token may start at i: not after '+' or after
// '/' that follows a letter or digit, which is the inside of a base64 blob
// or a path ("...+EZAK..." is not an EasyPost key), but after "//" (a URL's
// host) and anywhere else.
func insideOK(s []byte, lo, i int) bool {
	switch s[i-1] {
	case '+':
		return false
	case '/':
		// (a replacement before the '/' counts as the alphanumeric it
		// replaced)
		return i-2 < lo || !(isAlnum(s[i-2]) || s[i-2] == '*' || s[i-2] == ']')
	}
	return true
}

// typeWords may stand between a key and its separator in logged code
// ("var token string = ...").
func isTypeWord(w []byte) bool {
	switch len(w) {
	case 3:
		return string(w) == "str" || string(w) == "val" || string(w) == "let" || string(w) == "var"
	case 4:
		return string(w) == "char" || string(w) == "text"
	case 5:
		return string(w) == "const" || string(w) == "final" || string(w) == "bytes"
	case 6:
		return string(w) == "string" || string(w) == "String" || string(w) == "static" || string(w) == "Secret"
	case 12:
		return string(w) == "SecureString"
	}
	return false
}

// assign handles key=value forms: s[ks:ke] is a word followed by a
// separator candidate. It recognises the assignment operators of config
// files and code (= : := ::= :::= ?= .= += => and, for a quoted key, the
// comma of a function call), an XML element (<key>value</key>), and quoted
// or unquoted values. It returns where to continue scanning when it masked
// (or deliberately kept) the value, or 0 to let the scan continue after the
// key.
func (sc *scanner) assign(ks, ke, lo, hi int) int {
	s := sc.s
	p := ke
	quotedKey := false
	if s[p] == '"' || s[p] == '\'' {
		p++
		quotedKey = ks > lo && s[ks-1] == s[p-1]
	} else if s[p] == '\\' && p+1 < hi && (s[p+1] == '"' || s[p+1] == '\'') {
		p += 2
		quotedKey = ks > lo+1 && s[ks-1] == s[p-1] && s[ks-2] == '\\'
	}
	p = skipBlank(s, p, hi)
	if p >= hi {
		return 0
	}
	if isLetter(s[p]) {
		w := run(s, p, hi, cAlnum)
		if !isTypeWord(s[p:w]) {
			return 0
		}
		p = skipBlank(s, w, hi)
		if p >= hi {
			return 0
		}
	}
	// Go's encoding/json writes < > & as \u003c \u003e \u0026, so an
	// XML element or a "=>" inside a JSON string from a Go program reads
	// "\u003ckey\u003e" and "=\u003e".
	xml := ks > lo && (s[ks-1] == '<' || (ks-6 >= lo && hasPrefixFoldAt(s, ks-6, hi, `\u003c`)))
	sepEnd := 0
	switch s[p] {
	case '=':
		sepEnd = p + 1
		if sepEnd < hi {
			if s[sepEnd] == '>' {
				sepEnd++
			} else if s[sepEnd] == '=' {
				return 0 // a comparison
			} else if hasPrefixFoldAt(s, sepEnd, hi, `\u003e`) {
				sepEnd += 6
			}
		}
	case '\\':
		if !xml || !hasPrefixFoldAt(s, p, hi, `\u003e`) {
			return 0
		}
		sepEnd = p + 6
	case ':':
		k := p + 1
		for k < hi && s[k] == ':' && k-p < 3 {
			k++
		}
		switch {
		case k < hi && s[k] == '=':
			sepEnd = k + 1
		case k == p+1:
			if k+1 < hi && s[k] == '/' && s[k+1] == '/' {
				return 0
			}
			sepEnd = k
		default:
			return 0
		}
	case '?', '.', '+':
		if p+1 < hi && s[p+1] == '=' {
			sepEnd = p + 2
		} else {
			return 0
		}
	case '>':
		if !xml {
			return 0
		}
		sepEnd = p + 1
	case ',':
		if !quotedKey {
			return 0
		}
		sepEnd = p + 1
	default:
		return 0
	}
	if ke-ks == 4 && equalFold(s[ks:ke], "kind") {
		// A Kubernetes Secret manifest: its data values are masked
		// when the segment ends (k8sSecretData).
		v := skipBlank(s, sepEnd, hi)
		if v < hi && (s[v] == '"' || s[v] == '\'') {
			v++
		} else if v+1 < hi && s[v] == '\\' && s[v+1] == '"' {
			v += 2
		}
		if hasPrefixFoldAt(s, v, hi, "secret") && boundaryAfter(s, v+6, hi) {
			sc.k8sSecret = true
		}
		return 0
	}
	ki := sc.classify(s[ks:ke])
	paired := sc.pairNext && s[p] != ','
	if s[p] != ',' {
		sc.pairNext = false
	}
	if ki.value() && paired && !ki.sensitive() {
		ki = ki.withClass(kSecret)
	}
	// The value starts after blanks; only an XML element's value may
	// start on the next line ("KEY=\nNEXT=1" has an empty value).
	v := skipBlank(s, sepEnd, hi)
	if xml {
		v = skipLayout(s, sepEnd, hi)
	}
	if ki.name() {
		sc.namePair(v, hi)
	}
	if !ki.sensitive() {
		if ki.idLike() {
			sc.noCardAt = v
			if v < hi && (s[v] == '"' || s[v] == '\'') {
				sc.noCardAt = v + 1
			}
		}
		return 0
	}
	// The value: quoted (", ', `, or an escaped \" or \') or a bare word.
	var q byte
	escq := false
	if v < hi {
		switch s[v] {
		case '"', '\'', '`':
			q = s[v]
			v++
		case '\\':
			if v+1 < hi && (s[v+1] == '"' || s[v+1] == '\'') {
				q = s[v+1]
				escq = true
				v += 2
			}
		}
	}
	if s[p] == ',' && q == 0 {
		return 0
	}
	if ki.class() == kAuth {
		v = skipScheme(s, v, hi)
	}
	if v+1 < hi && s[v] == '$' && (s[v+1] == '{' || s[v+1] == '(') {
		return v // ${VAR}, $(command): a reference, scanned as text
	}
	ve, next := v, v
	if q != 0 && v >= sc.noClose {
		q = 0 // searched before: no closing quote up to hi
	}
	if q != 0 {
		k := v
		closed := false
		for k < hi {
			c := s[k]
			if c == '\\' {
				if escq && k+1 < hi && s[k+1] == q {
					closed = true
					break
				}
				k += 2
				continue
			}
			if c == q && !escq {
				closed = true
				break
			}
			if c < 0x20 {
				break // not a string of any format logs use
			}
			k++
		}
		if closed {
			ve = k
			next = k + 1
			if escq {
				next = k + 2
			}
		} else {
			if k >= hi {
				// No quote closes before the end: every later
				// search from here on would fail too.
				sc.noClose = min(sc.noClose, v)
			}
			q = 0
		}
	}
	if q == 0 {
		if ki.class() == kCookie {
			ve = runFn(s, v, hi, isCookieByte)
		} else {
			ve = runFn(s, v, hi, isValueByte)
		}
		next = ve
	}
	if sc.maskValue(v, ve, ki, q != 0) || sc.maskedAt(v, ve) {
		// A value masked before is consumed too: what a rule skipped
		// the first time must not be looked into the second time.
		return max(next, ke+1)
	}
	if ve > v {
		// A kept value ("password: required") is still scanned for
		// token formats, from its start.
		return v
	}
	return 0
}

func isValueByte(c byte) bool { return cls[c]&cTerm == 0 }
func isCookieByte(c byte) bool {
	return c >= 0x20 && c != '"' && c != '\'' && c != '\\' && c != '`' && c != 0x7f
}

// authSchemes are the words before the credentials of an Authorization
// header value.
func isScheme(w []byte) bool {
	switch len(w) {
	case 3:
		return equalFold(w, "key") || equalFold(w, "bot") || equalFold(w, "dsn") || equalFold(w, "mac")
	case 4:
		return equalFold(w, "ntlm") || equalFold(w, "ssws") || equalFold(w, "hawk") || equalFold(w, "hmac")
	case 5:
		return equalFold(w, "basic") || equalFold(w, "token") || equalFold(w, "oauth") || equalFold(w, "vapid")
	case 6:
		return equalFold(w, "bearer") || equalFold(w, "digest") || equalFold(w, "apikey") || equalFold(w, "splunk")
	case 7:
		return equalFold(w, "api-key") || equalFold(w, "genieke")
	case 8:
		return equalFold(w, "apitoken") || equalFold(w, "geniekey")
	case 9:
		return equalFold(w, "negotiate") || equalFold(w, "api-token") || equalFold(w, "sharedkey")
	case 16:
		return equalFold(w, "aws4-hmac-sha256")
	case 21:
		return equalFold(w, "sharedaccesssignature")
	}
	return false
}

// skipScheme moves v past "Bearer " and the like, so that the scheme stays
// readable and only the credentials are masked.
func skipScheme(s []byte, v, hi int) int {
	w := runFn(s, v, hi, func(c byte) bool { return isAlnum(c) || c == '-' })
	if w < hi && w > v && s[w] == ' ' && isScheme(s[v:w]) {
		return skipBlank(s, w, hi)
	}
	return v
}

// namePair handles "name": "DB_PASSWORD" (and key="x_token"): when the value
// names a secret, the "value" key that follows is masked.
func (sc *scanner) namePair(v, hi int) {
	s := sc.s
	if v < hi && (s[v] == '"' || s[v] == '\'') {
		v++
	} else if v+1 < hi && s[v] == '\\' && (s[v+1] == '"' || s[v+1] == '\'') {
		v += 2
	}
	e := run(s, v, hi, cKey)
	if e-v < 3 {
		return
	}
	switch sc.classify(s[v:e]).class() {
	case kSecret, kAuth, kCookie, kCard:
		sc.pairNext = true
	}
}

// maskedAt reports whether s[v:ve] holds a replacement or runs into one
// (":[REDACTED]" is read as ":" up to the bracket).
func (sc *scanner) maskedAt(v, ve int) bool {
	s := sc.s
	if isMasked(s[v:ve]) {
		return true
	}
	return ve < len(s) && s[ve] == '[' &&
		(hasPrefixAt(s, ve, len(s), maskText) || hasPrefixAt(s, ve, len(s), hashPrefix))
}

// maskValue masks the value s[v:ve] of a sensitive key, unless it is a value
// nobody would call a secret: empty, a placeholder, an already masked value,
// a literal (true, null), a count, or an ordinary word ("required").
func (sc *scanner) maskValue(v, ve int, ki keyInfo, quoted bool) bool {
	if ve <= v {
		return false
	}
	val := sc.s[v:ve]
	if sc.maskedAt(v, ve) || isPlaceholder(val) {
		return false
	}
	if !quoted && ki.class() != kCard {
		if isLiteral(val) {
			return false
		}
		if allDigits(val) && len(val) < 16 {
			return false
		}
	}
	if ki.class() == kCard && !hasDigit(val) {
		return false
	}
	if isStopWord(val) {
		return false
	}
	if ki.class() == kWeak && !looksRandom(val) || ki.strict() && !looksStrictlyRandom(val) {
		return false
	}
	if ki.noPath() && (val[0] == '/' || val[0] == '~' || val[0] == '.') {
		return false
	}
	sc.add(v, ve, valueFamily(val, famKey, ki), spanText)
	return true
}

// valueFamily is the family a masked value is counted under: its token
// format if it has one, else the rule that found it.
func valueFamily(val []byte, f family, ki keyInfo) family {
	if e, tf := matchToken(val, 0, len(val)); e == len(val) && e > 0 {
		return tf
	}
	if ki.class() == kAuth {
		return famAuth
	}
	return f
}

// scheme handles "Bearer <token>" and "Basic <base64>" wherever they appear
// (a header="Basic ..." field, a curl -H argument): s[i:j] is a five- or
// six-letter word followed by a space.
func (sc *scanner) scheme(i, j, hi int) int {
	s := sc.s
	basic := equalFold(s[i:j], "basic")
	if !basic && !equalFold(s[i:j], "bearer") {
		return 0
	}
	v := j + 1
	e := runFn(s, v, hi, func(c byte) bool {
		return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
	})
	if !boundaryAfter(s, e, hi) || e-v < 8 {
		return 0
	}
	tok := s[v:e]
	if isMasked(tok) {
		return e
	}
	if basic {
		// Basic credentials are base64 of "user:password".
		var buf [96]byte
		n, ok := decodeB64(buf[:], tok)
		if !ok || bytes.IndexByte(buf[:n], ':') < 0 {
			return 0
		}
	} else if !(hasDigit(tok) && e-v >= 16) && e-v < 32 {
		return 0
	}
	sc.add(v, e, famAuth, spanText)
	return e
}

// flag handles command-line options: "--password value" and "-u user:pass"
// (curl, wget). s[i:j] is a word after '-' followed by a space.
func (sc *scanner) flag(i, j, lo, hi int) int {
	s := sc.s
	dd := i-2 >= lo && s[i-2] == '-'
	if !dd && (j-i != 1 || s[i] != 'u') {
		return 0
	}
	if dd && j-i == 4 && equalFold(s[i:j], "user") || !dd {
		return sc.userFlag(skipBlank(s, j, hi), hi)
	}
	ki := sc.classify(s[i:j])
	switch ki.class() {
	case kSecret, kAuth, kCookie:
	default:
		return 0
	}
	v := skipBlank(s, j, hi)
	if v >= hi || s[v] == '-' {
		return 0
	}
	q := s[v]
	if q == '"' || q == '\'' {
		e := bytes.IndexByte(s[v+1:min(hi, v+1+maxQuoted)], q)
		if e < 0 {
			return 0
		}
		if sc.maskValue(v+1, v+1+e, ki, true) {
			return v + e + 2
		}
		return 0
	}
	e := runFn(s, v, hi, isValueByte)
	if sc.maskValue(v, e, ki, false) {
		return e
	}
	return 0
}

// userFlag masks the password of a "user:password" argument at v (curl -u,
// --user). Either part may be quoted; with an empty password (-u "token:")
// the user part is the secret.
func (sc *scanner) userFlag(v, hi int) int {
	s := sc.s
	us, ue, next := quotedOrWord(s, v, hi)
	if isMasked(s[us:ue]) {
		return next
	}
	c := bytes.IndexByte(s[us:ue], ':')
	if c < 0 {
		if next < hi && s[next] == ':' && ue > us {
			// kevin:'password'
			ps, pe, pn := quotedOrWord(s, next+1, hi)
			if pe > ps && !isMasked(s[ps:pe]) {
				sc.add(ps, pe, famURL, spanText)
				return pn
			}
		}
		return 0
	}
	ps, pe := us+c+1, ue
	if ps == pe {
		ps, pe = us, us+c // the user part holds the secret
	}
	if pe <= ps || isMasked(s[ps:pe]) {
		return 0
	}
	sc.add(ps, pe, famURL, spanText)
	return next
}

// quotedOrWord returns the quoted string or the bare word at v: its inside
// and where scanning continues.
func quotedOrWord(s []byte, v, hi int) (int, int, int) {
	if v < hi && (s[v] == '"' || s[v] == '\'') {
		if k := bytes.IndexByte(s[v+1:min(hi, v+1+maxQuoted)], s[v]); k >= 0 {
			return v + 1, v + 1 + k, v + k + 2
		}
	}
	if v+1 < hi && s[v] == '\\' && (s[v+1] == '"' || s[v+1] == '\'') {
		// \"user:password\" inside a JSON string
		if k := bytes.Index(s[v+2:min(hi, v+2+maxQuoted)], s[v:v+2]); k >= 0 {
			return v + 2, v + 2 + k, v + k + 4
		}
	}
	e := runFn(s, v, hi, func(c byte) bool { return isValueByte(c) && c != ':' })
	if e < hi && s[e] == ':' {
		e2 := runFn(s, e+1, hi, isValueByte)
		if e2 > e+1 {
			return v, e2, e2
		}
	}
	return v, e, e
}

// url handles the authority of a URL: a starts right after "://". The
// password of userinfo (scheme://user:password@host) is masked; a user name
// that is a token (https://ghp_...@github.com) is masked whole. Scanning
// continues at the host, so that query strings and paths are scanned too.
func (sc *scanner) url(a, hi int) int {
	s := sc.s
	e := a
	at := -1
	for e < hi {
		c := s[e]
		if c == '/' || c == '?' || c == '#' || cls[c]&cTerm != 0 {
			break
		}
		if c == '@' {
			at = e
		}
		e++
	}
	if at < 0 {
		sc.webhook(a, e, hi)
		return a
	}
	if c := bytes.IndexByte(s[a:at], ':'); c >= 0 {
		if ps := a + c + 1; ps < at && !isMasked(s[ps:at]) {
			sc.add(ps, at, valueFamily(s[ps:at], famURL, 0), spanText)
		}
	} else if at > a && !isMasked(s[a:at]) {
		if te, f := matchToken(s, a, at); te == at {
			sc.add(a, at, f, spanText)
		} else if looksRandom(s[a:at]) {
			sc.add(a, at, famURL, spanText)
		}
	}
	sc.webhook(at+1, e, hi)
	return at + 1
}

// webhooks are URLs whose path is the credential: Microsoft Teams
// (*.webhook.office.com/webhookb2/...) and Discord
// (discord.com/api/webhooks/<id>/<token>). Slack's hooks.slack.com is a
// token format (matchToken).
func (sc *scanner) webhook(h, e, hi int) {
	s := sc.s
	host := s[h:e]
	var p int
	switch {
	case bytes.HasSuffix(host, []byte(".webhook.office.com")) && hasPrefixAt(s, e, hi, "/webhookb2/"):
		p = e + len("/webhookb2/")
	case (bytes.Equal(host, []byte("discord.com")) || bytes.Equal(host, []byte("discordapp.com"))) &&
		hasPrefixAt(s, e, hi, "/api/webhooks/"):
		p = e + len("/api/webhooks/")
	default:
		return
	}
	end := runFn(s, p, hi, func(c byte) bool { return isValueByte(c) && c != '?' && c != '#' })
	if end-p >= 20 && !isMasked(s[p:end]) {
		sc.add(p, end, famToken, spanText)
	}
}

// pem masks the body of a PEM private key: s[i:] starts with "-----BEGIN ".
// Public keys and certificates are left alone. When the END marker is not in
// s[i:hi] the rest is masked and, for a text line, the scanner reports the
// block as open so that a Stream masks the lines that follow.
func (sc *scanner) pem(i, hi int) int {
	s := sc.s
	ls := i + 11
	lim := min(hi, ls+80)
	le := bytes.Index(s[ls:lim], []byte("-----"))
	if le < 0 {
		return ls
	}
	label := s[ls : ls+le]
	bodyStart := ls + le + 5
	if !bytes.Contains(label, []byte("PRIVATE KEY")) {
		return bodyStart
	}
	bs := skipLayout(s, bodyStart, hi)
	if k := bytes.Index(s[bodyStart:hi], []byte("-----END")); k >= 0 {
		end := bodyStart + k
		be := trimLayoutRight(s, bs, end)
		if be > bs && !isMasked(s[bs:be]) {
			sc.add(bs, be, famPEM, spanText)
		}
		return end + 8
	}
	be := trimLayoutRight(s, bs, hi)
	if be > bs && !isMasked(s[bs:be]) {
		sc.add(bs, be, famPEM, spanText)
	}
	if sc.topText {
		sc.pemOpen = true
	}
	return hi
}

// trimLayoutRight moves e back over white space and \n, \r, \t escapes.
func trimLayoutRight(s []byte, b, e int) int {
	for e > b {
		switch {
		case cls[s[e-1]]&cSpace != 0:
			e--
		case e-2 >= b && s[e-2] == '\\' && (s[e-1] == 'n' || s[e-1] == 'r' || s[e-1] == 't'):
			e -= 2
		default:
			return e
		}
	}
	return e
}

// digits handles words that start with a digit: card numbers, Telegram bot
// tokens (digits:A...), Facebook app tokens (digits|...), and IPv4 and
// phone numbers when those are switched on.
func (sc *scanner) digits(i, j, lo, hi int) int {
	s := sc.s
	r := run(s, i, hi, cDigit)
	l := r - i
	// Not after '.' (a decimal fraction), '+' (a phone number) or ','
	// (a thousands group).
	if (l >= 13 || (l == 4 && r < hi && (s[r] == ' ' || s[r] == '-'))) && i != sc.noCardAt &&
		(i == lo || (s[i-1] != '.' && s[i-1] != '+' && s[i-1] != ',')) {
		if e := matchCard(s, i, hi); e > 0 {
			sc.add(i, e, famCard, spanText)
			return e
		}
	}
	if r+2 < hi && l >= 5 && l <= 16 {
		switch s[r] {
		case ':':
			if s[r+1] == 'A' {
				if e := runFn(s, r+2, hi, isWordDash); e-r-2 >= 30 && boundaryAfter(s, e, hi) {
					sc.add(i, e, famToken, spanText)
					return e
				}
			}
		case '|':
			if l >= 15 {
				if e := runFn(s, r+1, hi, isWordDash); e-r-1 >= 27 && boundaryAfter(s, e, hi) {
					sc.add(i, e, famToken, spanText)
					return e
				}
			}
		}
	}
	if sc.m.pii&piiIP != 0 && j-i >= 7 {
		if e := sc.ipv4(i, j, lo, hi); e > 0 {
			return e
		}
	}
	if sc.m.pii&piiPhone != 0 && l >= 3 {
		if e := sc.phone(i, lo, hi); e > 0 {
			return e
		}
	}
	return 0
}

// matchWordShape matches token formats recognised by their shape rather
// than a prefix, for words of 35 bytes or more: Terraform Cloud tokens
// (x{14}.atlasv1.x{60,}), Mailchimp keys (hex{32}-usNN) and MaxMind license
// keys (x{6}_x{29}_mmk).
func matchWordShape(s []byte, i, hi int) int {
	if hasPrefixAt(s, i+14, hi, ".atlasv1.") && runFn(s, i, i+14, isAlnum) == i+14 {
		if e := runFn(s, i+23, hi, isTokDot); e-i-23 >= 50 && boundaryAfter(s, e, hi) {
			return e
		}
	}
	if hasPrefixAt(s, i+32, hi, "-us") && runFn(s, i, i+32, isHex) == i+32 {
		if e := run(s, i+35, hi, cDigit); e-i-35 >= 1 && e-i-35 <= 2 && boundaryAfter(s, e, hi) {
			return e
		}
	}
	if hi-i >= 40 && s[i+6] == '_' && hasPrefixAt(s, i+36, hi, "_mmk") && boundaryAfter(s, i+40, hi) &&
		runFn(s, i, i+6, isAlnum) == i+6 && runFn(s, i+7, i+36, isAlnum) == i+36 {
		return i + 40
	}
	return 0
}

// azure matches an Azure AD client secret around the "Q~" at s[i-1:i+1]:
// three bytes, a digit, Q~ and 31 to 34 more.
func (sc *scanner) azure(i, lo, hi int) int {
	s := sc.s
	st := i - 5
	if st < lo || s[i-1] != 'Q' || !isDigit(s[i-2]) {
		return 0
	}
	isAz := func(c byte) bool { return isWord(c) || c == '~' || c == '.' }
	if runFn(s, st, i-2, isAz) != i-2 || (st > lo && isAz(s[st-1])) {
		return 0
	}
	e := runFn(s, i+1, hi, func(c byte) bool { return isAz(c) || c == '-' })
	if n := e - i - 1; n < 31 || n > 34 {
		return 0
	}
	sc.add(st, e, famAzure, spanText)
	return e
}

// awsSecretNear masks an AWS secret access key (40 bytes of base64 with
// both cases and a digit or a slash) within 64 bytes after an access key id:
// logs that print one print the other.
func (sc *scanner) awsSecretNear(e, hi int) {
	s := sc.s
	lim := min(hi, e+64)
	for k := e; k < lim; k++ {
		if !isB64(s[k]) || (k > 0 && isB64(s[k-1])) {
			continue
		}
		t := runFn(s, k, hi, func(c byte) bool { return isAlnum(c) || c == '+' || c == '/' })
		if t-k == 40 && boundaryAfter(s, t, hi) && mixedCase(s[k:t]) && (hasDigit(s[k:t]) || bytes.IndexByte(s[k:t], '/') >= 0) {
			sc.add(k, t, famAWS, spanText)
			return
		}
		k = t
	}
}
