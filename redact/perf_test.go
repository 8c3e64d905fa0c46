package redact

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand"
	"strconv"
	"testing"
)

// The tests of this file check the shortcuts that keep the scan fast
// against the slow paths they stand for.

// TestTokenPrefixes: every prefix literal of the token formats is in
// tokPrefixes, so that the two-byte filter never rejects a token.
func TestTokenPrefixes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "rules.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		switch fn.Name.Name {
		case "matchTokenFormat", "matchS", "matchJWT":
		default:
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			v, err := strconv.Unquote(lit.Value)
			if err != nil || len(v) < 2 {
				return true
			}
			seen++
			if !tokPrefixOK(v[0], v[1]) {
				t.Errorf("token prefix %q is not in tokPrefixes", v)
			}
			return true
		})
	}
	if seen < 100 {
		t.Fatalf("found only %d prefix literals", seen)
	}
	// Discord bot tokens: base64 of a numeric id, any second byte.
	for _, p := range []string{"MT", "Mz", "NT", "ND", "OT", "OD"} {
		if !tokPrefixOK(p[0], p[1]) {
			t.Errorf("%s: Discord prefix rejected", p)
		}
	}
}

// TestTokenGate: on the corpus lines and the rule tests' lines, every token
// matchTokenFormat finds passes the gate of scanText: it is at least
// minTokenLen long, or the first byte in it outside [A-Za-z0-9_.-] is one of
// tokInside.
func TestTokenGate(t *testing.T) {
	var lines [][]byte
	for _, name := range []string{"secrets-dev.jsonl", "benign-dev.jsonl"} {
		for _, r := range loadCorpus(t, name) {
			lines = append(lines, []byte(r.Line))
		}
	}
	for _, c := range ruleCases() {
		lines = append(lines, []byte(c.line))
	}
	found := 0
	for _, s := range lines {
		for i := range s {
			e, f := matchTokenFormat(s, i, len(s))
			if e == 0 || f == famNone {
				continue
			}
			found++
			if e-i < minTokenLen {
				t.Errorf("token %q shorter than minTokenLen", s[i:e])
			}
			j := run(s, i+1, len(s), cKey)
			if j-i < minTokenLen && (j >= len(s) || !tokInside[s[j]]) {
				t.Errorf("token %q not let through by the gate", s[i:e])
			}
		}
	}
	if found < 1000 {
		t.Fatalf("only %d tokens found", found)
	}
}

func TestSWAR(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	alpha := []byte("ab:=>;<\\\"',-~ \x00\x1f\x7f\x80\xff9")
	for n := 0; n < 20000; n++ {
		b := make([]byte, r.Intn(40))
		for k := range b {
			if r.Intn(4) == 0 {
				b[k] = byte(r.Intn(256))
			} else {
				b[k] = alpha[r.Intn(len(alpha))]
			}
		}
		want := bytes.ContainsAny(b, ":;<=>\\")
		if got := mayAssign(b); got != want {
			t.Fatalf("mayAssign(%q) = %v", b, got)
		}
		if len(b) >= 8 {
			x := load64(b, 0)
			var q, lt, rg uint64
			for k := 0; k < 8; k++ {
				bit := uint64(0x80) << (8 * k)
				if b[k] == '"' {
					q |= bit
				}
				if b[k] < 0x20 {
					lt |= bit
				}
				if b[k] >= ':' && b[k] <= '>' {
					rg |= bit
				}
			}
			if got := inRange(x, ':', '>'); got != rg {
				t.Fatalf("inRange(%q) = %x, want %x", b[:8], got, rg)
			}
			// haszero may mark bytes above the first match; the first
			// mark is exact.
			if got := hasbyte(x, '"'); (got == 0) != (q == 0) || (q != 0 && firstMarked(got) != firstMarked(q)) {
				t.Fatalf("hasbyte(%q) = %x, want %x", b[:8], got, q)
			}
			if got := hasless(x, 0x20); (got == 0) != (lt == 0) || (lt != 0 && firstMarked(got) != firstMarked(lt)) {
				t.Fatalf("hasless(%q) = %x, want %x", b[:8], got, lt)
			}
		}
	}
}

// TestKeyCache: cached classifications are the table's, for keys that
// collide, repeat, differ in the middle or are too long to cache.
func TestKeyCache(t *testing.T) {
	tab := newWordTable([]string{"pin"}, []string{"session_token"})
	var kc keyCache
	keys := []string{
		"password", "passw0rd", "db_password", "db_passwordX", "ts", "t", "id", "pin", "PIN", "session_token",
		"aaaaaaaaaaaaaaaaaaaaaaaaaa_token", "aaaaaaaaaaaaaaaaaaaaaaaaaa_tokem", "aaaaaaaaaaaaaaaaaaaaaaaaaaa_token",
		"x_api_key_for_service_abc_token", "x_api_key_for_service_abc_count", "token_count", "tokencount",
		"Authorization", "authorization", "AUTHORIZATION", "a", "b", "ab", "ba", "abc", "acb", "cookie", "cooki3",
	}
	r := rand.New(rand.NewSource(2))
	for n := 0; n < 20000; n++ {
		k := []byte(keys[r.Intn(len(keys))])
		if r.Intn(3) == 0 {
			k = append([]byte(nil), k...)
			k[r.Intn(len(k))] ^= byte(1 << r.Intn(7))
		}
		if got, want := kc.classify(tab, k), tab.classify(k); got != want {
			t.Fatalf("%q: cache says %v, table %v", k, got, want)
		}
	}
}
