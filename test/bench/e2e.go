package main

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// driverRow is one way of logging a container: a log driver and its opts.
type driverRow struct {
	Key      string   `json:"key"`
	Label    string   `json:"label"`
	Driver   string   `json:"driver"`
	Opts     []string `json:"opts,omitempty"`
	Plugin   string   `json:"plugin,omitempty"`   // managed plugin whose process is measured
	Readable bool     `json:"readable"`           // docker logs works
	Receiver string   `json:"receiver,omitempty"` // the receiver the lines go to (recvFluentd, ...)
	Skip     string   `json:"skip,omitempty"`     // why the row is not available
	Fresh    bool     `json:"fresh,omitempty"`    // restart the plugin with empty data before and after each run
}

func (d *driverRow) runArgs(name string) []string {
	args := []string{"--name", name, "--label", containerLabel + "=1", "--log-driver", d.Driver}
	for _, o := range d.Opts {
		args = append(args, "--log-opt", o)
	}
	return args
}

// drivers returns the rows of the end-to-end table, the do-nothing plugin
// first (every ratio is to it), filtered by BENCH_ROWS.
func (b *bench) drivers() []*driverRow {
	rows := []*driverRow{
		{Key: "nop", Label: "do-nothing plugin (ceiling)", Driver: b.nop, Opts: []string{"cache-disabled=true"}, Plugin: b.nop},
	}
	labels := map[string]string{
		"plain": "do-nothing plugin, plain io.Copy, 64 KiB pipe",
		"nap":   "do-nothing plugin, 200 µs nap after short reads",
	}
	for i, v := range b.cfg.NopVariants {
		rows = append(rows, &driverRow{Key: "nop-" + v, Label: labels[v], Driver: b.nopVars[i],
			Opts: []string{"cache-disabled=true"}, Plugin: b.nopVars[i]})
	}
	ls := b.cfg.LogshipPlugin
	rows = append(rows,
		&driverRow{Key: "logship-nomask", Label: "logship, masking off (ring only)", Driver: ls, Plugin: ls, Readable: true,
			Opts: []string{"redact=false"}},
		&driverRow{Key: "logship", Label: "logship (ring only)", Driver: ls, Plugin: ls, Readable: true},
		b.sinkRow("logship-fluentd", "logship + masking + Fluentd sink", ls, recvFluentd),
		b.sinkRow("logship-syslog", "logship + masking + syslog sink (rsyslog, TCP)", ls, recvSyslog),
		b.sinkRow("logship-http", "logship + masking + HTTP sink (VictoriaLogs ndjson)", ls, recvHTTP),
	)
	for _, v := range b.lsVars {
		rows = append(rows,
			&driverRow{Key: "logship@" + v.Label, Label: "logship [" + v.Label + "] (ring only)", Driver: v.Plugin, Plugin: v.Plugin, Readable: true},
			b.sinkRow("logship-fluentd@"+v.Label, "logship ["+v.Label+"] + masking + Fluentd sink", v.Plugin, recvFluentd))
	}
	rows = append(rows,
		&driverRow{Key: "json-file", Label: "Docker json-file", Driver: "json-file", Readable: true},
		&driverRow{Key: "local", Label: "Docker local", Driver: "local", Readable: true},
		b.sinkRow("fluentd", "Docker fluentd", "fluentd", recvFluentd),
		b.sinkRow("syslog", "Docker syslog (rfc5424, TCP)", "syslog", recvSyslog),
	)
	return b.filterRows(rows)
}

// filterRows keeps the rows named in BENCH_ROWS (and always the ceiling).
func (b *bench) filterRows(rows []*driverRow) []*driverRow {
	if len(b.cfg.Rows) == 0 {
		return rows
	}
	return slices.DeleteFunc(rows, func(d *driverRow) bool {
		return d.Key != "nop" && !slices.Contains(b.cfg.Rows, d.Key)
	})
}

