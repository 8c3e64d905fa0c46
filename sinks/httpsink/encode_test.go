package httpsink

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// t0 is 2026-11-27T05:41:00.123456789Z.
var t0 = time.Date(2026, 11, 27, 5, 41, 0, 123456789, time.UTC).UnixNano()

func testMeta() *pipeline.Meta {
	return &pipeline.Meta{
		ContainerID:   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		ContainerName: "web",
		ImageName:     "nginx:1.27",
		ImageID:       "sha256:feed",
		Tag:           "web/0123456789ab",
		Attrs:         map[string]string{"env": "prod", "com.docker.compose.service": "api"},
	}
}

// rec describes one record of a test batch.
type rec struct {
	line    string
	src     pipeline.Source
	dt      time.Duration // after t0
	partial bool
}

// batchOf parses records as the delivery wrapper does (JSON parsing and id
// promotion with the default pipeline config).
func batchOf(meta *pipeline.Meta, recs ...rec) *sinks.Batch {
	p := pipeline.NewParser(pipeline.DefaultConfig())
	evs := make([]pipeline.Event, len(recs))
	for i, r := range recs {
		src := r.src
		if src == 0 {
			src = pipeline.SourceStdout
		}
		pr := pipeline.Record{Seq: uint64(i + 1), Time: t0 + int64(r.dt), Source: src, Partial: r.partial, Line: []byte(r.line)}
		p.Parse(&pr, &evs[i])
	}
	return &sinks.Batch{Meta: meta, Events: evs}
}

func lines(ls ...string) []rec {
	rs := make([]rec, len(ls))
	for i, l := range ls {
		rs[i] = rec{line: l, dt: time.Duration(i) * time.Millisecond}
	}
	return rs
}

func encodeFor(t *testing.T, c Config, b *sinks.Batch) string {
	t.Helper()
	e := new(encoder)
	return string(e.encode(newCodec(&c, "host-1"), b))
}

func cfgFor(f Format) Config {
	c := DefaultConfig()
	c.URL = "http://127.0.0.1:1/x"
	c.Format = f
	return c
}

const metaNDJSON = `"container_id":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","container_name":"web","image":"nginx:1.27","tag":"web/0123456789ab","com.docker.compose.service":"api","env":"prod"`

func TestEncodeNDJSON(t *testing.T) {
	b := batchOf(testMeta(),
		rec{line: "plain text request_id=r-1 done"},
		rec{line: `{"level":"info","msg":"hi","n":1.5e3,"obj":{"a":[1,{"b":null}]},"ok":true}`, src: pipeline.SourceStderr, dt: time.Millisecond},
		rec{line: "cut", dt: 2 * time.Millisecond, partial: true},
	)
	got := encodeFor(t, cfgFor(FormatNDJSON), b)
	want := `{"time":"2026-11-27T05:41:00.123456789Z","log":"plain text request_id=r-1 done","source":"stdout","request_id":"r-1",` + metaNDJSON + "}\n" +
		`{"time":"2026-11-27T05:41:00.124456789Z","log":"{\"level\":\"info\",\"msg\":\"hi\",\"n\":1.5e3,\"obj\":{\"a\":[1,{\"b\":null}]},\"ok\":true}","source":"stderr",` + metaNDJSON + `,"level":"info","msg":"hi","n":1.5e3,"obj":{"a":[1,{"b":null}]},"ok":true}` + "\n" +
		`{"time":"2026-11-27T05:41:00.125456789Z","log":"cut","source":"stdout","partial":true,` + metaNDJSON + "}\n"
	if got != want {
		t.Errorf("ndjson:\n got %s\nwant %s", got, want)
	}
	for i, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("line %d is not JSON: %s", i, l)
		}
	}
}

