package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/test/procfs"
)

// label marks every container (and compose service) the suite creates, so a
// sweep can remove leftovers of an interrupted run.
const label = "logship-e2e"

// Default timeout for one docker CLI call.
const dockerTimeout = 2 * time.Minute

type suiteEnv struct {
	enabled   bool
	docker    string // docker CLI
	compose   string // docker-compose (v1) CLI, "" if missing
	driver    string // log driver under test
	isPlugin  bool   // driver is a managed plugin (docker plugin inspect works)
	image     string
	cacheDir  string
	repoRoot  string
	pluginDir string // plugin folder for the registry test
}

var env suiteEnv

func TestMain(m *testing.M) {
	env = loadEnv()
	if env.enabled {
		if err := preflight(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: LOGSHIP_E2E=1 but the environment is not usable: %v\n", err)
			os.Exit(1)
		}
		sweep()
		fmt.Fprintf(os.Stderr, "e2e: driver %s (plugin: %v), image %s\n", env.driver, env.isPlugin, env.image)
	}
	code := m.Run()
	if env.enabled {
		sweep()
	}
	os.Exit(code)
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func loadEnv() suiteEnv {
	e := suiteEnv{
		enabled:  os.Getenv("LOGSHIP_E2E") == "1",
		driver:   getenv("LOGSHIP_E2E_DRIVER", "logship:latest"),
		image:    getenv("LOGSHIP_E2E_IMAGE", "logship-test/busybox:latest"),
		cacheDir: getenv("LOGSHIP_TEST_CACHE", "/var/cache/logship-test"),
	}
	if wd, err := os.Getwd(); err == nil {
		e.repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	}
	e.pluginDir = getenv("LOGSHIP_E2E_PLUGIN_DIR", filepath.Join(e.repoRoot, "build", "plugin"))
	e.docker, _ = exec.LookPath("docker")
	e.compose, _ = exec.LookPath("docker-compose")
	return e
}

func preflight() error {
	if env.docker == "" {
		return errors.New("docker CLI not found in PATH (run: bash test/setup.sh)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, env.docker, "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("dockerd unreachable (docker info: %v: %s); run: bash test/setup.sh", err, strings.TrimSpace(string(out)))
	}
	if out, err := exec.CommandContext(ctx, env.docker, "image", "inspect", "-f", "{{.Id}}", env.image).CombinedOutput(); err != nil {
		return fmt.Errorf("test image %s missing (%s); run: bash test/setup.sh", env.image, strings.TrimSpace(string(out)))
	}
	out, err := exec.CommandContext(ctx, env.docker, "plugin", "inspect", "-f", "{{.Enabled}}", env.driver).CombinedOutput()
	switch {
	case err == nil && strings.TrimSpace(string(out)) == "true":
		env.isPlugin = true
	case err == nil:
		return fmt.Errorf("plugin %s is installed but disabled; run: make install", env.driver)
	case builtinDriver(env.driver):
		env.isPlugin = false
	default:
		return fmt.Errorf("log driver %s is neither a built-in driver nor an installed plugin (%s); run: make install",
			env.driver, strings.TrimSpace(string(out)))
	}
	return nil
}

func builtinDriver(name string) bool {
	switch name {
	case "json-file", "local", "journald", "syslog", "fluentd", "gelf", "awslogs", "splunk", "etwlogs", "gcplogs", "logentries", "none":
		return true
	}
	return false
}

// sweep removes containers, compose networks and registry-test plugins left
// over by an interrupted run. Errors are ignored: it is best effort.
func sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, env.docker, "ps", "-aq", "--filter", "label="+label).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.CommandContext(ctx, env.docker, append([]string{"rm", "-f"}, ids...)...).Run()
	}
	out, _ = exec.CommandContext(ctx, env.docker, "network", "ls", "--format", "{{.Name}}").Output()
	for _, n := range strings.Fields(string(out)) {
		if strings.HasPrefix(n, "logshipe2e") {
			_ = exec.CommandContext(ctx, env.docker, "network", "rm", n).Run()
		}
	}
	out, _ = exec.CommandContext(ctx, env.docker, "plugin", "ls", "--format", "{{.Name}}").Output()
	for _, n := range strings.Fields(string(out)) {
		if strings.Contains(n, "/logship-e2e") {
			_ = exec.CommandContext(ctx, env.docker, "plugin", "disable", "-f", n).Run()
			_ = exec.CommandContext(ctx, env.docker, "plugin", "rm", "-f", n).Run()
		}
	}
}

