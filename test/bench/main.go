// Command bench is logship's benchmark suite (`make bench`, through
// test/bench.sh, which builds the plugins it needs). It measures logship
// against a do-nothing log plugin and Docker's own drivers through the real
// dockerd, times `docker logs`, runs many containers at once, runs the Go
// benchmarks of the packages that have some, and measures the ring's
// compression. It reports; it never fails on a threshold. See README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

type config struct {
	Quick         bool     `json:"quick"`
	Lines         int      `json:"lines"`          // BENCH_LINES: lines per container, end-to-end
	Rounds        int      `json:"rounds"`         // BENCH_ROUNDS
	LogsMB        int      `json:"logs_mb"`        // BENCH_LOGS_MB: log held for the docker logs timings
	Parallel      int      `json:"parallel"`       // BENCH_PARALLEL: containers at once
	ParallelLines int      `json:"parallel_lines"` // BENCH_PARALLEL_LINES: lines per container there
	Phases        []string `json:"phases"`         // BENCH_PHASES
	Profile       bool     `json:"profile"`        // BENCH_PROFILE: perf record the plugins
	NopVariants   []string `json:"nop_variants"`   // BENCH_NOP_VARIANTS: more nop rows (plain, nap)
	BenchTime     string   `json:"benchtime"`      // BENCH_GO_BENCHTIME
	Image         string   `json:"image"`
	LogshipPlugin string   `json:"logship_plugin"` // the plugin measured as "logship"
	Corpus        string   `json:"corpus"`
	Rows          []string `json:"rows,omitempty"`             // BENCH_ROWS: only these row keys (and nop)
	Variants      string   `json:"logship_variants,omitempty"` // BENCH_LOGSHIP_VARIANTS
}

// logshipVariant is another logship plugin measured in the same run
// (BENCH_LOGSHIP_VARIANTS), for before/after comparisons: other plugin
// settings, or another build (a plugin folder made like build/bench/logship-plugin).
type logshipVariant struct {
	Label    string   `json:"label"`
	Plugin   string   `json:"plugin"`
	Dir      string   `json:"dir,omitempty"` // "" = this work tree's build
	Settings []string `json:"settings,omitempty"`
}

// parseVariants reads "label [KEY=VALUE...] [/plugin/folder]; ..." .
func parseVariants(spec string) []logshipVariant {
	var out []logshipVariant
	for _, part := range strings.Split(spec, ";") {
		f := strings.Fields(part)
		if len(f) == 0 {
			continue
		}
		v := logshipVariant{Label: f[0]}
		for _, c := range v.Label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				fatalf("BENCH_LOGSHIP_VARIANTS: label %q: use a-z, 0-9 and -", v.Label)
			}
		}
		for _, tok := range f[1:] {
			switch {
			case strings.HasPrefix(tok, "/"):
				v.Dir = tok
			case strings.Contains(tok, "="):
				v.Settings = append(v.Settings, tok)
			default:
				fatalf("BENCH_LOGSHIP_VARIANTS: %q is neither KEY=VALUE nor an absolute plugin folder", tok)
			}
		}
		v.Plugin = "logship-bench-" + v.Label + ":latest"
		out = append(out, v)
	}
	return out
}

var allPhases = []string{"e2e", "logs", "parallel", "gobench", "compress"}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	return def
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

type bench struct {
	cfg      config
	repo     string
	out      string // build/bench
	dataDir  string // bind-mounted at /data
	plugins  []pluginSpec
	logship  pluginSpec // the logship plugin when we installed it
	nop      string     // do-nothing plugin name
	nopVars  []string   // plugin names of the nop variants, as NopVariants
	lsVars   []logshipVariant
	recvs    map[string]sinkRecv // running receivers, by kind (recvFluentd, ...)
	recvSkip map[string]string   // why a receiver is not running
	retries  int
	seq      int
	res      *results
	start    time.Time
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	b.res.Notes = append(b.res.Notes, s)
	b.logf("note: %s", s)
}

func (b *bench) newName(what string) string {
	b.seq++
	// Row keys of variants hold '@', which container names may not.
	return fmt.Sprintf("logship-bench-%d-%s-%d", os.Getpid(), strings.ReplaceAll(what, "@", "-at-"), b.seq)
}

func (b *bench) phase(name string) bool { return slices.Contains(b.cfg.Phases, name) }

