package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// How users select and configure the driver: --log-opt validation,
// daemon.json, and a compose file's logging block.

func TestBadLogOptRejected(t *testing.T) {
	requireE2E(t)
	cases := []logOptCase{
		{"valid-control", []string{"tag=x", "max-size=1m"}, ""},
		// options dockerd itself reads reach the driver too and must pass
		{"docker-own-options", []string{"mode=non-blocking", "max-buffer-size=4m", "cache-disabled=true"}, ""},
		{"unknown-option", []string{"no-such-opt=1"}, "no-such-opt"},
		{"bad-max-size", []string{"max-size=abc"}, "max-size"},
		{"bad-tag-template", []string{"tag={{.Nope"}, "tag"},
		{"bad-redact-mode", []string{"redact-mode=loud"}, "redact-mode"},
		{"hash-mode-without-key", []string{"redact-mode=hash"}, "redact"},
		{"bad-redact-pattern", []string{"redact-patterns=(unclosed"}, "redact-patterns"},
		{"bad-redact-pii", []string{"redact-pii=passport"}, "redact-pii"},
		{"redact-options-valid", []string{"redact-mode=partial", "redact-keys=pin,otp", "redact-pii=email"}, ""},
	}
	runLogOptCases(t, cases)
}

// logOptCase is one docker run with log-opts: wantErr "" means it must
// run; otherwise docker run must fail with a message naming each of the
// |-separated option names, and the container must not run.
type logOptCase struct {
	name    string
	opts    []string
	wantErr string
}

func runLogOptCases(t *testing.T, cases []logOptCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name, args := runArgs(t, runSpec{logOpts: tc.opts, script: "echo ran"})
			t.Cleanup(func() { dockerRaw(time.Minute, "rm", "-f", name) })
			r := dockerRaw(time.Minute, append([]string{"run"}, args...)...)
			opts := strings.Join(tc.opts, " --log-opt ")
			if tc.wantErr == "" {
				if r.err != nil {
					t.Fatalf("docker run --log-opt %s: %v", opts, r)
				}
				expectOutput(t, "output of the control container", "ran\n", r.stdout)
				return
			}
			if r.err == nil {
				t.Fatalf("docker run --log-opt %s succeeded (stdout %q), want an error naming %s", opts, r.stdout, tc.wantErr)
			}
			for _, w := range strings.Split(tc.wantErr, "|") {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("docker run --log-opt %s failed, but the message does not name %q: %s",
						opts, w, strings.TrimSpace(r.stderr))
				}
			}
			if strings.Contains(r.stdout, "ran") {
				t.Errorf("the container ran anyway: %q", r.stdout)
			}
			t.Logf("docker run says: %s", strings.TrimSpace(r.stderr))
		})
	}
}

func TestDaemonJSONSelectsLogship(t *testing.T) {
	requireE2E(t)
	before := docker(t, "info", "--format", "{{.LoggingDriver}}")
	t.Cleanup(func() { // runs after dockerd is restored
		if got := docker(t, "info", "--format", "{{.LoggingDriver}}"); got != before {
			t.Errorf("after restoring dockerd: default log driver %q, was %q", got, before)
		}
	})
	restartDockerdWithConfig(t, map[string]any{
		"log-driver": env.driver,
		"log-opts":   map[string]string{"tag": "{{.Name}}"},
	})
	if got := docker(t, "info", "--format", "{{.LoggingDriver}}"); got != env.driver {
		t.Errorf("docker info LoggingDriver = %q, want %q", got, env.driver)
	}
	c := runToExit(t, runSpec{driver: "-", script: "echo from-daemon-json; echo err-daemon-json >&2"}, time.Minute)
	if got := c.inspect("{{.HostConfig.LogConfig.Type}}"); got != env.driver {
		t.Errorf("LogConfig.Type = %q, want %q", got, env.driver)
	}
	if got := c.inspect(`{{index .HostConfig.LogConfig.Config "tag"}}`); got != "{{.Name}}" {
		t.Errorf("LogConfig.Config tag = %q, want {{.Name}} from daemon.json", got)
	}
	stdout, stderr := c.logs()
	expectOutput(t, "docker logs stdout", "from-daemon-json\n", stdout)
	expectOutput(t, "docker logs stderr", "err-daemon-json\n", stderr)
}

