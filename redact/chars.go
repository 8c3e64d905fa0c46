package redact

// Byte classes, looked up once per byte on the hot path. A table is faster
// than chains of comparisons and keeps the scanners readable.
const (
	cLower    uint16 = 1 << iota // a-z
	cUpper                       // A-Z
	cDigit                       // 0-9
	cUnder                       // _
	cKeyPunct                    // . and -, allowed inside key names and most tokens
	cSpace                       // space, tab, CR, LF, VT, FF
	cTerm                        // ends an unquoted value
	cB64                         // A-Z a-z 0-9 + / =
	cB64URL                      // A-Z a-z 0-9 - _ =
	cHex                         // 0-9 a-f A-F
	cSepStart                    // may follow a key: quote, space, :, =, >, ,, backslash, ?, .
	cLocal                       // e-mail local part: A-Z a-z 0-9 . _ % + -
	cScan                        // a non-word byte the text scan looks at: \ - * ~ @ + ( :

	cAlpha = cLower | cUpper
	cAlnum = cAlpha | cDigit
	cWord  = cAlnum | cUnder   // [A-Za-z0-9_]
	cKey   = cWord | cKeyPunct // [A-Za-z0-9_.-]
)

var cls [256]uint16

func init() {
	for c := 'a'; c <= 'z'; c++ {
		cls[c] |= cLower | cB64 | cB64URL | cLocal
	}
	for c := 'A'; c <= 'Z'; c++ {
		cls[c] |= cUpper | cB64 | cB64URL | cLocal
	}
	for c := '0'; c <= '9'; c++ {
		cls[c] |= cDigit | cB64 | cB64URL | cHex | cLocal
	}
	for _, c := range "abcdefABCDEF" {
		cls[c] |= cHex
	}
	cls['_'] |= cUnder | cB64URL | cLocal
	cls['.'] |= cKeyPunct | cLocal
	cls['-'] |= cKeyPunct | cB64URL | cLocal
	cls['+'] |= cB64 | cLocal
	cls['/'] |= cB64
	cls['='] |= cB64 | cB64URL
	cls['%'] |= cLocal
	for _, c := range " \t\r\n\v\f" {
		cls[c] |= cSpace | cTerm
	}
	for c := 0; c < 0x20; c++ {
		cls[c] |= cTerm
	}
	cls[0x7f] |= cTerm
	for _, c := range "\"'`\\,;&<>(){}[]|" {
		cls[c] |= cTerm
	}
	for _, c := range "\"'\\ \t:=>,?." {
		cls[c] |= cSepStart
	}
	for _, c := range "\\-*~@+(:" {
		cls[c] |= cScan
	}
}

func isWord(c byte) bool  { return cls[c]&cWord != 0 }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isHex(c byte) bool   { return cls[c]&cHex != 0 }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// run returns the end of the run of bytes of class mask starting at i,
// stopping at hi.
func run(s []byte, i, hi int, mask uint16) int {
	if i >= hi {
		return i
	}
	for k, c := range s[i:hi] {
		if cls[c]&mask == 0 {
			return i + k
		}
	}
	return hi
}

// runFn is run with an arbitrary predicate, for the few classes that have no
// bit of their own.
func runFn(s []byte, i, hi int, ok func(byte) bool) int {
	for i < hi && ok(s[i]) {
		i++
	}
	return i
}

// hasPrefixAt reports whether s[i:hi] starts with p.
func hasPrefixAt(s []byte, i, hi int, p string) bool {
	if hi-i < len(p) {
		return false
	}
	return string(s[i:i+len(p)]) == p
}

// hasPrefixFoldAt is hasPrefixAt ignoring ASCII case; p must be lower case.
func hasPrefixFoldAt(s []byte, i, hi int, p string) bool {
	if hi-i < len(p) {
		return false
	}
	for k := 0; k < len(p); k++ {
		if lower(s[i+k]) != p[k] {
			return false
		}
	}
	return true
}

// equalFold reports whether b equals the lower-case string p, ignoring ASCII
// case in b.
func equalFold(b []byte, p string) bool {
	if len(b) != len(p) {
		return false
	}
	for k := range b {
		if lower(b[k]) != p[k] {
			return false
		}
	}
	return true
}

// boundaryBefore reports whether position i starts a word: the previous byte
// (if any, and not below lo) is not [A-Za-z0-9_].
func boundaryBefore(s []byte, lo, i int) bool {
	return i <= lo || !isWord(s[i-1])
}

// boundaryAfter reports whether position i ends a word.
func boundaryAfter(s []byte, i, hi int) bool {
	return i >= hi || !isWord(s[i])
}
