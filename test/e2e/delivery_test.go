package e2e

// Delivery to network receivers, end to end: containers log through a real
// dockerd into the plugin, and the plugin ships to the real receivers of
// test/receivers (the OTel fluentforward collector, rsyslog, VictoriaLogs) or
// to fault-injecting servers in this process (the plugin runs in the host's
// network namespace, so 127.0.0.1 listeners here are reachable from it).
//
// Every test selects its own records by a unique container name, tag or
// marker, since the receivers are shared by the whole run. Metrics are read
// from the plugin's /metrics endpoint as deltas (they are cumulative and
// shared by every container).
//
// The order of the tests in this file matters a little: the ones that leave
// a shipper retrying against a dead receiver (the docker stop test) come last
// and drain that backlog in their cleanup, so that a later plugin restart
// does not resume it.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/logship/logship/test/procfs"
)

// ---------------------------------------------------------------------------
// setup shared by the delivery tests

// requireDelivery skips unless the driver under test is the plugin (the
// sink options are logship's), makes sure the receivers run, and arranges
// for the plugin's own log to be printed if the test fails.
func requireDelivery(t *testing.T) *receiverEnv {
	t.Helper()
	requirePlugin(t)
	e := receivers(t)
	pluginLogOnFailure(t)
	return e
}

// marker returns a short unique token (for tags and line prefixes).
func marker(t testing.TB) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "m" + hex.EncodeToString(b[:])
}

func fluentOpt(e *receiverEnv) string { return "fluentd-address=tcp://" + e.FluentAddr }

// vlURL is the VictoriaLogs ingestion URL for an http-format (see the
// httpsink doc), and vlSelector the LogsQL stream filter that finds one
// container's rows in what that format produces.
func vlURL(e *receiverEnv, format string) string {
	switch format {
	case "ndjson":
		return e.VLURL + "/insert/jsonline?_stream_fields=container_name,source&_msg_field=log&_time_field=time"
	case "elasticsearch":
		return e.VLURL + "/insert/elasticsearch/_bulk?_stream_fields=container_name,source&_msg_field=message&_time_field=@timestamp"
	case "loki":
		// keep the line whole in _msg (the Loki endpoint would unpack JSON lines)
		return e.VLURL + "/insert/loki/api/v1/push?disable_message_parsing=1"
	case "splunk-hec":
		return e.VLURL + "/insert/splunk/services/collector/event"
	}
	panic("unknown format " + format)
}

func vlSelector(format, name string) string {
	if format == "splunk-hec" { // the envelope's source is the container name
		return fmt.Sprintf("{source=%q}", name)
	}
	return fmt.Sprintf("{container_name=%q}", name)
}

// runDelivery runs a container with the given log-opts to exit (code 0).
// mk (a marker) goes into its name: the receivers keep the records of
// earlier runs, so a container name must never repeat.
func runDelivery(t *testing.T, mk string, opts []string, script string) *container {
	t.Helper()
	return runToExit(t, runSpec{suffix: mk, logOpts: opts, script: script}, 2*time.Minute)
}

// ---------------------------------------------------------------------------
// the plugin's log, for failure reports

func dockerdLogPath() string {
	if d, ok := lookupDockerd(); ok && d.logPath != "" {
		return d.logPath
	}
	for _, p := range []string{"/var/log/dockerd.log", filepath.Join(env.cacheDir, "dockerd.log")} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// pluginLogOnFailure prints, when the test failed, the plugin's log lines
// (from dockerd's log, where they are tagged plugin=<id>) written since the
// test started.
func pluginLogOnFailure(t *testing.T) {
	t.Helper()
	id := inspectPlugin(t, env.driver).ID
	start := time.Now().Add(-time.Second).Truncate(time.Second)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		path := dockerdLogPath()
		lines, err := pluginLogSince(path, id, start, 60)
		if err != nil {
			t.Logf("plugin log: %v", err)
			return
		}
		t.Logf("plugin %s log since %s (from %s, last %d lines):\n%s", id[:12], start.Format(time.RFC3339), path,
			len(lines), strings.Join(lines, "\n"))
	})
}

// pluginLogSince returns the last max lines of plugin id in dockerd's log
// at or after start, each as "time level msg" with the plugin's JSON message
// unquoted.
func pluginLogSince(path, id string, start time.Time, max int) ([]string, error) {
	if path == "" {
		return nil, errors.New("dockerd's log file not found")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	tag := "plugin=" + id
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, tag) {
			continue
		}
		if ts, ok := strings.CutPrefix(line, `time="`); ok {
			if end := strings.IndexByte(ts, '"'); end > 0 {
				if tm, err := time.Parse(time.RFC3339Nano, ts[:end]); err == nil && tm.Before(start) {
					continue
				}
			}
		}
		if i := strings.Index(line, ` msg="`); i >= 0 {
			if q, err := strconv.QuotedPrefix(line[i+5:]); err == nil {
				if s, err := strconv.Unquote(q); err == nil {
					line = s
				}
			}
		}
		out = append(out, truncate(line, 600))
		if len(out) > 4*max {
			out = out[len(out)-max:]
		}
	}
	return lastN(out, max), sc.Err()
}

// ---------------------------------------------------------------------------
// metrics

func metricsURL(t testing.TB) string {
	t.Helper()
	addr := "127.0.0.1:9464"
	for _, e := range inspectPlugin(t, env.driver).Settings.Env {
		if v, ok := strings.CutPrefix(e, "METRICS_ADDR="); ok && v != "" {
			addr = v
		}
	}
	if addr == "none" {
		t.Skip("the plugin's metrics endpoint is disabled (METRICS_ADDR=none)")
	}
	return "http://" + addr + "/metrics"
}

type metricSnap map[string]float64