// sinkRow is a row that delivers to one of the benchmark's receivers:
// logship with that sink's option, or Docker's driver of that protocol.
func (b *bench) sinkRow(key, label, driver, kind string) *driverRow {
	d := &driverRow{Key: key, Label: label, Driver: driver, Receiver: kind}
	logship := driver != "fluentd" && driver != "syslog"
	if logship {
		d.Plugin, d.Readable = driver, true
	}
	r := b.recvs[kind]
	if r == nil {
		d.Skip = "not available: " + b.recvSkip[kind]
		return d
	}
	switch kind {
	case recvFluentd:
		if logship {
			d.Opts = []string{"fluentd-address=tcp://" + r.Addr()}
		} else {
			d.Opts = []string{"fluentd-address=" + r.Addr(), "tag=bench"}
		}
	case recvSyslog:
		// The same format for both: RFC 5424 over TCP (octet counted).
		d.Opts = []string{"syslog-address=tcp://" + r.Addr(), "syslog-format=rfc5424"}
	case recvHTTP:
		d.Opts = []string{"http-url=" + r.(*vlRecv).IngestURL()}
	}
	return d
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// runSample is one container's run through one driver.
type runSample struct {
	Round         int     `json:"round"`
	Shape         string  `json:"shape"`
	Key           string  `json:"key"`
	Lines         int     `json:"lines"`
	WallSec       float64 `json:"wall_s"`      // barrier released → dockerd's FinishedAt (the process's exit)
	HostWallSec   float64 `json:"host_wall_s"` // barrier released → docker wait returned (CLI overhead included)
	LinesPerSec   float64 `json:"lines_per_s"`
	PluginCPUus   int64   `json:"plugin_cpu_us"`   // -1: no plugin process
	DockerdCPUus  int64   `json:"dockerd_cpu_us"`  //
	ReceiverCPUus int64   `json:"receiver_cpu_us"` // -1: no receiver
	MachineBusyUs int64   `json:"machine_busy_us"` // all CPUs, all processes, during WindowSec
	WindowSec     float64 `json:"window_s"`        // between the CPU snapshots (start → exit, settled)
	PluginPeakKB  int64   `json:"plugin_peak_rss_kb"`
	PluginWakeups int64   `json:"plugin_wakeups"` // voluntary context switches of the plugin's threads
	Delivered     int64   `json:"delivered"`      // lines seen by docker logs / the receiver; -1 not checked
	Unmasked      int64   `json:"unmasked"`       // of those, lines still holding a planted secret; -1 not checked
	Err           string  `json:"error,omitempty"`
}

// cpuSnap is the CPU counters around a run.
type cpuSnap struct {
	plugin, dockerd, recv, machine int64
	pluginCS                       int64 // voluntary context switches
	at                             time.Time
}

func (b *bench) snap(pluginPid, dockerdPid, recvPid int) cpuSnap {
	s := cpuSnap{plugin: -1, recv: -1}
	if pluginPid > 0 {
		s.plugin, _ = cpuMicros(pluginPid)
		s.pluginCS = ctxSwitches(pluginPid)
	}
	s.dockerd, _ = cpuMicros(dockerdPid)
	if recvPid > 0 {
		s.recv, _ = cpuMicros(recvPid)
	}
	s.machine = machineBusyMicros()
	s.at = time.Now()
	return s
}

// settle waits until the plugin has used no CPU for 100 ms (it may still be
// sealing or flushing after the container exited), at most 3 s.
func settle(pid int) {
	if pid <= 0 {
		return
	}
	deadline := time.Now().Add(3 * time.Second)
	last, _ := cpuMicros(pid)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // sampling /proc, bounded
		cur, err := cpuMicros(pid)
		if err != nil || cur == last {
			return
		}
		last = cur
	}
}

