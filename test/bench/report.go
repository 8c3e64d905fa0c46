package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

type machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	Kernel    string `json:"kernel"`
	Docker    string `json:"docker"`
	Go        string `json:"go"`
	MemoryMB  int64  `json:"memory_mb"`
	LoadStart string `json:"loadavg_start"`
	LoadEnd   string `json:"loadavg_end"`
}

type phaseTime struct {
	Phase   string  `json:"phase"`
	Seconds float64 `json:"seconds"`
}

type results struct {
	Machine        machine           `json:"machine"`
	Date           string            `json:"date"`
	Commit         string            `json:"commit"`
	LogshipVersion string            `json:"logship_version"`
	Command        string            `json:"command"`
	Env            map[string]string `json:"env"`
	Config         config            `json:"config"`
	Drivers        []*driverRow      `json:"drivers"`
	E2E            []e2eRow          `json:"e2e"`
	E2ERuns        []runSample       `json:"e2e_runs"`
	Logs           []logsRow         `json:"docker_logs"`
	Parallel       []parRow          `json:"parallel"`
	GoBench        []goBench         `json:"go_bench"`
	GoBenchPkgs    []goBenchPkg      `json:"go_bench_packages"`
	CorpusPath     string            `json:"corpus_path,omitempty"`
	Compression    []compRow         `json:"ring_compression"`
	Profiles       []profile         `json:"profiles,omitempty"`
	Notes          []string          `json:"notes"`
	Retries        int               `json:"retries"`
	PhaseSeconds   []phaseTime       `json:"phase_seconds"`
	DurationSec    float64           `json:"duration_s"`
}

func machineInfo(b *bench) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if c, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(c), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(k))
	}
	if v, err := b.docker(30*time.Second, "version", "--format", "{{.Server.Version}}"); err == nil {
		m.Docker = v
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.Go = strings.TrimSpace(strings.TrimPrefix(string(out), "go version "))
	}
	if kb, err := statusKBFile("/proc/meminfo", "MemTotal"); err == nil {
		m.MemoryMB = kb / 1024
	}
	m.LoadStart = loadavg()
	return m
}

func statusKBFile(path, field string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			var n int64
			_, err := fmt.Sscan(strings.TrimSpace(v), &n)
			return n, err
		}
	}
	return 0, fmt.Errorf("no %s in %s", field, path)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

// gitCommit returns HEAD, with "+dirty" when the work tree has changes
// (read-only git commands; --no-optional-locks keeps status from
// refreshing the index).
func gitCommit(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "--no-optional-locks", "-C", repo, "status", "--porcelain", "--untracked-files=normal").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "+dirty"
	}
	return c
}

