package e2e

// Helpers for delivery tests against the real receivers of test/receivers
// (no tests here). The receivers are separate processes started by
// test/receivers/start.sh, which writes their addresses and output files to
// $LOGSHIP_TEST_CACHE/receivers.env:
//
//	fluent  OTel Collector fluentforwardreceiver: forward over TCP (+ UDP
//	        heartbeat) at FluentAddr; every record becomes one JSON line in
//	        FluentOut: {"time_unix_nano":N,"time":"RFC3339Nano","body":...,
//	        "attributes":{"fluent.tag":...,...}}. A chunk is acked only after
//	        its line was written; fluentReject and fluentDelay inject faults.
//	syslog  rsyslogd: SyslogTCP (octet counting or LF), SyslogTLS (anonymous
//	        client), SyslogMTLS (client cert required), SyslogUDP; one JSON
//	        object per message in SyslogOutJSON (input, pri, ts, host, app,
//	        procid, msgid, sd, msg, raw, ...), control characters verbatim.
//	vl      VictoriaLogs at VLURL (jsonline, ES bulk, Loki, Splunk HEC, OTLP)
//	        and VLSyslog*; read back with vlQuery (LogsQL).
//
// All tests share the receivers of a run, so a test must select its own
// records (a unique container name, tag or marker) with the match functions.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiverEnv is receivers.env.
type receiverEnv struct {
	RunDir string // RECV_RUN_DIR: this run's folder (configs, logs, outputs)

	FluentAddr  string // FLUENT_ADDR host:port, TCP forward + UDP heartbeat
	FluentOut   string // FLUENT_OUT: JSON lines, one per record
	FluentFail  string // FLUENT_FAIL: while it exists, batches are rejected (no ack)
	FluentDelay string // FLUENT_DELAY: while it exists, each batch waits that Go duration
	FluentLog   string // FLUENT_LOG: ffrecv's own log

	SyslogTCP     string // SYSLOG_TCP host:port
	SyslogUDP     string // SYSLOG_UDP host:port
	SyslogTLS     string // SYSLOG_TLS host:port, TLS, no client cert needed
	SyslogMTLS    string // SYSLOG_MTLS host:port, TLS, client cert required
	SyslogOutJSON string // SYSLOG_OUT_JSON: one JSON object per message
	SyslogOutRaw  string // SYSLOG_OUT_RAW: the raw messages, one per line
	SyslogLog     string // SYSLOG_LOG: rsyslogd's own messages

	TLSCA         string // TLS_CA: the test CA (PEM)
	TLSServerCert string // TLS_SERVER_CERT (SAN localhost, 127.0.0.1)
	TLSServerKey  string // TLS_SERVER_KEY
	TLSClientCert string // TLS_CLIENT_CERT (signed by TLS_CA)
	TLSClientKey  string // TLS_CLIENT_KEY

	VLURL       string // VL_URL http://host:port
	VLSyslogTCP string // VL_SYSLOG_TCP host:port
	VLSyslogUDP string // VL_SYSLOG_UDP host:port
	VLSyslogTLS string // VL_SYSLOG_TLS host:port (TLS 1.3, no client cert)
	VLData      string // VL_DATA: storage folder
	VLLog       string // VL_LOG: VictoriaLogs' own log

	Vars map[string]string // every KEY=value of the file
}

var recv struct {
	mu      sync.Mutex
	env     *receiverEnv
	started bool // this test binary ran start.sh
	files   map[string]*jsonlFile
}

func receiversScript(name string) string {
	return filepath.Join(env.repoRoot, "test", "receivers", name)
}

func receiversEnvPath() string {
	return filepath.Join(env.cacheDir, "receivers.env")
}

// startReceivers makes sure every receiver runs (start.sh: starts the ones
// that do not, quick when all do) and returns receivers.env.
func startReceivers(t testing.TB) *receiverEnv {
	t.Helper()
	runReceiversScript(t, "start.sh")
	recv.mu.Lock()
	recv.started = true
	recv.mu.Unlock()
	return reloadReceiverEnv(t)
}

// receivers returns receivers.env, starting the receivers first if this
// test binary has not read it yet.
func receivers(t testing.TB) *receiverEnv {
	t.Helper()
	recv.mu.Lock()
	e := recv.env
	recv.mu.Unlock()
	if e != nil {
		return e
	}
	return startReceivers(t)
}

