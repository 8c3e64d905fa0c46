package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

type profile struct {
	Key     string `json:"key"`
	Process string `json:"process"`
	File    string `json:"file"`
	Top     string `json:"top"` // flat profile, self time
	Err     string `json:"error,omitempty"`
}

// runProfiles records, with perf, where the plugin processes spend their
// CPU during one JSON run each (BENCH_PROFILE=1). logship-bench is built
// without -s -w so perf can name its functions; dockerd is stripped.
func (b *bench) runProfiles(rows []*driverRow, file string) {
	if _, err := exec.LookPath("perf"); err != nil {
		b.note("BENCH_PROFILE=1 but perf is not installed (apt-get install linux-perf)")
		return
	}
	for _, d := range rows {
		if d.Plugin == "" || d.Skip != "" {
			continue
		}
		p := profile{Key: d.Key, Process: d.Plugin}
		err := b.retry("profile "+d.Key, func() error { return b.profileOne(d, file, &p) })
		if err != nil {
			p.Err = err.Error()
		}
		b.res.Profiles = append(b.res.Profiles, p)
	}
}

func (b *bench) profileOne(d *driverRow, file string, p *profile) error {
	name := b.newName("prof-" + d.Key)
	defer func() { _, _ = b.docker(2*time.Minute, "rm", "-f", name) }()
	args := append([]string{"create"}, d.runArgs(name)...)
	args = append(args, "-v", b.dataDir+":/data:ro", b.cfg.Image, "cat", "/data/"+file)
	if _, err := b.docker(time.Minute, args...); err != nil {
		return err
	}
	ppid, err := b.pluginProc(d.Plugin)
	if err != nil {
		return err
	}
	data := filepath.Join(b.out, "perf-"+d.Key+".data")
	perf := exec.Command("perf", "record", "-F", "999", "-g", "-p", fmt.Sprint(ppid), "-o", data)
	var plog bytes.Buffer
	perf.Stdout, perf.Stderr = &plog, &plog
	if err := perf.Start(); err != nil {
		return err
	}
	stopPerf := func() error {
		_ = perf.Process.Signal(syscall.SIGINT)
		return perf.Wait()
	}
	if _, err := b.docker(time.Minute, "start", name); err != nil {
		stopPerf()
		return err
	}
	_, err = b.docker(time.Duration(b.cfg.Lines/1000+120)*time.Second, "wait", name)
	settle(ppid)
	if perr := stopPerf(); perr != nil && err == nil {
		// perf exits non-zero on SIGINT on some versions; the data is there.
		if _, serr := os.Stat(data); serr != nil {
			err = fmt.Errorf("perf record: %v: %s", perr, plog.String())
		}
	}
	if err != nil {
		return err
	}
	rep := exec.Command("perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
		"--sort", "symbol", "--percent-limit", "0.7")
	out, err := rep.Output()
	if err != nil {
		return fmt.Errorf("perf report: %w", err)
	}
	var top []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		top = append(top, strings.TrimRight(l, " "))
	}
	p.Top = strings.Join(top, "\n")
	p.File = filepath.Join(b.out, "profile-"+d.Key+".txt")
	// The caller-inclusive view too, for the full picture.
	full, _ := exec.Command("perf", "report", "-i", data, "--stdio", "--children", "-g", "none",
		"--sort", "symbol", "--percent-limit", "2").Output()
	_ = os.WriteFile(p.File, append(append(out, "\n\n==== inclusive (children) ====\n"...), full...), 0o644)
	return nil
}