// TestEncodeCollisions pins the collision rule: logship's members, then
// attributes, win; a line field with a taken key, an empty key, or a key
// repeated in the line (after the first) is left out; the line keeps all.
func TestEncodeCollisions(t *testing.T) {
	line := `{"time":"yesterday","log":"x","source":"app","env":"dev","":1,"a":1,"a":2,"request_id":{"nested":true},"tag":"t","_id":"9"}`
	b := batchOf(testMeta(), rec{line: line})
	got := encodeFor(t, cfgFor(FormatNDJSON), b)
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	want := map[string]any{
		"time": "2026-11-27T05:41:00.123456789Z", "log": line, "source": "stdout",
		"container_id": testMeta().ContainerID, "container_name": "web", "image": "nginx:1.27",
		"tag": "web/0123456789ab", "env": "prod", "com.docker.compose.service": "api",
		"a": float64(1), "_id": "9",
	}
	if len(m) != len(want) {
		t.Errorf("members: got %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%q = %#v, want %#v", k, m[k], v)
		}
	}
	if strings.Count(got, `"a":`) != 1 {
		t.Errorf("duplicate key a written twice: %s", got)
	}

	// Elasticsearch: @timestamp/message, and _-prefixed keys are dropped
	// (it refuses documents with metadata fields such as _id).
	got = encodeFor(t, cfgFor(FormatElasticsearch), b)
	doc := strings.Split(got, "\n")[1]
	m = nil
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	if _, ok := m["_id"]; ok {
		t.Errorf("ES doc has _id: %s", doc)
	}
	if m["time"] != "yesterday" || m["log"] != "x" || m["message"] != line || m["@timestamp"] != "2026-11-27T05:41:00.123456789Z" {
		t.Errorf("ES doc: %s", doc)
	}
}

// TestEncodeManyFields covers the map path of duplicate detection.
func TestEncodeManyFields(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 40 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`"k` + string(rune('a'+i%20)) + `":` + string(rune('0'+i%10)))
	}
	sb.WriteString("}")
	b := batchOf(&pipeline.Meta{ContainerName: "c"}, rec{line: sb.String()}, rec{line: sb.String()})
	got := encodeFor(t, cfgFor(FormatNDJSON), b)
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			k := "k" + string(rune('a'+i))
			if m[k] != float64(i%10) || strings.Count(l, `"`+k+`":`) != 1 {
				t.Errorf("%s = %v (first wins, once): %s", k, m[k], l)
			}
		}
	}
}

func TestEncodeJSONArray(t *testing.T) {
	b := batchOf(&pipeline.Meta{ContainerName: "db"}, lines("a", "b")...)
	got := encodeFor(t, cfgFor(FormatJSON), b)
	want := `[{"time":"2026-11-27T05:41:00.123456789Z","log":"a","source":"stdout","container_name":"db"},` +
		`{"time":"2026-11-27T05:41:00.124456789Z","log":"b","source":"stdout","container_name":"db"}]`
	if got != want {
		t.Errorf("json:\n got %s\nwant %s", got, want)
	}
}

func TestEncodeElasticsearch(t *testing.T) {
	c := cfgFor(FormatElasticsearch)
	c.ESIndex = "logs-app-prod"
	b := batchOf(&pipeline.Meta{ContainerName: "db"}, lines("a", `{"msg":"b","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`)...)
	got := encodeFor(t, c, b)
	want := `{"create":{"_index":"logs-app-prod"}}` + "\n" +
		`{"@timestamp":"2026-11-27T05:41:00.123456789Z","message":"a","source":"stdout","container_name":"db"}` + "\n" +
		`{"create":{"_index":"logs-app-prod"}}` + "\n" +
		`{"@timestamp":"2026-11-27T05:41:00.124456789Z","message":"{\"msg\":\"b\",\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}","source":"stdout","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","container_name":"db","msg":"b"}` + "\n"
	if got != want {
		t.Errorf("elasticsearch:\n got %s\nwant %s", got, want)
	}
}

func TestEncodeSplunk(t *testing.T) {
	c := cfgFor(FormatSplunkHEC)
	c.SplunkSourcetype = "docker:json"
	c.SplunkIndex = "main"
	b := batchOf(&pipeline.Meta{ContainerName: "db", Tag: "t"}, lines("a", `{"x":"y"}`)...)
	got := encodeFor(t, c, b)
	want := `{"time":1795758060.123456,"host":"host-1","source":"db","sourcetype":"docker:json","index":"main","event":{"log":"a","source":"stdout","container_name":"db","tag":"t"}}` +
		`{"time":1795758060.124456,"host":"host-1","source":"db","sourcetype":"docker:json","index":"main","event":{"log":"{\"x\":\"y\"}","source":"stdout","container_name":"db","tag":"t","x":"y"}}`
	if got != want {
		t.Errorf("splunk-hec:\n got %s\nwant %s", got, want)
	}
	// Concatenated objects, each valid.
	dec := json.NewDecoder(strings.NewReader(got))
	n := 0
	for dec.More() {
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("%d objects", n)
	}
}