// runOne runs one container that cats file (lines lines) through d and
// measures it. verify counts what arrived.
func (b *bench) runOne(d *driverRow, shape, file string, lines int, verify bool) (runSample, error) {
	s := runSample{Key: d.Key, Lines: lines, Delivered: -1, Unmasked: -1, PluginCPUus: -1, ReceiverCPUus: -1}
	name := b.newName(d.Key)
	defer func() { _, _ = b.docker(2*time.Minute, "rm", "-f", name) }()
	bar, err := b.startBlocked(d, []string{name}, file)
	if err != nil {
		return s, err
	}
	defer bar.remove()
	dpid := dockerdPID()
	ppid, err := b.measuredPlugin(d)
	if err != nil {
		return s, err
	}
	recv := b.recvs[d.Receiver]
	rpid := 0
	if recv != nil {
		recv.Begin(name)
		rpid = recv.Pid()
	}
	c0 := b.snap(ppid, dpid, rpid)
	if err := bar.release(); err != nil {
		return s, err
	}
	timeout := time.Duration(lines/1000+120) * time.Second
	if _, err := b.docker(timeout, "wait", name); err != nil {
		return s, err
	}
	s.HostWallSec = time.Since(c0.at).Seconds()
	if recv != nil {
		// Every round, before the CPU snapshot: a sink that ships from the
		// ring goes on after the container exits, and its cost belongs to
		// this run, not to the next one.
		s.Delivered = waitRecv(recv, name, int64(lines), 3*time.Minute)
	}
	settle(ppid)
	c1 := b.snap(ppid, dpid, rpid)
	if ppid > 0 {
		s.PluginPeakKB, _ = statusKB(ppid, "VmHWM")
		s.PluginCPUus = c1.plugin - c0.plugin
		s.PluginWakeups = c1.pluginCS - c0.pluginCS
	}
	if c0.recv >= 0 && recv != nil {
		s.ReceiverCPUus = c1.recv - c0.recv
	}
	s.DockerdCPUus = c1.dockerd - c0.dockerd
	s.MachineBusyUs = c1.machine - c0.machine
	s.WindowSec = c1.at.Sub(c0.at).Seconds()
	if now := dockerdPID(); now != dpid {
		return s, fmt.Errorf("dockerd restarted during the run (pid %d → %d)", dpid, now)
	}
	if ppid > 0 && procComm(ppid) == "" {
		return s, fmt.Errorf("plugin %s restarted during the run", d.Plugin)
	}
	_, end, code, err := b.containerTimes(name)
	if err != nil {
		return s, err
	}
	if code != 0 {
		return s, fmt.Errorf("container exited with %d", code)
	}
	s.WallSec = end.Sub(c0.at).Seconds()
	if s.WallSec <= 0 {
		return s, fmt.Errorf("container finished before it was released (FinishedAt %v, release %v)", end, c0.at)
	}
	s.LinesPerSec = float64(lines) / s.WallSec
	if verify {
		needle := ""
		if shape == shapeJSON {
			needle = plantedSecret
		}
		switch {
		case recv != nil:
			if needle != "" {
				s.Unmasked = recv.Holding(name, needle)
			}
		case d.Readable:
			var c lineCounter
			c.needle = []byte(needle)
			if _, err := b.dockerTo(10*time.Minute, &c, "logs", name); err != nil {
				return s, err
			}
			s.Delivered = c.lines
			if needle != "" {
				s.Unmasked = c.hits
			}
		}
	}
	return s, nil
}

// plantedSecret is in every JSON line (the password's value starts with
// it); a masked line no longer holds it.
const plantedSecret = "hunter2"

// e2eRow is the summary of a driver × shape over the rounds.
type e2eRow struct {
	Shape           string  `json:"shape"`
	Key             string  `json:"key"`
	Label           string  `json:"label"`
	Driver          string  `json:"driver"`
	Opts            string  `json:"opts"`
	Skip            string  `json:"skip,omitempty"`
	Runs            int     `json:"runs"`
	LinesPerSec     float64 `json:"lines_per_s"`         // median
	RatioNop        float64 `json:"ratio_to_nop"`        // median of per-round ratios
	PluginUsLine    float64 `json:"plugin_cpu_us_line"`  // median; NaN without plugin
	DockerdUsLine   float64 `json:"dockerd_cpu_us_line"` // median
	ReceiverUsLine  float64 `json:"receiver_cpu_us_line"`
	OtherCores      float64 `json:"other_load_cores"` // machine busy − the above, per second of the window
	WakeupsPer1k    float64 `json:"plugin_wakeups_per_1k_lines"`
	PluginPeakMB    float64 `json:"plugin_peak_rss_mb"`
	Delivered       int64   `json:"delivered"`
	DeliveredOf     int64   `json:"delivered_of"`
	Unmasked        int64   `json:"unmasked"` // delivered lines still holding the planted secret (JSON, round 1); -1 not checked
	Errors          string  `json:"errors,omitempty"`
	linesPerRound   map[int]float64
	nopLinesByRound map[int]float64
}

