package redact

import (
	"strings"
	"testing"
	"time"
)

// TestHostileLines: lines built to make a scanner quadratic (many
// near-misses, unbalanced quotes, long runs) are masked in linear time. A
// container must not be able to stall its own log stream.
func TestHostileLines(t *testing.T) {
	const n = 1 << 20
	m := mustNew(t, Policy{PII: []string{"all"}, Patterns: []string{`zz[a-z]+`}})
	lines := map[string]string{
		"ABSK/":     strings.Repeat("ABSK/", n/5),
		"ABSK=":     strings.Repeat("ABSKA", n/5),
		"unclosed":  strings.Repeat(`pw="`, n/4),
		"escaped":   strings.Repeat(`token=\"a `, n/10),
		"ipv6":      strings.Repeat("a:", n/2),
		"email":     strings.Repeat("a@", n/2),
		"digits":    strings.Repeat("4111 ", n/5),
		"url":       strings.Repeat("a://", n/4),
		"pem":       strings.Repeat("-----BEGIN PRIVATE KEY-----", n/27),
		"json":      `{"a":` + strings.Repeat(`{"password":[`, 30) + `1` + strings.Repeat("]}", 30) + `,"b":"` + strings.Repeat("zzab ", n/5) + `"}`,
		"deep":      strings.Repeat("[", n),
		"keys":      strings.Repeat("token:", n/6),
		"userflags": strings.Repeat(`-u '`, n/4),
		"k8s":       "kind: Secret\\n" + strings.Repeat("data:\\n  a: b\\n", n/14),
	}
	for name, l := range lines {
		start := time.Now()
		m.NewStream().AppendLine(nil, []byte(l))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: %v for %d bytes", name, d, len(l))
		} else {
			t.Logf("%s: %v", name, d)
		}
	}
}
