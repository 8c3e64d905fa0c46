package redact

import (
	"strings"
	"sync"
	"testing"

	"github.com/logship/logship/pipeline"
)

func TestStreamPEM(t *testing.T) {
	m := mustNew(t, Policy{})
	body1, body2 := rnd(64, alnum+"+/"), rnd(40, alnum+"+/")+"=="
	in := []string{
		"2026-11-21T12:27:13Z loading key",
		"-----BEGIN OPENSSH PRIVATE KEY-----",
		body1,
		"  " + body2,
		"-----END OPENSSH PRIVATE KEY-----",
		"after the key " + body1[:10],
		"-----BEGIN RSA PRIVATE KEY-----",
		"Proc-Type: 4,ENCRYPTED",
		"",
		body1,
		"2026-11-21T12:27:14Z INFO the block was cut short",
		"-----BEGIN PUBLIC KEY-----",
		body1,
		"-----END PUBLIC KEY-----",
	}
	want := []string{
		in[0],
		in[1],
		"[REDACTED]",
		"  [REDACTED]",
		in[4],
		in[5],
		in[6],
		"[REDACTED]",
		"",
		"[REDACTED]",
		in[10],
		in[11],
		body1,
		in[13],
	}
	st := m.NewStream()
	for i, l := range in {
		out, changed := st.AppendLine(nil, []byte(l))
		got := l
		if changed {
			got = string(out)
		}
		if got != want[i] {
			t.Errorf("line %d: got %q want %q", i, got, want[i])
		}
	}
	// Without a Stream, each line stands alone: the header line has
	// nothing to mask, the base64 line is not recognised.
	if _, changed := m.AppendLine(nil, []byte(body1)); changed {
		t.Error("a lone base64 line was masked")
	}
}

// recorder is a StreamWriter that keeps copies of what it got.
type recorder struct {
	mu    sync.Mutex
	recs  []pipeline.Record
	lines []string
	flush int
	close int
}

func (r *recorder) Write(rec *pipeline.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *rec
	c.Line = nil
	r.recs = append(r.recs, c)
	r.lines = append(r.lines, string(rec.Line))
	return nil
}
func (r *recorder) Flush() error { r.flush++; return nil }
func (r *recorder) Close() error { r.close++; return nil }

func TestWriter(t *testing.T) {
	m := mustNew(t, Policy{})
	rec := &recorder{}
	w := NewWriter(rec, m)
	body := rnd(64, alnum)
	recs := []pipeline.Record{
		{Time: 1, Source: pipeline.SourceStdout, Line: []byte(`{"msg":"ok","n":1}`)},
		{Time: 2, Source: pipeline.SourceStderr, Line: []byte(`password=hunter2x`), Partial: true},
		{Time: 3, Source: pipeline.SourceStdout, Line: []byte(`-----BEGIN PRIVATE KEY-----`)},
		{Time: 4, Source: pipeline.SourceStderr, Line: []byte(body)}, // other stream: not in a key
		{Time: 5, Source: pipeline.SourceStdout, Line: []byte(body)},
	}
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	w.Close()
	want := []string{`{"msg":"ok","n":1}`, `password=[REDACTED]`, `-----BEGIN PRIVATE KEY-----`, body, `[REDACTED]`}
	for i, l := range want {
		if rec.lines[i] != l {
			t.Errorf("record %d: %q, want %q", i, rec.lines[i], l)
		}
		if rec.recs[i].Time != recs[i].Time || rec.recs[i].Source != recs[i].Source || rec.recs[i].Partial != recs[i].Partial {
			t.Errorf("record %d: metadata changed: %+v", i, rec.recs[i])
		}
	}
	if string(recs[1].Line) != `password=hunter2x` {
		t.Error("the caller's record was modified")
	}
	if rec.flush != 1 || rec.close != 1 {
		t.Errorf("flush %d close %d", rec.flush, rec.close)
	}
	if NewWriter(rec, mustNew(t, Policy{Disabled: true})) != pipeline.StreamWriter(rec) {
		t.Error("a disabled masker still wraps the writer")
	}
}

type nopWriter struct{}

func (nopWriter) Write(*pipeline.Record) error { return nil }
func (nopWriter) Flush() error                 { return nil }
func (nopWriter) Close() error                 { return nil }

func TestWriterAllocs(t *testing.T) {
	w := NewWriter(nopWriter{}, mustNew(t, Policy{}))
	plain := &pipeline.Record{Source: pipeline.SourceStdout, Line: []byte(`{"level":"info","msg":"request handled","status":200}`)}
	secret := &pipeline.Record{Source: pipeline.SourceStdout, Line: []byte(`{"level":"info","token":"abcdef123456"}`)}
	w.Write(secret) // grow the writer's buffer once
	if n := testing.AllocsPerRun(1000, func() { w.Write(plain) }); n != 0 {
		t.Errorf("unchanged record: %v allocs", n)
	}
	if n := testing.AllocsPerRun(1000, func() { w.Write(secret) }); n != 0 {
		t.Errorf("changed record: %v allocs", n)
	}
}

func TestAttrs(t *testing.T) {
	m := mustNew(t, Policy{})
	ghp := "ghp_" + rnd(36, alnum)
	in := map[string]string{
		"DB_PASSWORD":   "hunter2",
		"API_TOKEN":     "abc def ghi",
		"AUTHORIZATION": "Bearer abcdefghijklmnop",
		"GIT_REMOTE":    "https://x:" + ghp + "@github.com/o/r",
		"NOTE":          "uses " + ghp,
		"PWD":           "/app",
		"LANG":          "C.UTF-8",
		"EMPTY_SECRET":  "",
		"service":       "api",
	}
	out := m.Attrs(in)
	want := map[string]string{
		"DB_PASSWORD":   "[REDACTED]",
		"API_TOKEN":     "[REDACTED]",
		"AUTHORIZATION": "Bearer [REDACTED]",
		"GIT_REMOTE":    "https://x:[REDACTED]@github.com/o/r",
		"NOTE":          "uses [REDACTED]",
		"PWD":           "/app",
		"LANG":          "C.UTF-8",
		"EMPTY_SECRET":  "",
		"service":       "api",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s: %q, want %q", k, out[k], v)
		}
	}
	if in["DB_PASSWORD"] != "hunter2" {
		t.Error("input map modified")
	}
	clean := map[string]string{"service": "api", "PWD": "/app"}
	got := m.Attrs(clean)
	got["probe"] = "x" // the same map comes back when nothing changed
	if clean["probe"] != "x" {
		t.Error("Attrs copied a map that needed no change")
	}
}

// TestConcurrent uses one Masker from many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	metrics := pipeline.NewMetrics()
	m, err := New(Policy{Mode: ModeHash, HashKey: []byte("0123456789abcdef")}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	rows := loadCorpus(t, "secrets-dev.jsonl")
	want := make([]string, len(rows))
	for i, r := range rows {
		want[i] = maskStr(m, r.Line)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			st := m.NewStream()
			var buf []byte
			for i := g; i < len(rows); i += 3 {
				out, changed := st.AppendLine(buf[:0], []byte(rows[i].Line))
				got := rows[i].Line
				if changed {
					got = string(out)
					buf = out
				}
				if got != want[i] && !strings.HasPrefix(rows[i].Line, "-----BEGIN") {
					t.Errorf("goroutine %d row %d: %q != %q", g, i, got, want[i])
					return
				}
			}
		}(g)
	}
	wg.Wait()
}
