package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The plugin's lifecycle under a running container: crash (kill -9) and
// restart by dockerd, force-disable and enable, install and upgrade from a
// registry.

// counterScript logs numbered lines until /tmp/stop exists, keeping the last
// number in /tmp/count so the test can watch progress without docker logs
// (a blocked FIFO stops the counter: echo blocks).
const counterScript = `
p=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN
p=$p$p$p$p$p$p$p$p$p$p
pad=$p$p$p$p$p$p$p$p
i=0
while [ ! -e /tmp/stop ]; do
  i=$((i+1))
  echo "n-$i $pad"
  echo $i > /tmp/count
  usleep 1000
done
echo "done $i"
`

var counterPad = " " + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN", 80)

// progressAfter is how many lines the container must write after the plugin
// came back: 1000 lines of ~4 KB are ~4 MB, more than three times what the pipes
// and buffers between the container and the plugin hold (the container's
// stdout FIFO 64 KiB, dockerd's bytes pipe 1 MB in front of the copier, the
// copier's 16 KiB, the plugin's FIFO 64 KiB), so a FIFO nobody reads blocks
// the container before it gets there.
const progressAfter = 1000

// checkCounterLogs stops a counterScript container, waits for it and checks
// its docker logs: numbered lines in order, every line after `after` present.
// It reports (t.Logf) the lines lost before that.
func checkCounterLogs(t *testing.T, c *container, after int, event string) {
	t.Helper()
	c.touch("/tmp/stop")
	if code := c.wait(time.Minute); code != 0 {
		t.Errorf("exit code %d", code)
	}
	stdout, stderr := c.logs()
	expectOutput(t, "stderr", "", stderr)
	nums, other := numbered(stdout, "n-")
	if len(other) != 1 || !strings.HasPrefix(other[0], "done ") {
		t.Fatalf("want numbered lines and one final 'done N' line; other lines: %q (of %d lines)", lastN(other, 5), len(nums)+len(other))
	}
	if !strings.HasSuffix(stdout, other[0]+"\n") {
		t.Errorf("%q is not the last line", other[0])
	}
	var last int
	if _, err := fmt.Sscanf(other[0], "done %d", &last); err != nil {
		t.Fatalf("bad last line %q", other[0])
	}
	bad := 0
	for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
		if strings.HasPrefix(l, "n-") && !strings.HasSuffix(l, counterPad) {
			if bad++; bad <= 3 {
				t.Errorf("mangled line %q", truncate(l, 200))
			}
		}
	}
	missing, disorder := sequenceReport(nums, last)
	if disorder != "" {
		t.Errorf("lines out of order: %s", disorder)
	}
	var lostBefore, lostAfter []int
	for _, n := range missing {
		if n > after {
			lostAfter = append(lostAfter, n)
		} else {
			lostBefore = append(lostBefore, n)
		}
	}
	t.Logf("%s: container wrote %d lines; %d lost (all written before line %d, i.e. in flight at the %s): %s",
		event, last, len(lostBefore), after+1, event, rangesOf(lostBefore))
	if len(lostAfter) > 0 {
		t.Errorf("%d lines written after the plugin came back are missing from docker logs: %s", len(lostAfter), rangesOf(lostAfter))
	}
	if len(nums) < last-len(missing) {
		t.Errorf("%d numbered lines, want %d", len(nums), last-len(missing))
	}
}

func TestContainerSurvivesPluginKill(t *testing.T) {
	requirePlugin(t)
	t.Cleanup(func() { ensurePluginEnabled(t, env.driver) })
	c := startContainer(t, runSpec{script: counterScript})
	c.waitCounter(300, time.Minute, "container logging before the kill")

	killPlugin(t)

	atRestart, err := c.counter()
	if err != nil {
		t.Fatal(err)
	}
	n := c.waitCounter(atRestart+progressAfter, 90*time.Second,
		"container blocked after the plugin restart (the plugin did not re-attach to its FIFO?)")
	t.Logf("counter %d at restart, %d later", atRestart, n)

	// docker logs works on the running container
	if stdout, _ := c.logs("--tail", "1"); !strings.HasPrefix(stdout, "n-") {
		t.Errorf("docker logs --tail 1 after the restart: %q", stdout)
	}
	checkCounterLogs(t, c, atRestart, "kill -9")
}

