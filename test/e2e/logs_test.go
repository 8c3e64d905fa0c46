package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What `docker logs` returns for containers logging through the driver: exact
// bytes, stdout and stderr apart, long and unterminated lines, TTYs, and the
// tail/since/until/timestamps/follow flags.

func TestLogsStdoutStderrJSONAndText(t *testing.T) {
	requireE2E(t)
	script := `
echo '{"level":"info","msg":"GET /","request_id":"6f1c2a3e-8a7b-4c1d-9e2f-0a1b2c3d4e5f"}'
echo 'plain text line on stdout'
echo '{"level":"error","msg":"upstream failed","request_id":"0b7c9d1e-2f3a-4b5c-8d6e-7f8091a2b3c4","status":502}' >&2
echo 'request_id=req-42 user=alice action=login'
echo 'plain text line on stderr' >&2
echo ''
printf '  leading and trailing spaces  \n'
printf 'tab\there\n'
echo 'unicode: héllo wörld ✓ 日本'
echo '{"nested":{"a":[1,2,{"b":null}]},"n":1.5e3,"ok":true}'
echo 'not json {"a":' >&2
echo '' >&2
echo 'stderr last' >&2
echo 'stdout last'
`
	wantOut := `{"level":"info","msg":"GET /","request_id":"6f1c2a3e-8a7b-4c1d-9e2f-0a1b2c3d4e5f"}
plain text line on stdout
request_id=req-42 user=alice action=login

  leading and trailing spaces  
tab	here
unicode: héllo wörld ✓ 日本
{"nested":{"a":[1,2,{"b":null}]},"n":1.5e3,"ok":true}
stdout last
`
	wantErr := `{"level":"error","msg":"upstream failed","request_id":"0b7c9d1e-2f3a-4b5c-8d6e-7f8091a2b3c4","status":502}
plain text line on stderr
not json {"a":

stderr last
`
	c := runToExit(t, runSpec{script: script}, time.Minute)
	stdout, stderr := c.logs()
	expectOutput(t, "docker logs stdout", wantOut, stdout)
	expectOutput(t, "docker logs stderr", wantErr, stderr)
}

// linePattern is the content of generated long lines; its period (62) does
// not divide 16384, so a lost, repeated or reordered 16 KiB chunk changes the
// bytes, not only the length.
const linePattern = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func patternLine(n int) string {
	return strings.Repeat(linePattern, n/len(linePattern)+1)[:n]
}

// shPatternLine is a shell command printing patternLine(n) without newline.
func shPatternLine(n int) string {
	return fmt.Sprintf("yes %s | tr -d '\\n' | head -c %d", linePattern, n)
}

func TestLongLineReassembled(t *testing.T) {
	requireE2E(t)
	// dockerd cuts lines into 16 KiB chunks; sizes around the boundary catch
	// off-by-one errors, 16384 exactly produces an empty last chunk.
	cases := []struct {
		name   string
		size   int
		stderr bool
	}{
		{"16383", 16383, false},
		{"16384", 16384, false},
		{"16385", 16385, false},
		{"32768", 32768, false},
		{"100KiB", 100 * 1024, false},
		{"100KiB-stderr", 100 * 1024, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			script := fmt.Sprintf("echo before; %s; echo; echo after", shPatternLine(tc.size))
			if tc.stderr {
				script = "exec 1>&2; " + script
			}
			c := runToExit(t, runSpec{script: script}, time.Minute)
			stdout, stderr := c.logs()
			want := "before\n" + patternLine(tc.size) + "\nafter\n"
			if tc.stderr {
				stdout, stderr = stderr, stdout
			}
			expectOutput(t, "docker logs (the long stream)", want, stdout)
			expectOutput(t, "docker logs (the other stream)", "", stderr)
		})
	}
}

func TestLastLineWithoutNewline(t *testing.T) {
	requireE2E(t)
	cases := []struct {
		name, script, wantOut, wantErr string
	}{
		{"stdout", `printf 'a\nb'`, "a\nb", ""},
		{"stderr", `printf 'a\nb' >&2`, "", "a\nb"},
		{"only-partial", `printf 'x'`, "x", ""},
		{"both-streams", `printf 'out\nout-tail'; printf 'err\nerr-tail' >&2`, "out\nout-tail", "err\nerr-tail"},
		{"long-unterminated", shPatternLine(20000), patternLine(20000), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := runToExit(t, runSpec{script: tc.script}, time.Minute)
			stdout, stderr := c.logs()
			expectOutput(t, "docker logs stdout", tc.wantOut, stdout)
			expectOutput(t, "docker logs stderr", tc.wantErr, stderr)
		})
	}
}