func main() {
	repo := flag.String("repo", ".", "repository root")
	out := flag.String("out", "build/bench", "output folder")
	logshipDir := flag.String("logship-dir", "", "plugin folder of the logship build to install as logship-bench:latest")
	nopDir := flag.String("nop-dir", "", "plugin folder of the do-nothing plugin")
	version := flag.String("logship-version", "", "version string of the logship build")
	flag.Parse()

	quick := os.Getenv("BENCH_QUICK") == "1"
	cfg := config{
		Quick:     quick,
		Lines:     envInt("BENCH_LINES", 300_000),
		Rounds:    envInt("BENCH_ROUNDS", 5),
		LogsMB:    envInt("BENCH_LOGS_MB", 100),
		Parallel:  envInt("BENCH_PARALLEL", 20),
		Profile:   os.Getenv("BENCH_PROFILE") == "1",
		BenchTime: os.Getenv("BENCH_GO_BENCHTIME"),
		Image:     os.Getenv("BENCH_IMAGE"),
		Corpus:    os.Getenv("BENCH_CORPUS"),
	}
	if quick {
		cfg.Lines = envInt("BENCH_LINES", 60_000)
		cfg.Rounds = envInt("BENCH_ROUNDS", 1)
		cfg.LogsMB = envInt("BENCH_LOGS_MB", 20)
		cfg.Parallel = envInt("BENCH_PARALLEL", 20)
		if cfg.BenchTime == "" {
			cfg.BenchTime = "100ms"
		}
	}
	cfg.ParallelLines = envInt("BENCH_PARALLEL_LINES", max(1000, 2*cfg.Lines/cfg.Parallel))
	if cfg.BenchTime == "" {
		cfg.BenchTime = "1s"
	}
	if cfg.Image == "" {
		cfg.Image = "logship-test/busybox:latest"
	}
	for _, v := range strings.Split(os.Getenv("BENCH_NOP_VARIANTS"), ",") {
		switch v {
		case "":
		case "plain", "nap":
			cfg.NopVariants = append(cfg.NopVariants, v)
		default:
			fatalf("BENCH_NOP_VARIANTS: unknown variant %q (plain, nap)", v)
		}
	}
	for _, r := range strings.Split(os.Getenv("BENCH_ROWS"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.Rows = append(cfg.Rows, r)
		}
	}
	cfg.Variants = os.Getenv("BENCH_LOGSHIP_VARIANTS")
	cfg.Phases = allPhases
	if p := os.Getenv("BENCH_PHASES"); p != "" {
		cfg.Phases = strings.Split(p, ",")
		for _, ph := range cfg.Phases {
			if !slices.Contains(allPhases, ph) {
				fatalf("BENCH_PHASES: unknown phase %q (have %s)", ph, strings.Join(allPhases, ","))
			}
		}
	}

	absRepo, _ := filepath.Abs(*repo)
	absOut, _ := filepath.Abs(*out)
	b := &bench{
		cfg:     cfg,
		repo:    absRepo,
		out:     absOut,
		dataDir: filepath.Join(absOut, "data"),
		start:   time.Now(),
		res:     &results{Config: cfg, LogshipVersion: *version},
	}
	if err := os.MkdirAll(b.out, 0o755); err != nil {
		fatalf("%v", err)
	}
	b.res.Machine = machineInfo(b)
	b.res.Date = b.start.UTC().Format(time.RFC3339)
	b.res.Commit = gitCommit(b.repo)
	b.res.Command = "make bench  (= bash test/setup.sh; bash test/bench.sh)"
	b.res.Env = benchEnv()

	needDocker := b.phase("e2e") || b.phase("logs") || b.phase("parallel")
	if needDocker {
		if err := b.setupDocker(*logshipDir, *nopDir); err != nil {
			b.teardown()
			fatalf("%v", err)
		}
	}
	runPhase := func(name string, fn func() error) {
		if !b.phase(name) {
			return
		}
		t := time.Now()
		b.logf("=== %s", name)
		if err := fn(); err != nil {
			b.note("phase %s failed: %v", name, err)
		}
		b.res.PhaseSeconds = append(b.res.PhaseSeconds, phaseTime{name, time.Since(t).Seconds()})
	}
	runPhase("e2e", b.runE2E)
	runPhase("logs", b.runLogs)
	runPhase("parallel", b.runParallel)
	if needDocker {
		b.teardown()
	}
	runPhase("gobench", b.runGoBench)
	runPhase("compress", b.runCompress)

	b.res.Retries = b.retries
	b.res.DurationSec = time.Since(b.start).Seconds()
	if err := b.writeResults(); err != nil {
		fatalf("writing results: %v", err)
	}
}

