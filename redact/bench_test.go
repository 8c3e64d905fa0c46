package redact

import (
	"testing"

	"github.com/logship/logship/test/benchdata"
)

// The benchmarks run the masker over the corpus lines, one line per
// iteration, with a reused output buffer as the plugin does. Lines per
// second per core = 1e9 / ns/op; run with -cpu 1:
//
//	go test ./redact -run '^$' -bench . -cpu 1 -benchtime 2s
func benchCorpus(b *testing.B, name string) {
	rows := loadCorpus(b, name)
	lines := make([][]byte, len(rows))
	total := 0
	for i, r := range rows {
		lines[i] = []byte(r.Line)
		total += len(r.Line)
	}
	m := mustNew(b, Policy{})
	st := m.NewStream()
	buf := make([]byte, 0, 64<<10)
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, changed := st.AppendLine(buf[:0], lines[i%len(lines)])
		if changed {
			buf = out[:0]
		}
	}
}

func BenchmarkBenign(b *testing.B)  { benchCorpus(b, "benign-dev.jsonl") }
func BenchmarkSecrets(b *testing.B) { benchCorpus(b, "secrets-dev.jsonl") }

// The cost of user patterns (redact-patterns) on lines they do not match:
// one with a literal prefix is gated by a substring search; one without runs
// the regexp on every line (text) or string (JSON).
func benchPatterns(b *testing.B, pattern string) {
	rows := loadCorpus(b, "benign-dev.jsonl")
	lines := make([][]byte, len(rows))
	for i, r := range rows {
		lines[i] = []byte(r.Line)
	}
	m := mustNew(b, Policy{Patterns: []string{pattern}})
	st := m.NewStream()
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, changed := st.AppendLine(buf[:0], lines[i%len(lines)])
		if changed {
			buf = out[:0]
		}
	}
}

func BenchmarkBenignPatternPrefixed(b *testing.B) { benchPatterns(b, `acme_live_[A-Za-z0-9]{24}`) }
func BenchmarkBenignPatternNoPrefix(b *testing.B) { benchPatterns(b, `[A-Z]{3}-\d{6}-[A-Z]{3}`) }

// BenchmarkNew is the cost of building a Masker (once per policy).
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := New(Policy{ExtraKeys: []string{"pin"}}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBenchJSON runs the masker over the JSON lines of `make bench`
// (test/benchdata, the same generator and seed): 300 bytes, each with a
// bearer JWT inside msg, a password field and an AWS access key id, and
// key=value filler text inside a string. BenchmarkBenchJSONClean is the
// same shape with the secrets replaced by ordinary values of the same
// lengths: the cost of a line that needs no change.
func BenchmarkBenchJSON(b *testing.B)      { benchLines(b, benchdata.JSONLines(1000, true)) }
func BenchmarkBenchJSONClean(b *testing.B) { benchLines(b, benchdata.JSONLines(1000, false)) }

func benchLines(b *testing.B, lines [][]byte) {
	m := mustNew(b, Policy{})
	st := m.NewStream()
	buf := make([]byte, 0, 64<<10)
	b.SetBytes(int64(len(lines[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, changed := st.AppendLine(buf[:0], lines[i%len(lines)])
		if changed {
			buf = out[:0]
		}
	}
}
