package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/logship/logship/test/procfs"
)

// containerLabel marks every container the benchmark creates, so that a
// sweep can remove the leftovers of an interrupted run.
const containerLabel = "logship-bench"

// docker runs the docker CLI and returns its trimmed stdout; the error
// carries stderr.
func (b *bench) docker(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.WaitDelay = 5 * time.Second
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	if err != nil {
		return strings.TrimSpace(so.String()), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(se.String()))
	}
	return strings.TrimSpace(so.String()), nil
}

// dockerTo runs the docker CLI with stdout going to w, and returns how long
// it took.
func (b *bench) dockerTo(timeout time.Duration, w io.Writer, args ...string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.WaitDelay = 5 * time.Second
	var se bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &se
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(se.String()))
	}
	return d, nil
}

// waitDockerd polls `docker info` until dockerd answers (another engineer's
// e2e run may be restarting it).
func (b *bench) waitDockerd(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := b.docker(15*time.Second, "info", "--format", "{{.ServerVersion}}"); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("dockerd not answering after %v: %w", timeout, err)
		}
		time.Sleep(500 * time.Millisecond) // polling another process, bounded by the deadline
	}
}

// pluginSpec is a managed plugin the benchmark installs (and removes).
type pluginSpec struct {
	Name     string   // with tag
	Dir      string   // config.json + rootfs/
	Settings []string // docker plugin set KEY=VALUE ...
	DataDir  string   // host folder of its data, removed at the end ("" none)
}

// installPlugin (re)creates and enables p.
func (b *bench) installPlugin(p pluginSpec) error {
	b.removePlugin(p.Name)
	if _, err := b.docker(5*time.Minute, "plugin", "create", p.Name, p.Dir); err != nil {
		return err
	}
	if len(p.Settings) > 0 {
		if _, err := b.docker(time.Minute, append([]string{"plugin", "set", p.Name}, p.Settings...)...); err != nil {
			return err
		}
	}
	// --timeout 0: as make install does (see test/install-plugin.sh).
	_, err := b.docker(2*time.Minute, "plugin", "enable", "--timeout", "0", p.Name)
	return err
}

// ensurePlugin makes sure p exists and is enabled (after a dockerd restart,
// or someone else's cleanup).
func (b *bench) ensurePlugin(p pluginSpec) error {
	out, err := b.docker(30*time.Second, "plugin", "inspect", "-f", "{{.Enabled}}", p.Name)
	switch {
	case err != nil:
		return b.installPlugin(p)
	case out == "true":
		return nil
	default:
		_, err := b.docker(2*time.Minute, "plugin", "enable", "--timeout", "0", p.Name)
		return err
	}
}

// freshPlugin restarts one of the benchmark's logship plugins with an
// empty data folder, so that no shipper of an earlier run (still retrying
// against a receiver that is down) is in the next measurement.
func (b *bench) freshPlugin(name string) error {
	for _, p := range b.plugins {
		if p.Name != name || p.DataDir == "" {
			continue
		}
		if _, err := b.docker(2*time.Minute, "plugin", "disable", "-f", name); err != nil {
			return err
		}
		if err := os.RemoveAll(p.DataDir); err != nil {
			return err
		}
		_, err := b.docker(2*time.Minute, "plugin", "enable", "--timeout", "0", name)
		return err
	}
	return nil // not ours (BENCH_LOGSHIP_PLUGIN): leave it alone
}

func (b *bench) removePlugin(name string) {
	if _, err := b.docker(30*time.Second, "plugin", "inspect", "-f", "{{.Id}}", name); err != nil {
		return
	}
	_, _ = b.docker(2*time.Minute, "plugin", "disable", "-f", name)
	if _, err := b.docker(2*time.Minute, "plugin", "rm", "-f", name); err != nil {
		b.logf("warning: %v", err)
	}
}

// pluginProc returns the host pid of a managed plugin's process, waiting a
// little for it (dockerd restarts a dead plugin within about a second).
func (b *bench) pluginProc(name string) (int, error) {
	id, err := b.docker(30*time.Second, "plugin", "inspect", "-f", "{{.Id}}", name)
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if pid := procfs.PluginPID(id); pid != 0 {
			return pid, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no process found for plugin %s (id %s)", name, id)
		}
		time.Sleep(100 * time.Millisecond) // polling /proc, bounded by the deadline
	}
}

// sweep removes containers left by an interrupted run of the benchmark.
func (b *bench) sweep() {
	out, _ := b.docker(time.Minute, "ps", "-aq", "--filter", "label="+containerLabel)
	if ids := strings.Fields(out); len(ids) > 0 {
		_, _ = b.docker(5*time.Minute, append([]string{"rm", "-f"}, ids...)...)
	}
}

// retry runs fn; if it fails, it waits for dockerd to answer, re-installs
// the benchmark's plugins if they went missing, and runs fn once more.
func (b *bench) retry(what string, fn func() error) error {
	err := fn()
	if err == nil {
		return nil
	}
	b.logf("%s failed: %v", what, err)
	b.logf("  waiting for dockerd, checking plugins, retrying once")
	if werr := b.waitDockerd(3 * time.Minute); werr != nil {
		return errors.Join(err, werr)
	}
	b.sweep()
	for _, p := range b.plugins {
		if perr := b.ensurePlugin(p); perr != nil {
			return errors.Join(err, perr)
		}
	}
	b.retries++
	if err2 := fn(); err2 != nil {
		return fmt.Errorf("failed twice: %w; first: %v", err2, err)
	}
	return nil
}

// containerTimes returns dockerd's start and finish times and the exit code.
func (b *bench) containerTimes(name string) (start, end time.Time, code int, err error) {
	out, err := b.docker(30*time.Second, "inspect", "-f", "{{.State.StartedAt}} {{.State.FinishedAt}} {{.State.ExitCode}}", name)
	if err != nil {
		return
	}
	f := strings.Fields(out)
	if len(f) != 3 {
		err = fmt.Errorf("inspect %s: %q", name, out)
		return
	}
	start, err1 := time.Parse(time.RFC3339Nano, f[0])
	end, err2 := time.Parse(time.RFC3339Nano, f[1])
	_, err3 := fmt.Sscan(f[2], &code)
	err = errors.Join(err1, err2, err3)
	return
}

// countLines counts the newlines written to it.
type countLines struct{ lines, bytes int64 }

func (c *countLines) Write(p []byte) (int, error) {
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	c.bytes += int64(len(p))
	return len(p), nil
}

// lineCounter counts lines, and lines holding needle (if set).
type lineCounter struct {
	needle      []byte
	lines, hits int64
	part        []byte // the unfinished last line
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(c.part) < 1<<20 {
				c.part = append(c.part, p...)
			}
			break
		}
		c.lines++
		if len(c.needle) > 0 {
			line := p[:i]
			if len(c.part) > 0 {
				c.part = append(c.part, line...)
				line = c.part
			}
			if bytes.Contains(line, c.needle) {
				c.hits++
			}
		}
		c.part = c.part[:0]
		p = p[i+1:]
	}
	return n, nil
}

// logsCount returns how many lines `docker logs` prints for a container.
func (b *bench) logsCount(name string) (int64, error) {
	var c countLines
	_, err := b.dockerTo(10*time.Minute, &c, "logs", name)
	return c.lines, err
}