// requireE2E skips the test unless LOGSHIP_E2E=1.
func requireE2E(t *testing.T) {
	t.Helper()
	if !env.enabled {
		t.Skip("end-to-end test: set LOGSHIP_E2E=1 (make test does) to run it against a real dockerd")
	}
}

// requirePlugin skips tests that need the driver to be a managed plugin
// (kill, disable, ...) when measuring a built-in driver's baseline.
func requirePlugin(t *testing.T) {
	t.Helper()
	requireE2E(t)
	if !env.isPlugin {
		t.Skipf("needs a managed plugin; driver %s is built in", env.driver)
	}
}

// ---------------------------------------------------------------------------
// docker CLI

type result struct {
	stdout, stderr string
	err            error
	dur            time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("err=%v stderr=%q", r.err, truncate(r.stderr, 2000))
}

// runCmd runs name args with a timeout and returns what it printed; it never
// fails the test.
func runCmd(timeout time.Duration, stdin io.Reader, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &so, &se, stdin
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return result{stdout: so.String(), stderr: se.String(), err: err, dur: time.Since(start)}
}

func dockerRaw(timeout time.Duration, args ...string) result {
	return runCmd(timeout, nil, env.docker, args...)
}

// docker runs the docker CLI and fails the test if it fails; it returns
// stdout with surrounding white space trimmed.
func docker(t testing.TB, args ...string) string {
	t.Helper()
	r := dockerRaw(dockerTimeout, args...)
	if r.err != nil {
		t.Fatalf("docker %s: %v\nstderr: %s", strings.Join(args, " "), r.err, truncate(r.stderr, 4000))
	}
	return strings.TrimSpace(r.stdout)
}

// ---------------------------------------------------------------------------
// containers

type container struct {
	t      *testing.T
	name   string
	id     string
	driver string // log driver, if known (for the cleanup's rescue)
}

type runSpec struct {
	suffix  string   // appended to the test-derived container name
	driver  string   // default env.driver; "-" means: no --log-driver flag
	logOpts []string // key=value
	tty     bool
	args    []string // extra docker run flags
	script  string   // run as: sh -c script
}

var nameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// containerName derives a unique, valid container name from the test name.
func containerName(t *testing.T, suffix string) string {
	n := "e2e-" + strings.Trim(nameUnsafe.ReplaceAllString(t.Name(), "-"), "-")
	if suffix != "" {
		n += "-" + suffix
	}
	if len(n) > 120 {
		n = n[:120]
	}
	return strings.ToLower(n)
}

func runArgs(t *testing.T, spec runSpec) (name string, args []string) {
	name = containerName(t, spec.suffix)
	args = []string{"--name", name, "--label", label + "=" + t.Name()}
	switch spec.driver {
	case "-":
	case "":
		args = append(args, "--log-driver", env.driver)
	default:
		args = append(args, "--log-driver", spec.driver)
	}
	for _, o := range spec.logOpts {
		args = append(args, "--log-opt", o)
	}
	if spec.tty {
		args = append(args, "-t")
	}
	args = append(args, spec.args...)
	args = append(args, env.image, "sh", "-c", spec.script)
	return name, args
}

// startContainer runs spec detached and removes the container at cleanup.
func startContainer(t *testing.T, spec runSpec) *container {
	t.Helper()
	name, args := runArgs(t, spec)
	dockerRaw(30*time.Second, "rm", "-f", name) // a leftover of an earlier run
	c := &container{t: t, name: name, driver: env.driver}
	if spec.driver != "" && spec.driver != "-" {
		c.driver = spec.driver
	}
	t.Cleanup(func() { c.remove() })
	c.id = docker(t, append([]string{"run", "-d"}, args...)...)
	return c
}

// runToExit runs spec, waits for it to exit (bounded) and checks exit code 0.
func runToExit(t *testing.T, spec runSpec, timeout time.Duration) *container {
	t.Helper()
	c := startContainer(t, spec)
	if code := c.wait(timeout); code != 0 {
		t.Fatalf("container %s exited with %d, want 0", c.name, code)
	}
	return c
}