func TestTTYOutputKeepsCRLF(t *testing.T) {
	requireE2E(t)
	// With -t there is one stream (the pty), which turns \n into \r\n.
	c := runToExit(t, runSpec{tty: true, script: `printf 'one\ntwo\n'; echo 'to stderr' >&2; printf '\n'; printf 'no newline'`}, time.Minute)
	stdout, stderr := c.logs()
	expectOutput(t, "docker logs of a TTY container", "one\r\ntwo\r\nto stderr\r\n\r\nno newline", stdout)
	expectOutput(t, "docker logs stderr of a TTY container", "", stderr)
}

func TestLogsTail(t *testing.T) {
	requireE2E(t)
	// The pauses order the lines across the two streams (dockerd stamps them
	// when it reads them, one goroutine per stream).
	c := runToExit(t, runSpec{script: `seq 1 100; usleep 200000; echo last-err >&2; usleep 200000; echo final`}, time.Minute)
	var all strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&all, "%d\n", i)
	}
	all.WriteString("final\n")
	cases := []struct{ tail, wantOut, wantErr string }{
		{"0", "", ""},
		{"1", "final\n", ""},
		{"2", "final\n", "last-err\n"},
		{"3", "100\nfinal\n", "last-err\n"},
		{"10", "93\n94\n95\n96\n97\n98\n99\n100\nfinal\n", "last-err\n"},
		{"102", all.String(), "last-err\n"},
		{"1000", all.String(), "last-err\n"},
		{"all", all.String(), "last-err\n"},
	}
	for _, tc := range cases {
		t.Run(tc.tail, func(t *testing.T) {
			stdout, stderr := c.logs("--tail", tc.tail)
			expectOutput(t, "stdout of docker logs --tail "+tc.tail, tc.wantOut, stdout)
			expectOutput(t, "stderr of docker logs --tail "+tc.tail, tc.wantErr, stderr)
		})
	}
}

// timestamped splits `docker logs -t` output into timestamps and lines.
func timestamped(t *testing.T, out string) (ts []time.Time, raw []string, lines []string) {
	t.Helper()
	for _, l := range strings.SplitAfter(out, "\n") {
		if l == "" {
			continue
		}
		s, rest, ok := strings.Cut(l, " ")
		if !ok {
			t.Fatalf("docker logs -t line without timestamp: %q", l)
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("docker logs -t line %q: bad timestamp: %v", l, err)
		}
		ts, raw, lines = append(ts, tm), append(raw, s), append(lines, rest)
	}
	return ts, raw, lines
}

func TestLogsTimestamps(t *testing.T) {
	requireE2E(t)
	c := runToExit(t, runSpec{script: `for i in 1 2 3 4 5; do echo out-$i; echo err-$i >&2; usleep 10000; done`}, time.Minute)
	started, err1 := time.Parse(time.RFC3339Nano, c.inspect("{{.State.StartedAt}}"))
	finished, err2 := time.Parse(time.RFC3339Nano, c.inspect("{{.State.FinishedAt}}"))
	if err1 != nil || err2 != nil {
		t.Fatalf("container times: %v %v", err1, err2)
	}
	stdout, stderr := c.logs("-t")
	outTS, _, outLines := timestamped(t, stdout)
	errTS, _, errLines := timestamped(t, stderr)
	expectOutput(t, "stdout of docker logs -t without timestamps", "out-1\nout-2\nout-3\nout-4\nout-5\n", strings.Join(outLines, ""))
	expectOutput(t, "stderr of docker logs -t without timestamps", "err-1\nerr-2\nerr-3\nerr-4\nerr-5\n", strings.Join(errLines, ""))
	if len(outTS) != 5 || len(errTS) != 5 {
		t.Fatalf("want 5 timestamped lines per stream, got %d and %d", len(outTS), len(errTS))
	}
	lo, hi := started.Add(-2*time.Second), finished.Add(2*time.Second)
	for i := 0; i < 5; i++ {
		for _, x := range []struct {
			what string
			ts   time.Time
		}{{"out", outTS[i]}, {"err", errTS[i]}} {
			if x.ts.Before(lo) || x.ts.After(hi) {
				t.Errorf("%s-%d stamped %v, outside the container's run %v .. %v", x.what, i+1, x.ts, started, finished)
			}
		}
		if i > 0 && !outTS[i].After(outTS[i-1]) {
			t.Errorf("out-%d stamped %v, not after out-%d at %v", i+1, outTS[i], i, outTS[i-1])
		}
		if i > 0 && !errTS[i].After(errTS[i-1]) {
			t.Errorf("err-%d stamped %v, not after err-%d at %v", i+1, errTS[i], i, errTS[i-1])
		}
		// err-i is written 10 ms before out-(i+1)
		if i < 4 && !errTS[i].Before(outTS[i+1]) {
			t.Errorf("err-%d stamped %v, not before out-%d at %v", i+1, errTS[i], i+2, outTS[i+1])
		}
	}
}