func TestEncodeLoki(t *testing.T) {
	c := cfgFor(FormatLoki)
	c.LokiLabels = []string{"container_name", "source", "com.docker.compose.service", "missing"}
	b := batchOf(testMeta(),
		rec{line: "out 1 request_id=r1"},
		rec{line: "err 1", src: pipeline.SourceStderr, dt: 1},
		rec{line: `{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}`, dt: 2},
	)
	got := encodeFor(t, c, b)
	ns := func(d int64) string { return `"` + itoa(t0+d) + `"` }
	want := `{"streams":[` +
		`{"stream":{"container_name":"web","source":"stdout","com_docker_compose_service":"api"},"values":[` +
		`[` + ns(0) + `,"out 1 request_id=r1",{"request_id":"r1"}],` +
		`[` + ns(2) + `,"{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\"}",{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}]]},` +
		`{"stream":{"container_name":"web","source":"stderr","com_docker_compose_service":"api"},"values":[` +
		`[` + ns(1) + `,"err 1"]]}]}`
	if got != want {
		t.Errorf("loki:\n got %s\nwant %s", got, want)
	}

	// Without source as a label, one stream; with no label value at all,
	// job="logship".
	c.LokiLabels = []string{"image"}
	got = encodeFor(t, c, batchOf(&pipeline.Meta{}, rec{line: "a"}, rec{line: "b", src: pipeline.SourceStderr}))
	want = `{"streams":[{"stream":{"job":"logship"},"values":[[` + ns(0) + `,"a"],[` + ns(0) + `,"b"]]}]}`
	if got != want {
		t.Errorf("loki, no labels:\n got %s\nwant %s", got, want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestEncodeInvalidUTF8 feeds every format lines with invalid UTF-8,
// control characters and NUL bytes, in text and in JSON values, and
// checks that each body is valid JSON whose strings are valid UTF-8.
func TestEncodeInvalidUTF8(t *testing.T) {
	bad := []string{
		"bad \xff\xfe byte",
		"ctl \x00\x01\x1f\x7f \t tab \r cr \\ back \" quote",
		"truncated \xe2\x82",
		"surrogate \xed\xa0\x80 overlong \xc0\xaf max \xf4\x90\x80\x80",
		"{\"k\xff\":\"v\xfe\",\"ok\":\"\\u0000\\ud800\"}",
		"{\"a\":{\"b\":\"\xe2\x28\xa1\"}\r}",
		"\u2028\u2029 emoji \U0001F600",
		"",
	}
	var rs []rec
	for _, l := range bad {
		rs = append(rs, rec{line: l})
	}
	meta := &pipeline.Meta{ContainerName: "n\xffame", Attrs: map[string]string{"k\x01": "v\xc3"}}
	for _, f := range formats {
		c := cfgFor(Format(f))
		c.LokiLabels = []string{"container_name", "k\x01"}
		body := encodeFor(t, c, batchOf(meta, rs...))
		if !utf8Valid(body) {
			t.Errorf("%s: body is not valid UTF-8: %q", f, body)
		}
		var docs []string
		switch Format(f) {
		case FormatNDJSON, FormatElasticsearch:
			docs = strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		default:
			dec := json.NewDecoder(strings.NewReader(body))
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					t.Fatalf("%s: %v\n%q", f, err, body)
				}
				docs = append(docs, string(raw))
			}
		}
		for _, d := range docs {
			if !json.Valid([]byte(d)) {
				t.Errorf("%s: not JSON: %q", f, d)
			}
		}
		if Format(f) == FormatNDJSON {
			var m map[string]any
			_ = json.Unmarshal([]byte(docs[0]), &m)
			if m["log"] != "bad \uFFFD\uFFFD byte" {
				t.Errorf("invalid bytes became %q", m["log"])
			}
			_ = json.Unmarshal([]byte(docs[1]), &m)
			if m["log"] != bad[1] {
				t.Errorf("control characters: got %q want %q", m["log"], bad[1])
			}
		}
	}
}

func utf8Valid(s string) bool {
	return bytes.Equal([]byte(strings.ToValidUTF8(s, "\uFFFD")), []byte(s))
}
