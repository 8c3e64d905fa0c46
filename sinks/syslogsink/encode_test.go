package syslogsink

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// goldenBatch exercises every part of the wire format: both streams, JSON
// with promoted ids, SD escaping in attribute keys and values, an empty
// line, a multi-line partial record and UTF-8.
func goldenBatch() *sinks.Batch {
	meta := *testMeta
	meta.Attrs = map[string]string{
		"com.example.team": "core",
		"env":              "prod",
		`we ird=]"key`:     `va"l\ue]`,
		"a-key-that-is-much-longer-than-thirty-two-bytes": "x",
	}
	e1 := ev(pipeline.SourceStdout, t0, `{"level":"info","msg":"GET /health","request_id":"req-1"}`)
	e1.IsJSON = true
	e1.RequestID = []byte("req-1")
	e1.TraceID = []byte("4bf92f3577b34da6a3ce929d0e0e4736")
	e1.SpanID = []byte(`00f0"67aa]0ba902b7`)
	e2 := ev(pipeline.SourceStderr, t0+int64(time.Second)+1000, "panic: boom")
	e3 := ev(pipeline.SourceStdout, t0+int64(time.Second)+999_999_999, "")
	e4 := ev(pipeline.SourceStderr, t0+int64(2*time.Second), "line one\nline two")
	e4.Partial = true
	e5 := ev(pipeline.SourceStdout, t0+int64(48*time.Hour), "héllo wörld ✓")
	return &sinks.Batch{Meta: &meta, Events: []pipeline.Event{e1, e2, e3, e4, e5}}
}

func encodeFor(f Format, framing Framing, datagram bool) *encoder {
	w := wire{facility: 16, format: f, framing: framing, datagram: datagram, maxDgram: 65507, hostname: "host1"}
	e := new(encoder)
	e.encode(&w, goldenBatch())
	return e
}

func TestGolden(t *testing.T) {
	for _, f := range []Format{FormatRFC5424, FormatRFC5424Micro, FormatRFC3164} {
		for _, fr := range []Framing{FramingOctetCounted, FramingNewline} {
			name := fmt.Sprintf("%s-%s", f, fr)
			t.Run(name, func(t *testing.T) {
				got := encodeFor(f, fr, false).buf
				path := filepath.Join("testdata", name+".golden")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("encoding differs from %s:\n got: %q\nwant: %q", path, got, want)
				}
			})
		}
	}
}

// TestEncode5424Fields parses the output back and checks each field, so
// the golden files are not the only thing standing between a change and
// the receivers.
func TestEncode5424Fields(t *testing.T) {
	b := goldenBatch()
	for _, tc := range []struct {
		f  Format
		ts []string
	}{
		{FormatRFC5424, []string{"2026-11-27T05:41:00Z", "2026-11-27T05:41:01Z", "2026-11-27T05:41:02Z", "2026-11-27T05:41:02Z", "2026-11-29T05:41:00Z"}},
		{FormatRFC5424Micro, []string{"2026-11-27T05:41:00.123456Z", "2026-11-27T05:41:01.123457Z", "2026-11-27T05:41:02.123456Z", "2026-11-27T05:41:02.123456Z", "2026-11-29T05:41:00.123456Z"}},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			e := encodeFor(tc.f, FramingOctetCounted, false)
			r := bufio.NewReader(bytes.NewReader(e.buf))
			for i, want := range tc.ts {
				raw, err := readOctetCounted(r)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				m, err := parse5424(raw)
				if err != nil {
					t.Fatalf("frame %d %q: %v", i, raw, err)
				}
				ev := &b.Events[i]
				wantPRI := 16*8 + 6
				if ev.Source == pipeline.SourceStderr {
					wantPRI = 16*8 + 3
				}
				if m.PRI != wantPRI || m.Timestamp != want || m.Hostname != "host1" || m.AppName != "web" ||
					m.ProcID != "3f2a1b9c8d7e" || m.MsgID != "-" {
					t.Errorf("frame %d header: %+v", i, m)
				}
				if m.HasMsg != (len(ev.Line) > 0) || m.Msg != string(ev.Line) {
					t.Errorf("frame %d MSG = %q (present %v), want %q", i, m.Msg, m.HasMsg, ev.Line)
				}
				if len(m.SD) != 2 || m.SD[0].ID != sdIDLogship || m.SD[1].ID != sdIDAttrs {
					t.Fatalf("frame %d SD: %+v", i, m.SD)
				}
				for name, want := range map[string]string{
					"container_id": testMeta.ContainerID, "container_name": "web", "image": "nginx:1.25",
					"source": ev.Source.String(), "request_id": string(ev.RequestID),
					"trace_id": string(ev.TraceID), "span_id": string(ev.SpanID),
				} {
					got, ok := m.param(sdIDLogship, name)
					if ok != (want != "") || got != want {
						t.Errorf("frame %d %s = %q (%v), want %q", i, name, got, ok, want)
					}
				}
				if got, ok := m.param(sdIDLogship, "partial"); ok != ev.Partial || (ok && got != "true") {
					t.Errorf("frame %d partial = %q %v", i, got, ok)
				}
				attrs := map[string]string{}
				for _, p := range m.SD[1].Params {
					attrs[p.Name] = p.Value
				}
				wantAttrs := map[string]string{
					"com.example.team": "core", "env": "prod", `we_ird___key`: `va"l\ue]`,
					"a-key-that-is-much-longer-than-t": "x",
				}
				if fmt.Sprint(attrs) != fmt.Sprint(wantAttrs) {
					t.Errorf("frame %d attrs = %v, want %v", i, attrs, wantAttrs)
				}
			}
			if _, err := r.ReadByte(); err == nil {
				t.Error("bytes after the last frame")
			}
		})
	}
}

