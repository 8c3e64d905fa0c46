package redact

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestPartialMode(t *testing.T) {
	m := mustNew(t, Policy{Mode: ModePartial})
	cases := [][2]string{
		{`{"api_key":"abcdefghijklmnop1234"}`, `{"api_key":"****1234"}`},
		{`{"password":"s3cr3t"}`, `{"password":"****"}`},
		{`card 4111 1111 1111 1111 declined`, `card ****1111 declined`},
		{`{"credentials":{"user":"u","password":"abcdefghijklmnop"}}`, `{"credentials":"****"}`},
		{`{"amex":378282246310005}`, `{"amex":"****0005"}`},
		{`{"password":"ab\"cdefghijklm\u00e9"}`, `{"password":"****"}`}, // tail is an escape: not kept
		{`Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123`, `Authorization: Bearer ****0123`},
	}
	for _, c := range cases {
		if got := maskStr(m, c[0]); got != c[1] {
			t.Errorf("\n  in: %s\n got: %s\nwant: %s", c[0], got, c[1])
		}
	}
}

func TestHashMode(t *testing.T) {
	key := []byte("0123456789abcdef-test-key")
	m := mustNew(t, Policy{Mode: ModeHash, HashKey: key})
	a := maskStr(m, `{"password":"hunter2hunter2"}`)
	b := maskStr(m, `password=hunter2hunter2 user=bob`)
	c := maskStr(m, `{"password":"hunter3hunter3"}`)
	re := regexp.MustCompile(`\[hmac-[0-9a-f]{12}\]`)
	ta, tb, tc := re.FindString(a), re.FindString(b), re.FindString(c)
	if ta == "" || ta != tb {
		t.Errorf("equal secrets, different tags: %s / %s", a, b)
	}
	if tc == "" || tc == ta {
		t.Errorf("different secrets, same tag: %s / %s", a, c)
	}
	if strings.Contains(a, "hunter2") || !json.Valid([]byte(a)) {
		t.Errorf("bad output %s", a)
	}
	// JSON escapes are hashed as the text they stand for.
	if d := re.FindString(maskStr(m, `{"password":"hunter2\u0068unter2"}`)); d != ta {
		t.Errorf("escaped secret tagged %s, want %s", d, ta)
	}
	// Another key gives other tags.
	m2 := mustNew(t, Policy{Mode: ModeHash, HashKey: []byte("another-key-0123456789")})
	if re.FindString(maskStr(m2, `{"password":"hunter2hunter2"}`)) == ta {
		t.Error("tag does not depend on the key")
	}
	// Masked output is stable.
	if again := maskStr(m, a); again != a {
		t.Errorf("not idempotent: %s -> %s", a, again)
	}
}

// TestJSONStaysValid masks every JSON line of the corpus in every mode and
// checks the output parses.
func TestJSONStaysValid(t *testing.T) {
	rows := append(loadCorpus(t, "secrets-dev.jsonl"), loadCorpus(t, "benign-dev.jsonl")...)
	for _, m := range fuzzMaskers(t) {
		for _, r := range rows {
			if !json.Valid([]byte(r.Line)) {
				continue
			}
			out := maskStr(m, r.Line)
			if !json.Valid([]byte(out)) {
				t.Errorf("mode %s: invalid JSON out:\n in: %s\nout: %s", m.mode, r.Line, out)
			}
			if again := maskStr(m, out); again != out {
				t.Errorf("mode %s: not idempotent:\n in: %s\nout: %s\n 2x: %s", m.mode, r.Line, out, again)
			}
		}
	}
}