func (b *bench) runE2E() error {
	files := map[string]string{}
	for i, shape := range []string{shapeJSON, shapeText} {
		f, err := dataFile(b.dataDir, shape, b.cfg.Lines, uint64(i+1))
		if err != nil {
			return err
		}
		files[shape] = f
	}
	rows := b.drivers()
	b.res.Drivers = rows
	for _, d := range rows {
		if d.Skip != "" {
			b.note("%s: %s", d.Label, d.Skip)
		}
	}
	for round := 1; round <= b.cfg.Rounds; round++ {
		for _, shape := range []string{shapeJSON, shapeText} {
			for _, d := range rows {
				if d.Skip != "" {
					continue
				}
				var s runSample
				err := b.retry(fmt.Sprintf("round %d %s %s", round, shape, d.Key), func() error {
					var err error
					s, err = b.runOne(d, shape, files[shape], b.cfg.Lines, round == 1)
					return err
				})
				s.Round, s.Shape = round, shape
				if err != nil {
					s.Err = err.Error()
				}
				b.res.E2ERuns = append(b.res.E2ERuns, s)
				b.logf("round %d %-4s %-16s %8.0f lines/s  plugin %6.2f µs/line  dockerd %6.2f µs/line  peak %5.1f MB  delivered %d %s",
					round, shape, d.Key, s.LinesPerSec, perLine(s.PluginCPUus, s.Lines), perLine(s.DockerdCPUus, s.Lines),
					float64(s.PluginPeakKB)/1024, s.Delivered, s.Err)
			}
		}
	}
	b.res.E2E = summarizeE2E(rows, b.res.E2ERuns, b.cfg.Lines)
	if b.cfg.Profile {
		b.runProfiles(rows, files[shapeJSON])
	}
	return nil
}

func perLine(us int64, lines int) float64 {
	if us < 0 || lines == 0 {
		return math.NaN()
	}
	return float64(us) / float64(lines)
}