func TestLogsSinceUntil(t *testing.T) {
	requireE2E(t)
	c := runToExit(t, runSpec{script: `for i in $(seq 1 10); do echo t-$i; usleep 20000; done`}, time.Minute)
	stdout, _ := c.logs("-t")
	ts, raw, lines := timestamped(t, stdout)
	if len(lines) != 10 {
		t.Fatalf("docker logs -t: want 10 lines, got %d: %q", len(lines), stdout)
	}
	span := func(from, to int) string { // lines t-from .. t-to, 1-based
		var b strings.Builder
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "t-%d\n", i)
		}
		return b.String()
	}
	unix := func(tm time.Time) string { return fmt.Sprintf("%d.%09d", tm.Unix(), tm.Nanosecond()) }
	cases := []struct {
		name  string
		flags []string
		want  string
	}{
		{"since-first", []string{"--since", raw[0]}, span(1, 10)},
		{"since-5th", []string{"--since", raw[4]}, span(5, 10)},
		{"since-5th-unix", []string{"--since", unix(ts[4])}, span(5, 10)},
		{"since-just-after-5th", []string{"--since", ts[4].Add(time.Nanosecond).Format(time.RFC3339Nano)}, span(6, 10)},
		{"since-last", []string{"--since", raw[9]}, span(10, 10)},
		{"since-after-last", []string{"--since", ts[9].Add(time.Second).Format(time.RFC3339Nano)}, ""},
		{"since-relative-1h", []string{"--since", "1h"}, span(1, 10)},
		{"until-5th", []string{"--until", raw[4]}, span(1, 5)},
		{"until-just-before-5th", []string{"--until", ts[4].Add(-time.Nanosecond).Format(time.RFC3339Nano)}, span(1, 4)},
		{"until-first", []string{"--until", raw[0]}, span(1, 1)},
		{"until-before-first", []string{"--until", ts[0].Add(-time.Second).Format(time.RFC3339Nano)}, ""},
		{"since-3rd-until-7th", []string{"--since", raw[2], "--until", raw[6]}, span(3, 7)},
		{"since-3rd-tail-2", []string{"--since", raw[2], "--tail", "2"}, span(9, 10)},
		{"tail-5-since-8th", []string{"--tail", "5", "--since", raw[7]}, span(8, 10)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr := c.logs(tc.flags...)
			expectOutput(t, "docker logs "+strings.Join(tc.flags, " "), tc.want, stdout)
			expectOutput(t, "stderr", "", stderr)
		})
	}
}

