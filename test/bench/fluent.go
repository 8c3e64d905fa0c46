package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"time"
)

// receiver is a running Fluentd forward receiver: the OpenTelemetry
// Collector's fluentforwardreceiver built by the test setup as `ffrecv`
// (see /work/shared/docs/receivers.md), exporting to its debug exporter at
// basic verbosity, which logs one line per batch with its record count.
type receiver struct {
	cmd     *exec.Cmd
	addr    string // host:port
	logPath string
	outPath string // one JSON line per record; "" when counts are unknown
	done    chan error
}

// findFFRecv returns the path of the ffrecv binary, or "".
func findFFRecv(explicit, repo string) string {
	cands := []string{explicit}
	cache := os.Getenv("LOGSHIP_TEST_CACHE")
	if cache == "" {
		cache = "/var/cache/logship-test"
	}
	cands = append(cands, filepath.Join(cache, "bin", "ffrecv"))
	// A path named in test/setup.sh, if the setup builds it elsewhere.
	if b, err := os.ReadFile(filepath.Join(repo, "test", "setup.sh")); err == nil {
		for _, m := range regexp.MustCompile(`(/[A-Za-z0-9_./-]*/ffrecv)\b`).FindAllSubmatch(b, -1) {
			cands = append(cands, string(m[1]))
		}
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return c
		}
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

// startReceiver starts bin on a free loopback port and waits until it
// accepts connections.
func startReceiver(bin, dir string) (*receiver, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// The jsonl exporter of test/receivers/ffrecv writes one line per
	// record (exact counts; the file may be truncated between runs). A
	// collector without it gets the debug exporter, and no counts.
	out := filepath.Join(dir, "records.jsonl")
	configs := []string{
		fmt.Sprintf(`receivers:
  fluent_forward:
    endpoint: %s
exporters:
  jsonl:
    path: %q
service:
  telemetry: {metrics: {level: none}}
  pipelines: {logs: {receivers: [fluent_forward], exporters: [jsonl]}}
`, addr, out),
		fmt.Sprintf(`receivers:
  fluent_forward:
    endpoint: %s
exporters:
  debug:
    verbosity: basic
service:
  telemetry: {metrics: {level: none}}
  pipelines: {logs: {receivers: [fluent_forward], exporters: [debug]}}
`, addr),
	}
	var lastErr error
	for i, conf := range configs {
		cfgPath := filepath.Join(dir, fmt.Sprintf("ffrecv-%d.yaml", i))
		if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		logPath := filepath.Join(dir, "ffrecv.log")
		lf, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "--config="+cfgPath)
		cmd.Stdout, cmd.Stderr = lf, lf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			lf.Close()
			return nil, err
		}
		lf.Close()
		r := &receiver{cmd: cmd, addr: addr, logPath: logPath, done: make(chan error, 1)}
		if i == 0 {
			r.outPath = out
		}
		go func() { r.done <- cmd.Wait() }()
		if lastErr = r.waitListening(30 * time.Second); lastErr == nil {
			return r, nil
		}
	}
	return nil, lastErr
}

// waitListening polls the port until it accepts a connection, the process
// exits, or the timeout passes.
func (r *receiver) waitListening(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if c, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-r.done:
			tail, _ := os.ReadFile(r.logPath)
			if len(tail) > 1500 {
				tail = tail[len(tail)-1500:]
			}
			return fmt.Errorf("ffrecv exited (%v): %s", err, tail)
		default:
		}
		if time.Now().After(deadline) {
			r.stop()
			return fmt.Errorf("ffrecv not listening on %s after %v", r.addr, timeout)
		}
		time.Sleep(100 * time.Millisecond) // polling the port, bounded by the deadline
	}
}

// reset empties the records file (the exporter appends with O_APPEND).
func (r *receiver) reset() {
	if r.outPath != "" {
		_ = os.Truncate(r.outPath, 0)
	}
}

// count returns the number of records written since the last reset, or -1
// if the receiver cannot tell.
func (r *receiver) count() int64 {
	if r.outPath == "" {
		return -1
	}
	f, err := os.Open(r.outPath)
	if err != nil {
		if os.IsNotExist(err) {
			return 0
		}
		return -1
	}
	defer f.Close()
	var c countLines
	if _, err := io.Copy(&c, f); err != nil {
		return -1
	}
	return c.lines
}

// waitCount waits until count() reaches want, or stops changing for 5 s.
func (r *receiver) waitCount(want int64, timeout time.Duration) int64 {
	deadline := time.Now().Add(timeout)
	last, lastChange := r.count(), time.Now()
	for last >= 0 && last < want && time.Now().Before(deadline) && time.Since(lastChange) < 5*time.Second {
		time.Sleep(200 * time.Millisecond) // polling the receiver's log, bounded
		if n := r.count(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	return last
}

func (r *receiver) pid() int { return r.cmd.Process.Pid }

func (r *receiver) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}
