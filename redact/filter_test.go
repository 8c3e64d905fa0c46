package redact

import (
	"bytes"
	"strings"
	"testing"
)

// TestFilter: one output line per input line, in order; a last line without
// a newline stays without one; long lines pass whole.
func TestFilter(t *testing.T) {
	m := mustNew(t, Policy{})
	long := strings.Repeat("a", 3<<20) + " password=hunter2x"
	in := "plain line\n{\"token\":\"abc123def\"}\n\n" + long + "\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----\nlast password=x1"
	var out bytes.Buffer
	if err := m.Filter(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	want := "plain line\n{\"token\":\"[REDACTED]\"}\n\n" + strings.Repeat("a", 3<<20) + " password=[REDACTED]\n-----BEGIN PRIVATE KEY-----\n[REDACTED]\n-----END PRIVATE KEY-----\nlast password=[REDACTED]"
	if out.String() != want {
		t.Errorf("got %q", out.String()[max(0, out.Len()-200):])
	}
}