func (c *container) remove() {
	r := dockerRaw(45*time.Second, "rm", "-f", c.name)
	if r.err == nil || strings.Contains(r.stderr, "No such container") {
		return
	}
	c.t.Logf("cleanup: docker rm -f %s: %v", c.name, r)
	if c.driver == "" || builtinDriver(c.driver) {
		return
	}
	// A plugin that stopped reading its FIFOs wedges the container's stop
	// and removal in dockerd (moby #42705). Drain the plugin's FIFOs from
	// here so the rest of the suite is not stuck behind it.
	stop := drainPluginFIFOs(c.t, c.driver)
	defer stop()
	r = dockerRaw(time.Minute, "rm", "-f", c.name)
	if r.err != nil && !strings.Contains(r.stderr, "No such container") && !strings.Contains(r.stderr, "already in progress") {
		c.t.Logf("cleanup: docker rm -f %s, with the plugin's FIFOs drained: %v", c.name, r)
	}
}

// drainPluginFIFOs reads (and discards) every FIFO dockerd created for the
// plugin until stop is called. Rescue for cleanups only: it steals the
// plugin's input.
func drainPluginFIFOs(t testing.TB, plugin string) (stop func()) {
	r := dockerRaw(10*time.Second, "plugin", "inspect", "-f", "{{.Id}}", plugin)
	if r.err != nil {
		return func() {}
	}
	dir := filepath.Join("/var/lib/docker/plugins", strings.TrimSpace(r.stdout))
	var files []*os.File
	for _, pat := range []string{"rootfs/run/docker/logging/*", "propagated-mount/*", "propagated-mount/*/*", "propagated-mount/*/*/*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, m := range matches {
			if st, err := os.Stat(m); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
				continue
			}
			f, err := os.OpenFile(m, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				continue
			}
			files = append(files, f)
			go func() { _, _ = io.Copy(io.Discard, f) }()
		}
	}
	t.Logf("cleanup: draining %d FIFOs of plugin %s to unblock dockerd", len(files), plugin)
	return func() {
		for _, f := range files {
			f.Close()
		}
	}
}

// wait blocks in `docker wait` until the container exits and returns its exit
// code; it fails the test if that takes longer than timeout.
func (c *container) wait(timeout time.Duration) int {
	c.t.Helper()
	r := dockerRaw(timeout, "wait", c.name)
	if r.err != nil {
		c.t.Fatalf("docker wait %s: %v (state: %s)", c.name, r, c.state())
	}
	code, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil {
		c.t.Fatalf("docker wait %s printed %q", c.name, r.stdout)
	}
	return code
}

func (c *container) state() string {
	r := dockerRaw(10*time.Second, "inspect", "-f", "{{.State.Status}} exit={{.State.ExitCode}} {{.State.Error}}", c.name)
	if r.err != nil {
		return "inspect failed: " + r.String()
	}
	return strings.TrimSpace(r.stdout)
}

func (c *container) inspect(format string) string {
	c.t.Helper()
	return docker(c.t, "inspect", "-f", format, c.name)
}

// logs runs `docker logs FLAGS name` and returns the container's stdout and
// stderr as the CLI split them.
func (c *container) logs(flags ...string) (stdout, stderr string) {
	c.t.Helper()
	args := append(append([]string{"logs"}, flags...), c.name)
	r := dockerRaw(dockerTimeout, args...)
	if r.err != nil {
		c.t.Fatalf("docker %s: %v", strings.Join(args, " "), r)
	}
	return r.stdout, r.stderr
}

// exec runs a command in the running container.
func (c *container) exec(args ...string) result {
	return dockerRaw(30*time.Second, append([]string{"exec", c.name}, args...)...)
}

// touch creates a trigger file in the container (scripts poll for them).
func (c *container) touch(path string) {
	c.t.Helper()
	r := c.exec("touch", path)
	var ee *exec.ExitError
	if errors.As(r.err, &ee) && ee.ExitCode() == 137 {
		// The script saw the file and exited at once; the kernel then
		// SIGKILLs what is left in the container's pid namespace, which can
		// be the exec'd touch itself. The file was created.
		return
	}
	if r.err != nil {
		c.t.Fatalf("docker exec %s touch %s: %v (state: %s)", c.name, path, r, c.state())
	}
}

