package main

import (
	"encoding/json"
	"testing"
)

// The JSON shape must be JSON: a line cut to its length would be parsed
// and masked as text, and the benchmark would measure the wrong path.
func TestShapes(t *testing.T) {
	g := newGen(1)
	for i := range 20000 {
		l := g.jsonLine()
		if len(l) != jsonLineLen || !json.Valid(l) {
			t.Fatalf("JSON line %d (%d bytes) is not a %d-byte JSON object: %s", i, len(l), jsonLineLen, l)
		}
	}
	for i := range 20000 {
		if l := g.textLine(); len(l) != textLineLen {
			t.Fatalf("text line %d has %d bytes: %s", i, len(l), l)
		}
	}
}
