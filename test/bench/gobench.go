package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// goBench is one line of `go test -bench` output.
type goBench struct {
	Package string             `json:"package"`
	Name    string             `json:"name"`
	N       int64              `json:"n"`
	Metrics map[string]float64 `json:"metrics"` // unit → value: ns/op, MB/s, B/op, allocs/op, custom
}

type goBenchPkg struct {
	Package string  `json:"package"`
	Command string  `json:"command"`
	Seconds float64 `json:"seconds"`
	Err     string  `json:"error,omitempty"`
}

var benchFuncRE = regexp.MustCompile(`(?m)^func Benchmark\w*\(`)

// benchPackages lists the packages of the module (outside test/) whose
// tests have benchmarks.
func (b *bench) benchPackages() ([]string, error) {
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{.Dir}}|{{join .TestGoFiles ","}},{{join .XTestGoFiles ","}}`, "./...")
	cmd.Dir = b.repo
	var se bytes.Buffer
	cmd.Stderr = &se
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		return nil, fmt.Errorf("go list: %v: %s", err, se.String())
	}
	var pkgs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(l, "|", 3)
		if len(f) != 3 || strings.Contains(f[0], "/test/") {
			continue
		}
		for _, name := range strings.Split(f[2], ",") {
			if name == "" {
				continue
			}
			src, err := os.ReadFile(filepath.Join(f[1], name))
			if err == nil && benchFuncRE.Match(src) {
				pkgs = append(pkgs, f[0])
				break
			}
		}
	}
	return pkgs, nil
}

func (b *bench) runGoBench() error {
	pkgs, err := b.benchPackages()
	if err != nil {
		return err
	}
	b.logf("packages with benchmarks: %s", strings.Join(pkgs, " "))
	for _, pkg := range pkgs {
		args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-cpu", "1", "-benchtime", b.cfg.BenchTime, "-timeout", "15m", pkg}
		p := goBenchPkg{Package: pkg, Command: "go " + strings.Join(args, " ")}
		b.logf("%s", p.Command)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = b.repo
		t := time.Now()
		out, err := cmd.CombinedOutput()
		cancel()
		p.Seconds = time.Since(t).Seconds()
		benches := parseGoBench(pkg, out)
		if err != nil {
			p.Err = fmt.Sprintf("%v: %s", err, truncate(lastLines(string(out), 15), 2000))
			b.logf("  failed: %s", p.Err)
		}
		b.res.GoBench = append(b.res.GoBench, benches...)
		b.res.GoBenchPkgs = append(b.res.GoBenchPkgs, p)
		_ = os.WriteFile(filepath.Join(b.out, "gobench-"+strings.ReplaceAll(strings.TrimPrefix(pkg, modulePath+"/"), "/", "_")+".txt"), out, 0o644)
	}
	return nil
}

const modulePath = "github.com/logship/logship"

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// parseGoBench reads `BenchmarkName  N  v unit  v unit ...` lines.
func parseGoBench(pkg string, out []byte) []goBench {
	var res []goBench
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		g := goBench{Package: strings.TrimPrefix(pkg, modulePath+"/"), Name: strings.TrimPrefix(f[0], "Benchmark"), N: n, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				g.Metrics[f[i+1]] = v
			}
		}
		res = append(res, g)
	}
	return res
}