func TestComposeLoggingBlock(t *testing.T) {
	requireE2E(t)
	if env.compose == "" {
		t.Fatal("docker-compose not found (run: bash test/setup.sh)")
	}
	project := fmt.Sprintf("logshipe2e%d", time.Now().UnixNano()%1e9)
	dir := t.TempDir()
	file := filepath.Join(dir, "docker-compose.yml")
	yml := fmt.Sprintf(`version: "2.4"
services:
  app:
    image: %q
    command: ["sh", "-c", "echo compose-out-1; usleep 100000; echo compose-err-1 >&2; usleep 100000; echo compose-out-2"]
    labels:
      %s: "compose"
    logging:
      driver: %q
      options:
        tag: "x"
        max-size: "1m"
`, env.image, label, env.driver)
	if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	compose := func(args ...string) result {
		return runCmd(3*time.Minute, nil, env.compose, append([]string{"-p", project, "-f", file, "--ansi", "never"}, args...)...)
	}
	t.Cleanup(func() {
		if r := compose("down", "-v", "--remove-orphans", "-t", "1"); r.err != nil {
			t.Logf("cleanup: docker-compose down: %v", r)
		}
	})
	if r := compose("up", "-d"); r.err != nil {
		t.Fatalf("docker-compose up -d: %v\n%s", r, yml)
	}
	r := compose("ps", "-q", "app")
	id := strings.TrimSpace(r.stdout)
	if r.err != nil || id == "" {
		t.Fatalf("docker-compose ps -q app: %v %q", r, r.stdout)
	}
	c := &container{t: t, name: id}
	if code := c.wait(time.Minute); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if got := c.inspect(`{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "tag"}} {{index .HostConfig.LogConfig.Config "max-size"}}`); got != env.driver+" x 1m" {
		t.Errorf("LogConfig = %q, want %q", got, env.driver+" x 1m")
	}

	stdout, stderr := c.logs()
	expectOutput(t, "docker logs stdout", "compose-out-1\ncompose-out-2\n", stdout)
	expectOutput(t, "docker logs stderr", "compose-err-1\n", stderr)

	// docker-compose logs: "<container> | line", stdout and stderr merged
	r = compose("logs", "--no-color", "app")
	if r.err != nil {
		t.Fatalf("docker-compose logs: %v", r)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		if _, msg, ok := strings.Cut(l, "| "); ok {
			got = append(got, msg)
		} else if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "Attaching to") {
			got = append(got, "?"+l)
		}
	}
	want := []string{"compose-out-1", "compose-err-1", "compose-out-2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("docker-compose logs app: lines %q, want %q (stderr %q)", got, want, truncate(r.stderr, 500))
	}
}

func TestLogsSurviveDockerdRestart(t *testing.T) {
	requireE2E(t)
	// dockerd restarts the plugin with itself; what the driver stored for a
	// stopped container must still be readable afterwards.
	c := runToExit(t, runSpec{script: "seq 1 1000; usleep 100000; echo err-line >&2; usleep 100000; echo last"}, time.Minute)
	restartDockerd(t)
	stdout, stderr := c.logs()
	expectOutput(t, "docker logs stdout after a dockerd restart", seqLines(1, 1000)+"last\n", stdout)
	expectOutput(t, "docker logs stderr after a dockerd restart", "err-line\n", stderr)
	stdout, stderr = c.logs("--tail", "3")
	expectOutput(t, "stdout of docker logs --tail 3 after a dockerd restart", "1000\nlast\n", stdout)
	expectOutput(t, "stderr of docker logs --tail 3 after a dockerd restart", "err-line\n", stderr)
	// and the same container runs again through the restarted plugin
	docker(t, "start", c.name)
	c.wait(time.Minute)
	stdout, _ = c.logs()
	expectOutput(t, "docker logs after a second run", seqLines(1, 1000)+"last\n"+seqLines(1, 1000)+"last\n", stdout)
}