// counter reads the number a logging script keeps in /tmp/count.
func (c *container) counter() (int, error) {
	r := c.exec("cat", "/tmp/count")
	if r.err != nil {
		return 0, fmt.Errorf("docker exec cat /tmp/count: %v", r)
	}
	s := strings.TrimSpace(r.stdout)
	if s == "" { // caught between truncate and write: read again
		r = c.exec("cat", "/tmp/count")
		s = strings.TrimSpace(r.stdout)
	}
	return strconv.Atoi(s)
}

// waitCounter polls /tmp/count until it reaches want; it fails the test with
// what it saw if the deadline passes first, or if the counter stands still
// for 15 s (the container is blocked).
func (c *container) waitCounter(want int, timeout time.Duration, why string) int {
	c.t.Helper()
	const stuckAfter = 15 * time.Second
	deadline := time.Now().Add(timeout)
	last, lastErr, lastChange := -1, error(nil), time.Now()
	for {
		n, err := c.counter()
		if err == nil && n >= want {
			return n
		}
		if n != last {
			lastChange = time.Now()
		}
		last, lastErr = n, err
		if time.Since(lastChange) > stuckAfter {
			c.t.Fatalf("%s: counter in %s stuck at %d for %v (err %v), want >= %d; container state: %s",
				why, c.name, last, stuckAfter, lastErr, want, c.state())
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: counter in %s reached %d (err %v), want >= %d within %v; container state: %s",
				why, c.name, last, lastErr, want, timeout, c.state())
		}
		time.Sleep(100 * time.Millisecond) // polling another process, bounded by deadline
	}
}

// ---------------------------------------------------------------------------
// streaming `docker logs` (follow, big outputs)

type logStream struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string // stdout, one line each, with its '\n' (the last may lack it)
	done   chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
	err    error // cmd.Wait's, valid after done
	cancel context.CancelFunc
	quit   chan struct{}
	once   sync.Once
}

// followLogs starts `docker logs FLAGS name` (typically with -f) and streams
// its stdout line by line; the process is killed at cleanup if still running.
func followLogs(t *testing.T, name string, flags ...string) *logStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := append(append([]string{"logs"}, flags...), name)
	cmd := exec.CommandContext(ctx, env.docker, args...)
	cmd.WaitDelay = 5 * time.Second
	s := &logStream{t: t, cmd: cmd, lines: make(chan string, 1<<16), done: make(chan struct{}), cancel: cancel,
		quit: make(chan struct{})}
	cmd.Stderr = lockedWriter{&s.mu, &s.stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		br := bufio.NewReaderSize(out, 1<<20)
	read:
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				select {
				case s.lines <- line:
				case <-s.quit:
					break read
				}
			}
			if err != nil {
				break
			}
		}
		close(s.lines)
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	return s
}

// stop kills the docker logs process (if still running) and waits for it.
func (s *logStream) stop() {
	s.once.Do(func() {
		s.cancel()
		close(s.quit)
	})
	<-s.done
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (s *logStream) stderrText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// readUntil reads lines until one equals want (without its newline) and
// returns every line read, want included. It fails the test if the stream
// ends or the timeout passes first.
func (s *logStream) readUntil(want string, timeout time.Duration) []string {
	s.t.Helper()
	var got []string
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				<-s.done
				s.t.Fatalf("docker logs ended (%v, stderr %q) before %q; read %d lines, last: %q",
					s.err, s.stderrText(), want, len(got), lastN(got, 3))
			}
			got = append(got, line)
			if strings.TrimSuffix(line, "\n") == want {
				return got
			}
		case <-timer.C:
			s.t.Fatalf("no line %q from docker logs within %v; read %d lines, last: %q", want, timeout, len(got), lastN(got, 3))
		}
	}
}

// readToEnd reads until the docker logs process ends by itself and returns
// the remaining lines; it fails the test if that takes longer than timeout.
func (s *logStream) readToEnd(timeout time.Duration) []string {
	s.t.Helper()
	var got []string
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				<-s.done
				return got
			}
			got = append(got, line)
		case <-timer.C:
			s.t.Fatalf("docker logs did not end by itself within %v; read %d more lines, last: %q", timeout, len(got), lastN(got, 3))
		}
	}
}

// ---------------------------------------------------------------------------
// comparing output

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:n], len(s))
}