// stopReceiversIfStarted stops every receiver (stop.sh) if this test binary
// started them; for TestMain, after m.Run.
func stopReceiversIfStarted() {
	recv.mu.Lock()
	started := recv.started
	recv.mu.Unlock()
	if started {
		if r := runCmd(2*time.Minute, nil, "bash", receiversScript("stop.sh")); r.err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stopping the receivers: %v\n", r)
		}
	}
}

func runReceiversScript(t testing.TB, script string, args ...string) {
	t.Helper()
	r := runCmd(3*time.Minute, nil, "bash", append([]string{receiversScript(script)}, args...)...)
	if r.err != nil {
		t.Fatalf("test/receivers/%s %s: %v\nstdout: %s", script, strings.Join(args, " "), r, truncate(r.stdout, 2000))
	}
}

func reloadReceiverEnv(t testing.TB) *receiverEnv {
	t.Helper()
	b, err := os.ReadFile(receiversEnvPath())
	if err != nil {
		t.Fatalf("receivers env: %v (run: bash test/receivers/start.sh)", err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" && !strings.HasPrefix(k, "#") {
			vars[k] = v
		}
	}
	e := &receiverEnv{Vars: vars}
	for key, dst := range map[string]*string{
		"RECV_RUN_DIR": &e.RunDir,
		"FLUENT_ADDR":  &e.FluentAddr, "FLUENT_OUT": &e.FluentOut, "FLUENT_FAIL": &e.FluentFail,
		"FLUENT_DELAY": &e.FluentDelay, "FLUENT_LOG": &e.FluentLog,
		"SYSLOG_TCP": &e.SyslogTCP, "SYSLOG_UDP": &e.SyslogUDP, "SYSLOG_TLS": &e.SyslogTLS,
		"SYSLOG_MTLS": &e.SyslogMTLS, "SYSLOG_OUT_JSON": &e.SyslogOutJSON, "SYSLOG_OUT_RAW": &e.SyslogOutRaw,
		"SYSLOG_LOG": &e.SyslogLog,
		"TLS_CA":     &e.TLSCA, "TLS_SERVER_CERT": &e.TLSServerCert, "TLS_SERVER_KEY": &e.TLSServerKey,
		"TLS_CLIENT_CERT": &e.TLSClientCert, "TLS_CLIENT_KEY": &e.TLSClientKey,
		"VL_URL": &e.VLURL, "VL_SYSLOG_TCP": &e.VLSyslogTCP, "VL_SYSLOG_UDP": &e.VLSyslogUDP,
		"VL_SYSLOG_TLS": &e.VLSyslogTLS, "VL_DATA": &e.VLData, "VL_LOG": &e.VLLog,
	} {
		v, ok := vars[key]
		if !ok {
			t.Fatalf("%s has no %s", receiversEnvPath(), key)
		}
		*dst = v
	}
	recv.mu.Lock()
	recv.env = e
	recv.mu.Unlock()
	return e
}

// ---------------------------------------------------------------------------
// outages: one receiver down and back on the same port and files

func checkReceiverName(t testing.TB, name string) {
	t.Helper()
	switch name {
	case "fluent", "syslog", "vl":
	default:
		t.Fatalf("unknown receiver %q (want fluent, syslog or vl)", name)
	}
}

// killReceiver SIGKILLs one receiver ("fluent", "syslog" or "vl") and waits
// until it is gone: a crash, no flush, connections reset. It is started again
// at cleanup if the test did not do it.
func killReceiver(t testing.TB, name string) {
	t.Helper()
	checkReceiverName(t, name)
	receivers(t)
	t.Cleanup(func() { runReceiversScript(t, "start.sh", name) })
	runReceiversScript(t, "stop.sh", "--kill", name)
}

// stopReceiver stops one receiver gracefully (SIGTERM) and waits until it is
// gone; it is started again at cleanup if the test did not do it.
func stopReceiver(t testing.TB, name string) {
	t.Helper()
	checkReceiverName(t, name)
	receivers(t)
	t.Cleanup(func() { runReceiversScript(t, "start.sh", name) })
	runReceiversScript(t, "stop.sh", name)
}

// startReceiver starts one receiver again (same ports, same output files)
// and waits until it listens; a no-op if it runs.
func startReceiver(t testing.TB, name string) {
	t.Helper()
	checkReceiverName(t, name)
	runReceiversScript(t, "start.sh", name)
}

// restartReceiver kills one receiver (SIGKILL) and starts it again.
func restartReceiver(t testing.TB, name string) {
	t.Helper()
	killReceiver(t, name)
	startReceiver(t, name)
}