func TestEncode3164(t *testing.T) {
	e := encodeFor(FormatRFC3164, FramingNewline, false)
	lines := strings.Split(strings.TrimSuffix(string(e.buf), "\n"), "\n")
	want := []string{
		`<134>Nov 27 05:41:00 host1 web[3f2a1b9c8d7e]: {"level":"info","msg":"GET /health","request_id":"req-1"}`,
		`<131>Nov 27 05:41:01 host1 web[3f2a1b9c8d7e]: panic: boom`,
		`<134>Nov 27 05:41:02 host1 web[3f2a1b9c8d7e]:`,
		`<131>Nov 27 05:41:02 host1 web[3f2a1b9c8d7e]: line one line two`,
		`<134>Nov 29 05:41:00 host1 web[3f2a1b9c8d7e]: héllo wörld ✓`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Day of month is space-padded, as time.Stamp and RFC 3164 want.
	w := wire{facility: 3, format: FormatRFC3164, framing: FramingNewline, hostname: "h"}
	e.encode(&w, &sinks.Batch{Meta: &pipeline.Meta{Tag: "a:b[c] d"}, Events: []pipeline.Event{
		ev(pipeline.SourceStdout, time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano(), "x"),
	}})
	if got, want := string(e.buf), "<30>Jan  2 03:04:05 h a_b_c__d: x\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPRI(t *testing.T) {
	for fac := 0; fac <= 23; fac++ {
		for _, src := range []pipeline.Source{pipeline.SourceStdout, pipeline.SourceStderr} {
			got := string(appendPRI(nil, fac, src))
			sev := 6
			if src == pipeline.SourceStderr {
				sev = 3
			}
			if want := fmt.Sprintf("<%d>", fac*8+sev); got != want {
				t.Errorf("facility %d %v: %s, want %s", fac, src, got, want)
			}
		}
	}
}

func TestHeaderSanitising(t *testing.T) {
	w := wire{facility: 1, format: FormatRFC5424, framing: FramingOctetCounted, hostname: "h"}
	e := new(encoder)
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		meta        *pipeline.Meta
		app, procid string
	}{
		{nil, "-", "-"},
		{&pipeline.Meta{Tag: "my app\té", ContainerID: "sha256:0123456789abcdef"}, "my_app___", "0123456789ab"},
		{&pipeline.Meta{Tag: long, ContainerID: "abc"}, long[:48], "abc"},
	} {
		e.encode(&w, &sinks.Batch{Meta: tc.meta, Events: []pipeline.Event{ev(pipeline.SourceStdout, t0, "m")}})
		raw, err := readOctetCounted(bufio.NewReader(bytes.NewReader(e.buf)))
		if err != nil {
			t.Fatal(err)
		}
		m, err := parse5424(raw)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if m.AppName != tc.app || m.ProcID != tc.procid {
			t.Errorf("meta %+v: APP-NAME %q PROCID %q, want %q %q", tc.meta, m.AppName, m.ProcID, tc.app, tc.procid)
		}
	}
	if got := sanitizeHostname("my host\n"); got != "my_host_" {
		t.Errorf("sanitizeHostname = %q", got)
	}
	if got := sanitizeHostname(""); got != "-" {
		t.Errorf("sanitizeHostname(\"\") = %q", got)
	}
}

func TestEncodeDatagramTruncation(t *testing.T) {
	w := wire{facility: 1, format: FormatRFC5424Micro, datagram: true, maxDgram: 480, hostname: "h"}
	e := new(encoder)
	// Multi-byte runes across the cut: the datagram must stay valid UTF-8.
	long := strings.Repeat("é", 400)
	b := &sinks.Batch{Meta: testMeta, Events: []pipeline.Event{
		ev(pipeline.SourceStdout, t0, "short"),
		ev(pipeline.SourceStdout, t0, long),
		ev(pipeline.SourceStdout, t0, "a"+long),
	}}
	e.encode(&w, b)
	if len(e.dgrams) != 3 || e.truncated != 2 {
		t.Fatalf("dgrams %d truncated %d", len(e.dgrams), e.truncated)
	}
	start := 0
	for i, d := range e.dgrams {
		msg := e.buf[start:d.end]
		start = d.end
		if len(msg) > 480 || !utf8.Valid(msg) || d.truncated != (i > 0) {
			t.Errorf("datagram %d: %d bytes, valid UTF-8 %v, truncated %v", i, len(msg), utf8.Valid(msg), d.truncated)
		}
		if d.truncated && len(msg) < 477 {
			t.Errorf("datagram %d cut too short: %d", i, len(msg))
		}
		m, err := parse5424(string(msg))
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if i == 0 && m.Msg != "short" {
			t.Errorf("datagram 0 MSG %q", m.Msg)
		}
	}
}

