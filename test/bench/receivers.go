package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// The receivers the delivery rows send to. The benchmark runs its own
// instance of each, on free loopback ports, with output in build/bench/:
// the shared ones of test/receivers (receivers.env) are used by the e2e
// tests, which may run at the same time, and they keep everything they
// got, while a benchmark run writes hundreds of MB.
//
//	fluentd  ffrecv (the OTel Collector's fluentforward receiver with a JSON-lines exporter)
//	syslog   rsyslogd, imtcp (octet counting or LF framing), one line per message
//	http     VictoriaLogs, /insert/jsonline (logship's ndjson format)
const (
	recvFluentd = "fluentd"
	recvSyslog  = "syslog"
	recvHTTP    = "http"
)

// sinkRecv is one running receiver. A run's records are told apart by the
// container name (the tag, for syslog), which is unique per run.
type sinkRecv interface {
	Addr() string // host:port
	Pid() int
	// Begin is called before a run whose container is named run.
	Begin(run string)
	// Count returns how many records of run arrived so far (-1: cannot tell).
	Count(run string) int64
	// Holding returns how many records of run contain needle (-1: cannot tell).
	Holding(run, needle string) int64
	Stop()
}

// waitRecv waits until r has want records of run, or the count stops
// changing for 5 s, or timeout passes.
func waitRecv(r sinkRecv, run string, want int64, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	last, lastChange := r.Count(run), time.Now()
	for last >= 0 && last < want && time.Now().Before(deadline) && time.Since(lastChange) < 5*time.Second {
		time.Sleep(200 * time.Millisecond) // polling the receiver, bounded
		if n := r.Count(run); n != last {
			last, lastChange = n, time.Now()
		}
	}
	return last
}

// cacheBin finds a binary of the test setup ($LOGSHIP_TEST_CACHE/bin).
func cacheBin(name string) string {
	cache := os.Getenv("LOGSHIP_TEST_CACHE")
	if cache == "" {
		cache = "/var/cache/logship-test"
	}
	return executable(filepath.Join(cache, "bin", name))
}

func executable(p string) string {
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// proc is a receiver process of the benchmark's own.
type proc struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	done    chan error
}

func startProc(dir, logName string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, logName)
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, logPath: logPath, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// waitListening polls addr until it accepts a connection, the process
// exits, or the timeout passes.
func (p *proc) waitListening(addr string, timeout time.Duration) error {
	p.addr = addr
	deadline := time.Now().Add(timeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-p.done:
			tail, _ := os.ReadFile(p.logPath)
			if len(tail) > 1500 {
				tail = tail[len(tail)-1500:]
			}
			return fmt.Errorf("%s exited (%v): %s", filepath.Base(p.cmd.Path), err, tail)
		default:
		}
		if time.Now().After(deadline) {
			p.Stop()
			return fmt.Errorf("%s not listening on %s after %v", filepath.Base(p.cmd.Path), addr, timeout)
		}
		time.Sleep(100 * time.Millisecond) // polling the port, bounded by the deadline
	}
}

func (p *proc) Addr() string { return p.addr }
func (p *proc) Pid() int     { return p.cmd.Process.Pid }

func (p *proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// lineFile is an output file with one line per record, emptied before each
// run (the writers append).
type lineFile struct{ path string }

func (f lineFile) Begin(string) { _ = os.Truncate(f.path, 0) }

func (f lineFile) Count(string) int64 { return f.Holding("", "") }

// Holding counts the lines containing needle ("": every line).
func (f lineFile) Holding(_, needle string) int64 {
	fd, err := os.Open(f.path)
	if err != nil {
		if os.IsNotExist(err) {
			return 0
		}
		return -1
	}
	defer fd.Close()
	if needle == "" {
		var c countLines
		if _, err := io.Copy(&c, fd); err != nil {
			return -1
		}
		return c.lines
	}
	sc := bufio.NewScanner(fd)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var n int64
	nb := []byte(needle)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), nb) {
			n++
		}
	}
	if sc.Err() != nil {
		return -1
	}
	return n
}

// ---------------------------------------------------------------------------
// Fluentd: ffrecv

type fluentRecv struct {
	*proc
	lineFile
}

// findFFRecv returns the path of the ffrecv binary, or "".
func findFFRecv(explicit, repo string) string {
	cands := []string{explicit, cacheBin("ffrecv")}
	// A path named in test/setup.sh, if the setup builds it elsewhere.
	if b, err := os.ReadFile(filepath.Join(repo, "test", "setup.sh")); err == nil {
		for _, m := range regexp.MustCompile(`(/[A-Za-z0-9_./-]*/ffrecv)\b`).FindAllSubmatch(b, -1) {
			cands = append(cands, string(m[1]))
		}
	}
	for _, c := range cands {
		if c != "" && executable(c) != "" {
			return c
		}
	}
	return ""
}

// startFluent starts ffrecv on a free loopback port; its jsonl exporter
// (test/receivers/ffrecv) writes one line per record.
func startFluent(bin, dir string) (*fluentRecv, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "records.jsonl")
	conf := fmt.Sprintf(`receivers:
  fluent_forward:
    endpoint: %s
exporters:
  jsonl:
    path: %q
service:
  telemetry: {metrics: {level: none}}
  pipelines: {logs: {receivers: [fluent_forward], exporters: [jsonl]}}
`, addr, out)
	cfgPath := filepath.Join(dir, "ffrecv.yaml")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(dir, "ffrecv.log", bin, "--config="+cfgPath)
	if err != nil {
		return nil, err
	}
	if err := p.waitListening(addr, 30*time.Second); err != nil {
		return nil, err
	}
	return &fluentRecv{proc: p, lineFile: lineFile{out}}, nil
}