func median(v []float64) float64 {
	v = slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func summarizeE2E(rows []*driverRow, runs []runSample, lines int) []e2eRow {
	var out []e2eRow
	for _, shape := range []string{shapeJSON, shapeText} {
		nop := map[int]float64{}
		for _, s := range runs {
			if s.Shape == shape && s.Key == "nop" && s.Err == "" {
				nop[s.Round] = s.LinesPerSec
			}
		}
		for _, d := range rows {
			r := e2eRow{Shape: shape, Key: d.Key, Label: d.Label, Driver: d.Driver, Opts: strings.Join(d.Opts, " "), Skip: d.Skip,
				Delivered: -1, DeliveredOf: int64(lines), Unmasked: -1}
			var rate, ratio, plug, dock, recv, other, peak, wake []float64
			var errs []string
			for _, s := range runs {
				if s.Shape != shape || s.Key != d.Key {
					continue
				}
				if s.Err != "" {
					errs = append(errs, fmt.Sprintf("round %d: %s", s.Round, s.Err))
					continue
				}
				r.Runs++
				rate = append(rate, s.LinesPerSec)
				if n, ok := nop[s.Round]; ok && n > 0 {
					ratio = append(ratio, s.LinesPerSec/n)
				}
				plug = append(plug, perLine(s.PluginCPUus, s.Lines))
				if s.PluginCPUus >= 0 {
					wake = append(wake, 1000*float64(s.PluginWakeups)/float64(s.Lines))
				}
				dock = append(dock, perLine(s.DockerdCPUus, s.Lines))
				recv = append(recv, perLine(s.ReceiverCPUus, s.Lines))
				o := s.MachineBusyUs - s.DockerdCPUus - max(s.PluginCPUus, 0) - max(s.ReceiverCPUus, 0)
				if s.WindowSec > 0 {
					other = append(other, float64(o)/1e6/s.WindowSec)
				}
				if s.PluginPeakKB > 0 {
					peak = append(peak, float64(s.PluginPeakKB)/1024)
				}
				if s.Delivered >= 0 {
					r.Delivered = s.Delivered
				}
				if s.Unmasked >= 0 {
					r.Unmasked = s.Unmasked
				}
			}
			r.LinesPerSec, r.RatioNop = median(rate), median(ratio)
			r.PluginUsLine, r.DockerdUsLine, r.ReceiverUsLine, r.OtherCores = median(plug), median(dock), median(recv), median(other)
			r.WakeupsPer1k = median(wake)
			r.PluginPeakMB = math.NaN()
			if len(peak) > 0 {
				r.PluginPeakMB = slices.Max(peak)
			}
			r.Errors = strings.Join(errs, "; ")
			out = append(out, r)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// docker logs

type logsRow struct {
	Key         string  `json:"key"`
	Label       string  `json:"label"`
	Opts        string  `json:"opts"`
	LineBytes   int64   `json:"line_bytes"` // what the container wrote
	Lines       int     `json:"lines"`
	DiskBytes   int64   `json:"disk_bytes"` // what the driver stored; -1 unknown
	TailCLIms   float64 `json:"tail10_cli_ms"`
	TailAPIms   float64 `json:"tail10_api_ms"`
	FullSec     float64 `json:"full_read_s"`
	FullMBps    float64 `json:"full_read_mb_s"`
	FullLines   int64   `json:"full_read_lines"`
	CLIBaseline float64 `json:"cli_baseline_ms"` // docker inspect, for the CLI's own start-up
	Err         string  `json:"error,omitempty"`
}

func (b *bench) runLogs() error {
	lines := b.cfg.LogsMB * 1_000_000 / (jsonLineLen + 1)
	file, err := dataFile(b.dataDir, shapeJSON, lines, 7)
	if err != nil {
		return err
	}
	opts := []string{"max-size=50m", "max-file=4"}
	if b.cfg.LogsMB > 150 {
		opts = []string{fmt.Sprintf("max-size=%dm", b.cfg.LogsMB/3+10), "max-file=4"}
	}
	rows := []*driverRow{
		{Key: "logship", Label: "logship", Driver: b.cfg.LogshipPlugin, Opts: opts, Plugin: b.cfg.LogshipPlugin},
		{Key: "json-file", Label: "Docker json-file", Driver: "json-file", Opts: opts},
		{Key: "local", Label: "Docker local", Driver: "local", Opts: opts},
	}
	for _, d := range rows {
		r := logsRow{Key: d.Key, Label: d.Label, Opts: strings.Join(opts, " "), Lines: lines, LineBytes: int64(lines) * (jsonLineLen + 1)}
		err := b.retry("docker logs "+d.Key, func() error { return b.logsOne(d, file, &r) })
		if err != nil {
			r.Err = err.Error()
		}
		b.logf("logs %-10s tail10 cli %.1f ms api %.2f ms; full %.2f s = %.1f MB/s (%d lines); disk %d B %s",
			d.Key, r.TailCLIms, r.TailAPIms, r.FullSec, r.FullMBps, r.FullLines, r.DiskBytes, r.Err)
		b.res.Logs = append(b.res.Logs, r)
	}
	return nil
}

func (b *bench) logsOne(d *driverRow, file string, r *logsRow) error {
	name := b.newName("logs-" + d.Key)
	defer func() { _, _ = b.docker(2*time.Minute, "rm", "-f", name) }()
	args := append([]string{"run", "-d"}, d.runArgs(name)...)
	args = append(args, "-v", b.dataDir+":/data:ro", b.cfg.Image, "cat", "/data/"+file)
	id, err := b.docker(time.Minute, args...)
	if err != nil {
		return err
	}
	if _, err := b.docker(10*time.Minute, "wait", name); err != nil {
		return err
	}
	r.DiskBytes = b.diskBytes(d, id)

	var base, cli, api []float64
	for range 9 {
		t := time.Now()
		if _, err := b.docker(time.Minute, "inspect", "-f", "{{.Id}}", name); err != nil {
			return err
		}
		base = append(base, ms(time.Since(t)))
		var c countLines
		dt, err := b.dockerTo(time.Minute, &c, "logs", "--tail", "10", name)
		if err != nil {
			return err
		}
		if c.lines != 10 {
			return fmt.Errorf("docker logs --tail 10 printed %d lines", c.lines)
		}
		cli = append(cli, ms(dt))
		dt, n, err := apiLogs(id, "10")
		if err != nil {
			return err
		}
		if n != 10 {
			return fmt.Errorf("API logs tail=10 returned %d lines", n)
		}
		api = append(api, ms(dt))
	}
	r.CLIBaseline, r.TailCLIms, r.TailAPIms = median(base), median(cli), median(api)

	var full []float64
	for i := range 3 {
		var c countLines
		dt, err := b.dockerTo(10*time.Minute, &c, "logs", name)
		if err != nil {
			return err
		}
		if i == 0 {
			r.FullLines = c.lines
		}
		full = append(full, dt.Seconds())
	}
	r.FullSec = median(full)
	r.FullMBps = float64(r.LineBytes) / 1e6 / r.FullSec
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// diskBytes is what a driver stored for a container (-1 if unknown).
func (b *bench) diskBytes(d *driverRow, id string) int64 {
	switch d.Key {
	case "json-file":
		out, err := b.docker(30*time.Second, "inspect", "-f", "{{.LogPath}}", id)
		if err != nil || out == "" {
			return -1
		}
		var n int64
		for _, suffix := range []string{"", ".1", ".2", ".3", ".4", ".5"} {
			n += dirBytes(out + suffix)
		}
		return n
	case "local":
		return dirBytes("/var/lib/docker/containers/" + id + "/local-logs")
	case "logship":
		dir := b.logshipRingsDir()
		if dir == "" {
			return -1
		}
		return dirBytes(dir + "/" + id)
	}
	return -1
}

// logshipRingsDir is where the measured logship plugin keeps its rings on
// the host: its data mount's source plus DATA_DIR below the mount point.
func (b *bench) logshipRingsDir() string {
	out, err := b.docker(30*time.Second, "plugin", "inspect", "-f",
		`{{range .Settings.Env}}{{println .}}{{end}}{{range .Settings.Mounts}}MOUNT {{.Source}} {{.Destination}}{{println}}{{end}}`,
		b.cfg.LogshipPlugin)
	if err != nil {
		return ""
	}
	dataDir, src, dst := "/var/lib/docker/logship", "", ""
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "DATA_DIR="); ok {
			dataDir = v
		}
		if f := strings.Fields(l); len(f) == 3 && f[0] == "MOUNT" {
			src, dst = f[1], f[2]
		}
	}
	rel, ok := strings.CutPrefix(dataDir, dst)
	if src == "" || !ok {
		return ""
	}
	return src + rel + "/rings"
}

// ---------------------------------------------------------------------------
// many containers at once

type parRow struct {
	Key          string  `json:"key"`
	Label        string  `json:"label"`
	Containers   int     `json:"containers"`
	LinesEach    int     `json:"lines_each"`
	Runs         int     `json:"runs"`
	LinesPerSec  float64 `json:"lines_per_s"` // median, all containers together
	RatioNop     float64 `json:"ratio_to_nop"`
	PluginUsLine float64 `json:"plugin_cpu_us_line"`
	DockerdUs    float64 `json:"dockerd_cpu_us_line"`
	PluginPeakMB float64 `json:"plugin_peak_rss_mb"`
	Delivered    int64   `json:"delivered"`
	Errors       string  `json:"errors,omitempty"`
}

func (b *bench) runParallel() error {
	file, err := dataFile(b.dataDir, shapeJSON, b.cfg.ParallelLines, 11)
	if err != nil {
		return err
	}
	// A receiver that is down: a loopback port nobody listens on, so every
	// attempt is refused and each shipper keeps its batch and backs off.
	downPort, err := freePort()
	if err != nil {
		return err
	}
	down := []string{fmt.Sprintf("fluentd-address=tcp://127.0.0.1:%d", downPort)}
	ls := b.cfg.LogshipPlugin
	rows := []*driverRow{
		{Key: "nop", Label: "do-nothing plugin", Driver: b.nop, Opts: []string{"cache-disabled=true"}, Plugin: b.nop},
		{Key: "logship", Label: "logship (ring only)", Driver: ls, Plugin: ls, Readable: true},
		{Key: "logship-fluentd-down", Label: "logship + masking + Fluentd sink, receiver down", Driver: ls, Plugin: ls, Readable: true, Opts: down, Fresh: true},
	}
	for _, v := range b.lsVars {
		rows = append(rows, &driverRow{Key: "logship-fluentd-down@" + v.Label, Label: "logship [" + v.Label + "] + Fluentd sink, receiver down",
			Driver: v.Plugin, Plugin: v.Plugin, Readable: true, Opts: down, Fresh: true})
	}
	rows = b.filterRows(rows)
	type sample struct {
		rate, plug, dock, peak float64
		delivered              int64
	}
	got := map[string][]sample{}
	errs := map[string][]string{}
	var ratios map[string][]float64 = map[string][]float64{}
	for round := 1; round <= b.cfg.Rounds; round++ {
		var nopRate float64
		for _, d := range rows {
			var s runSample
			err := b.retry(fmt.Sprintf("parallel round %d %s", round, d.Key), func() error {
				var err error
				s, err = b.parallelOne(d, file, round == 1)
				return err
			})
			if err != nil {
				errs[d.Key] = append(errs[d.Key], fmt.Sprintf("round %d: %v", round, err))
				b.logf("parallel round %d %s: %v", round, d.Key, err)
				continue
			}
			total := s.Lines
			got[d.Key] = append(got[d.Key], sample{s.LinesPerSec, perLine(s.PluginCPUus, total), perLine(s.DockerdCPUus, total),
				float64(s.PluginPeakKB) / 1024, s.Delivered})
			if d.Key == "nop" {
				nopRate = s.LinesPerSec
			} else if nopRate > 0 {
				ratios[d.Key] = append(ratios[d.Key], s.LinesPerSec/nopRate)
			}
			b.logf("parallel round %d %-8s %d×%d lines: %8.0f lines/s  plugin %.2f µs/line  dockerd %.2f µs/line  peak %.1f MB  delivered %d",
				round, d.Key, b.cfg.Parallel, b.cfg.ParallelLines, s.LinesPerSec, perLine(s.PluginCPUus, total),
				perLine(s.DockerdCPUus, total), float64(s.PluginPeakKB)/1024, s.Delivered)
		}
	}
	for _, d := range rows {
		r := parRow{Key: d.Key, Label: d.Label, Containers: b.cfg.Parallel, LinesEach: b.cfg.ParallelLines, Delivered: -1,
			Errors: strings.Join(errs[d.Key], "; ")}
		var rate, plug, dock, peak []float64
		for _, s := range got[d.Key] {
			r.Runs++
			rate, plug, dock, peak = append(rate, s.rate), append(plug, s.plug), append(dock, s.dock), append(peak, s.peak)
			if s.delivered >= 0 {
				r.Delivered = s.delivered
			}
		}
		r.LinesPerSec, r.PluginUsLine, r.DockerdUs = median(rate), median(plug), median(dock)
		r.RatioNop = median(ratios[d.Key])
		if d.Key == "nop" && r.Runs > 0 {
			r.RatioNop = 1
		}
		r.PluginPeakMB = math.NaN()
		if len(peak) > 0 {
			r.PluginPeakMB = slices.Max(peak)
		}
		b.res.Parallel = append(b.res.Parallel, r)
	}
	return nil
}

// parallelOne starts b.cfg.Parallel containers that each wait on a FIFO
// barrier, releases them together, and measures until the last exits.
func (b *bench) parallelOne(d *driverRow, file string, verify bool) (runSample, error) {
	n := b.cfg.Parallel
	s := runSample{Key: d.Key, Lines: n * b.cfg.ParallelLines, Delivered: -1, PluginCPUus: -1}
	names := make([]string, n)
	for i := range names {
		names[i] = b.newName(fmt.Sprintf("par-%s-%d", d.Key, i))
	}
	if d.Fresh {
		if err := b.freshPlugin(d.Plugin); err != nil {
			return s, err
		}
	}
	defer func() {
		_, _ = b.docker(5*time.Minute, append([]string{"rm", "-f"}, names...)...)
		if d.Fresh {
			// Its shippers would go on retrying (and holding their batches)
			// through the next rows.
			if err := b.freshPlugin(d.Plugin); err != nil {
				b.logf("warning: %v", err)
			}
		}
	}()
	barrier, err := b.startBlocked(d, names, file)
	if err != nil {
		return s, err
	}
	defer barrier.remove()
	dpid := dockerdPID()
	ppid, err := b.measuredPlugin(d)
	if err != nil {
		return s, err
	}
	c0 := b.snap(ppid, dpid, 0)
	t0 := c0.at
	if err := barrier.release(); err != nil {
		return s, err
	}
	timeout := time.Duration(s.Lines/1000+120) * time.Second
	codes, err := b.docker(timeout, append([]string{"wait"}, names...)...)
	if err != nil {
		return s, err
	}
	settle(ppid)
	c1 := b.snap(ppid, dpid, 0)
	if ppid > 0 {
		s.PluginPeakKB, _ = statusKB(ppid, "VmHWM")
		s.PluginCPUus = c1.plugin - c0.plugin
	}
	s.DockerdCPUus = c1.dockerd - c0.dockerd
	s.MachineBusyUs = c1.machine - c0.machine
	s.WindowSec = c1.at.Sub(c0.at).Seconds()
	if now := dockerdPID(); now != dpid {
		return s, fmt.Errorf("dockerd restarted during the run (pid %d → %d)", dpid, now)
	}
	for _, c := range strings.Fields(codes) {
		if c != "0" {
			return s, fmt.Errorf("a container exited with %s", c)
		}
	}
	var last time.Time
	for _, name := range names {
		_, end, _, err := b.containerTimes(name)
		if err != nil {
			return s, err
		}
		if end.After(last) {
			last = end
		}
	}
	s.WallSec = last.Sub(t0).Seconds()
	if s.WallSec <= 0 {
		return s, fmt.Errorf("containers finished before they were released (FinishedAt %v, release %v)", last, t0)
	}
	s.LinesPerSec = float64(s.Lines) / s.WallSec
	if verify && d.Readable {
		s.Delivered = 0
		for _, name := range names {
			c, err := b.logsCount(name)
			if err != nil {
				return s, err
			}
			s.Delivered += c
		}
	}
	return s, nil
}

// startBlocked creates and starts containers that log through d: each
// blocks opening a FIFO barrier, then cats /data/file once it is released.
// It returns when every container's shell waits on the barrier, so that
// the measurement starts at release(), not at dockerd's (late) StartedAt.
func (b *bench) startBlocked(d *driverRow, names []string, file string) (*barrier, error) {
	barrierDir := filepath.Join(b.out, "barrier")
	bar, err := newBarrier(barrierDir)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		args := append([]string{"create"}, d.runArgs(name)...)
		args = append(args, "-v", b.dataDir+":/data:ro", "-v", barrierDir+":/barrier:ro", b.cfg.Image,
			"sh", "-c", "read x </barrier/"+bar.name+"; exec cat /data/"+file)
		if _, err := b.docker(time.Minute, args...); err != nil {
			bar.remove()
			return nil, err
		}
	}
	if _, err := b.docker(5*time.Minute, append([]string{"start"}, names...)...); err != nil {
		bar.remove()
		return nil, err
	}
	out, err := b.docker(time.Minute, append([]string{"inspect", "-f", "{{.State.Pid}}"}, names...)...)
	if err != nil {
		bar.remove()
		return nil, err
	}
	deadline := time.Now().Add(time.Minute)
	for _, f := range strings.Fields(out) {
		var pid int
		fmt.Sscan(f, &pid)
		for !blockedInFIFOOpen(pid) {
			if time.Now().After(deadline) {
				bar.remove()
				return nil, fmt.Errorf("container process %d never blocked on the barrier (wchan %q)", pid, wchan(pid))
			}
			time.Sleep(10 * time.Millisecond) // polling /proc, bounded
		}
	}
	return bar, nil
}

// measuredPlugin returns the pid of the row's plugin process (0 for a
// built-in driver), with its peak RSS reset so that the run's peak is what
// is read after it.
func (b *bench) measuredPlugin(d *driverRow) (int, error) {
	if d.Plugin == "" {
		return 0, nil
	}
	pid, err := b.pluginProc(d.Plugin)
	if err != nil {
		return 0, err
	}
	if err := resetPeakRSS(pid); err != nil {
		return 0, fmt.Errorf("reset peak RSS of the plugin: %w", err)
	}
	return pid, nil
}