// setupDocker checks dockerd and the image, makes the data files, installs
// the plugins and starts the Fluentd receiver if there is one.
func (b *bench) setupDocker(logshipDir, nopDir string) error {
	if err := b.waitDockerd(time.Minute); err != nil {
		return err
	}
	if _, err := b.docker(time.Minute, "image", "inspect", "-f", "{{.Id}}", b.cfg.Image); err != nil {
		return fmt.Errorf("test image missing (run: bash test/setup.sh): %w", err)
	}
	b.sweep()

	if nopDir == "" {
		return fmt.Errorf("-nop-dir is required")
	}
	b.nop = "logship-nop:latest"
	b.plugins = append(b.plugins, pluginSpec{Name: b.nop, Dir: nopDir})
	for _, v := range b.cfg.NopVariants {
		// bench.sh makes these folders: other defaults in config.json.
		name := "logship-nop-" + v + ":latest"
		b.nopVars = append(b.nopVars, name)
		b.plugins = append(b.plugins, pluginSpec{Name: name, Dir: nopDir + "-" + v})
	}
	b.cfg.LogshipPlugin = os.Getenv("BENCH_LOGSHIP_PLUGIN")
	if b.cfg.LogshipPlugin == "" {
		if logshipDir == "" {
			return fmt.Errorf("-logship-dir or BENCH_LOGSHIP_PLUGIN is required")
		}
		// Our own copy of the working tree's build, so that someone's
		// `make install` cannot replace the plugin under a run. It needs
		// its own data folder (the ring store is locked by one process)
		// and metrics port.
		b.logship = pluginSpec{Name: "logship-bench:latest", Dir: logshipDir, DataDir: "/var/lib/docker/logship-bench", Settings: []string{
			"DATA_DIR=/var/lib/docker/logship-bench",
			"METRICS_ADDR=127.0.0.1:9475",
		}}
		b.cfg.LogshipPlugin = b.logship.Name
		_ = os.RemoveAll("/var/lib/docker/logship-bench")
		b.plugins = append(b.plugins, b.logship)
		for i, v := range parseVariants(b.cfg.Variants) {
			// dockerd refuses two plugins of the same content: each variant
			// is a copy with a marker file.
			src := v.Dir
			if src == "" {
				src = logshipDir
			}
			dir := filepath.Join(b.out, "logship-plugin-"+v.Label)
			_ = os.RemoveAll(dir)
			if out, err := exec.Command("cp", "-a", src, dir).CombinedOutput(); err != nil {
				return fmt.Errorf("variant %s: copy %s: %v: %s", v.Label, src, err, out)
			}
			if err := os.WriteFile(filepath.Join(dir, "rootfs", "variant"), []byte(v.Label+"\n"), 0o644); err != nil {
				return err
			}
			data := "/var/lib/docker/logship-bench-" + v.Label
			_ = os.RemoveAll(data)
			spec := pluginSpec{Name: v.Plugin, Dir: dir, DataDir: data, Settings: append([]string{
				"DATA_DIR=" + data, fmt.Sprintf("METRICS_ADDR=127.0.0.1:%d", 9476+i)}, v.Settings...)}
			b.plugins = append(b.plugins, spec)
			b.lsVars = append(b.lsVars, v)
		}
	} else if _, err := b.docker(30*time.Second, "plugin", "inspect", b.cfg.LogshipPlugin); err != nil {
		return fmt.Errorf("BENCH_LOGSHIP_PLUGIN=%s is not installed: %w", b.cfg.LogshipPlugin, err)
	}
	b.res.Config = b.cfg
	for _, p := range b.plugins {
		b.logf("installing plugin %s from %s", p.Name, p.Dir)
		if err := b.retry("install "+p.Name, func() error { return b.installPlugin(p) }); err != nil {
			return err
		}
	}

	b.startReceivers()
	return nil
}

// teardown removes the containers and the plugins the benchmark created;
// logship:latest and every other plugin are left alone.
func (b *bench) teardown() {
	b.sweep()
	b.stopReceivers()
	if os.Getenv("BENCH_KEEP_PLUGINS") == "1" {
		return
	}
	for _, p := range b.plugins {
		b.removePlugin(p.Name)
	}
	if b.logship.Name != "" {
		_ = os.RemoveAll("/var/lib/docker/logship-bench")
	}
	for _, p := range b.plugins {
		if p.DataDir != "" {
			_ = os.RemoveAll(p.DataDir)
		}
	}
	b.plugins = nil
}

func benchEnv() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "BENCH_") {
			m[k] = v
		}
	}
	return m
}
