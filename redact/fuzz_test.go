package redact

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	`{"ts":"2026-11-21T12:27:13.064Z","level":"debug","msg":"login","access_token":"yT7g%BCK!BQ4jGyul4-"}`,
	`{"config":{"db":{"password":"x","nested":[1,{"token":"abc"}]}},"headers":{"Authorization":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop"}}`,
	`2026-11-12T00:28:55.681Z DEBUG header Authorization: Bearer JtG7A2oOFmJwbbY6fREI8zOQcrKSUZZgCiBspsRp`,
	`env dump: AWS_SECRET_ACCESS_KEY=V6Hh6MlwcV9fXfThDaWq/Ynx14IVBKYrv/MD1fgn HOME=/root`,
	`{"msg":"{\"config.ini\": \"ASANA_TOKEN=varfz9om58ujdwauu17sspmb7fkf2sls\\nBACKUP_ENABLED=true\"}"}`,
	`-----BEGIN RSA PRIVATE KEY-----\nMIIEabc+/=\n-----END RSA PRIVATE KEY-----`,
	`{"msg":"charge declined for card 4502-4326-3352-9557","amount":394,"n":4111111111111111}`,
	`postgres://u:p%40ss@db:5432/app?sslmode=require&password=x`,
	`{"msg":"\u003cgcpToken\u003e\n    AIzaUaQML8jQQmmEvNM29LQthu3QIPTlGI-I7U6\n\u003c/gcpToken\u003e","é":"ü"}`,
	`curl -u "user:pa:ss" --user x:'y' -H 'Cookie: a=b; sid=c'`,
	`[{"name":"DB_PASSWORD","value":"hunter2"},{"value":"v","name":"API_TOKEN"}]`,
	`{"a":"\\","b":"\"password=x\"","c":"\ud83d\ude00 token=abc"}`,
	`kind: Secret\ndata:\n  key: bXlwYXNzd29yZA==\n`,
	`password: required token=[REDACTED] secret=****abcd key=[hmac-0123456789ab]`,
	"x\xff\xfe token=\xff",
}

func fuzzMaskers(t testing.TB) []*Masker {
	return []*Masker{
		mustNew(t, Policy{}),
		mustNew(t, Policy{Mode: ModePartial, PII: []string{"all"}}),
		mustNew(t, Policy{Mode: ModeHash, HashKey: []byte("0123456789abcdef0123"), Patterns: []string{`acme_[a-z0-9]{8}`, `pin=(\d{4})`}}),
	}
}

// FuzzMask checks the guarantees on any input: no panic, valid UTF-8 and
// valid JSON stay valid, no line break is added (a private key body that
// spans real line breaks is masked whole), and masking is idempotent.
// Run it longer with: go test ./redact -run '^$' -fuzz FuzzMask -fuzztime 10m
func FuzzMask(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	ms := fuzzMaskers(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, m := range ms {
			out := maskOnce(m, line)
			if utf8.Valid(line) && !utf8.Valid(out) {
				t.Fatalf("mode %s: valid UTF-8 in, invalid out:\n in: %q\nout: %q", m.mode, line, out)
			}
			if json.Valid(line) && !json.Valid(out) {
				t.Fatalf("mode %s: valid JSON in, invalid out:\n in: %q\nout: %q", m.mode, line, out)
			}
			if bytes.Count(out, []byte("\n")) > bytes.Count(line, []byte("\n")) {
				t.Fatalf("mode %s: line break added:\n in: %q\nout: %q", m.mode, line, out)
			}
			// Idempotent, unless masking turned invalid JSON into
			// valid JSON ("\0" masked away): the second pass then
			// reads the line as JSON, which has rules text has not.
			if json.Valid(line) != json.Valid(out) {
				continue
			}
			if again := maskOnce(m, out); !bytes.Equal(again, out) {
				t.Fatalf("mode %s: not idempotent:\n  in: %q\n out: %q\nout2: %q", m.mode, line, out, again)
			}
		}
	})
}

func maskOnce(m *Masker, line []byte) []byte {
	out, changed := m.AppendLine(nil, line)
	if !changed {
		return line
	}
	return out
}
