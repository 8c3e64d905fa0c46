package httpsink

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// victoriaLogsBinary finds VictoriaLogs v1.52.1: $LOGSHIP_VICTORIALOGS, or
// bin/victoria-logs in the test cache ($LOGSHIP_TEST_CACHE, default
// /var/cache/logship-test), where the test setup builds it with
//
//	GOBIN=/var/cache/logship-test/bin CGO_ENABLED=1 \
//	  go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1
func victoriaLogsBinary() string {
	if p := os.Getenv("LOGSHIP_VICTORIALOGS"); p != "" {
		return p
	}
	cache := os.Getenv("LOGSHIP_TEST_CACHE")
	if cache == "" {
		cache = "/var/cache/logship-test"
	}
	return filepath.Join(cache, "bin", "victoria-logs")
}

// startVictoriaLogs runs VictoriaLogs on a free loopback port with a
// temporary storage folder and returns its base URL.
func startVictoriaLogs(t *testing.T) string {
	t.Helper()
	bin := victoriaLogsBinary()
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("VictoriaLogs not found at %s (set LOGSHIP_VICTORIALOGS, or build it: GOBIN=/var/cache/logship-test/bin CGO_ENABLED=1 go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@v1.52.1)", bin)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-storageDataPath="+t.TempDir(), "-httpListenAddr="+addr,
		"-retentionPeriod=100y", "-loggerLevel=ERROR")
	logf, err := os.Create(filepath.Join(t.TempDir(), "victoria-logs.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("victoria-logs output:\n%s", b)
		}
	})
	base := "http://" + addr
	// Readiness probe: /health answers 200 once the listener is up.
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("victoria-logs exited: %v", err)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatal("victoria-logs did not become healthy")
		}
	}
}

// vlQuery runs a LogsQL query after a flush and returns the rows.
func vlQuery(t *testing.T, base, q string) []map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/internal/force_flush")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.PostForm(base+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("query: status %d", resp.StatusCode)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("query row %q: %v", sc.Text(), err)
		}
		rows = append(rows, row)
	}
	return rows
}

// The URLs a user sets for VictoriaLogs (doc.go lists them).
var vlPaths = map[Format]string{
	FormatNDJSON:        "/insert/jsonline?_stream_fields=container_name,source&_msg_field=log&_time_field=time",
	FormatElasticsearch: "/insert/elasticsearch/_bulk?_stream_fields=container_name,source&_msg_field=message&_time_field=@timestamp",
	FormatLoki:          "/insert/loki/api/v1/push?_msg_field=msg,message",
	FormatSplunkHEC:     "/insert/splunk/services/collector/event",
}