// FuzzEncode checks that whatever the line, tag and attributes hold, each
// record becomes exactly one well-formed frame whose fields read back as
// they went in.
func FuzzEncode(f *testing.F) {
	f.Add([]byte("hello"), "web", "k", "v", "rid", uint8(0))
	f.Add([]byte("a\nb\r\n"), "t a g", "we=ird]", `v"\]`, `]"\`, uint8(1))
	f.Add([]byte{0, 0xff, '\n'}, "", "", "", "", uint8(2))
	f.Fuzz(func(t *testing.T, line []byte, tag, key, val, rid string, mode uint8) {
		framing := FramingOctetCounted
		if mode%2 == 1 {
			framing = FramingNewline
		}
		w := wire{facility: int(mode % 24), format: FormatRFC5424Micro, framing: framing, hostname: "h"}
		meta := &pipeline.Meta{Tag: tag, ContainerID: tag, Attrs: map[string]string{key: val}}
		e1 := ev(pipeline.SourceStderr, int64(mode)*1e15, string(line))
		e1.RequestID = []byte(rid)
		e := new(encoder)
		e.encode(&w, &sinks.Batch{Meta: meta, Events: []pipeline.Event{e1, ev(pipeline.SourceStdout, 0, "next")}})
		r := bufio.NewReader(bytes.NewReader(e.buf))
		read := readOctetCounted
		if framing == FramingNewline {
			read = readNewline
		}
		raw, err := read(r)
		if err != nil {
			t.Fatalf("frame: %v", err)
		}
		m, err := parse5424(raw)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		want := string(line)
		if framing == FramingNewline {
			// Newline framing flattens LF anywhere in the message.
			want = strings.ReplaceAll(want, "\n", " ")
			rid = strings.ReplaceAll(rid, "\n", " ")
			val = strings.ReplaceAll(val, "\n", " ")
		}
		if m.Msg != want || m.HasMsg != (len(line) > 0) {
			t.Errorf("MSG %q, want %q", m.Msg, want)
		}
		if got, _ := m.param(sdIDLogship, "request_id"); got != rid {
			t.Errorf("request_id %q, want %q", got, rid)
		}
		if len(m.SD) != 2 || len(m.SD[1].Params) != 1 || m.SD[1].Params[0].Value != val {
			t.Errorf("attrs %+v, want value %q", m.SD, val)
		}
		next, err := read(r)
		if err != nil {
			t.Fatalf("second frame: %v", err)
		}
		if m, err := parse5424(next); err != nil || m.Msg != "next" {
			t.Fatalf("second frame %q: %v", next, err)
		}
	})
}

// benchBatch is 1000 300-byte JSON lines, as the pipeline's benchmarks use.
func benchBatch() (*sinks.Batch, int) {
	meta := *testMeta
	meta.Attrs = map[string]string{"com.example.team": "core", "env": "prod"}
	b := &sinks.Batch{Meta: &meta}
	size := 0
	for i := range 1000 {
		line := fmt.Sprintf(`{"time":"2026-11-27T05:41:00.%06dZ","level":"info","msg":"request served","method":"GET","path":"/api/v1/items/%06d","status":200,"duration_ms":12.5,"request_id":"req-%08d","user_agent":"Mozilla/5.0 (X11; Linux x86_64)","bytes":5120}`, i, i, i)
		line += strings.Repeat(" ", max(0, 300-len(line)))
		e := ev(pipeline.SourceStdout, t0+int64(i)*int64(time.Millisecond), line)
		e.RequestID = []byte(fmt.Sprintf("req-%08d", i))
		b.Events = append(b.Events, e)
		size += len(line)
	}
	return b, size
}

func BenchmarkEncode(b *testing.B) {
	batch, size := benchBatch()
	for _, tc := range []struct {
		name string
		w    wire
	}{
		{"rfc5424micro-octet", wire{facility: 3, format: FormatRFC5424Micro, framing: FramingOctetCounted, hostname: "host1"}},
		{"rfc5424-newline", wire{facility: 3, format: FormatRFC5424, framing: FramingNewline, hostname: "host1"}},
		{"rfc3164-newline", wire{facility: 3, format: FormatRFC3164, framing: FramingNewline, hostname: "host1"}},
		{"rfc5424micro-udp", wire{facility: 3, format: FormatRFC5424Micro, datagram: true, maxDgram: 8192, hostname: "host1"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				e := getEncoder()
				e.encode(&tc.w, batch)
				putEncoder(e)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Events)), "ns/event")
		})
	}
}