func lastN(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// firstDiff describes where got first differs from want, line by line, or
// returns "" if they are equal.
func firstDiff(want, got string) string {
	if want == got {
		return ""
	}
	wl, gl := strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")
	for i := 0; ; i++ {
		var w, g string
		wok, gok := i < len(wl), i < len(gl)
		if wok {
			w = wl[i]
		}
		if gok {
			g = gl[i]
		}
		if w == g && wok && gok {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "first difference at line %d (want %d bytes / %d lines, got %d bytes / %d lines):\n",
			i+1, len(want), strings.Count(want, "\n"), len(got), strings.Count(got, "\n"))
		if !wok {
			fmt.Fprintf(&b, "  want: <end of output>\n")
		} else {
			fmt.Fprintf(&b, "  want: %s\n", quoteLine(w))
		}
		if !gok {
			fmt.Fprintf(&b, "  got:  <end of output>\n")
		} else {
			fmt.Fprintf(&b, "  got:  %s\n", quoteLine(g))
		}
		if i > 0 {
			fmt.Fprintf(&b, "  (previous line, equal: %s)", quoteLine(wl[i-1]))
		}
		return b.String()
	}
}

func quoteLine(s string) string {
	if len(s) > 300 {
		return fmt.Sprintf("%q…(%d bytes)…%q", s[:120], len(s), s[len(s)-60:])
	}
	return strconv.Quote(s)
}

// expectOutput fails the test if got differs from want, showing the first
// differing line.
func expectOutput(t testing.TB, what, want, got string) {
	t.Helper()
	if d := firstDiff(want, got); d != "" {
		t.Errorf("%s: %s", what, d)
	}
}

// numbered parses output made of lines "<prefix><n><rest>" and returns the
// numbers in the order seen; lines that don't match are returned apart.
func numbered(output, prefix string) (nums []int, other []string) {
	for _, line := range strings.Split(strings.TrimSuffix(output, "\n"), "\n") {
		if !strings.HasPrefix(line, prefix) {
			other = append(other, line)
			continue
		}
		rest := line[len(prefix):]
		end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if end < 0 {
			end = len(rest)
		}
		n, err := strconv.Atoi(rest[:end])
		if err != nil {
			other = append(other, line)
			continue
		}
		nums = append(nums, n)
	}
	return nums, other
}

// sequenceReport checks that nums is strictly increasing and returns the
// numbers in [1, last] that are missing.
func sequenceReport(nums []int, last int) (missing []int, disorder string) {
	seen := make(map[int]bool, len(nums))
	for i, n := range nums {
		if i > 0 && n <= nums[i-1] && disorder == "" {
			disorder = fmt.Sprintf("line %d is number %d after %d", i+1, n, nums[i-1])
		}
		seen[n] = true
	}
	for n := 1; n <= last; n++ {
		if !seen[n] {
			missing = append(missing, n)
		}
	}
	return missing, disorder
}

func rangesOf(nums []int) string {
	if len(nums) == 0 {
		return "none"
	}
	var parts []string
	start, prev := nums[0], nums[0]
	flush := func() {
		if start == prev {
			parts = append(parts, strconv.Itoa(start))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", start, prev))
		}
	}
	for _, n := range nums[1:] {
		if n == prev+1 {
			prev = n
			continue
		}
		flush()
		start, prev = n, n
	}
	flush()
	if len(parts) > 20 {
		parts = append(parts[:20], fmt.Sprintf("… (%d ranges)", len(parts)))
	}
	return strings.Join(parts, ",")
}

// ---------------------------------------------------------------------------
// the plugin process

type pluginInfo struct {
	ID      string
	Name    string
	Enabled bool
	Config  struct {
		Description     string
		PropagatedMount string
		Interface       struct{ Socket string }
		Env             []struct{ Name, Value string }
		Mounts          []struct{ Name, Source, Destination string }
	}
	Settings struct {
		Env    []string
		Mounts []struct{ Name, Source, Destination string }
	}
	PluginReference string
}

func inspectPlugin(t testing.TB, name string) pluginInfo {
	t.Helper()
	var ps []pluginInfo
	out := docker(t, "plugin", "inspect", name)
	if err := json.Unmarshal([]byte(out), &ps); err != nil || len(ps) != 1 {
		t.Fatalf("docker plugin inspect %s: %v: %s", name, err, truncate(out, 500))
	}
	return ps[0]
}

// killPlugin kills the plugin's process with -9 and waits until dockerd
// has restarted it and its socket answers; it returns the new pid.
func killPlugin(t *testing.T) (newPID int) {
	t.Helper()
	p := inspectPlugin(t, env.driver)
	pid := procfs.PluginPID(p.ID)
	if pid == 0 {
		t.Fatalf("no process found for plugin %s (%s)", env.driver, p.ID)
	}
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	newPID = waitPluginUp(t, env.driver, pid, 30*time.Second)
	t.Logf("plugin pid %d killed with -9; dockerd restarted it as pid %d after %v", pid, newPID, time.Since(killed).Round(time.Millisecond))
	return newPID
}

func pluginSocket(p pluginInfo) string {
	return filepath.Join("/run/docker/plugins", p.ID, p.Config.Interface.Socket)
}

// waitPluginUp polls until the plugin runs as a process other than notPID and
// accepts connections on its socket; it returns the new pid.
func waitPluginUp(t testing.TB, name string, notPID int, timeout time.Duration) int {
	t.Helper()
	p := inspectPlugin(t, name)
	sock := pluginSocket(p)
	deadline := time.Now().Add(timeout)
	for {
		pid := procfs.PluginPID(p.ID)
		if pid != 0 && pid != notPID {
			if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
				c.Close()
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %s not running again within %v (pid %d, old %d, socket %s)", name, timeout, pid, notPID, sock)
		}
		time.Sleep(50 * time.Millisecond) // polling dockerd's restart of the plugin, bounded
	}
}

// ensurePluginEnabled re-enables the plugin (with --timeout 0, as make install
// does) if a test left it disabled; used in cleanups.
func ensurePluginEnabled(t testing.TB, name string) {
	r := dockerRaw(30*time.Second, "plugin", "inspect", "-f", "{{.Enabled}}", name)
	if r.err == nil && strings.TrimSpace(r.stdout) == "false" {
		if r := dockerRaw(time.Minute, "plugin", "enable", "--timeout", "0", name); r.err != nil {
			t.Errorf("cleanup: could not re-enable plugin %s: %v", name, r)
		}
	}
}

// ---------------------------------------------------------------------------
// dockerd (for the daemon.json test)

type dockerdProc struct {
	pid     int
	args    []string // argv, argv[0] included
	environ []string
	logPath string // where its stdout/stderr went, "" if not a regular file
	systemd bool   // started by docker.service
}

func findDockerd(t testing.TB) dockerdProc {
	t.Helper()
	d, ok := lookupDockerd()
	if !ok {
		t.Fatal("no dockerd process found")
	}
	return d
}

// lookupDockerd finds the running dockerd (via its pid file, else by name).
func lookupDockerd() (dockerdProc, bool) {
	pid := 0
	if b, err := os.ReadFile("/var/run/docker.pid"); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid == 0 || !isComm(pid, "dockerd") {
		pid = 0
		procs, _ := filepath.Glob("/proc/[0-9]*")
		for _, p := range procs {
			n, _ := strconv.Atoi(filepath.Base(p))
			if isComm(n, "dockerd") {
				pid = n
				break
			}
		}
	}
	if pid == 0 {
		return dockerdProc{}, false
	}
	d := dockerdProc{pid: pid}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return dockerdProc{}, false
	}
	d.args = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err == nil {
		d.environ = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	if lp, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/2", pid)); err == nil {
		if st, err := os.Stat(lp); err == nil && st.Mode().IsRegular() {
			d.logPath = lp
		}
	}
	if cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil && bytes.Contains(cg, []byte("docker.service")) {
		d.systemd = true
	}
	return d, true
}