// ---------------------------------------------------------------------------
// syslog: rsyslogd

type syslogRecv struct {
	*proc
	lineFile
}

func findRsyslogd() string {
	if p, err := exec.LookPath("rsyslogd"); err == nil {
		return p
	}
	return executable("/usr/sbin/rsyslogd")
}

// startSyslog runs rsyslogd in the foreground with only a TCP listener
// (octet counting or LF framing, as test/receivers' instance) and one
// output line per message: "APP-NAME MSG". Nothing else of the system's
// syslog is touched.
func startSyslog(bin, dir string) (*syslogRecv, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "messages.log")
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="256k" parser.escapeControlCharactersOnReceive="off")
module(load="imtcp" maxSessions="200")
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="bench" supportOctetCountedFraming="on")
template(name="line" type="string" string="%%app-name%% %%msg%%\n")
ruleset(name="bench") {
  action(type="omfile" file=%q template="line")
}
`, work, port, out)
	cfgPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(dir, "rsyslogd.log", bin, "-n", "-f", cfgPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	if err != nil {
		return nil, err
	}
	if err := p.waitListening(fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second); err != nil {
		return nil, err
	}
	return &syslogRecv{proc: p, lineFile: lineFile{out}}, nil
}

// ---------------------------------------------------------------------------
// HTTP: VictoriaLogs

type vlRecv struct {
	*proc
	url string
}

func startVL(bin, dir string) (*vlRecv, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	_ = os.RemoveAll(data) // nothing of an earlier run is kept
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := startProc(dir, "victoria-logs.log", bin, "-storageDataPath="+data, "-httpListenAddr="+addr,
		"-retentionPeriod=100y", "-loggerLevel=WARN")
	if err != nil {
		return nil, err
	}
	if err := p.waitListening(addr, 30*time.Second); err != nil {
		return nil, err
	}
	return &vlRecv{proc: p, url: "http://" + addr}, nil
}

// IngestURL is logship's http-url for VictoriaLogs' JSON-lines endpoint,
// as in test/e2e (container_name is the stream field the counts select on).
func (v *vlRecv) IngestURL() string {
	return v.url + "/insert/jsonline?_stream_fields=container_name,source&_msg_field=log&_time_field=time"
}

func (v *vlRecv) Begin(string) {}

func (v *vlRecv) Count(run string) int64 { return v.Holding(run, "") }

// Holding counts the run's records, or those whose log field holds needle
// (a substring filter on _msg).
func (v *vlRecv) Holding(run, needle string) int64 {
	c := &http.Client{Timeout: time.Minute}
	if resp, err := c.Get(v.url + "/internal/force_flush"); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	q := fmt.Sprintf(`{container_name=%q}`, run)
	if needle != "" {
		q += fmt.Sprintf(` _msg:~%q`, regexp.QuoteMeta(needle))
	}
	q += " | stats count() as n"
	resp, err := c.PostForm(v.url+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	var row struct{ N string }
	if err := json.Unmarshal(bytes.TrimSpace(body), &row); err != nil {
		return -1
	}
	n, err := strconv.ParseInt(row.N, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// ---------------------------------------------------------------------------

// startReceivers starts whichever receivers have a binary here; a missing
// one turns its rows into "not available" with the reason.
func (b *bench) startReceivers() {
	b.recvs = map[string]sinkRecv{}
	b.recvSkip = map[string]string{}
	start := func(kind, bin, hint string, fn func(bin, dir string) (sinkRecv, error)) {
		if bin == "" {
			b.recvSkip[kind] = "no receiver binary (" + hint + ")"
			return
		}
		r, err := fn(bin, filepath.Join(b.out, "recv-"+kind))
		if err != nil {
			b.recvSkip[kind] = fmt.Sprintf("%s did not start: %v", bin, err)
			b.note("%s receiver: %s", kind, b.recvSkip[kind])
			return
		}
		b.recvs[kind] = r
		b.logf("%s receiver %s on %s", kind, bin, r.Addr())
	}
	start(recvFluentd, findFFRecv(os.Getenv("BENCH_FFRECV"), b.repo), "looked at $BENCH_FFRECV, $LOGSHIP_TEST_CACHE/bin/ffrecv; run bash test/setup.sh",
		func(bin, dir string) (sinkRecv, error) { return startFluent(bin, dir) })
	start(recvSyslog, findRsyslogd(), "apt-get install rsyslog, or bash test/setup.sh",
		func(bin, dir string) (sinkRecv, error) { return startSyslog(bin, dir) })
	start(recvHTTP, cacheBin("victoria-logs"), "$LOGSHIP_TEST_CACHE/bin/victoria-logs; run bash test/setup.sh",
		func(bin, dir string) (sinkRecv, error) { return startVL(bin, dir) })
}

func (b *bench) stopReceivers() {
	for _, r := range b.recvs {
		r.Stop()
	}
	b.recvs = nil
}