func TestLogsFollowLive(t *testing.T) {
	requireE2E(t)
	// The script waits for trigger files, so "second" and "last" are written
	// only after the followers have shown the lines before them.
	c := startContainer(t, runSpec{script: `
echo first
while [ ! -e /tmp/next ]; do usleep 20000; done
echo second
echo second-err >&2
while [ ! -e /tmp/stop ]; do usleep 20000; done
echo last
`})
	all := followLogs(t, c.name, "-f")
	if got := all.readUntil("first", 30*time.Second); len(got) != 1 {
		t.Errorf("docker logs -f before 'first': got %q", got)
	}
	tail1 := followLogs(t, c.name, "-f", "--tail", "1")
	if got := tail1.readUntil("first", 30*time.Second); len(got) != 1 {
		t.Errorf("docker logs -f --tail 1 before 'first': got %q", got)
	}
	c.touch("/tmp/next")
	for _, s := range []*logStream{all, tail1} {
		if got := s.readUntil("second", 30*time.Second); len(got) != 1 {
			t.Errorf("docker logs -f between 'first' and 'second': got %q", got)
		}
	}
	c.touch("/tmp/stop")
	for _, s := range []*logStream{all, tail1} {
		if got := s.readUntil("last", 30*time.Second); len(got) != 1 {
			t.Errorf("docker logs -f between 'second' and 'last': got %q", got)
		}
	}
	if code := c.wait(30 * time.Second); code != 0 {
		t.Errorf("container exit code %d", code)
	}
	// -f ends by itself once the container has exited
	for i, s := range []*logStream{all, tail1} {
		if rest := s.readToEnd(20 * time.Second); len(rest) != 0 {
			t.Errorf("follower %d: lines after 'last': %q", i, rest)
		}
		if s.err != nil {
			t.Errorf("follower %d: docker logs -f: %v (stderr %q)", i, s.err, s.stderrText())
		}
		expectOutput(t, fmt.Sprintf("follower %d stderr", i), "second-err\n", s.stderrText())
	}
	stdout, stderr := c.logs()
	expectOutput(t, "docker logs stdout after exit", "first\nsecond\nlast\n", stdout)
	expectOutput(t, "docker logs stderr after exit", "second-err\n", stderr)
}

func TestLogsFollowBeyond30s(t *testing.T) {
	requireE2E(t)
	if testing.Short() {
		t.Skip("takes 36 s; skipped with -short")
	}
	// dockerd's plugin client has a 30 s timeout unless the plugin is
	// enabled with --timeout 0; it would cut docker logs -f here.
	const ticks = 35
	c := startContainer(t, runSpec{script: fmt.Sprintf(`i=1; while [ $i -le %d ]; do echo tick-$i; i=$((i+1)); sleep 1; done; echo end`, ticks)})
	start := time.Now()
	s := followLogs(t, c.name, "-f")
	got := s.readUntil("end", 2*time.Minute)
	elapsed := time.Since(start)
	rest := s.readToEnd(20 * time.Second)
	var want strings.Builder
	for i := 1; i <= ticks; i++ {
		fmt.Fprintf(&want, "tick-%d\n", i)
	}
	want.WriteString("end\n")
	expectOutput(t, "docker logs -f over 35 s", want.String(), strings.Join(append(got, rest...), ""))
	if s.err != nil || s.stderrText() != "" {
		t.Errorf("docker logs -f: %v, stderr %q", s.err, s.stderrText())
	}
	if elapsed < 30*time.Second {
		t.Errorf("the follow lasted only %v; the test needs > 30 s to mean anything", elapsed)
	}
	c.wait(30 * time.Second)
}

func TestLogsAfterStop(t *testing.T) {
	requireE2E(t)
	// After a stop, docker logs goes through a throw-away logger (StartLogging
	// + ReadLogs + StopLogging); the lines written while stopping must be
	// there too.
	c := startContainer(t, runSpec{script: `
trap 'echo stopping; exit 0' TERM
seq 1 1000
echo ready
while true; do usleep 50000; done
`})
	s := followLogs(t, c.name, "-f")
	s.readUntil("ready", 30*time.Second)
	r := dockerRaw(time.Minute, "stop", "-t", "10", c.name)
	if r.err != nil {
		t.Fatalf("docker stop: %v", r)
	}
	if code := c.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after stop, want 0 (from the TERM trap)", code)
	}
	if rest := s.readToEnd(20 * time.Second); strings.Join(rest, "") != "stopping\n" {
		t.Errorf("docker logs -f after 'ready': got %q, want [\"stopping\\n\"], then the end", rest)
	}
	var want strings.Builder
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	want.WriteString("ready\nstopping\n")
	for i := 0; i < 2; i++ { // twice: each read makes its own throw-away logger
		stdout, stderr := c.logs()
		expectOutput(t, fmt.Sprintf("docker logs #%d after docker stop", i+1), want.String(), stdout)
		expectOutput(t, "stderr", "", stderr)
	}
	stdout, _ := c.logs("--tail", "2")
	expectOutput(t, "docker logs --tail 2 after stop", "ready\nstopping\n", stdout)
}

