package pipeline

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
)

func TestParseSizeCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxParseSize = 1000
	p := NewParser(cfg)
	pad := func(n int) string {
		prefix := `{"request_id":"r1","pad":"`
		return prefix + strings.Repeat("x", n-len(prefix)-2) + `"}`
	}
	at, over := pad(1000), pad(1001)
	if ev := parseLine(p, at); !ev.IsJSON || string(ev.RequestID) != "r1" {
		t.Errorf("line of exactly MaxParseSize: IsJSON = %v, RequestID = %q", ev.IsJSON, ev.RequestID)
	}
	if ev := parseLine(p, over); ev.IsJSON || ev.RequestID != nil || len(ev.Fields) != 0 {
		t.Errorf("line over MaxParseSize: IsJSON = %v, RequestID = %q", ev.IsJSON, ev.RequestID)
	}
}

func TestParseJSONOff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ParseJSON = false
	ev := parseLine(NewParser(cfg), `{"request_id":"abc","msg":"x"}`)
	if ev.IsJSON || len(ev.Fields) != 0 {
		t.Fatalf("IsJSON = %v with parse-json off", ev.IsJSON)
	}
	// The text search still finds a quoted key.
	if string(ev.RequestID) != "abc" {
		t.Errorf("RequestID = %q, want abc", ev.RequestID)
	}
}

func TestParseCopiesRecordAndResets(t *testing.T) {
	p := NewParser(DefaultConfig())
	var ev Event
	rec := Record{Seq: 7, Time: 42, Source: SourceStderr, Partial: true, Line: []byte(`{"request_id":"a\u0062","trace_id":"t"}`)}
	p.Parse(&rec, &ev)
	if ev.Seq != 7 || ev.Time != 42 || ev.Source != SourceStderr || !ev.Partial || &ev.Line[0] != &rec.Line[0] {
		t.Fatalf("record not copied: %+v", ev.Record)
	}
	if !ev.IsJSON || string(ev.RequestID) != "ab" || string(ev.TraceID) != "t" {
		t.Fatalf("first line: IsJSON=%v RequestID=%q TraceID=%q", ev.IsJSON, ev.RequestID, ev.TraceID)
	}
	p.Parse(&Record{Line: []byte("plain text")}, &ev)
	if ev.IsJSON || len(ev.Fields) != 0 || ev.RequestID != nil || ev.TraceID != nil || ev.SpanID != nil || ev.Seq != 0 {
		t.Fatalf("second line kept state of the first: %+v", ev)
	}
}

