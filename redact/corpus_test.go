package redact

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusRow is one line of testdata/secrets-dev.jsonl or benign-dev.jsonl
// (copies of ../shared/corpus, so that the test runs from a clean clone).
type corpusRow struct {
	Kind   string   `json:"kind"`
	Line   string   `json:"line"`
	Values []string `json:"values"`
}

func loadCorpus(tb testing.TB, name string) []corpusRow {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var rows []corpusRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r corpusRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatal(err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return rows
}

// stringsIn returns the line and, if it is JSON, every string in it: what
// score.py searches for surviving secrets.
func stringsIn(line string) []string {
	out := []string{line}
	var v any
	if json.Unmarshal([]byte(line), &v) != nil {
		return out
	}
	stack := []any{v}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch t := x.(type) {
		case string:
			out = append(out, t)
		case map[string]any:
			for k, e := range t {
				out = append(out, k)
				stack = append(stack, e)
			}
		case []any:
			stack = append(stack, t...)
		}
	}
	return out
}

func leaks(out string, values []string) bool {
	for _, t := range stringsIn(out) {
		for _, v := range values {
			if strings.Contains(t, v) {
				return true
			}
		}
	}
	return false
}

// TestCorpus is score.py as a Go test, with the quality bars of the package:
// recall ≥ 99.5% on secrets-dev and ≥ 99.9% of benign-dev byte-identical.
func TestCorpus(t *testing.T) {
	m := mustNew(t, Policy{})
	secrets := loadCorpus(t, "secrets-dev.jsonl")
	hit := 0
	for _, r := range secrets {
		st := m.NewStream()
		out, _ := st.AppendLine(nil, []byte(r.Line))
		if out == nil {
			out = []byte(r.Line)
		}
		if leaks(string(out), r.Values) {
			t.Logf("missed %s: %s", r.Kind, r.Line)
		} else {
			hit++
		}
	}
	benign := loadCorpus(t, "benign-dev.jsonl")
	same := 0
	for _, r := range benign {
		out, changed := m.AppendLine(nil, []byte(r.Line))
		if !changed {
			same++
		} else {
			t.Logf("changed %s: %s -> %s", r.Kind, r.Line, out)
		}
	}
	recall := float64(hit) / float64(len(secrets))
	unchanged := float64(same) / float64(len(benign))
	t.Logf("recall=%.2f%% (%d/%d) benign_unchanged=%.2f%% (%d/%d)",
		100*recall, hit, len(secrets), 100*unchanged, same, len(benign))
	if recall < 0.995 {
		t.Errorf("recall %.4f < 0.995", recall)
	}
	if unchanged < 0.999 {
		t.Errorf("benign unchanged %.4f < 0.999", unchanged)
	}
}

func mustNew(tb testing.TB, p Policy) *Masker {
	tb.Helper()
	m, err := New(p, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