func TestLogsKeptAcrossContainerRestart(t *testing.T) {
	requireE2E(t)
	// A second start of the same container appends; StartLogging is not a
	// reason to truncate what the first run wrote.
	c := startContainer(t, runSpec{script: `
trap 'echo stopping; exit 0' TERM
echo run-start
seq 1 100
echo ready
while true; do usleep 50000; done
`})
	run := `run-start
` + seqLines(1, 100) + `ready
stopping
`
	stopWhenReady := func(since string) {
		t.Helper()
		flags := []string{"-f"}
		if since != "" {
			flags = append(flags, "--since", since)
		}
		s := followLogs(t, c.name, flags...)
		s.readUntil("ready", 30*time.Second)
		if r := dockerRaw(time.Minute, "stop", "-t", "10", c.name); r.err != nil {
			t.Fatalf("docker stop: %v", r)
		}
		c.wait(30 * time.Second)
		s.readToEnd(20 * time.Second)
	}
	stopWhenReady("")
	firstEnd := c.inspect("{{.State.FinishedAt}}")
	docker(t, "start", c.name)
	stopWhenReady(firstEnd)
	stdout, _ := c.logs()
	expectOutput(t, "docker logs after two runs", run+run, stdout)
}

func seqLines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestManyLinesInOrder(t *testing.T) {
	requireE2E(t)
	const n = 200000
	start := time.Now()
	c := runToExit(t, runSpec{script: fmt.Sprintf("seq 1 %d", n)}, 5*time.Minute)
	ran := time.Since(start)

	// stream docker logs and compare line by line against the counter
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.docker, "logs", c.name)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	count, firstBad := 0, ""
	for sc.Scan() {
		count++
		if firstBad == "" && sc.Text() != strconv.Itoa(count) {
			firstBad = fmt.Sprintf("line %d is %q, want %q", count, truncate(sc.Text(), 100), strconv.Itoa(count))
		}
	}
	scanErr := sc.Err()
	waitErr := cmd.Wait()
	read := time.Since(start)
	if scanErr != nil || waitErr != nil {
		t.Fatalf("docker logs: %v %v (stderr %q)", scanErr, waitErr, truncate(stderr.String(), 500))
	}
	if firstBad != "" {
		t.Errorf("first wrong line: %s", firstBad)
	}
	if count != n {
		t.Errorf("docker logs returned %d lines, want %d", count, n)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %q", truncate(stderr.String(), 500))
	}
	t.Logf("%d lines: container ran %v, docker logs read them in %v", n, ran.Round(time.Millisecond), read.Round(time.Millisecond))
}

func TestStopWhileLoggingIsPrompt(t *testing.T) {
	requireE2E(t)
	// `yes` as PID 1 ignores SIGTERM, so docker stop -t 1 kills it after 1 s;
	// the stop must not wait on the log driver.
	c := startContainer(t, runSpec{script: `exec yes 'flood line 0123456789 abcdefghijklmnopqrstuvwxyz'`})
	s := followLogs(t, c.name, "-f", "--tail", "1")
	s.readUntil("flood line 0123456789 abcdefghijklmnopqrstuvwxyz", 30*time.Second)
	s.stop()
	time.Sleep(2 * time.Second) // workload: let the flood run for a while before stopping
	start := time.Now()
	r := dockerRaw(time.Minute, "stop", "-t", "1", c.name)
	took := time.Since(start)
	if r.err != nil {
		t.Fatalf("docker stop -t 1: %v (after %v)", r, took)
	}
	t.Logf("docker stop -t 1 of a flooding container took %v", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("docker stop -t 1 took %v, want < 10 s", took)
	}
	if code := c.wait(30 * time.Second); code != 137 {
		t.Errorf("exit code %d, want 137 (SIGKILL after the stop timeout)", code)
	}
	// the driver still serves reads and new containers
	// (the last line may be cut: yes was killed mid-write)
	const flood = "flood line 0123456789 abcdefghijklmnopqrstuvwxyz\n"
	start = time.Now()
	stdout, _ := c.logs("--tail", "2")
	t.Logf("docker logs --tail 2 after the flood took %v", time.Since(start).Round(time.Millisecond))
	if first, rest, _ := strings.Cut(stdout, "\n"); first+"\n" != flood || rest == "" || !strings.HasPrefix(flood, rest) {
		t.Errorf("docker logs --tail 2 after the flood: %q, want a flood line and a (possibly cut) flood line", truncate(stdout, 300))
	}
	start = time.Now()
	after := runToExit(t, runSpec{suffix: "after", script: "echo after-flood"}, time.Minute)
	t.Logf("a new container ran in %v", time.Since(start).Round(time.Millisecond))
	stdout, _ = after.logs()
	expectOutput(t, "a container started after the flood", "after-flood\n", stdout)
}