func fetchMetrics(u string) (metricSnap, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	m := metricSnap{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// metrics reads the plugin's /metrics (retrying for a few seconds if the
// plugin is restarting).
func metrics(t testing.TB) metricSnap {
	t.Helper()
	u := metricsURL(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		m, err := fetchMetrics(u)
		if err == nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("reading the plugin's metrics: %v", err)
		}
		time.Sleep(200 * time.Millisecond) // polling another process, bounded
	}
}

func sinkKey(name, sink string) string { return name + `{sink="` + sink + `"}` }
func dropKey(sink, reason string) string {
	return `logship_sink_records_dropped_total{sink="` + sink + `",reason="` + reason + `"}`
}

var dropReasons = []string{"permanent", "too_large", "retries_exhausted", "evicted"}

// waitMetric polls key until ok(value) holds and returns the value; it
// fails the test after timeout.
func waitMetric(t testing.TB, key string, timeout time.Duration, what string, ok func(float64) bool) float64 {
	t.Helper()
	u := metricsURL(t)
	deadline := time.Now().Add(timeout)
	var last float64
	var lastErr error
	for {
		m, err := fetchMetrics(u)
		if err == nil {
			last, lastErr = m[key], nil
			if _, present := m[key]; !present {
				lastErr = fmt.Errorf("%s not exported", key)
			} else if ok(last) {
				return last
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s is %v after %v (err %v)", what, key, last, timeout, lastErr)
		}
		time.Sleep(100 * time.Millisecond) // polling another process, bounded
	}
}

// pluginGuard notices a plugin restart that the test did not cause: the
// counters start again from 0 then, and deltas mean nothing.
type pluginGuard struct {
	id  string
	pid int
}

func guardPlugin(t testing.TB) pluginGuard {
	t.Helper()
	id := inspectPlugin(t, env.driver).ID
	return pluginGuard{id: id, pid: procfs.PluginPID(id)}
}

func (g pluginGuard) check(t testing.TB) {
	t.Helper()
	if pid := procfs.PluginPID(g.id); pid != g.pid {
		t.Fatalf("the plugin restarted during the test (pid %d, now %d), not by this test: its counters were reset, so the deltas are meaningless; rerun", g.pid, pid)
	}
}

// ---------------------------------------------------------------------------
// the workload: numbered JSON and text lines on stdout and stderr

type wantRec struct {
	source string // stdout or stderr
	line   string // without newline
	reqID  string // the request_id the pipeline promotes, "" if none
	fields map[string]string
	idx    int // position among the records of its stream
}

func recKey(source, line string) string { return source + "\x00" + line }

// mixedWorkload writes, for i in 1..n: a JSON line and a text line with
// request_id=... on stdout, a JSON line and a text line without id on
// stderr. Everything holds mk, so lines are unique across tests.
func mixedWorkload(mk string, n int) (script string, want []wantRec) {
	script = fmt.Sprintf(`
i=1
while [ $i -le %d ]; do
  echo "{\"n\":$i,\"request_id\":\"%[2]s-o-$i\",\"msg\":\"%[2]s json out $i\",\"ok\":true}"
  echo "%[2]s text out $i request_id=%[2]s-t-$i"
  echo "{\"n\":$i,\"request_id\":\"%[2]s-e-$i\",\"msg\":\"%[2]s json err $i\",\"level\":\"error\"}" >&2
  echo "%[2]s text err $i" >&2
  i=$((i+1))
done
`, n, mk)
	var oi, ei int
	for i := 1; i <= n; i++ {
		want = append(want,
			wantRec{source: "stdout", idx: oi, reqID: fmt.Sprintf("%s-o-%d", mk, i),
				line:   fmt.Sprintf(`{"n":%d,"request_id":"%s-o-%d","msg":"%s json out %d","ok":true}`, i, mk, i, mk, i),
				fields: map[string]string{"n": strconv.Itoa(i), "msg": fmt.Sprintf("%s json out %d", mk, i), "ok": "true"}},
			wantRec{source: "stdout", idx: oi + 1, reqID: fmt.Sprintf("%s-t-%d", mk, i),
				line: fmt.Sprintf("%s text out %d request_id=%s-t-%d", mk, i, mk, i)},
			wantRec{source: "stderr", idx: ei, reqID: fmt.Sprintf("%s-e-%d", mk, i),
				line:   fmt.Sprintf(`{"n":%d,"request_id":"%s-e-%d","msg":"%s json err %d","level":"error"}`, i, mk, i, mk, i),
				fields: map[string]string{"n": strconv.Itoa(i), "msg": fmt.Sprintf("%s json err %d", mk, i), "level": "error"}},
			wantRec{source: "stderr", idx: ei + 1, line: fmt.Sprintf("%s text err %d", mk, i)},
		)
		oi, ei = oi+2, ei+2
	}
	return script, want
}

// dockerTimes returns the time `docker logs -t` shows for each line, by
// recKey.
func dockerTimes(t *testing.T, c *container) map[string]time.Time {
	t.Helper()
	stdout, stderr := c.logs("-t")
	m := map[string]time.Time{}
	for _, s := range []struct{ src, out string }{{"stdout", stdout}, {"stderr", stderr}} {
		ts, _, lines := timestamped(t, s.out)
		for i, l := range lines {
			m[recKey(s.src, strings.TrimSuffix(l, "\n"))] = ts[i]
		}
	}
	return m
}

// problems reports at most 3 errors of each kind and counts the rest.
type problems struct {
	t      *testing.T
	prefix string
	n      map[string]int
	order  []string
}

func newProblems(t *testing.T, prefix string) *problems {
	return &problems{t: t, prefix: prefix, n: map[string]int{}}
}

func (p *problems) add(kind, format string, args ...any) {
	p.t.Helper()
	if p.n[kind] == 0 {
		p.order = append(p.order, kind)
	}
	p.n[kind]++
	if p.n[kind] <= 3 {
		p.t.Errorf("%s: %s: %s", p.prefix, kind, fmt.Sprintf(format, args...))
	}
}

func (p *problems) done() {
	p.t.Helper()
	for _, k := range p.order {
		if p.n[k] > 3 {
			p.t.Errorf("%s: %s: %d records in all", p.prefix, k, p.n[k])
		}
	}
}

type gotRec struct {
	source, line string
	rec          map[string]any
}

// matchExactly checks that got holds each wanted record exactly once,
// nothing else, and (if ordered) each stream in order; it returns the record
// received for each wanted one (by index into want; nil if missing).
func matchExactly(t *testing.T, what string, want []wantRec, got []gotRec, ordered bool) []map[string]any {
	t.Helper()
	p := newProblems(t, what)
	defer p.done()
	idx := make(map[string]int, len(want))
	for i, w := range want {
		idx[recKey(w.source, w.line)] = i
	}
	count := make([]int, len(want))
	first := make([]map[string]any, len(want))
	lastIdx := map[string]int{"stdout": -1, "stderr": -1}
	for _, g := range got {
		i, ok := idx[recKey(g.source, g.line)]
		if !ok {
			p.add("unexpected record", "source %q line %s", g.source, quoteLine(g.line))
			continue
		}
		count[i]++
		if count[i] > 1 {
			p.add("duplicate", "%s %s arrived %d times", g.source, quoteLine(g.line), count[i])
			continue
		}
		first[i] = g.rec
		if ordered && want[i].idx < lastIdx[g.source] {
			p.add("out of order", "%s record #%d %s arrived after #%d", g.source, want[i].idx+1, quoteLine(g.line), lastIdx[g.source]+1)
		}
		lastIdx[g.source] = max(lastIdx[g.source], want[i].idx)
	}
	var missing []int
	for i, c := range count {
		if c == 0 {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		w := want[missing[0]]
		t.Errorf("%s: %d of %d records missing (%d received); first missing: %s %s", what, len(missing), len(want), len(got), w.source, quoteLine(w.line))
	}
	return first
}

// ---------------------------------------------------------------------------
// per-receiver checks

func checkFluent(t *testing.T, c *container, tag string, want []wantRec, times map[string]time.Time, recs []map[string]any) {
	t.Helper()
	var got []gotRec
	for _, r := range recs {
		got = append(got, gotRec{source: fluentAttr(r, "source"), line: fluentBody(r), rec: r})
	}
	first := matchExactly(t, "fluent receiver", want, got, true)
	p := newProblems(t, "fluent receiver")
	defer p.done()
	subSecond := 0
	for i, w := range want {
		r := first[i]
		if r == nil {
			continue
		}
		if v := fluentAttr(r, "container_id"); v != c.id {
			p.add("container_id", "%q, want %q", v, c.id)
		}
		if v := fluentAttr(r, "container_name"); v != "/"+c.name {
			p.add("container_name", "%q, want %q (with '/', as Docker's driver)", v, "/"+c.name)
		}
		if v := fluentAttr(r, "fluent.tag"); v != tag {
			p.add("tag", "%q, want %q", v, tag)
		}
		if v := fluentAttr(r, "request_id"); v != w.reqID {
			p.add("request_id", "line %s: %q, want %q", quoteLine(w.line), v, w.reqID)
		}
		for k, v := range w.fields {
			if g := fluentAttr(r, k); g != v {
				p.add("JSON field", "line %s: field %s = %q, want %q", quoteLine(w.line), k, g, v)
			}
		}
		if len(w.fields) == 0 {
			for _, k := range []string{"n", "msg", "level", "ok"} {
				if g := fluentAttr(r, k); g != "" {
					p.add("JSON field", "text line %s has field %s = %q", quoteLine(w.line), k, g)
				}
			}
		}
		ft := fluentTime(r)
		if ft.Nanosecond()%1000 != 0 {
			subSecond++
		}
		if dt, ok := times[recKey(w.source, w.line)]; !ok {
			p.add("docker logs -t", "line %s not in docker logs -t", quoteLine(w.line))
		} else if !ft.Equal(dt) {
			p.add("time", "line %s: receiver has %s, docker logs -t %s", quoteLine(w.line),
				ft.UTC().Format(time.RFC3339Nano), dt.UTC().Format(time.RFC3339Nano))
		}
	}
	if subSecond == 0 {
		t.Errorf("fluent receiver: no record has a time with nanoseconds below the microsecond; fluentd-sub-second-precision=true should send EventTime with nanoseconds")
	}
}

func checkSyslog(t *testing.T, what string, c *container, tag string, want []wantRec, times map[string]time.Time, recs []map[string]any) {
	t.Helper()
	var got []gotRec
	for _, r := range recs {
		src := "?"
		sd := syslogField(r, "sd")
		switch {
		case strings.Contains(sd, `source="stdout"`):
			src = "stdout"
		case strings.Contains(sd, `source="stderr"`):
			src = "stderr"
		}
		got = append(got, gotRec{source: src, line: syslogField(r, "msg"), rec: r})
	}
	first := matchExactly(t, what, want, got, true)
	p := newProblems(t, what)
	defer p.done()
	for i, w := range want {
		r := first[i]
		if r == nil {
			continue
		}
		sev, pri := "6", "30" // daemon.info
		if w.source == "stderr" {
			sev, pri = "3", "27" // daemon.err
		}
		if g := syslogField(r, "severity"); g != sev {
			p.add("severity", "%s line: severity %s, want %s", w.source, g, sev)
		}
		if g := syslogField(r, "pri"); g != pri {
			p.add("PRI", "%s line: PRI %s, want %s (facility daemon)", w.source, g, pri)
		}
		if g := syslogField(r, "app"); g != tag {
			p.add("APP-NAME", "%q, want the tag %q", g, tag)
		}
		if g := syslogField(r, "procid"); g != c.id[:12] {
			p.add("PROCID", "%q, want %q", g, c.id[:12])
		}
		sd := syslogField(r, "sd")
		needSD := []string{`container_id="` + c.id + `"`, `container_name="` + c.name + `"`}
		if w.reqID != "" {
			needSD = append(needSD, `request_id="`+w.reqID+`"`)
		} else if strings.Contains(sd, "request_id=") {
			p.add("SD", "line %s has a request_id: %s", quoteLine(w.line), sd)
		}
		for _, s := range needSD {
			if !strings.Contains(sd, s) {
				p.add("SD", "line %s: structured data %s lacks %s", quoteLine(w.line), sd, s)
			}
		}
		ts, err := time.Parse(time.RFC3339Nano, syslogField(r, "ts"))
		if err != nil {
			p.add("timestamp", "bad TIMESTAMP %q: %v", syslogField(r, "ts"), err)
		} else if dt, ok := times[recKey(w.source, w.line)]; !ok {
			p.add("docker logs -t", "line %s not in docker logs -t", quoteLine(w.line))
		} else if !ts.Equal(dt.Truncate(time.Microsecond)) {
			p.add("timestamp", "line %s: TIMESTAMP %s, docker logs -t %s (want it to the microsecond)", quoteLine(w.line),
				syslogField(r, "ts"), dt.UTC().Format(time.RFC3339Nano))
		}
	}
}

func checkVL(t *testing.T, format string, c *container, want []wantRec, times map[string]time.Time, rows []map[string]any) {
	t.Helper()
	str := func(r map[string]any, k string) string {
		switch v := r[k].(type) {
		case string:
			return v
		case nil:
			return ""
		default:
			return fmt.Sprint(v)
		}
	}
	pre := ""
	if format == "splunk-hec" {
		pre = "event."
	}
	var got []gotRec
	for _, r := range rows {
		got = append(got, gotRec{source: str(r, pre+"source"), line: str(r, "_msg"), rec: r})
	}
	what := "VictoriaLogs (" + format + ")"
	// A query returns rows in storage order, not arrival order (and lines
	// dockerd stamped within one microsecond tie with splunk-hec's times):
	// delivery order is checked at the fluent and syslog receivers.
	first := matchExactly(t, what, want, got, false)
	p := newProblems(t, what)
	defer p.done()
	for i, w := range want {
		r := first[i]
		if r == nil {
			continue
		}
		if g := str(r, pre+"request_id"); g != w.reqID {
			p.add("request_id", "line %s: %q, want %q", quoteLine(w.line), g, w.reqID)
		}
		if format != "loki" { // Loki carries the line, labels and ids only
			if g := str(r, pre+"container_id"); g != c.id {
				p.add("container_id", "%q, want %q", g, c.id)
			}
			for k, v := range w.fields {
				if g := str(r, pre+k); g != v {
					p.add("JSON field", "line %s: %s = %q, want %q", quoteLine(w.line), k, g, v)
				}
			}
		}
		if g := str(r, pre+"container_name"); format != "splunk-hec" && g != c.name {
			p.add("container_name", "%q, want %q", g, c.name)
		}
		tm, err := time.Parse(time.RFC3339Nano, str(r, "_time"))
		dt, ok := times[recKey(w.source, w.line)]
		switch {
		case err != nil:
			p.add("time", "bad _time %q", str(r, "_time"))
		case !ok:
			p.add("docker logs -t", "line %s not in docker logs -t", quoteLine(w.line))
		case format == "splunk-hec":
			// seconds with microseconds, as a JSON number: float64 may be off by 1 µs
			if d := tm.Sub(dt.Truncate(time.Microsecond)); d < -time.Microsecond || d > time.Microsecond {
				p.add("time", "line %s: _time %s, docker logs -t %s (want it to the microsecond)", quoteLine(w.line),
					str(r, "_time"), dt.UTC().Format(time.RFC3339Nano))
			}
		case !tm.Equal(dt):
			p.add("time", "line %s: _time %s, docker logs -t %s", quoteLine(w.line), str(r, "_time"), dt.UTC().Format(time.RFC3339Nano))
		}
	}
}

// ---------------------------------------------------------------------------
// a syslog listener in this process, to see the framing on the wire

type rawSyslog struct {
	ln     net.Listener
	mu     sync.Mutex
	buf    []byte
	change chan struct{}
}

func startRawSyslog(t *testing.T) *rawSyslog {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawSyslog{ln: ln, change: make(chan struct{})}
	var wg sync.WaitGroup
	var conns []net.Conn
	var cmu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := make([]byte, 64<<10)
				for {
					n, err := c.Read(b)
					if n > 0 {
						s.mu.Lock()
						s.buf = append(s.buf, b[:n]...)
						close(s.change)
						s.change = make(chan struct{})
						s.mu.Unlock()
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
		wg.Wait()
	})
	return s
}

// parseOctetCounted parses what arrived as RFC 6587 octet-counted frames ("LEN SP
// MSG"); it returns the complete messages and an error describing the first
// byte that is not framed that way.
func parseOctetCounted(b []byte) (msgs []string, err error) {
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			if len(b) > 10 {
				return msgs, fmt.Errorf("after %d frames: no length prefix in %q", len(msgs), truncate(string(b), 80))
			}
			return msgs, nil // incomplete prefix
		}
		n, perr := strconv.Atoi(string(b[:sp]))
		if perr != nil || n <= 0 || sp > 10 || b[0] == '0' {
			return msgs, fmt.Errorf("after %d frames: %q does not start with an octet count", len(msgs), truncate(string(b), 80))
		}
		if len(b) < sp+1+n {
			return msgs, nil // incomplete frame
		}
		msgs = append(msgs, string(b[sp+1:sp+1+n]))
		b = b[sp+1+n:]
	}
	return msgs, nil
}

// waitFrames waits until at least n frames arrived and returns them.
func (s *rawSyslog) waitFrames(t *testing.T, n int, timeout time.Duration) []string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		msgs, err := parseOctetCounted(s.buf)
		ch := s.change
		total := len(s.buf)
		s.mu.Unlock()
		if err != nil {
			t.Fatalf("syslog on the wire (%d bytes): not octet-counted: %v", total, err)
		}
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("syslog on the wire: %d frames (%d bytes) within %v, want %d", len(msgs), total, timeout, n)
		}
	}
}