func (b *bench) writeResults() error {
	b.res.Machine.LoadEnd = loadavg()
	js, err := json.MarshalIndent(sanitize(b.res), "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	md := b.markdown()
	if err := os.WriteFile(filepath.Join(b.out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

// sanitize turns NaN (no value) into -1 for JSON, which has no NaN.
func sanitize(r *results) any { return nanSafe{r} }

// nanSafe marshals through a replacer of NaN floats.
type nanSafe struct{ r *results }

func (n nanSafe) MarshalJSON() ([]byte, error) {
	c := *n.r
	c.E2E = append([]e2eRow(nil), c.E2E...)
	for i := range c.E2E {
		e := &c.E2E[i]
		for _, f := range []*float64{&e.LinesPerSec, &e.RatioNop, &e.PluginUsLine, &e.DockerdUsLine, &e.ReceiverUsLine, &e.OtherCores, &e.WakeupsPer1k, &e.PluginPeakMB} {
			*f = nanToNeg(*f)
		}
	}
	c.Parallel = append([]parRow(nil), c.Parallel...)
	for i := range c.Parallel {
		p := &c.Parallel[i]
		for _, f := range []*float64{&p.LinesPerSec, &p.RatioNop, &p.PluginUsLine, &p.DockerdUs, &p.PluginPeakMB} {
			*f = nanToNeg(*f)
		}
	}
	c.Logs = append([]logsRow(nil), c.Logs...)
	for i := range c.Logs {
		l := &c.Logs[i]
		for _, f := range []*float64{&l.TailCLIms, &l.TailAPIms, &l.FullSec, &l.FullMBps, &l.CLIBaseline} {
			*f = nanToNeg(*f)
		}
	}
	type plain results // no MarshalJSON loop
	return json.Marshal((*plain)(&c))
}

// nanToNeg: JSON has no NaN; -1 means "no value" throughout results.json.
func nanToNeg(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return -1
	}
	return f
}

// ---------------------------------------------------------------------------
// Markdown

func num(f float64, prec int) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "—"
	}
	s := fmt.Sprintf("%.*f", prec, f)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var g []string
	for len(intPart) > 3 {
		g = append([]string{intPart[len(intPart)-3:]}, g...)
		intPart = intPart[:len(intPart)-3]
	}
	g = append([]string{intPart}, g...)
	s = strings.Join(g, ",")
	if neg {
		s = "-" + s
	}
	if frac != "" {
		s += "." + frac
	}
	return s
}

func mb(n int64) string {
	if n < 0 {
		return "—"
	}
	return num(float64(n)/1e6, 1) + " MB"
}

func (b *bench) markdown() string {
	r := b.res
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p("# logship benchmark results\n\n")
	p("| | |\n|---|---|\n")
	p("| date | %s |\n", r.Date)
	p("| git commit | `%s` |\n", r.Commit)
	p("| logship build | %s (plugin `%s`) |\n", orDash(r.LogshipVersion), orDash(r.Config.LogshipPlugin))
	p("| machine | %s, %d cores, %s MB RAM, kernel %s |\n", r.Machine.CPU, r.Machine.Cores, num(float64(r.Machine.MemoryMB), 0), r.Machine.Kernel)
	p("| docker | %s |\n", r.Machine.Docker)
	p("| go | %s |\n", r.Machine.Go)
	p("| load average | %s at start, %s at the end (the machine is shared) |\n", r.Machine.LoadStart, r.Machine.LoadEnd)
	p("| run | `%s`%s; %s s; %d retried step(s) |\n", r.Command, envString(r.Env), num(r.DurationSec, 0), r.Retries)
	p("\nPerformance is reported as ratios to a baseline measured in the same run, never as pass/fail.\n")

	b.targets(p)

	if len(r.E2E) > 0 {
		c := r.Config
		p("\n## 1. End to end through dockerd\n\n")
		p("One container `cat`s a file of %s lines to stdout as fast as it can; wall time runs from releasing it (it waits on a FIFO barrier once started) to its exit (dockerd's FinishedAt). "+
			"Median of %d interleaved round(s); × nop is the median of per-round ratios to the do-nothing plugin. "+
			"CPU is utime+stime from /proc/<pid>/stat around the run (start → exit, plugin settled), per line; \"other load\" is the rest of the machine's busy time "+
			"in that window, in cores (the container, containerd and its shim, and whatever else runs on the shared machine: a noise indicator, out of %d cores). Wake-ups are the plugin threads' voluntary context switches (a FIFO reader sleeping for data). Peak RSS is the plugin's VmHWM after resetting it (clear_refs 5). "+
			"Delivered counts `docker logs` lines on round 1, or the receiver's records every round (the plugin's CPU is read once they all arrived, so a sink's work counts). "+
			"Secret kept: of the lines delivered in round 1 (JSON shape), how many still hold the planted password (`%s…`): 0 means masked. "+
			"Receivers (the benchmark's own instances, loopback): Fluentd = ffrecv, syslog = rsyslogd imtcp, HTTP = VictoriaLogs /insert/jsonline (logship's default gzip).\n",
			num(float64(c.Lines), 0), c.Rounds, r.Machine.Cores, plantedSecret)
		for _, shape := range []string{shapeJSON, shapeText} {
			p("\n**%s lines (%d bytes + newline)**\n\n", map[string]string{shapeJSON: "JSON", shapeText: "Plain text"}[shape], lineLen(shape))
			p("| driver | lines/s | × nop | plugin µs/line | dockerd µs/line | receiver µs/line | other load | plugin wake-ups /1k lines | plugin peak RSS | delivered | secret kept |\n")
			p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
			for _, e := range r.E2E {
				if e.Shape != shape {
					continue
				}
				if e.Skip != "" {
					p("| %s | %s | | | | | | | | | |\n", e.Label, e.Skip)
					continue
				}
				if e.Runs == 0 {
					p("| %s | failed: %s | | | | | | | | | |\n", e.Label, truncate(e.Errors, 200))
					continue
				}
				kept := "—"
				if e.Unmasked >= 0 {
					kept = num(float64(e.Unmasked), 0)
				}
				deliv := "n/a"
				if e.Delivered >= 0 {
					deliv = fmt.Sprintf("%s / %s", num(float64(e.Delivered), 0), num(float64(e.DeliveredOf), 0))
				}
				peak := "—"
				if !math.IsNaN(e.PluginPeakMB) {
					peak = num(e.PluginPeakMB, 1) + " MB"
				}
				p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", e.Label, num(e.LinesPerSec, 0), num(e.RatioNop, 2),
					num(e.PluginUsLine, 2), num(e.DockerdUsLine, 2), num(e.ReceiverUsLine, 2), num(e.OtherCores, 2), num(e.WakeupsPer1k, 1), peak, deliv, kept)
			}
		}
		for _, e := range r.E2E {
			if e.Delivered >= 0 && e.Delivered < e.DeliveredOf && (e.Key == "logship" || e.Key == "local") {
				p("\n- %s %s delivered fewer lines than written: with default options both keep max-size 20m × max-file 5 (logship: compressed), so a larger BENCH_LINES rotates the oldest out. Not a loss.", e.Shape, e.Key)
			}
			if e.Errors != "" {
				p("\n- %s %s: %s", e.Shape, e.Key, truncate(e.Errors, 400))
			}
		}
		p("\nCommands (one container per run; `NAME` unique, data files in `%s`, the FIFO `B` in `%s`):\n\n```\n", rel(b.repo, b.dataDir), rel(b.repo, filepath.Join(b.out, "barrier")))
		for _, d := range r.Drivers {
			if d.Skip != "" {
				continue
			}
			args := strings.Join((&driverRow{Driver: d.Driver, Opts: d.Opts}).runArgs("NAME"), " ")
			p("docker create %s -v %s:/data:ro -v %s:/barrier:ro %s sh -c 'read x </barrier/B; exec cat /data/json-v2-%d-1.log'   # %s\n",
				args, rel(b.repo, b.dataDir), rel(b.repo, filepath.Join(b.out, "barrier")), r.Config.Image, r.Config.Lines, d.Key)
		}
		p("docker start NAME   # then wait for /proc/PID/wchan = wait_for_partner, snapshot /proc, open+close B (release)\n")
		p("docker wait NAME; docker inspect -f '{{.State.FinishedAt}}' NAME; docker logs NAME | wc -l; docker rm -f NAME\n```\n")
	}

	if len(r.Logs) > 0 {
		p("\n## 2. `docker logs` on a stopped container holding %d MB\n\n", r.Config.LogsMB)
		p("`docker logs --tail 10` through the CLI (median of 9; `docker inspect` on the same container takes the CLI-baseline time, so the difference is the driver's), "+
			"the same through the API socket (`GET /containers/ID/logs?tail=10`), and a full `docker logs NAME` (median of 3) in MB/s of line bytes. Same content and options (`%s`) for every driver.\n\n", r.Logs[0].Opts)
		p("| driver | stored on disk | tail 10, CLI | CLI baseline | tail 10, API | full read | MB/s | lines read |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
		for _, l := range r.Logs {
			if l.Err != "" && l.FullSec == 0 {
				p("| %s | failed: %s | | | | | | |\n", l.Label, truncate(l.Err, 200))
				continue
			}
			p("| %s | %s | %s ms | %s ms | %s ms | %s s | %s | %s / %s |\n", l.Label, mb(l.DiskBytes), num(l.TailCLIms, 1), num(l.CLIBaseline, 1),
				num(l.TailAPIms, 2), num(l.FullSec, 2), num(l.FullMBps, 1), num(float64(l.FullLines), 0), num(float64(l.Lines), 0))
		}
	}

	if len(r.Parallel) > 0 {
		p("\n## 3. %d containers logging at once\n\n", r.Config.Parallel)
		p("%d containers, %s JSON lines each, blocked on a FIFO barrier and released together; lines/s is all lines over barrier release → last FinishedAt. Median of %d round(s).\n\n",
			r.Config.Parallel, num(float64(r.Config.ParallelLines), 0), r.Config.Rounds)
		p("| driver | lines/s (total) | × nop | plugin µs/line | dockerd µs/line | plugin peak RSS | delivered |\n|---|--:|--:|--:|--:|--:|--:|\n")
		for _, x := range r.Parallel {
			if x.Runs == 0 {
				p("| %s | failed: %s | | | | | |\n", x.Label, truncate(x.Errors, 200))
				continue
			}
			deliv := "n/a"
			if x.Delivered >= 0 {
				deliv = fmt.Sprintf("%s / %s", num(float64(x.Delivered), 0), num(float64(x.Containers*x.LinesEach), 0))
			}
			p("| %s | %s | %s | %s | %s | %s MB | %s |\n", x.Label, num(x.LinesPerSec, 0), num(x.RatioNop, 2), num(x.PluginUsLine, 2),
				num(x.DockerdUs, 2), num(x.PluginPeakMB, 1), deliv)
		}
	}

	if len(r.GoBenchPkgs) > 0 {
		p("\n## 4. Go benchmarks\n\n`go test -run '^$' -bench . -benchmem -cpu 1 -benchtime %s PKG` for every package with benchmarks (full output in `build/bench/gobench-*.txt`).\n\n", r.Config.BenchTime)
		p("| package | benchmark | ns/op | MB/s | B/op | allocs/op | other |\n|---|---|--:|--:|--:|--:|---|\n")
		for _, g := range r.GoBench {
			var other []string
			keys := make([]string, 0, len(g.Metrics))
			for k := range g.Metrics {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				switch k {
				case "ns/op", "MB/s", "B/op", "allocs/op":
				default:
					other = append(other, fmt.Sprintf("%s %s", strFloat(g.Metrics[k]), k))
				}
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", g.Package, g.Name, metric(g.Metrics, "ns/op", 1), metric(g.Metrics, "MB/s", 1),
				metric(g.Metrics, "B/op", 0), metric(g.Metrics, "allocs/op", 0), strings.Join(other, ", "))
		}
		for _, pk := range r.GoBenchPkgs {
			if pk.Err != "" {
				p("\n- `%s` failed: %s\n", pk.Package, strings.ReplaceAll(truncate(pk.Err, 600), "\n", " "))
			}
		}
	}

	if len(r.Compression) > 0 {
		p("\n## 5. Ring compression\n\nLines written through `ring.Open(ring.Config{Codec: ...})` with default options (128 KiB blocks), one goroutine, Flush every 256 KiB; bytes on disk are the ring's files after the writer's Close (which seals the last block).\n\n")
		p("| input | codec | lines | bytes in | bytes on disk | ratio | ns/line |\n|---|---|--:|--:|--:|--:|--:|\n")
		for _, c := range r.Compression {
			if c.Err != "" {
				p("| %s | %s | failed: %s | | | | |\n", c.Input, c.Codec, c.Err)
				continue
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", c.Input, c.Codec, num(float64(c.Lines), 0), num(float64(c.BytesIn), 0),
				num(float64(c.BytesDisk), 0), num(c.Ratio, 2), num(c.NsPerLine, 0))
		}
	}

	for _, pr := range r.Profiles {
		p("\n## Profile: %s (perf, self time, one JSON run)\n\n", pr.Key)
		if pr.Err != "" {
			p("failed: %s\n", pr.Err)
			continue
		}
		p("```\n%s\n```\nfull report: `%s`\n", truncate(pr.Top, 4000), rel(b.repo, pr.File))
	}

	if len(r.Notes) > 0 {
		p("\n## Notes\n\n")
		for _, n := range r.Notes {
			p("- %s\n", n)
		}
	}
	p("\nPhases: ")
	for i, ph := range r.PhaseSeconds {
		if i > 0 {
			p(", ")
		}
		p("%s %s s", ph.Phase, num(ph.Seconds, 0))
	}
	p(".\n")
	return w.String()
}

func metric(m map[string]float64, k string, prec int) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	return num(v, prec)
}

func strFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return num(f, 0)
	}
	return fmt.Sprintf("%.3g", f)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func envString(env map[string]string) string {
	if len(env) == 0 {
		return ""
	}
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return " with `" + strings.Join(kv, " ") + "`"
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// targets writes the table of issue 5's targets (DESIGN.md's performance
// budget) from this run's figures; a target whose measurement did not run
// is left out.
func (b *bench) targets(p func(string, ...any)) {
	r := b.res
	type row struct{ target, measured, verdict string }
	var rows []row
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	e2e := func(shape, key string) (e2eRow, bool) {
		for _, e := range r.E2E {
			if e.Shape == shape && e.Key == key && e.Runs > 0 {
				return e, true
			}
		}
		return e2eRow{}, false
	}
	for _, shape := range []string{shapeJSON, shapeText} {
		if e, ok := e2e(shape, "logship-fluentd"); ok {
			rows = append(rows, row{fmt.Sprintf("logship + masking + Fluentd ≥ 0.95× the do-nothing plugin (%s lines)", shape),
				num(e.RatioNop, 2) + "×", verdict(e.RatioNop >= 0.95)})
		}
	}
	nop, _ := e2e(shapeJSON, "nop")
	for _, key := range []string{"logship-fluentd", "logship"} {
		if e, ok := e2e(shapeJSON, key); ok {
			rows = append(rows, row{fmt.Sprintf("%s: plugin CPU ≤ 1.5 µs/line (JSON; the do-nothing plugin's read loop: %s)", e.Label, num(nop.PluginUsLine, 2)),
				num(e.PluginUsLine, 2) + " µs", verdict(e.PluginUsLine <= 1.5)})
		}
	}
	for _, g := range r.GoBench {
		name := strings.TrimPrefix(g.Name, "Benchmark")
		if strings.HasSuffix(g.Package, "cmd/logship") && (name == "Pipeline" || name == "PipelineSecrets") {
			if ls, ok := g.Metrics["lines/s"]; ok {
				rows = append(rows, row{"in-process pipeline ≥ 500,000 lines/s on one core (Benchmark" + name + ", -cpu 1)",
					num(ls, 0) + " lines/s (" + num(g.Metrics["ns/op"], 0) + " ns/line)", verdict(ls >= 500_000)})
			}
		}
	}
	for _, x := range r.Parallel {
		if x.Key == "logship-fluentd-down" && x.Runs > 0 {
			rows = append(rows, row{fmt.Sprintf("peak RSS ≤ 64 MiB, %d containers at full speed, receiver down", x.Containers),
				num(x.PluginPeakMB, 1) + " MiB", verdict(x.PluginPeakMB <= 64)})
		}
	}
	if len(rows) == 0 {
		return
	}
	p("\n## Targets (DESIGN.md's budget, issue 5)\n\n| target | measured | |\n|---|--:|---|\n")
	for _, x := range rows {
		p("| %s | %s | %s |\n", x.target, x.measured, x.verdict)
	}
}
