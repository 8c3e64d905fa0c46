package benchdata

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The JSON shape must be JSON: a line cut to its length would be parsed
// and masked as text, and the benchmarks would measure the wrong path.
func TestShapes(t *testing.T) {
	for _, secrets := range []bool{true, false} {
		g := New(1)
		for i := range 20000 {
			l := g.JSONLine(secrets)
			if len(l) != JSONLineLen || !json.Valid(l) {
				t.Fatalf("secrets=%v: JSON line %d (%d bytes) is not a %d-byte JSON object: %s", secrets, i, len(l), JSONLineLen, l)
			}
			if got := bytes.Contains(l, []byte(`"password":"hunter2`)); got != secrets {
				t.Fatalf("secrets=%v: line %d has the planted password: %v: %s", secrets, i, got, l)
			}
		}
	}
	g := New(1)
	for i := range 20000 {
		if l := g.TextLine(); len(l) != TextLineLen {
			t.Fatalf("text line %d has %d bytes: %s", i, len(l), l)
		}
	}
}

// TestDeterministic: the same seed gives the same lines, which is what
// lets make bench cache its data files by name.
func TestDeterministic(t *testing.T) {
	a, b := JSONLines(100, true), JSONLines(100, true)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("line %d differs between two runs:\n%s\n%s", i, a[i], b[i])
		}
	}
}