// ---------------------------------------------------------------------------
// TLS files where the plugin can read them

// pluginVisibleDir creates a folder the plugin sees at the same path: below
// the host source of its data mount (default /var/lib/docker, mounted at
// /var/lib/docker). It is removed at cleanup.
func pluginVisibleDir(t *testing.T, prefix string) string {
	t.Helper()
	p := inspectPlugin(t, env.driver)
	mounts := p.Settings.Mounts
	if len(mounts) == 0 {
		mounts = p.Config.Mounts
	}
	for _, m := range mounts {
		if m.Source == "" || m.Source != m.Destination {
			continue
		}
		dir, err := os.MkdirTemp(m.Source, prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	t.Fatalf("plugin %s has no mount with equal host and plugin paths (mounts %+v); cannot hand it files", env.driver, mounts)
	return ""
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// 1. each receiver gets exactly what the container wrote

func TestDeliveryEachReceiver(t *testing.T) {
	e := requireDelivery(t)
	const n = 100 // per kind: 4n records

	t.Run("fluentd", func(t *testing.T) {
		mk := marker(t)
		script, want := mixedWorkload(mk, n)
		c := runDelivery(t, mk, []string{fluentOpt(e), "fluentd-request-ack=true", "fluentd-sub-second-precision=true"}, script)
		times := dockerTimes(t, c)
		if len(times) != len(want) {
			t.Fatalf("docker logs -t has %d lines, want %d", len(times), len(want))
		}
		recs := waitFluentCount(t, len(want), time.Minute, fluentAttrIs("container_name", "/"+c.name))
		recs = waitFluentCount(t, len(recs), time.Second, fluentAttrIs("container_name", "/"+c.name)) // read once more: duplicates that came right after
		checkFluent(t, c, c.id[:12], want, times, recs)
	})

	syslogCase := func(t *testing.T, input string, opts []string) {
		mk := marker(t)
		script, want := mixedWorkload(mk, n)
		c := runDelivery(t, mk, append(opts, "tag="+mk), script)
		times := dockerTimes(t, c)
		recs := waitSyslogCount(t, len(want), time.Minute, syslogFieldIs("app", mk))
		recs = waitSyslogCount(t, len(recs), time.Second, syslogFieldIs("app", mk))
		for _, r := range recs {
			if g := syslogField(r, "input"); g != input {
				t.Fatalf("message arrived on rsyslog input %q, want %q", g, input)
			}
		}
		checkSyslog(t, "rsyslog "+input, c, mk, want, times, recs)
	}
	t.Run("syslog-tcp", func(t *testing.T) {
		syslogCase(t, "tcp", []string{"syslog-address=tcp://" + e.SyslogTCP})
	})
	t.Run("syslog-tcp-octet-counted-on-the-wire", func(t *testing.T) {
		rs := startRawSyslog(t)
		mk := marker(t)
		script, want := mixedWorkload(mk, n)
		c := runDelivery(t, mk, []string{"syslog-address=tcp://" + rs.ln.Addr().String(), "tag=" + mk}, script)
		msgs := rs.waitFrames(t, len(want), time.Minute)
		if len(msgs) != len(want) {
			t.Errorf("%d frames, want %d", len(msgs), len(want))
		}
		// each frame is one whole RFC 5424 message ending in its line
		next := map[string]int{}
		byStream := map[string][]wantRec{}
		for _, w := range want {
			byStream[w.source] = append(byStream[w.source], w)
		}
		p := newProblems(t, "syslog frames")
		for _, m := range msgs {
			hdr := "<30>1 "
			src := "stdout"
			if strings.HasPrefix(m, "<27>1 ") {
				hdr, src = "<27>1 ", "stderr"
			}
			if !strings.HasPrefix(m, hdr) {
				p.add("header", "frame %s does not start with <30>1 or <27>1", quoteLine(m))
				continue
			}
			i := next[src]
			if i >= len(byStream[src]) {
				p.add("extra", "frame %s", quoteLine(m))
				continue
			}
			w := byStream[src][i]
			next[src]++
			if !strings.HasSuffix(m, "] "+w.line) || !strings.Contains(m, " "+mk+" "+c.id[:12]+" - [logship@32473 ") {
				p.add("content", "frame %s, want %s message %d ending in %s", quoteLine(m), src, i+1, quoteLine(w.line))
			}
		}
		p.done()
	})
	t.Run("syslog-mtls", func(t *testing.T) {
		dir := pluginVisibleDir(t, "logship-e2e-tls-")
		for _, f := range []struct{ src, dst string }{{e.TLSCA, "ca.pem"}, {e.TLSClientCert, "client.pem"}, {e.TLSClientKey, "client.key"}} {
			copyFile(t, f.src, filepath.Join(dir, f.dst))
		}
		syslogCase(t, "mtls", []string{"syslog-address=tcp+tls://" + e.SyslogMTLS,
			"syslog-tls-ca-cert=" + filepath.Join(dir, "ca.pem"),
			"syslog-tls-cert=" + filepath.Join(dir, "client.pem"),
			"syslog-tls-key=" + filepath.Join(dir, "client.key")})
	})

	for _, format := range []string{"ndjson", "elasticsearch", "loki", "splunk-hec"} {
		for _, comp := range []string{"gzip", "zstd"} {
			t.Run("http-"+format+"-"+comp, func(t *testing.T) {
				mk := marker(t)
				script, want := mixedWorkload(mk, n)
				c := runDelivery(t, mk, []string{"http-url=" + vlURL(e, format), "http-format=" + format, "http-compression=" + comp}, script)
				times := dockerTimes(t, c)
				q := vlSelector(format, c.name)
				waitVLCount(t, q, len(want), time.Minute)
				checkVL(t, format, c, want, times, vlQuery(t, q))
			})
		}
	}
}

// A 100 KiB line reaches every receiver as one record.
func TestDeliveryLongLine(t *testing.T) {
	e := requireDelivery(t)
	mk := marker(t)
	const size = 100 << 10
	long := patternLine(size)
	c := runDelivery(t, mk, []string{fluentOpt(e), "fluentd-request-ack=true", "syslog-address=tcp://" + e.SyslogTCP,
		"tag=" + mk, "http-url=" + vlURL(e, "ndjson")},
		fmt.Sprintf("echo %s-before; %s; echo; echo %s-after", mk, shPatternLine(size), mk))
	if stdout, _ := c.logs(); stdout != mk+"-before\n"+long+"\n"+mk+"-after\n" {
		t.Fatalf("docker logs: %s", firstDiff(mk+"-before\n"+long+"\n"+mk+"-after\n", stdout))
	}
	wantLines := []string{mk + "-before", long, mk + "-after"}
	check := func(what string, got []string) {
		t.Helper()
		if len(got) != len(wantLines) {
			var sizes []int
			for _, g := range got {
				sizes = append(sizes, len(g))
			}
			t.Errorf("%s: %d records of sizes %v, want 3 (the 100 KiB line as one record of %d bytes)", what, len(got), sizes, size)
			return
		}
		for i := range got {
			if got[i] != wantLines[i] {
				t.Errorf("%s: record %d (%d bytes): %s", what, i+1, len(got[i]), firstDiff(wantLines[i]+"\n", got[i]+"\n"))
			}
		}
	}

	recs := waitFluentCount(t, 3, time.Minute, fluentAttrIs("container_name", "/"+c.name))
	recs = waitFluentCount(t, len(recs), time.Second, fluentAttrIs("container_name", "/"+c.name))
	var got []string
	for _, r := range recs {
		got = append(got, fluentBody(r))
	}
	check("fluent receiver", got)

	msgs := waitSyslogCount(t, 3, time.Minute, syslogFieldIs("app", mk))
	msgs = waitSyslogCount(t, len(msgs), time.Second, syslogFieldIs("app", mk))
	got = nil
	for _, m := range msgs {
		got = append(got, syslogField(m, "msg"))
	}
	check("rsyslog tcp", got)

	q := vlSelector("ndjson", c.name)
	waitVLCount(t, q, 3, time.Minute)
	rows := vlQuery(t, q+" | sort by (_time)")
	got = nil
	for _, r := range rows {
		s, _ := r["_msg"].(string)
		got = append(got, s)
	}
	check("VictoriaLogs ndjson", got)
}

// ---------------------------------------------------------------------------
// 2. fan-out: one container, three sinks

func TestDeliveryFanOut(t *testing.T) {
	e := requireDelivery(t)
	const n = 300
	mk := marker(t)
	c := runDelivery(t, mk, []string{fluentOpt(e), "fluentd-request-ack=true", "syslog-address=tcp://" + e.SyslogTCP,
		"tag=" + mk, "http-url=" + vlURL(e, "ndjson")},
		fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "%s-fan-$i"; i=$((i+1)); done`, n, mk))
	prefix := mk + "-fan-"
	check := func(what string, bodies []string) {
		t.Helper()
		nums, other := numbered(strings.Join(bodies, "\n"), prefix)
		if len(other) > 0 {
			t.Errorf("%s: unexpected records: %q", what, lastN(other, 3))
		}
		missing, disorder := sequenceReport(nums, n)
		if len(missing) > 0 || len(nums) != n {
			t.Errorf("%s: %d records, want %d; missing %s", what, len(nums), n, rangesOf(missing))
		}
		if disorder != "" && what != "VictoriaLogs" { // VictoriaLogs sorts by time itself
			t.Errorf("%s: out of order: %s", what, disorder)
		}
	}
	var bodies []string
	for _, r := range waitFluentCount(t, n, time.Minute, fluentAttrIs("container_name", "/"+c.name)) {
		bodies = append(bodies, fluentBody(r))
	}
	check("fluent receiver", bodies)
	bodies = nil
	for _, m := range waitSyslogCount(t, n, time.Minute, syslogFieldIs("app", mk)) {
		bodies = append(bodies, syslogField(m, "msg"))
	}
	check("rsyslog", bodies)
	waitVLCount(t, vlSelector("ndjson", c.name), n, time.Minute)
	bodies = nil
	for _, r := range vlQuery(t, vlSelector("ndjson", c.name)+" | sort by (_time)") {
		s, _ := r["_msg"].(string)
		bodies = append(bodies, s)
	}
	check("VictoriaLogs", bodies)
	// and nothing more arrived at the first two meanwhile
	if recs := waitFluentCount(t, n, time.Second, fluentAttrIs("container_name", "/"+c.name)); len(recs) != n {
		t.Errorf("fluent receiver: %d records in the end, want %d", len(recs), n)
	}
	if msgs := waitSyslogCount(t, n, time.Second, syslogFieldIs("app", mk)); len(msgs) != n {
		t.Errorf("rsyslog: %d messages in the end, want %d", len(msgs), n)
	}
}

// ---------------------------------------------------------------------------
// 8. the counters match what was delivered

func TestDeliveryCountersMatch(t *testing.T) {
	e := requireDelivery(t)
	const n = 500
	for _, tc := range []struct {
		sink string
		opts func(mk string) []string
		wait func(t *testing.T, c *container, mk string)
	}{
		{"fluentd", func(string) []string { return []string{fluentOpt(e), "fluentd-request-ack=true"} },
			func(t *testing.T, c *container, _ string) {
				waitFluentCount(t, n, time.Minute, fluentAttrIs("container_name", "/"+c.name))
			}},
		{"syslog", func(mk string) []string { return []string{"syslog-address=tcp://" + e.SyslogTCP, "tag=" + mk} },
			func(t *testing.T, _ *container, mk string) {
				waitSyslogCount(t, n, time.Minute, syslogFieldIs("app", mk))
			}},
		{"http", func(string) []string { return []string{"http-url=" + vlURL(e, "ndjson")} },
			func(t *testing.T, c *container, _ string) {
				waitVLCount(t, vlSelector("ndjson", c.name), n, time.Minute)
			}},
	} {
		t.Run(tc.sink, func(t *testing.T) {
			g := guardPlugin(t)
			before := metrics(t)
			mk := marker(t)
			c := runDelivery(t, mk, tc.opts(mk), fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "%s-cnt-$i"; i=$((i+1)); done`, n, mk))
			tc.wait(t, c, mk)
			key := sinkKey("logship_sink_records_delivered_total", tc.sink)
			// the counter moves after the receiver took the batch (for fluentd,
			// after the ack), so it may trail the receiver's output a little
			waitMetric(t, key, 30*time.Second, "delivered counter", func(v float64) bool { return v-before[key] >= n })
			after := metrics(t)
			g.check(t)
			if d := after[key] - before[key]; d != n {
				t.Errorf("%s increased by %v, want exactly %d (other containers shipping to %s at the same time would explain more)", key, d, n, tc.sink)
			}
			for _, r := range dropReasons {
				k := dropKey(tc.sink, r)
				if d := after[k] - before[k]; d != 0 {
					t.Errorf("%s increased by %v, want 0", k, d)
				}
			}
			for _, name := range []string{"logship_sink_records_retried_total", "logship_sink_attempts_failed_total"} {
				k := sinkKey(name, tc.sink)
				if d := after[k] - before[k]; d != 0 {
					t.Logf("note: %s increased by %v during a clean run", k, d)
				}
			}
			bk := sinkKey("logship_sink_bytes_sent_total", tc.sink)
			t.Logf("%s: delivered +%v, bytes sent +%v", tc.sink, after[key]-before[key], after[bk]-before[bk])
		})
	}
}