// fluentReject makes the fluent receiver reject every batch (on) or accept
// again (off): a rejected chunk is not acked and its connection is closed,
// records sent without "chunk" are dropped. Reset at cleanup.
func fluentReject(t testing.TB, on bool) {
	t.Helper()
	e := receivers(t)
	t.Cleanup(func() { _ = os.Remove(e.FluentFail) })
	if !on {
		if err := os.Remove(e.FluentFail); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(e.FluentFail, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fluentDelay makes the fluent receiver wait d before it writes (and acks)
// each batch; 0 turns it off. The receiver gives up on a chunk after 30 s
// (no ack, connection closed). Reset at cleanup.
func fluentDelay(t testing.TB, d time.Duration) {
	t.Helper()
	e := receivers(t)
	t.Cleanup(func() { _ = os.Remove(e.FluentDelay) })
	if d <= 0 {
		if err := os.Remove(e.FluentDelay); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(e.FluentDelay, []byte(d.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// receiverTLSConfig trusts the test CA (server name localhost) and, with
// clientCert, presents the test client certificate (for SyslogMTLS).
func receiverTLSConfig(t testing.TB, clientCert bool) *tls.Config {
	t.Helper()
	e := receivers(t)
	pem, err := os.ReadFile(e.TLSCA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificate", e.TLSCA)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if clientCert {
		c, err := tls.LoadX509KeyPair(e.TLSClientCert, e.TLSClientKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg
}

// ---------------------------------------------------------------------------
// reading JSON-lines outputs

// jsonlFile reads a JSON-lines file another process appends to,
// incrementally: each call parses only what was added since the last one.
type jsonlFile struct {
	mu   sync.Mutex
	path string
	off  int64
	part []byte // an incomplete last line
	recs []map[string]any
}

func jsonlFor(path string) *jsonlFile {
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.files == nil {
		recv.files = map[string]*jsonlFile{}
	}
	f := recv.files[path]
	if f == nil {
		f = &jsonlFile{path: path}
		recv.files[path] = f
	}
	return f
}

// read returns every complete record in the file so far (numbers as
// json.Number, so nanosecond timestamps stay exact). The slice is shared:
// do not modify it.
func (f *jsonlFile) read(t testing.TB) []map[string]any {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.Open(f.path)
	if err != nil {
		t.Fatalf("receiver output: %v", err)
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && st.Size() < f.off { // truncated
		f.off, f.part, f.recs = 0, nil, nil
	}
	if _, err := fh.Seek(f.off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(fh, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		f.off += int64(len(line))
		if err != nil { // no '\n' yet: keep it for the next call
			f.part = append(f.part, line...)
			break
		}
		if len(f.part) > 0 {
			line = append(f.part, line...)
			f.part = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: bad JSON line %s: %v", f.path, truncate(string(line), 500), err)
		}
		f.recs = append(f.recs, m)
	}
	return f.recs
}

// waitJSONL polls the file until at least n records satisfy every match
// function and returns those records; it fails the test after timeout.
func waitJSONL(t testing.TB, f *jsonlFile, what string, n int, timeout time.Duration, match []func(map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got []map[string]any
	checked := 0
	for {
		recs := f.read(t)
		if checked > len(recs) { // the file was truncated
			checked, got = 0, nil
		}
	next:
		for _, r := range recs[checked:] {
			for _, m := range match {
				if !m(r) {
					continue next
				}
			}
			got = append(got, r)
		}
		checked = len(recs)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			var last []string
			for _, r := range lastRecs(got, 3) {
				b, _ := json.Marshal(r)
				last = append(last, string(b))
			}
			t.Fatalf("%s: %d matching records of %d in %s within %v, want %d; last matching: %s",
				what, len(got), len(recs), f.path, timeout, n, strings.Join(last, "\n"))
		}
		time.Sleep(50 * time.Millisecond) // polling a file another process writes, bounded
	}
}

func lastRecs(recs []map[string]any, n int) []map[string]any {
	if len(recs) > n {
		return recs[len(recs)-n:]
	}
	return recs
}

// ---------------------------------------------------------------------------
// fluent

// fluentRecords returns every record the fluent receiver wrote in this run:
// {"time_unix_nano": json.Number, "time": "RFC3339Nano", "body": any,
// "attributes": map[string]any}. Use fluentBody/fluentAttr to read them.
func fluentRecords(t testing.TB) []map[string]any {
	t.Helper()
	return jsonlFor(receivers(t).FluentOut).read(t)
}

// waitFluentCount waits until at least n fluent records satisfy all of match
// (all records if none) and returns them, in arrival order.
func waitFluentCount(t testing.TB, n int, timeout time.Duration, match ...func(map[string]any) bool) []map[string]any {
	t.Helper()
	return waitJSONL(t, jsonlFor(receivers(t).FluentOut), "fluent receiver", n, timeout, match)
}

// fluentBody is a record's body as a string ("" if it is not one).
func fluentBody(rec map[string]any) string {
	s, _ := rec["body"].(string)
	return s
}

// fluentAttr is one attribute as a string (numbers formatted, "" if absent).
func fluentAttr(rec map[string]any, key string) string {
	attrs, _ := rec["attributes"].(map[string]any)
	switch v := attrs[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// fluentTime is a record's event time (zero if it has none).
func fluentTime(rec map[string]any) time.Time {
	n, ok := rec["time_unix_nano"].(json.Number)
	if !ok {
		return time.Time{}
	}
	ns, err := n.Int64()
	if err != nil || ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// fluentAttrIs matches records whose attribute key equals value (e.g.
// "fluent.tag", or "container_name" "/name" as Docker's driver sends it).
func fluentAttrIs(key, value string) func(map[string]any) bool {
	return func(r map[string]any) bool { return fluentAttr(r, key) == value }
}

// fluentBodyContains matches records whose body contains s.
func fluentBodyContains(s string) func(map[string]any) bool {
	return func(r map[string]any) bool { return strings.Contains(fluentBody(r), s) }
}

// ---------------------------------------------------------------------------
// syslog (rsyslog)

// syslogMessages returns every message rsyslog wrote in this run, as its
// JSON template has them (all values strings): input (tcp, tls, mtls, udp),
// from, rcvts, ver, pri, facility, severity, ts, host, app, procid, msgid,
// tag, sd, msg, raw.
func syslogMessages(t testing.TB) []map[string]any {
	t.Helper()
	return jsonlFor(receivers(t).SyslogOutJSON).read(t)
}

// waitSyslogCount waits until at least n syslog messages satisfy all of
// match and returns them, in arrival order.
func waitSyslogCount(t testing.TB, n int, timeout time.Duration, match ...func(map[string]any) bool) []map[string]any {
	t.Helper()
	return waitJSONL(t, jsonlFor(receivers(t).SyslogOutJSON), "syslog receiver", n, timeout, match)
}

// syslogField is a field of a syslog message ("" if absent).
func syslogField(rec map[string]any, key string) string {
	s, _ := rec[key].(string)
	return s
}

// syslogFieldIs matches messages whose field key equals value.
func syslogFieldIs(key, value string) func(map[string]any) bool {
	return func(r map[string]any) bool { return syslogField(r, key) == value }
}

// syslogMsgContains matches messages whose MSG contains s.
func syslogMsgContains(s string) func(map[string]any) bool {
	return func(r map[string]any) bool { return strings.Contains(syslogField(r, "msg"), s) }
}

// ---------------------------------------------------------------------------
// VictoriaLogs

// vlQuery flushes VictoriaLogs' in-memory buffers (/internal/force_flush)
// and runs a LogsQL query, returning its rows (fields as strings: _msg,
// _time, _stream, ...). Rows with timestamps in the future do not match
// "_time:1h"; use an explicit range for those.
func vlQuery(t testing.TB, logsql string) []map[string]any {
	t.Helper()
	e := receivers(t)
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(e.VLURL + "/internal/force_flush")
	if err != nil {
		t.Fatalf("VictoriaLogs force_flush: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp, err = c.PostForm(e.VLURL+"/select/logsql/query", url.Values{"query": {logsql}})
	if err != nil {
		t.Fatalf("VictoriaLogs query %q: %v", logsql, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("VictoriaLogs query %q: %v", logsql, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("VictoriaLogs query %q: %s: %s", logsql, resp.Status, truncate(string(body), 1000))
	}
	var rows []map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("VictoriaLogs query %q: bad answer %s: %v", logsql, truncate(string(body), 500), err)
		}
		rows = append(rows, m)
	}
	return rows
}

// waitVLCount runs the query until it returns at least n rows, and returns
// them; it fails the test after timeout.
func waitVLCount(t testing.TB, logsql string, n int, timeout time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rows := vlQuery(t, logsql)
		if len(rows) >= n {
			return rows
		}
		if time.Now().After(deadline) {
			t.Fatalf("VictoriaLogs: %q returned %d rows within %v, want %d", logsql, len(rows), timeout, n)
		}
		time.Sleep(100 * time.Millisecond) // polling another process, bounded
	}
}