// TestVictoriaLogs ships one JSON line and one text line (with an invalid
// byte) in every format VictoriaLogs ingests, with every codec, and reads
// them back: message, time, stream and fields must be what was sent.
func TestVictoriaLogs(t *testing.T) {
	base := startVictoriaLogs(t)
	now := time.Now().Add(-time.Minute).Truncate(time.Microsecond).UnixNano() + 789 // sub-µs part: see splunk below
	type sent struct {
		format Format
		comp   Compression
		json   string
		text   string
		t      int64
	}
	cases := map[string]sent{}
	i := 0
	for f := range vlPaths {
		for _, cs := range compressions {
			comp := Compression(cs)
			i++
			name := fmt.Sprintf("%s-%s", f, comp)
			jsonLine := fmt.Sprintf(`{"level":"warn","msg":"json line","case":%q,"request_id":"req-%d","n":42,"nested":{"a":1}}`, name, i)
			textLine := fmt.Sprintf("text line \xff tab\tend case=%s trace_id=4bf92f3577b34da6a3ce929d0e0e4736", name)
			ts := now + int64(i)*int64(time.Millisecond)
			meta := testMeta()
			meta.ContainerName = "vl-" + name
			p := pipeline.NewParser(pipeline.DefaultConfig())
			evs := make([]pipeline.Event, 2)
			p.Parse(&pipeline.Record{Time: ts, Source: pipeline.SourceStdout, Line: []byte(jsonLine)}, &evs[0])
			p.Parse(&pipeline.Record{Time: ts + 1000, Source: pipeline.SourceStderr, Line: []byte(textLine)}, &evs[1])

			c := configFor(base+vlPaths[f], f, comp)
			c.LokiLabels = []string{"container_name", "source"}
			s := newSink(t, c, nil)
			if err := s.Send(context.Background(), &sinks.Batch{Meta: meta, Events: evs}); err != nil {
				t.Fatalf("%s: Send: %v", name, err)
			}
			cases[name] = sent{f, comp, jsonLine, textLine, ts}
		}
	}

	rows := vlQuery(t, base, "*")
	caseRE := regexp.MustCompile(`case=(\S+)`)
	got := map[string][]map[string]string{}
	for _, r := range rows {
		name := r["case"] + r["event.case"]
		if m := caseRE.FindStringSubmatch(r["_msg"]); m != nil && name == "" {
			name = m[1]
		}
		got[name] = append(got[name], r)
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rs := got[name]
			if len(rs) != 2 {
				t.Fatalf("%d rows, want 2: %v", len(rs), rs)
			}
			var js, tx map[string]string
			for _, r := range rs {
				if strings.HasPrefix(r["_msg"], "text line") {
					tx = r
				} else {
					js = r
				}
			}
			if js == nil || tx == nil {
				t.Fatalf("rows: %v", rs)
			}
			// Splunk's time has microseconds; the others keep nanoseconds.
			wantT := func(ns int64) string {
				if c.format == FormatSplunkHEC {
					ns -= ns % 1000
				}
				return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
			}
			if js["_time"] != wantT(c.t) || tx["_time"] != wantT(c.t+1000) {
				t.Errorf("_time %s / %s, want %s / %s", js["_time"], tx["_time"], wantT(c.t), wantT(c.t+1000))
			}
			wantText := strings.Replace(c.text, "\xff", "\uFFFD", 1)
			if tx["_msg"] != wantText {
				t.Errorf("text _msg %q, want %q", tx["_msg"], wantText)
			}
			field := func(r map[string]string, k string) string {
				if c.format == FormatSplunkHEC {
					return r["event."+k]
				}
				return r[k]
			}
			switch c.format {
			case FormatLoki:
				// VictoriaLogs unpacks a JSON line into fields and takes
				// _msg from the first of _msg_field it has.
				if js["_msg"] != "json line" {
					t.Errorf("json _msg %q", js["_msg"])
				}
			default:
				if js["_msg"] != c.json {
					t.Errorf("json _msg %q, want the line %q", js["_msg"], c.json)
				}
				for k, v := range map[string]string{
					"container_id": testMeta().ContainerID, "image": "nginx:1.27", "tag": "web/0123456789ab",
					"env": "prod", "com.docker.compose.service": "api",
				} {
					if got := field(js, k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
			}
			for k, v := range map[string]string{"level": "warn", "msg": "json line", "n": "42", "nested.a": "1"} {
				if k == "msg" && c.format == FormatLoki {
					continue // it became _msg
				}
				if got := field(js, k); got != v {
					t.Errorf("json field %s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(c.json, `"request_id":"`+field(js, "request_id")+`"`) || field(js, "request_id") == "" {
				t.Errorf("request_id %q", field(js, "request_id"))
			}
			if got := field(tx, "trace_id"); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
				t.Errorf("trace_id %q", got)
			}
			switch c.format {
			case FormatSplunkHEC:
				if js["source"] != "vl-"+name || js["event.container_name"] != "vl-"+name || js["event.source"] != "stdout" || tx["event.source"] != "stderr" {
					t.Errorf("splunk source fields: %v", js)
				}
			default:
				wantStream := fmt.Sprintf(`{container_name="vl-%s",source="stdout"}`, name)
				if js["_stream"] != wantStream {
					t.Errorf("_stream %s, want %s", js["_stream"], wantStream)
				}
				if !strings.Contains(tx["_stream"], `source="stderr"`) {
					t.Errorf("_stream %s", tx["_stream"])
				}
			}
		})
	}
}

// TestVictoriaLogsMsgField: with _msg_field=msg,message,log (doc.go), a
// JSON line's own message becomes _msg and a text line keeps the line.
func TestVictoriaLogsMsgField(t *testing.T) {
	base := startVictoriaLogs(t)
	c := configFor(base+"/insert/jsonline?_stream_fields=container_name&_msg_field=msg,message,log&_time_field=time", FormatNDJSON, CompressionGzip)
	s := newSink(t, c, nil)
	ts := time.Now().Add(-time.Minute)
	b := batchOf(testMeta(), rec{line: `{"msg":"from msg","x":1}`}, rec{line: `{"message":"from message"}`}, rec{line: "plain text"})
	for i := range b.Events {
		b.Events[i].Time = ts.UnixNano() + int64(i)
	}
	if err := s.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	rows := vlQuery(t, base, "* | sort by (_time)")
	var msgs []string
	for _, r := range rows {
		msgs = append(msgs, r["_msg"])
	}
	if fmt.Sprint(msgs) != "[from msg from message plain text]" {
		t.Errorf("_msg values %q", msgs)
	}
	if len(rows) == 3 && rows[0]["log"] != `{"msg":"from msg","x":1}` {
		t.Errorf("log field %q", rows[0]["log"])
	}
}

// TestVictoriaLogsRejects: a body the receiver cannot parse (NDJSON posted
// to the bulk endpoint) is its 400, which is Permanent.
func TestVictoriaLogsRejects(t *testing.T) {
	base := startVictoriaLogs(t)
	s := newSink(t, configFor(base+"/insert/elasticsearch/_bulk", FormatNDJSON, CompressionGzip), nil)
	err := s.Send(context.Background(), batchOf(testMeta(), rec{line: "x"}))
	var se *StatusError
	if !sinks.IsPermanent(err) || !errors.As(err, &se) || se.StatusCode != 400 {
		t.Fatalf("want a permanent 400, got %v", err)
	}
}