// ---------------------------------------------------------------------------
// 9. a bad sink option fails docker run, naming the option

func TestDeliveryBadSinkOptionRejected(t *testing.T) {
	e := requireDelivery(t)
	cases := []logOptCase{
		{"valid-control", []string{fluentOpt(e), "syslog-address=tcp://" + e.SyslogTCP, "http-url=" + vlURL(e, "ndjson")}, ""},
		{"fluentd-address-port", []string{"fluentd-address=tcp://127.0.0.1:notaport"}, "fluentd-address"},
		{"fluentd-address-scheme", []string{"fluentd-address=udp://127.0.0.1:24224"}, "fluentd-address"},
		{"fluentd-max-retries", []string{fluentOpt(e), "fluentd-max-retries=-1"}, "fluentd-max-retries"},
		{"fluentd-tls-without-tls", []string{fluentOpt(e), "fluentd-tls-ca-cert=/var/lib/docker/nope.pem"}, "fluentd-tls-ca-cert"},
		{"http-format", []string{"http-url=" + vlURL(e, "ndjson"), "http-format=xml"}, "http-format"},
		{"http-url-scheme", []string{"http-url=ftp://127.0.0.1/x"}, "http-url"},
		{"http-compression", []string{"http-url=" + vlURL(e, "ndjson"), "http-compression=brotli"}, "http-compression"},
		{"http-timeout", []string{"http-url=" + vlURL(e, "ndjson"), "http-timeout=5ms"}, "http-timeout"},
		{"http-auth-file-missing", []string{"http-url=" + vlURL(e, "ndjson"), "http-auth-file=/var/lib/docker/logship-e2e-no-such-file"}, "http-auth-file"},
		{"syslog-facility", []string{"syslog-address=tcp://" + e.SyslogTCP, "syslog-facility=nope"}, "syslog-facility"},
		{"syslog-facility-without-address", []string{"syslog-facility=nope"}, "syslog-facility"},
		{"syslog-address-scheme", []string{"syslog-address=http://127.0.0.1:514"}, "syslog-address"},
		{"syslog-tls-on-plain-tcp", []string{"syslog-address=tcp://" + e.SyslogTCP, "syslog-tls-skip-verify=true"}, "syslog-tls-skip-verify"},
		{"several-at-once", []string{"fluentd-address=tcp://127.0.0.1:notaport", "http-url=" + vlURL(e, "ndjson"), "http-format=xml", "syslog-facility=nope"},
			"fluentd-address|http-format|syslog-facility"},
	}
	runLogOptCases(t, cases)
}