func TestPluginForceDisableEnable(t *testing.T) {
	requirePlugin(t)
	t.Cleanup(func() { ensurePluginEnabled(t, env.driver) })
	c := startContainer(t, runSpec{script: counterScript})
	c.waitCounter(300, time.Minute, "container logging before the disable")

	start := time.Now()
	docker(t, "plugin", "disable", "-f", env.driver)
	disabled := time.Since(start)
	docker(t, "plugin", "enable", "--timeout", "0", env.driver)
	waitPluginUp(t, env.driver, 0, 30*time.Second)
	t.Logf("docker plugin disable -f took %v; plugin up again %v after the disable started", disabled.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if disabled > 5*time.Second {
		t.Errorf("docker plugin disable -f took %v: the plugin does not exit promptly on SIGTERM (dockerd waits 10 s, then SIGKILL)", disabled)
	}

	atEnable, err := c.counter()
	if err != nil {
		t.Fatal(err)
	}
	n := c.waitCounter(atEnable+progressAfter, 90*time.Second,
		"container blocked after disable -f + enable (the plugin did not re-attach to its FIFO?)")
	t.Logf("counter %d at enable, %d later", atEnable, n)
	if stdout, _ := c.logs("--tail", "1"); !strings.HasPrefix(stdout, "n-") {
		t.Errorf("docker logs --tail 1 after re-enable: %q", stdout)
	}
	checkCounterLogs(t, c, atEnable, "disable -f")
}

// pluginDataSetting returns the install-time setting that gives a second
// instance of the plugin its own data folder (and that folder on the host),
// so it does not share stream state and rings with logship:latest; "" if the
// plugin has no DATA_DIR.
func pluginDataSetting(t *testing.T, dir, suffix string) (setting, hostDir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Env    []struct{ Name, Value string }
		Mounts []struct{ Source, Destination string }
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s/config.json: %v", dir, err)
	}
	for _, e := range cfg.Env {
		if e.Name != "DATA_DIR" || e.Value == "" {
			continue
		}
		val := strings.TrimSuffix(e.Value, "/") + suffix
		for _, m := range cfg.Mounts {
			if rel, err := filepath.Rel(m.Destination, val); err == nil && !strings.HasPrefix(rel, "..") {
				hostDir = filepath.Join(m.Source, rel)
			}
		}
		return "DATA_DIR=" + val, hostDir
	}
	return "", ""
}