func isComm(pid int, comm string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(b)) == comm
}

// stopDockerd stops d (SIGTERM) and waits until the process is gone.
func stopDockerd(t testing.TB, d dockerdProc) {
	t.Helper()
	if d.systemd {
		if r := runCmd(2*time.Minute, nil, "systemctl", "stop", "docker.service", "docker.socket"); r.err != nil {
			t.Fatalf("systemctl stop docker: %v", r)
		}
	} else if err := syscall.Kill(d.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("kill -TERM dockerd %d: %v", d.pid, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for isComm(d.pid, "dockerd") {
		if time.Now().After(deadline) {
			t.Fatalf("dockerd %d still running 2 minutes after SIGTERM", d.pid)
		}
		time.Sleep(100 * time.Millisecond) // waiting for an external process to exit, bounded
	}
}

// startDockerd starts dockerd with args (argv[0] first) in its own session,
// appending its output to logPath, and waits until `docker info` answers.
func startDockerd(t testing.TB, args, environ []string, logPath string) {
	t.Helper()
	if logPath == "" {
		logPath = filepath.Join(env.cacheDir, "dockerd.log")
	}
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("dockerd log: %v", err)
	}
	defer lf.Close()
	bin := args[0]
	if !strings.Contains(bin, "/") {
		if p, err := exec.LookPath(bin); err == nil {
			bin = p
		}
	}
	cmd := exec.Command(bin, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = environ
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dockerd %q: %v", args, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it if it dies while the tests run
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if r := dockerRaw(10*time.Second, "info", "--format", "{{.ServerVersion}}"); r.err == nil {
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("dockerd %q exited: %v; see %s", args, err, logPath)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd %q not answering 2 minutes after start; see %s", args, logPath)
		}
		time.Sleep(200 * time.Millisecond) // waiting for an external process, bounded
	}
}

// restartDockerd stops dockerd and starts it again the same way (argv,
// environment, log file), then waits for the plugin under test.
func restartDockerd(t *testing.T) {
	t.Helper()
	d := findDockerd(t)
	stopDockerd(t, d)
	resumeDockerd(t, d)
}

// resumeDockerd starts the stopped dockerd d again as it ran before
// (through systemd when it came from docker.service), then waits for the
// plugin under test.
func resumeDockerd(t *testing.T, d dockerdProc) {
	t.Helper()
	if d.systemd {
		if r := runCmd(2*time.Minute, nil, "systemctl", "start", "docker.service"); r.err != nil {
			t.Fatalf("systemctl start docker: %v", r)
		}
	} else {
		startDockerd(t, d.args, d.environ, d.logPath)
	}
	if env.isPlugin {
		waitPluginUp(t, env.driver, 0, time.Minute)
	}
}

// restartDockerdWithConfig restarts dockerd with --config-file pointing to a
// daemon.json made of the current one plus extra; the original dockerd is
// restored (same argv, environment and log file) at cleanup.
func restartDockerdWithConfig(t *testing.T, extra map[string]any) {
	t.Helper()
	orig := findDockerd(t)
	cfgPath := "/etc/docker/daemon.json"
	var args []string
	for i := 0; i < len(orig.args); i++ {
		a := orig.args[i]
		switch {
		case a == "--config-file" && i+1 < len(orig.args):
			cfgPath = orig.args[i+1]
			i++
			continue
		case strings.HasPrefix(a, "--config-file="):
			cfgPath = strings.TrimPrefix(a, "--config-file=")
			continue
		}
		args = append(args, a)
	}
	cfg := map[string]any{}
	if b, err := os.ReadFile(cfgPath); err == nil {
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatalf("%s: %v", cfgPath, err)
		}
	}
	for k, v := range extra {
		cfg[k] = v
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	tmp := filepath.Join(t.TempDir(), "daemon.json")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	args = append(args, "--config-file", tmp)
	if orig.systemd {
		// a dockerd from docker.service is started by hand with the same argv
		// for this test; the cleanup gives the daemon back to systemd.
		t.Logf("dockerd runs under systemd; restarting it by hand for this test")
	}
	t.Logf("restarting dockerd %d with %s = %s", orig.pid, tmp, b)

	t.Cleanup(func() {
		if cur, ok := lookupDockerd(); ok { // the test's dockerd, if it still runs
			stopDockerd(t, cur)
		}
		resumeDockerd(t, orig)
	})
	stopDockerd(t, orig)
	startDockerd(t, args, orig.environ, orig.logPath)
	if env.isPlugin {
		waitPluginUp(t, env.driver, 0, time.Minute)
	}
}

// ---------------------------------------------------------------------------
// a local registry (go-containerregistry's cmd/registry, built by setup.sh)

// startRegistry starts the registry on a free loopback port, waits until it
// answers and returns "localhost:PORT"; it is killed at cleanup.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(env.cacheDir, "bin", "registry")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("registry binary missing (%v); run: bash test/setup.sh", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	logf, err := os.Create(filepath.Join(t.TempDir(), "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting registry: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/v2/", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return fmt.Sprintf("localhost:%d", port)
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("registry exited: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry on port %d not answering %s within 30s: %v", port, url, err)
		}
		time.Sleep(50 * time.Millisecond) // waiting for an external process, bounded
	}
}