// ---------------------------------------------------------------------------
// 6. HTTP faults, from a server in this process

type faultReq struct {
	start   time.Time
	wireLen int
	bodyLen int
	lines   []string // the "log" member of each NDJSON object
	status  int      // 0 while being answered; -1 if the client gave up first
	took    time.Duration
}

type faultAction struct {
	status int
	header map[string]string
	body   string
	hang   bool // answer only after the client gave up (or 30 s)
}

// faultServer takes NDJSON (any compression) and answers what decide says;
// lines of 2xx answers count as accepted.
type faultServer struct {
	t      *testing.T
	srv    *httptest.Server
	decide func(i int, r *faultReq) faultAction

	mu       sync.Mutex
	reqs     []*faultReq
	accepted map[string]int
	change   chan struct{}
}

func startFaultServer(t *testing.T, decide func(i int, r *faultReq) faultAction) *faultServer {
	t.Helper()
	s := &faultServer{t: t, decide: decide, accepted: map[string]int{}, change: make(chan struct{})}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *faultServer) url() string { return s.srv.URL + "/ingest" }

func (s *faultServer) notify() {
	close(s.change)
	s.change = make(chan struct{})
}

func (s *faultServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body := raw
	switch r.Header.Get("Content-Encoding") {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			s.t.Errorf("fault server: bad gzip body: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(zr)
			zr.Close()
		}
		if err != nil {
			s.t.Errorf("fault server: bad zstd body: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	fr := &faultReq{start: start, wireLen: len(raw), bodyLen: len(body)}
	for _, l := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
		var obj struct {
			Log string `json:"log"`
		}
		if err := json.Unmarshal(l, &obj); err != nil {
			s.t.Errorf("fault server: bad NDJSON line %q: %v", truncate(string(l), 200), err)
			continue
		}
		fr.lines = append(fr.lines, obj.Log)
	}
	s.mu.Lock()
	i := len(s.reqs)
	s.reqs = append(s.reqs, fr)
	s.notify()
	s.mu.Unlock()

	a := s.decide(i, fr)
	if a.hang {
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		s.mu.Lock()
		fr.status, fr.took = -1, time.Since(start)
		s.notify()
		s.mu.Unlock()
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
	s.mu.Lock()
	fr.status, fr.took = a.status, time.Since(start)
	if a.status/100 == 2 {
		for _, l := range fr.lines {
			s.accepted[l]++
		}
	}
	s.notify()
	s.mu.Unlock()
}

// waitFor waits until cond (called with the server's lock held) holds.
func (s *faultServer) waitFor(what string, timeout time.Duration, cond func() bool) {
	s.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.change
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			s.t.Fatalf("fault server: %s: not within %v; requests: %s", what, timeout, s.summary())
		}
	}
}

// waitAccepted waits until every line was accepted at least once.
func (s *faultServer) waitAccepted(lines []string, timeout time.Duration) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("all %d lines accepted", len(lines)), timeout, func() bool {
		for _, l := range lines {
			if s.accepted[l] == 0 {
				return false
			}
		}
		return true
	})
}

func (s *faultServer) snapshot() []faultReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]faultReq, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = *r
	}
	return out
}

func (s *faultServer) summary() string {
	var b strings.Builder
	reqs := s.snapshot()
	var t0 time.Time
	for i, r := range reqs {
		if i == 0 {
			t0 = r.start
		}
		if i == 20 {
			fmt.Fprintf(&b, " … (%d requests)", len(reqs))
			break
		}
		fmt.Fprintf(&b, "\n  #%d at +%v: %d lines, %d bytes (%d on the wire), answered %d after %v",
			i+1, r.start.Sub(t0).Round(time.Millisecond), len(r.lines), r.bodyLen, r.wireLen, r.status, r.took.Round(time.Millisecond))
	}
	if len(reqs) == 0 {
		return "none"
	}
	return b.String()
}

// checkAcceptedOnce checks that each line was accepted exactly once.
func (s *faultServer) checkAcceptedOnce(lines []string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	bad := 0
	for _, l := range lines {
		want[l] = true
		if n := s.accepted[l]; n != 1 {
			if bad++; bad <= 3 {
				s.t.Errorf("line %s accepted %d times, want once", quoteLine(l), n)
			}
		}
	}
	for l := range s.accepted {
		if !want[l] {
			if bad++; bad <= 3 {
				s.t.Errorf("unexpected line accepted: %s", quoteLine(l))
			}
		}
	}
	if bad > 3 {
		s.t.Errorf("%d lines accepted other than exactly once", bad)
	}
}

