package redact

import (
	"encoding/base64"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"

	"github.com/logship/logship/pipeline"
)

// Test tokens are made up at run time from a fixed seed, so that no string
// in the source looks like a live credential to a secret scanner.
var tokRand = rand.New(rand.NewSource(42))

const (
	alnum   = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowhex  = "0123456789abcdef"
	upper32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
)

func rnd(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[tokRand.Intn(len(alphabet))]
	}
	return string(b)
}

// maskStr masks one line with m (unchanged lines come back as they are).
func maskStr(m *Masker, line string) string {
	out, changed := m.AppendLine(nil, []byte(line))
	if !changed {
		return line
	}
	return string(out)
}

type ruleCase struct {
	fam    family
	line   string
	secret string // must not survive
	want   string // exact output, if set
}

func ruleCases() []ruleCase {
	ghp := "ghp_" + rnd(36, alnum)
	akia := "AKIA" + rnd(16, upper32)
	awsSecret := rnd(20, alnum) + "/" + rnd(19, alnum)
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + rnd(43, alnum)
	xoxb := "xoxb-" + rnd(11, "0123456789") + "-" + rnd(11, "0123456789") + "-" + rnd(24, alnum)
	sk := "sk_live_" + rnd(24, alnum)
	aiza := "AIza" + rnd(35, alnum)
	glpat := "glpat-" + rnd(20, alnum)
	pemBody := rnd(64, alnum+"+/")
	return []ruleCase{
		// key: JSON at any depth, text forms, headers, query strings, env dumps
		{famKey, `{"user":"bob","password":"hunter2!x"}`, "hunter2!x", `{"user":"bob","password":"[REDACTED]"}`},
		{famKey, `{"a":{"b":[{"clientSecret":"c5e!x9"}]}}`, "c5e!x9", `{"a":{"b":[{"clientSecret":"[REDACTED]"}]}}`},
		{famKey, `{"credentials":{"user":"u","pass":"p1"},"n":1}`, "p1", `{"credentials":"[REDACTED]","n":1}`},
		{famKey, `{"tokens_left":5,"token":["a1b2c3","d4e5f6"]}`, "a1b2c3", `{"tokens_left":5,"token":"[REDACTED]"}`},
		{famKey, `starting worker secret=ANawgXU% retries=3`, "ANawgXU%", `starting worker secret=[REDACTED] retries=3`},
		{famKey, `db_password: "s3cr3t pass"`, "s3cr3t pass", `db_password: "[REDACTED]"`},
		{famKey, `X-Api-Key: 9f8e7d6c5b4a3928`, "9f8e7d6c5b4a3928", `X-Api-Key: [REDACTED]`},
		{famKey, `GET /export?api_key=SfNZCvHUejET&page=2 HTTP/1.1`, "SfNZCvHUejET", `GET /export?api_key=[REDACTED]&page=2 HTTP/1.1`},
		{famKey, `env: HOME=/root DB_PASSWORD=pa55 PWD=/app`, "pa55", `env: HOME=/root DB_PASSWORD=[REDACTED] PWD=/app`},
		{famKey, `{"msg":"{\"password\":\"x1y2\"}"}`, "x1y2", `{"msg":"{\"password\":\"[REDACTED]\"}"}`},
		{famKey, `var doToken string = "q7w8e9r0t1"`, "q7w8e9r0t1", `var doToken string = "[REDACTED]"`},
		{famKey, `<dbPassword>\n    t0ps3cret\n</dbPassword>`, "t0ps3cret", `<dbPassword>\n    [REDACTED]\n</dbPassword>`},
		{famKey, `System.setProperty("API_TOKEN", "z9y8x7w6")`, "z9y8x7w6", `System.setProperty("API_TOKEN", "[REDACTED]")`},
		{famKey, `{"env":[{"name":"DB_PASSWORD","value":"pw9"}]}`, "pw9", `{"env":[{"name":"DB_PASSWORD","value":"[REDACTED]"}]}`},
		{famKey, `Server=db;User ID=sa;Password=P@ss1;Encrypt=true`, "P@ss1", `Server=db;User ID=sa;Password=[REDACTED];Encrypt=true`},
		{famKey, `{"headers":{"Cookie":"theme=dark; sessionid=abc123"}}`, "abc123", `{"headers":{"Cookie":"[REDACTED]"}}`},
		{famKey, `Set-Cookie: sid=abc123; Path=/; HttpOnly`, "abc123", `Set-Cookie: [REDACTED]`},
		// auth: Authorization headers and free-standing Bearer/Basic
		{famAuth, `Authorization: Bearer ` + rnd(40, alnum), "", ""},
		{famAuth, `proxy auth header="Basic dXNlcjpwYXNzd29yZA=="`, "dXNlcjpwYXNzd29yZA==", `proxy auth header="Basic [REDACTED]"`},
		{famAuth, `{"Authorization":"Token 3f9a1c2b4d5e6f70"}`, "3f9a1c2b4d5e6f70", `{"Authorization":"Token [REDACTED]"}`},
		// url: userinfo, curl -u
		{famURL, `{"dsn":"postgres://app:e7hb05Js!@db:5432/app"}`, "e7hb05Js!", `{"dsn":"postgres://app:[REDACTED]@db:5432/app"}`},
		{famURL, `curl -u elastic:P@ssw0rd$1 https://localhost:9200`, "P@ssw0rd$1", `curl -u elastic:[REDACTED] https://localhost:9200`},
		{famURL, `amqp://guest:gu3st@rabbit:5672/`, "gu3st", `amqp://guest:[REDACTED]@rabbit:5672/`},
		// token formats
		{famGitHub, "clone https://x-access-token:" + ghp + "@github.com/o/r.git", ghp, ""},
		{famGitHub, "token " + ghp + " rejected", ghp, "token [REDACTED] rejected"},
		{famAWS, "key id " + akia + " secret " + awsSecret, awsSecret, "key id [REDACTED] secret [REDACTED]"},
		{famJWT, "session " + jwt + " expired", jwt, "session [REDACTED] expired"},
		{famSlack, `{"msg":"notify via ` + xoxb + `"}`, xoxb, `{"msg":"notify via [REDACTED]"}`},
		{famStripe, "payment client init key=" + sk, sk, "payment client init key=[REDACTED]"},
		{famGCP, "maps client " + aiza, aiza, "maps client [REDACTED]"},
		{famGitLab, "runner " + glpat + ".", glpat, "runner [REDACTED]."},
		{famSlack, "post https://hooks.slack.com/services/T0DCUJB1Q/B0DD08H5G/" + rnd(24, alnum), "hooks.slack.com/services/T0DCUJB1Q", ""},
		{famAzure, "client_id=x tenant=y value " + rnd(3, alnum) + "8Q~" + rnd(34, alnum), "", ""},
		// pem: one line with escaped newlines (a JSON string, a text line)
		{famPEM, `-----BEGIN RSA PRIVATE KEY-----\n` + pemBody + `\n-----END RSA PRIVATE KEY-----`, pemBody,
			`-----BEGIN RSA PRIVATE KEY-----\n[REDACTED]\n-----END RSA PRIVATE KEY-----`},
		{famKey, `{"private_key":"-----BEGIN PRIVATE KEY-----\n` + pemBody + `\n-----END PRIVATE KEY-----\n"}`, pemBody, `{"private_key":"[REDACTED]"}`},
		// card: Luhn-valid, IIN-checked, grouped or not, in JSON numbers too
		{famCard, `charge declined for card 4111 1111 1111 1111`, "4111 1111 1111", `charge declined for card [REDACTED]`},
		{famCard, `card 5555-5555-5555-4444 ok`, "5555-5555-5555", `card [REDACTED] ok`},
		{famCard, `{"amex":378282246310005}`, "378282246310005", `{"amex":"[REDACTED]"}`},
		{famCard, `{"card_number":"4012888888881881","cvv":123}`, "4012888888881881", `{"card_number":"[REDACTED]","cvv":"[REDACTED]"}`},
	}
}