func TestParseReleasesHugeBuffers(t *testing.T) {
	p := NewParser(DefaultConfig())
	var ev Event
	var b strings.Builder
	b.WriteString(`{"k\u0000":0`)
	for range 4 * maxKeptFields {
		b.WriteString(`,"\u006b":1`)
	}
	b.WriteString("}")
	p.Parse(&Record{Line: []byte(b.String())}, &ev)
	if !ev.IsJSON || len(ev.Fields) != 4*maxKeptFields+1 {
		t.Fatalf("huge line: IsJSON=%v fields=%d", ev.IsJSON, len(ev.Fields))
	}
	p.Parse(&Record{Line: []byte(`{"a":1}`)}, &ev)
	if cap(ev.Fields) > maxKeptFields {
		t.Errorf("cap(Fields) = %d after a small line, want <= %d", cap(ev.Fields), maxKeptFields)
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	p := NewParser(DefaultConfig())
	lines := [][]byte{[]byte(benchJSONLine), []byte(benchTextLine), []byte(`{"k\u0065y":"v","http":{"request\u005fid":"a\u0062c"}}`), []byte(`{"broken":`)}
	var ev Event
	for _, line := range lines { // grow the buffers
		p.Parse(&Record{Line: line}, &ev)
	}
	for _, line := range lines {
		rec := Record{Line: line}
		if n := testing.AllocsPerRun(100, func() { p.Parse(&rec, &ev) }); n != 0 {
			t.Errorf("%q: %v allocs per Parse, want 0", line, n)
		}
	}
}

// TestCorpus runs the parser over the benign corpus: every JSON object line
// is parsed as JSON, the request and trace ids it carries are promoted, and
// nothing is promoted from lines without them.
func TestCorpus(t *testing.T) {
	rows, err := readCorpus(benignCorpus)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("corpus %s not present", benignCorpus)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := NewParser(DefaultConfig())
	var ev Event
	for _, r := range rows {
		line := []byte(r.Line)
		p.Parse(&Record{Line: line}, &ev)
		if want := json.Valid(line) && line[0] == '{'; ev.IsJSON != want {
			t.Errorf("%s %q: IsJSON = %v", r.Kind, line, ev.IsJSON)
		}
		var m map[string]any
		_ = json.Unmarshal(line, &m)
		str := func(k string) string { s, _ := m[k].(string); return s }
		var want ids
		switch r.Kind {
		case "uuid-request-id":
			want.req = str("request_id")
		case "trace-ids":
			want.trace, want.span = str("trace_id"), str("span_id")
		}
		if got := (ids{string(ev.RequestID), string(ev.TraceID), string(ev.SpanID)}); got != want {
			t.Errorf("%s %q:\n got %+v\nwant %+v", r.Kind, line, got, want)
		}
	}
}

// A 300-byte JSON line with 12 fields, and a 130-byte text line: typical of
// the access logs logship sees most.
const (
	benchJSONLine = `{"ts":"2026-11-20T08:36:33.407Z","level":"info","logger":"http","msg":"request handled","method":"GET",` +
		`"path":"/api/v1/orders/31482?expand=items","status":200,"duration_ms":759,"bytes":5123,"remote_addr":"10.1.2.3:54321",` +
		`"user_agent":"curl/8.5.0","request_id":"90f26b82-fe91-5329-1785-7e0831e5554e"}`
	benchTextLine = `2026-11-20T08:36:33.407Z INFO http: GET /api/v1/orders/31482 200 759ms up=ok ` +
		`bytes=5123 request_id=90f26b82-fe91-5329-1785-7e0831e`
)

func benchParse(b *testing.B, lines [][]byte) {
	p := NewParser(DefaultConfig())
	var ev Event
	total := 0
	for _, l := range lines {
		total += len(l)
	}
	b.SetBytes(int64(total / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rec := Record{Line: lines[i%len(lines)]}
		p.Parse(&rec, &ev)
	}
}

func BenchmarkParse(b *testing.B) {
	if len(benchJSONLine) < 290 || len(benchJSONLine) > 310 || len(benchTextLine) != 130 {
		b.Fatalf("bench lines are %d and %d bytes", len(benchJSONLine), len(benchTextLine))
	}
	b.Run("json300", func(b *testing.B) { benchParse(b, [][]byte{[]byte(benchJSONLine)}) })
	b.Run("text130", func(b *testing.B) { benchParse(b, [][]byte{[]byte(benchTextLine)}) })
	b.Run("corpus", func(b *testing.B) {
		lines := corpusLines(b, benignCorpus)
		benchParse(b, lines)
	})
}

// benignCorpus holds log lines without secrets; it lives outside the repo.
const benignCorpus = "../../shared/corpus/benign-dev.jsonl"

// corpusLines returns the lines of a corpus file, skipping the test or
// benchmark if the file is absent.
func corpusLines(tb testing.TB, path string) [][]byte {
	tb.Helper()
	rows, err := readCorpus(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(rows) == 0 {
		tb.Skipf("corpus %s not present", path)
	}
	if err != nil {
		tb.Fatal(err)
	}
	lines := make([][]byte, len(rows))
	for i, r := range rows {
		lines[i] = []byte(r.Line)
	}
	return lines
}

type corpusRow struct{ Kind, Line string }

// readCorpus returns the rows of a corpus file.
func readCorpus(path string) ([]corpusRow, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var rows []corpusRow
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row corpusRow
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rows = append(rows, row)
	}
	return rows, sc.Err()
}