func numberedLines(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

func numberedScript(prefix string, n int) string {
	return fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo "%s$i"; i=$((i+1)); done`, n, prefix)
}

func TestDeliveryHTTPFaults(t *testing.T) {
	requireDelivery(t)
	const n = 50
	ok := faultAction{status: http.StatusOK}

	t.Run("429-retry-after", func(t *testing.T) {
		g := guardPlugin(t)
		before := metrics(t)
		s := startFaultServer(t, func(i int, _ *faultReq) faultAction {
			if i == 0 {
				return faultAction{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "2"}, body: "slow down"}
			}
			return ok
		})
		mk := marker(t)
		lines := numberedLines(mk+"-ra-", n)
		runDelivery(t, mk, []string{"http-url=" + s.url(), "http-compression=none"}, numberedScript(mk+"-ra-", n))
		s.waitAccepted(lines, time.Minute)
		reqs := s.snapshot()
		if len(reqs) < 2 {
			t.Fatalf("want a refused request and a retry: %s", s.summary())
		}
		gap := reqs[1].start.Sub(reqs[0].start)
		t.Logf("retry %v after the 429 with Retry-After: 2; requests: %s", gap.Round(time.Millisecond), s.summary())
		if gap < 2*time.Second {
			t.Errorf("the retry came %v after the 429, want at least the 2 s of Retry-After", gap)
		}
		if gap > 5*time.Second {
			t.Errorf("the retry came %v after the 429 with Retry-After: 2, want about 2 s", gap)
		}
		if !slices.Equal(reqs[0].lines, reqs[1].lines) {
			t.Errorf("the retry carried %d lines, the refused request %d: want the same batch", len(reqs[1].lines), len(reqs[0].lines))
		}
		s.checkAcceptedOnce(lines)
		after := metrics(t)
		g.check(t)
		k := sinkKey("logship_sink_records_retried_total", "http")
		if d := after[k] - before[k]; d < float64(len(reqs[0].lines)) {
			t.Errorf("%s increased by %v, want at least %d (the refused batch)", k, d, len(reqs[0].lines))
		}
	})

	t.Run("500-then-ok", func(t *testing.T) {
		g := guardPlugin(t)
		before := metrics(t)
		s := startFaultServer(t, func(i int, _ *faultReq) faultAction {
			if i < 2 {
				return faultAction{status: http.StatusInternalServerError, body: "boom"}
			}
			return ok
		})
		mk := marker(t)
		lines := numberedLines(mk+"-5xx-", n)
		runDelivery(t, mk, []string{"http-url=" + s.url(), "http-compression=gzip"}, numberedScript(mk+"-5xx-", n))
		s.waitAccepted(lines, time.Minute)
		t.Logf("requests: %s", s.summary())
		if reqs := s.snapshot(); len(reqs) < 3 || reqs[2].status != http.StatusOK {
			t.Errorf("want two refused requests and then an accepted one: %s", s.summary())
		}
		s.checkAcceptedOnce(lines)
		after := metrics(t)
		g.check(t)
		k := sinkKey("logship_sink_records_retried_total", "http")
		if d := after[k] - before[k]; d < 2 {
			t.Errorf("%s increased by %v after two 500s", k, d)
		}
		for _, r := range dropReasons {
			if k := dropKey("http", r); after[k] != before[k] {
				t.Errorf("%s increased by %v", k, after[k]-before[k])
			}
		}
	})

	t.Run("413-split", func(t *testing.T) {
		g := guardPlugin(t)
		before := metrics(t)
		const limit = 8 << 10
		s := startFaultServer(t, func(_ int, r *faultReq) faultAction {
			if r.wireLen > limit {
				return faultAction{status: http.StatusRequestEntityTooLarge, body: "request entity too large"}
			}
			return ok
		})
		mk := marker(t)
		// 100 lines of ~120 bytes (each record ~400 bytes of JSON: one batch
		// is ~40 KB, split until the pieces are under 8 KiB), and in the
		// middle one line of 12000 bytes that no request can carry.
		pad := strings.Repeat("x", 100)
		var lines []string
		for i := 1; i <= 100; i++ {
			lines = append(lines, fmt.Sprintf("%s-big-%d %s", mk, i, pad))
		}
		script := fmt.Sprintf(`i=1; while [ $i -le 50 ]; do echo "%[1]s-big-$i %[2]s"; i=$((i+1)); done
%[3]s; echo
i=51; while [ $i -le 100 ]; do echo "%[1]s-big-$i %[2]s"; i=$((i+1)); done`, mk, pad, shPatternLine(12000))
		runDelivery(t, mk, []string{"http-url=" + s.url(), "http-compression=none"}, script)
		s.waitAccepted(lines, time.Minute)
		key := dropKey("http", "too_large")
		waitMetric(t, key, 30*time.Second, "the 12000-byte line dropped as too large", func(v float64) bool { return v > before[key] })
		after := metrics(t)
		g.check(t)
		reqs := s.snapshot()
		refused := 0
		for _, r := range reqs {
			if r.status == http.StatusRequestEntityTooLarge {
				refused++
			}
		}
		t.Logf("%d requests, %d refused with 413", len(reqs), refused)
		if refused == 0 {
			t.Errorf("no request was over %d bytes, so nothing was split: %s", limit, s.summary())
		}
		s.checkAcceptedOnce(lines)
		if d := after[key] - before[key]; d != 1 {
			t.Errorf("%s increased by %v, want 1 (the 12000-byte line)", key, d)
		}
		if k := dropKey("http", "permanent"); after[k] != before[k] {
			t.Errorf("%s increased by %v, want 0", k, after[k]-before[k])
		}
		s.mu.Lock()
		if n := s.accepted[patternLine(12000)]; n != 0 {
			t.Errorf("the 12000-byte line was accepted %d times", n)
		}
		s.mu.Unlock()
	})

	t.Run("400-permanent", func(t *testing.T) {
		g := guardPlugin(t)
		before := metrics(t)
		s := startFaultServer(t, func(int, *faultReq) faultAction {
			return faultAction{status: http.StatusBadRequest, body: `{"error":"bad request"}`}
		})
		mk := marker(t)
		lines := numberedLines(mk+"-400-", n)
		runDelivery(t, mk, []string{"http-url=" + s.url(), "http-compression=none"}, numberedScript(mk+"-400-", n))
		key := dropKey("http", "permanent")
		waitMetric(t, key, time.Minute, "the refused lines counted as dropped", func(v float64) bool { return v-before[key] >= n })
		// A retry would come after the backoff (1 s ± 20 %); watch 3 s for it.
		atDrop := len(s.snapshot())
		time.Sleep(3 * time.Second) // observing that nothing happens: no event to wait for
		reqs := s.snapshot()
		after := metrics(t)
		g.check(t)
		t.Logf("requests: %s", s.summary())
		if len(reqs) != atDrop {
			t.Errorf("%d more requests after the batch was dropped: a 400 is retried", len(reqs)-atDrop)
		}
		sent := map[string]int{}
		for _, r := range reqs {
			for _, l := range r.lines {
				sent[l]++
			}
		}
		for _, l := range lines {
			if sent[l] != 1 {
				t.Errorf("line %s sent %d times, want once (a 400 is permanent)", l, sent[l])
				break
			}
		}
		if d := after[key] - before[key]; d != n {
			t.Errorf("%s increased by %v, want %d", key, d, n)
		}
		if k := sinkKey("logship_sink_records_retried_total", "http"); after[k] != before[k] {
			t.Errorf("%s increased by %v, want 0", k, after[k]-before[k])
		}
	})

	t.Run("slow-beyond-http-timeout", func(t *testing.T) {
		g := guardPlugin(t)
		before := metrics(t)
		s := startFaultServer(t, func(i int, _ *faultReq) faultAction {
			if i == 0 {
				return faultAction{hang: true}
			}
			return ok
		})
		mk := marker(t)
		lines := numberedLines(mk+"-slow-", n)
		runDelivery(t, mk, []string{"http-url=" + s.url(), "http-compression=none", "http-timeout=1s"}, numberedScript(mk+"-slow-", n))
		s.waitAccepted(lines, time.Minute)
		reqs := s.snapshot()
		t.Logf("requests: %s", s.summary())
		if len(reqs) < 2 {
			t.Fatalf("want a request that timed out and a retry: %s", s.summary())
		}
		if reqs[0].status != -1 {
			t.Errorf("the first request was answered (%d): the server should have seen the client give up", reqs[0].status)
		} else if reqs[0].took < 900*time.Millisecond || reqs[0].took > 5*time.Second {
			t.Errorf("the client gave up on the slow request after %v, want about http-timeout=1s", reqs[0].took)
		}
		s.checkAcceptedOnce(lines)
		after := metrics(t)
		g.check(t)
		if k := sinkKey("logship_sink_records_retried_total", "http"); after[k]-before[k] < float64(len(reqs[0].lines)) {
			t.Errorf("%s increased by %v, want at least %d", k, after[k]-before[k], len(reqs[0].lines))
		}
	})
}

// ---------------------------------------------------------------------------
// fluent receiver outages

// fluentNumbers parses the bodies "<prefix><n>..." of one container's
// records into numbers, per stream, in arrival order.
func fluentNumbers(recs []map[string]any, prefix string) map[string][]int {
	out := map[string][]int{}
	for _, r := range recs {
		rest, ok := strings.CutPrefix(fluentBody(r), prefix)
		if !ok {
			continue
		}
		end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(rest)
		}
		if n, err := strconv.Atoi(rest[:end]); err == nil {
			src := fluentAttr(r, "source")
			out[src] = append(out[src], n)
		}
	}
	return out
}

// waitFluentAll waits until every number in want[stream] arrived at least
// once for the container, and returns its records.
func waitFluentAll(t *testing.T, name, prefix string, want map[string][]int, timeout time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	sel := fluentAttrIs("container_name", "/"+name)
	for {
		var recs []map[string]any
		for _, r := range fluentRecords(t) {
			if sel(r) {
				recs = append(recs, r)
			}
		}
		got := fluentNumbers(recs, prefix)
		var missing []string
		for src, nums := range want {
			seen := map[int]bool{}
			for _, n := range got[src] {
				seen[n] = true
			}
			var miss []int
			for _, n := range nums {
				if !seen[n] {
					miss = append(miss, n)
				}
			}
			if len(miss) > 0 {
				missing = append(missing, fmt.Sprintf("%s: %d missing (%s)", src, len(miss), rangesOf(miss)))
			}
		}
		if len(missing) == 0 {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("fluent receiver: not every line of %s arrived within %v (%d records so far): %s", name, timeout, len(recs), strings.Join(missing, "; "))
		}
		time.Sleep(100 * time.Millisecond) // polling a file another process writes, bounded
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// duplicateReport counts the numbers that arrived more than once and checks
// that each stream's numbers first arrived in increasing order.
func duplicateReport(t *testing.T, got map[string][]int) (dups int, dupRange map[string][]int) {
	t.Helper()
	dupRange = map[string][]int{}
	for src, nums := range got {
		seen := map[int]int{}
		last := 0
		for _, n := range nums {
			seen[n]++
			if seen[n] > 1 {
				dups++
				if seen[n] == 2 {
					dupRange[src] = append(dupRange[src], n)
				}
				continue
			}
			if n < last {
				t.Errorf("%s: %d first arrived after %d: records out of order", src, n, last)
				break
			}
			last = n
		}
		sort.Ints(dupRange[src])
	}
	return dups, dupRange
}

// 3. the receiver is down when the container starts and comes back later.
func TestDeliveryReceiverDownAtStart(t *testing.T) {
	e := requireDelivery(t)
	const n = 2000
	g := guardPlugin(t)
	// The lag gauge is the worst over every fluentd shipper: it can only
	// show this container's lag if no other shipper is behind.
	if ok, lag := lagSettled(t, "fluentd", 45*time.Second, nil); !ok {
		t.Fatalf("precondition: logship_sink_lag_seconds{sink=\"fluentd\"} is %v s before the test, with the receiver up: another container's shipper is behind "+
			"(a dead fluentd-address, or a backlog resumed after a plugin restart), so this test cannot see its own lag. Recent fluentd failures:\n%s",
			lag, sinkFailures(t, "fluentd", time.Now().Add(-5*time.Minute)))
	}
	stopReceiver(t, "fluent")
	before := metrics(t)
	mk := marker(t)
	prefix := mk + "-down-"
	name, args := runArgs(t, runSpec{suffix: mk, logOpts: []string{fluentOpt(e), "fluentd-request-ack=true"},
		script: numberedScript(prefix, n)})
	t.Cleanup(func() { dockerRaw(time.Minute, "rm", "-f", name) })
	dockerRaw(30*time.Second, "rm", "-f", name)
	r := dockerRaw(2*time.Minute, append([]string{"run"}, args...)...)
	if r.err != nil {
		t.Fatalf("docker run with the fluent receiver down: %v (after %v)", r, r.dur)
	}
	if got := strings.Count(r.stdout, "\n"); got != n {
		t.Errorf("docker run printed %d lines, want %d", got, n)
	}
	t.Logf("docker run (write %d lines and exit) with the receiver down took %v", n, r.dur.Round(time.Millisecond))
	if r.dur > 10*time.Second {
		t.Errorf("docker run took %v with the receiver down: the container waited for it", r.dur)
	}
	c := &container{t: t, name: name}
	if stdout, _ := c.logs("--tail", "1"); stdout != fmt.Sprintf("%s%d\n", prefix, n) {
		t.Errorf("docker logs --tail 1: %q", stdout)
	}

	lagKey := sinkKey("logship_sink_lag_seconds", "fluentd")
	retKey := sinkKey("logship_sink_records_retried_total", "fluentd")
	lag := waitMetric(t, lagKey, 15*time.Second, "lag while the receiver is down", func(v float64) bool { return v > 0 })
	ret := waitMetric(t, retKey, 15*time.Second, "retries while the receiver is down", func(v float64) bool { return v > before[retKey] })
	t.Logf("while down: %s = %v, %s +%v", lagKey, lag, retKey, ret-before[retKey])
	if recs := fluentRecords(t); len(recs) > 0 {
		for _, r := range recs {
			if fluentAttr(r, "container_name") == "/"+name {
				t.Fatalf("a record arrived while the receiver was stopped: %v", r)
			}
		}
	}

	up := time.Now()
	startReceiver(t, "fluent")
	recs := waitFluentAll(t, name, prefix, map[string][]int{"stdout": seq(1, n)}, 45*time.Second)
	t.Logf("all %d lines arrived %v after the receiver came back (%d records)", n, time.Since(up).Round(time.Millisecond), len(recs))
	dups, _ := duplicateReport(t, fluentNumbers(recs, prefix))
	if dups > 0 {
		t.Logf("%d duplicates", dups)
	}
	if ok, lag := lagSettled(t, "fluentd", 30*time.Second, nil); !ok {
		t.Errorf("%s is still %v s 30 s after every line arrived, want 0 (it is the worst over every fluentd shipper). Recent fluentd failures:\n%s",
			lagKey, lag, sinkFailures(t, "fluentd", up.Add(-time.Minute)))
	}
	g.check(t)
}

// 4. the receiver is killed (-9) while records stream to it, and comes back.
func TestDeliveryReceiverKilledMidStream(t *testing.T) {
	receiverKilledMidStream(t, 3*time.Second)
}

func TestDeliveryReceiverKilledMidStreamLongOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("70 s outage; skipped with -short")
	}
	receiverKilledMidStream(t, 70*time.Second)
}

func receiverKilledMidStream(t *testing.T, outage time.Duration) {
	e := requireDelivery(t)
	const n = 20000 // stdout; every 10th also on stderr
	g := guardPlugin(t)
	before := metrics(t)
	mk := marker(t)
	prefix := mk + "-k-"
	// about 5 s of writing: a pause of 50 ms every 200 lines
	script := fmt.Sprintf(`i=1
while [ $i -le %d ]; do
  echo "%[2]s$i stdout"
  if [ $((i %% 10)) -eq 0 ]; then echo "%[2]s$i stderr" >&2; fi
  if [ $((i %% 200)) -eq 0 ]; then usleep 50000; fi
  i=$((i+1))
done`, n, prefix)
	c := startContainer(t, runSpec{suffix: mk, logOpts: []string{fluentOpt(e), "fluentd-request-ack=true", "fluentd-retry-wait=200ms"}, script: script})
	waitFluentCount(t, 2000, time.Minute, fluentAttrIs("container_name", "/"+c.name))
	atKill := len(waitFluentCount(t, 0, time.Second, fluentAttrIs("container_name", "/"+c.name)))
	killReceiver(t, "fluent")
	killed := time.Now()
	time.Sleep(outage) // the outage itself is the workload
	startReceiver(t, "fluent")
	t.Logf("receiver killed with %d records of the container received, back after %v", atKill, time.Since(killed).Round(time.Millisecond))
	if code := c.wait(2 * time.Minute); code != 0 {
		t.Errorf("container exited with %d", code)
	}
	var errNums []int
	for i := 10; i <= n; i += 10 {
		errNums = append(errNums, i)
	}
	recs := waitFluentAll(t, c.name, prefix, map[string][]int{"stdout": seq(1, n), "stderr": errNums}, 90*time.Second)
	t.Logf("all %d lines arrived %v after the receiver came back", n+len(errNums), time.Since(killed).Round(time.Millisecond)-outage)
	dups, dupNums := duplicateReport(t, fluentNumbers(recs, prefix))
	after := metrics(t)
	g.check(t)
	retKey := sinkKey("logship_sink_records_retried_total", "fluentd")
	retried := after[retKey] - before[retKey]
	t.Logf("%d records, %d duplicates (stdout %s; stderr %s); %s +%v",
		len(recs), dups, rangesOf(dupNums["stdout"]), rangesOf(dupNums["stderr"]), retKey, retried)
	if float64(dups) > retried {
		t.Errorf("%d duplicates arrived but only %v records were counted as retried: each duplicate was sent again", dups, retried)
	}
	for _, r := range dropReasons {
		if k := dropKey("fluentd", r); after[k] != before[k] {
			t.Errorf("%s increased by %v", k, after[k]-before[k])
		}
	}
}

// ---------------------------------------------------------------------------
// 5. the plugin is killed (-9) with a backlog

func TestDeliveryResumesAfterPluginKill(t *testing.T) {
	e := requireDelivery(t)
	t.Cleanup(func() { ensurePluginEnabled(t, env.driver) })

	t.Run("running-container", func(t *testing.T) {
		const k, n = 2000, 10000
		mk := marker(t)
		prefix := mk + "-pk-"
		script := fmt.Sprintf(`i=1; while [ $i -le %[1]d ]; do echo "%[3]s$i"; i=$((i+1)); done
while [ ! -e /tmp/go ]; do usleep 20000; done
while [ $i -le %[2]d ]; do echo "%[3]s$i"; i=$((i+1)); done
echo %[2]d > /tmp/count
while [ ! -e /tmp/stop ]; do usleep 20000; done`, k, n, prefix)
		c := startContainer(t, runSpec{suffix: mk, logOpts: []string{fluentOpt(e), "fluentd-request-ack=true", "fluentd-retry-wait=200ms"}, script: script})
		sel := fluentAttrIs("container_name", "/"+c.name)
		waitFluentCount(t, k, time.Minute, sel)

		// a backlog: every batch now waits 5 s at the receiver before it is
		// written and acked
		fluentDelay(t, 5*time.Second)
		c.touch("/tmp/go")
		c.waitCounter(n, time.Minute, "second phase written")
		// the plugin has stored the last line (docker logs reads the ring)
		deadline := time.Now().Add(30 * time.Second)
		for {
			if stdout, _ := c.logs("--tail", "1"); stdout == fmt.Sprintf("%s%d\n", prefix, n) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the last line is not in docker logs 30 s after it was written")
			}
			time.Sleep(100 * time.Millisecond) // polling the plugin, bounded
		}
		atKill := len(waitFluentCount(t, 0, time.Second, sel))
		if atKill >= n {
			t.Fatalf("everything (%d records) was delivered before the kill: no backlog; the delay did not hold it", atKill)
		}
		killPlugin(t)
		fluentDelay(t, 0)
		t.Logf("%d of %d records delivered at the kill", atKill, n)

		recs := waitFluentAll(t, c.name, prefix, map[string][]int{"stdout": seq(1, n)}, 2*time.Minute)
		got := fluentNumbers(recs, prefix)
		dups, dupNums := duplicateReport(t, got)
		t.Logf("all %d lines arrived after the restart; %d records, %d duplicates (%s)", n, len(recs), dups, rangesOf(dupNums["stdout"]))
		var early []int
		for _, x := range dupNums["stdout"] {
			if x <= k {
				early = append(early, x)
			}
		}
		if len(early) > 0 {
			t.Errorf("%d of the first %d lines (acknowledged long before the kill) were sent again after the restart (%s): delivery did not resume from the persisted cursor",
				len(early), k, rangesOf(early))
		}
		c.touch("/tmp/stop")
		if code := c.wait(time.Minute); code != 0 {
			t.Errorf("container exited with %d", code)
		}
	})

	t.Run("stopped-container", func(t *testing.T) {
		const n = 3000
		mk := marker(t)
		prefix := mk + "-ps-"
		stopReceiver(t, "fluent")
		c := runDelivery(t, mk, []string{fluentOpt(e), "fluentd-request-ack=true", "fluentd-retry-wait=200ms"}, numberedScript(prefix, n))
		if stdout, _ := c.logs("--tail", "1"); stdout != fmt.Sprintf("%s%d\n", prefix, n) {
			t.Fatalf("docker logs --tail 1 after exit: %q", stdout)
		}
		killPlugin(t)
		startReceiver(t, "fluent")
		up := time.Now()
		recs := waitFluentAll(t, c.name, prefix, map[string][]int{"stdout": seq(1, n)}, 90*time.Second)
		dups, _ := duplicateReport(t, fluentNumbers(recs, prefix))
		t.Logf("the exited container's %d lines arrived %v after the receiver came back (%d records, %d duplicates): the restarted plugin resumed its delivery plan",
			n, time.Since(up).Round(time.Millisecond), len(recs), dups)
	})
}

// ---------------------------------------------------------------------------
// 7. docker stop while the receiver is down (must stay the last test here:
// its cleanup drains the backlog it leaves)

// deadAddr returns a loopback address nobody listens on, and a function
// that starts listening there and discards whatever arrives, to let shippers
// left retrying against it finish; idle tells how long nothing arrived.
func deadAddr(t *testing.T) (addr string, absorb func() (idle func() time.Duration, stop func())) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	return addr, func() (func() time.Duration, func()) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("cleanup: cannot listen on %s to drain the backlog left against it: %v", addr, err)
			return func() time.Duration { return time.Hour }, func() {}
		}
		var mu sync.Mutex
		var conns []net.Conn
		last := time.Now()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				last = time.Now()
				mu.Unlock()
				go func() {
					b := make([]byte, 64<<10)
					for {
						n, err := c.Read(b)
						if n > 0 {
							mu.Lock()
							last = time.Now()
							mu.Unlock()
						}
						if err != nil {
							return
						}
					}
				}()
			}
		}()
		idle := func() time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return time.Since(last)
		}
		return idle, func() {
			ln.Close()
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
		}
	}
}

// lagSettled polls the sink's lag gauge until it has read 0 for a second
// on end and cond holds; it returns false (and the last value) on timeout.
// The gauge is the worst over every shipper of that protocol, and reads 0
// for an instant between two batches of a shipper that is behind, so one
// 0 proves nothing.
func lagSettled(t testing.TB, sink string, timeout time.Duration, cond func() bool) (bool, float64) {
	t.Helper()
	key := sinkKey("logship_sink_lag_seconds", sink)
	u := metricsURL(t)
	deadline := time.Now().Add(timeout)
	var zeroSince time.Time
	var last float64
	for {
		m, err := fetchMetrics(u)
		switch {
		case err != nil:
			zeroSince = time.Time{}
		case m[key] == 0:
			last = 0
			if zeroSince.IsZero() {
				zeroSince = time.Now()
			}
		default:
			last, zeroSince = m[key], time.Time{}
		}
		if !zeroSince.IsZero() && time.Since(zeroSince) >= time.Second && (cond == nil || cond()) {
			return true, 0
		}
		if time.Now().After(deadline) {
			return false, last
		}
		time.Sleep(100 * time.Millisecond) // polling the plugin, bounded
	}
}

// sinkFailures returns the plugin's recent "delivery failed" log lines for
// a sink, to name the shippers that are behind.
func sinkFailures(t testing.TB, sink string, since time.Time) string {
	t.Helper()
	id := inspectPlugin(t, env.driver).ID
	lines, err := pluginLogSince(dockerdLogPath(), id, since, 1000)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, l := range lines {
		if strings.Contains(l, `"sink":"`+sink+`"`) && strings.Contains(l, "delivery failed") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return "(no delivery failures logged)"
	}
	return strings.Join(lastN(out, 5), "\n")
}

func TestDeliveryDockerStopWithReceiverDown(t *testing.T) {
	requireDelivery(t)
	addr, absorb := deadAddr(t)
	opts := []string{"fluentd-address=tcp://" + addr}
	t.Cleanup(func() {
		// The stopped (and removed) containers' shippers retry forever
		// against addr, and their delivery plans would be resumed by any
		// later plugin restart. Give them a receiver that takes everything
		// and wait until it has been idle for 3 s with no fluentd shipper
		// behind (a shipper may sit in a backoff of up to 36 s first).
		idle, stop := absorb()
		defer stop()
		start := time.Now()
		if ok, lag := lagSettled(t, "fluentd", 90*time.Second, func() bool { return idle() >= 3*time.Second }); !ok {
			t.Errorf("cleanup: the backlog left against the dead receiver %s was not drained within 90 s (fluentd lag %v s, receiver idle %v); "+
				"a later plugin restart will resume it, and it keeps logship_sink_lag_seconds{sink=\"fluentd\"} up. Recent fluentd failures:\n%s",
				addr, lag, idle().Round(time.Millisecond), sinkFailures(t, "fluentd", start.Add(-time.Minute)))
			return
		}
		t.Logf("cleanup: the backlog against the dead receiver drained in %v", time.Since(start).Round(time.Millisecond))
	})

	var took []time.Duration
	for i := 1; i <= 3; i++ {
		mk := marker(t)
		// sh as PID 1 ignores SIGTERM: docker stop -t 1 kills it after 1 s
		c := startContainer(t, runSpec{suffix: mk + "-" + strconv.Itoa(i), logOpts: opts,
			script: fmt.Sprintf(`i=0; while :; do i=$((i+1)); echo "%s-st-$i"; done`, mk)})
		deadline := time.Now().Add(30 * time.Second)
		for {
			if stdout, _ := c.logs("--tail", "1"); strings.HasPrefix(stdout, mk+"-st-") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("container %s: no line in docker logs within 30 s", c.name)
			}
			time.Sleep(100 * time.Millisecond) // polling the plugin, bounded
		}
		if i == 1 {
			// meanwhile, a new container to the same dead receiver starts,
			// logs and exits normally
			start := time.Now()
			c2 := runToExit(t, runSpec{suffix: mk + "-meanwhile", logOpts: opts, script: "echo meanwhile"}, time.Minute)
			t.Logf("a new container ran to exit in %v while another one logged to the dead receiver", time.Since(start).Round(time.Millisecond))
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("a new container took %v to run", d)
			}
			stdout, _ := c2.logs()
			expectOutput(t, "docker logs of the container started meanwhile", "meanwhile\n", stdout)
		}
		time.Sleep(time.Second) // workload: let it log against the dead receiver
		r := dockerRaw(time.Minute, "stop", "-t", "1", c.name)
		if r.err != nil {
			t.Fatalf("docker stop -t 1: %v", r)
		}
		took = append(took, r.dur)
		if code := c.wait(30 * time.Second); code != 137 {
			t.Errorf("exit code %d, want 137", code)
		}
		stdout, _ := c.logs("--tail", "1")
		if !strings.HasPrefix(stdout, mk+"-st-") {
			t.Errorf("docker logs --tail 1 after the stop: %q", truncate(stdout, 200))
		}
	}
	var ms []string
	for _, d := range took {
		ms = append(ms, d.Round(time.Millisecond).String())
	}
	t.Logf("docker stop -t 1 of a container logging to a dead fluentd receiver took %s", strings.Join(ms, ", "))
	for i, d := range took {
		if d >= 2*time.Second {
			t.Errorf("docker stop -t 1 #%d took %v, want < 2 s", i+1, d)
		}
	}
}