func TestInstallAndUpgradeFromLocalRegistry(t *testing.T) {
	requireE2E(t)
	dir := env.pluginDir
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		if env.isPlugin {
			t.Fatalf("plugin folder %s missing (%v); run: make plugin-dir, or set LOGSHIP_E2E_PLUGIN_DIR", dir, err)
		}
		t.Skipf("no plugin folder at %s (driver %s is built in)", dir, env.driver)
	}
	reg := startRegistry(t)
	v1, v2 := reg+"/logship-e2e:v1", reg+"/logship-e2e:v2"

	setting, hostData := pluginDataSetting(t, dir, "-e2e-upgrade")
	if hostData != "" && strings.Contains(hostData, "e2e-upgrade") {
		t.Cleanup(func() { os.RemoveAll(hostData) })
	}
	t.Cleanup(func() {
		for _, n := range []string{v1, v2} {
			dockerRaw(time.Minute, "plugin", "disable", "-f", n)
			dockerRaw(time.Minute, "plugin", "rm", "-f", n)
		}
	})

	// v1: create from (a copy of) the folder, push, remove, install from the
	// registry
	docker(t, "plugin", "create", v1, pluginVariant(t, dir, "v1", ""))
	docker(t, "plugin", "push", v1)
	docker(t, "plugin", "rm", v1)
	install := []string{"plugin", "install", "--grant-all-permissions", v1}
	if setting != "" {
		install = append(install, setting)
	}
	docker(t, install...)
	if p := inspectPlugin(t, v1); !p.Enabled {
		t.Fatalf("%s installed but not enabled", v1)
	}
	waitPluginUp(t, v1, 0, 30*time.Second)

	c := startContainer(t, runSpec{driver: v1, script: `
i=1; while [ $i -le 200 ]; do echo "pre-$i"; i=$((i+1)); done
echo pre-done
while [ ! -e /tmp/go ]; do usleep 20000; done
i=1; while [ $i -le 10 ]; do echo "post-$i"; i=$((i+1)); done
`})
	s := followLogs(t, c.name, "-f")
	s.readUntil("pre-done", 30*time.Second)
	s.stop()
	pre := seqLinesPrefixed("pre-", 1, 200) + "pre-done\n"

	// v2: same folder, another description
	docker(t, "plugin", "create", v2, pluginVariant(t, dir, "v2", " (e2e v2)"))
	docker(t, "plugin", "push", v2)
	docker(t, "plugin", "rm", v2)

	// upgrade v1 in place (it keeps its name, id and settings)
	idBefore := inspectPlugin(t, v1).ID
	docker(t, "plugin", "disable", "-f", v1)
	docker(t, "plugin", "upgrade", "--grant-all-permissions", "--skip-remote-check", v1, v2)
	docker(t, "plugin", "enable", "--timeout", "0", v1)
	waitPluginUp(t, v1, 0, 30*time.Second)
	p := inspectPlugin(t, v1)
	if !strings.HasSuffix(p.Config.Description, "(e2e v2)") || p.ID != idBefore {
		t.Errorf("after upgrade: description %q, id %s (was %s), reference %s", p.Config.Description, p.ID, idBefore, p.PluginReference)
	}
	if setting != "" {
		found := false
		for _, e := range p.Settings.Env {
			found = found || e == setting
		}
		if !found {
			t.Errorf("setting %s lost in the upgrade: %q", setting, p.Settings.Env)
		}
	}

	// lines written before the upgrade are still readable, while it runs
	stdout, stderr := c.logs()
	expectOutput(t, "docker logs of the running container after the upgrade", pre, stdout)
	expectOutput(t, "stderr", "", stderr)

	// lines written after the upgrade: config.json's propagatedMount puts
	// the FIFOs outside the rootfs that the upgrade replaces, and the
	// upgraded plugin re-attaches to them, so none may be lost.
	c.touch("/tmp/go")
	if code := c.wait(time.Minute); code != 0 {
		t.Errorf("exit code %d", code)
	}
	stdout, _ = c.logs()
	want := pre + seqLinesPrefixed("post-", 1, 10)
	if stdout != want {
		t.Errorf("docker logs after the upgrade and exit (propagatedMount %q): %s",
			p.Config.PropagatedMount, firstDiff(want, stdout))
	}

	// a new container through the upgraded plugin
	c2 := runToExit(t, runSpec{suffix: "after-upgrade", driver: v1, script: "echo after-upgrade"}, time.Minute)
	stdout, _ = c2.logs()
	expectOutput(t, "a new container through the upgraded plugin", "after-upgrade\n", stdout)
}

func seqLinesPrefixed(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%s%d\n", prefix, i)
	}
	return b.String()
}

// pluginVariant copies the plugin folder and makes its rootfs unique with a
// marker file: dockerd 20.10 refuses `docker plugin create` when a plugin
// with a byte-identical rootfs exists ("content sha256:...: already exists"),
// and logship:latest was created from the same folder. descSuffix is
// appended to config.json's description.
func pluginVariant(t *testing.T, dir, version, descSuffix string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "plugin")
	if r := runCmd(time.Minute, nil, "cp", "-a", dir, out); r.err != nil {
		t.Fatalf("cp -a %s %s: %v", dir, out, r)
	}
	marker := filepath.Join(out, "rootfs", ".logship-e2e-"+version)
	if err := os.WriteFile(marker, []byte(fmt.Sprintf("%s %d\n", version, time.Now().UnixNano())), 0o644); err != nil {
		t.Fatal(err)
	}
	if descSuffix == "" {
		return out
	}
	cfgPath := filepath.Join(out, "config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", cfgPath, err)
	}
	cfg["description"] = fmt.Sprint(cfg["description"]) + descSuffix
	b, _ = json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