func TestRuleFamilies(t *testing.T) {
	metrics := pipeline.NewMetrics()
	m, err := New(Policy{}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	want := map[family]int{}
	for _, c := range ruleCases() {
		got := maskStr(m, c.line)
		if got == c.line {
			t.Errorf("%s: not masked: %s", c.fam, c.line)
			continue
		}
		if c.secret != "" && strings.Contains(got, c.secret) {
			t.Errorf("%s: secret survives:\n in: %s\nout: %s", c.fam, c.line, got)
		}
		if c.want != "" && got != c.want {
			t.Errorf("%s:\n  in: %s\n got: %s\nwant: %s", c.fam, c.line, got, c.want)
		}
		want[c.fam]++
	}
	for f, n := range want {
		v, ok := metrics.Value(MetricSecrets + `{rule="` + f.String() + `"}`)
		if !ok || int(v) < n {
			t.Errorf("rule %s counted %v, want at least %d", f, v, n)
		}
	}
	if v, _ := metrics.Value(MetricLinesChanged); v == 0 {
		t.Error("lines changed not counted")
	}
}

// TestMetricsRegistered: every family's series exists (as 0) from New on.
func TestMetricsRegistered(t *testing.T) {
	metrics := pipeline.NewMetrics()
	mustNewMetrics(t, metrics)
	for _, f := range Families() {
		if v, ok := metrics.Value(MetricSecrets + `{rule="` + f + `"}`); !ok || v != 0 {
			t.Errorf("rule %s: %v %v", f, v, ok)
		}
	}
	if _, ok := metrics.Value(MetricLinesChanged); !ok {
		t.Error("lines changed not registered")
	}
}

func mustNewMetrics(t *testing.T, metrics *pipeline.Metrics) *Masker {
	m, err := New(Policy{}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUserRules(t *testing.T) {
	m := mustNew(t, Policy{
		ExtraKeys: []string{"pin", "x-acme-sig"},
		Patterns:  []string{`acme_[a-z0-9]{12}`, `order-secret=(\w+)`},
		Allow:     []string{"AKIAIOSFODNN7EXAMPLE"},
		AllowKeys: []string{"session_token"},
		PII:       []string{"email", "ip", "phone"},
	})
	cases := [][2]string{
		{`{"userPin":"4321","x_acme_sig":"abc"}`, `{"userPin":"[REDACTED]","x_acme_sig":"[REDACTED]"}`},
		{`key acme_0a1b2c3d4e5f in text`, `key [REDACTED] in text`},
		{`{"msg":"order-secret=s3cr3t ok"}`, `{"msg":"order-secret=[REDACTED] ok"}`},
		{`aws example key AKIAIOSFODNN7EXAMPLE`, `aws example key AKIAIOSFODNN7EXAMPLE`},
		{`{"session_token":"abc"}`, `{"session_token":"abc"}`},
		{`mail bob.smith@example.com from 10.1.2.3 or fe80::1ff:fe23:4567:890a call +1 415 555 0100`,
			`mail [REDACTED] from [REDACTED] or [REDACTED] call [REDACTED]`},
	}
	for _, c := range cases {
		if got := maskStr(m, c[0]); got != c[1] {
			t.Errorf("\n  in: %s\n got: %s\nwant: %s", c[0], got, c[1])
		}
	}
	// Personal data is opt-in.
	def := mustNew(t, Policy{})
	in := `mail bob@example.com from 10.1.2.3 call +1 415 555 0100`
	if got := maskStr(def, in); got != in {
		t.Errorf("default policy masked personal data: %s", got)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestWholeValueUnderSecretKey: an object or array under a sensitive key
// is replaced whole, at any depth up to the cap. A line that nests deeper,
// or is not valid JSON, is text, where the key=value scan still masks a
// string under the key.
func TestWholeValueUnderSecretKey(t *testing.T) {
	m := mustNew(t, Policy{})
	nest := func(n int, inner string) string {
		return strings.Repeat(`{"a":`, n) + inner + strings.Repeat(`}`, n)
	}
	for _, c := range []struct{ in, want string }{
		{`{"secret":{"k":"v1x9q","n":[1,2,{"z":null}]},"ok":1}`, `{"secret":"[REDACTED]","ok":1}`},
		{`{"secret": [ "a1b2c3" , "d4e5f6" ] }`, `{"secret": "[REDACTED]" }`},
		{`{"secret":{}}`, `{"secret":{}}`},
		// The deepest array the JSON pass takes is at level maxDepth-1
		// (the line's object is level 1).
		{nest(maxDepth-3, `{"secret":[["a1b2c3"]]}`), nest(maxDepth-3, `{"secret":"[REDACTED]"}`)},
	} {
		out, changed := m.AppendLine(nil, []byte(c.in))
		if !changed {
			out = []byte(c.in)
		}
		if string(out) != c.want {
			t.Errorf("%.60s…:\n got %s\nwant %s", c.in, out, c.want)
		}
		if !json.Valid(out) {
			t.Errorf("%.60s…: output is not JSON", c.in)
		}
	}
	// Too deep for the JSON pass, and not JSON: scanned as text, the
	// secret is still masked, and nothing else happens.
	for _, in := range []string{
		nest(maxDepth, `{"secret":"a1b2c3d4"}`),
		`{"secret":"a1b2c3d4",}`,
	} {
		out, changed := m.AppendLine(nil, []byte(in))
		if !changed || strings.Contains(string(out), "a1b2c3d4") {
			t.Errorf("%.60s…: secret kept: %s", in, out)
		}
	}
}
