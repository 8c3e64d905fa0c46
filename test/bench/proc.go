package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/logship/logship/test/procfs"
)

// clkTck is the kernel's USER_HZ, the unit of utime and stime in
// /proc/<pid>/stat.
var clkTck = func() int64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}()

// cpuMicros returns the CPU time (user + system, all threads) a process
// has used, in microseconds.
func cpuMicros(pid int) (int64, error) {
	if pid <= 0 {
		return 0, errors.New("no process")
	}
	f, err := procfs.StatFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (u + s) * 1_000_000 / clkTck, nil
}

// machineBusyMicros returns the CPU time all cores spent not idle, from
// /proc/stat (a noise indicator: the machine is shared).
func machineBusyMicros() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return busy * 1_000_000 / clkTck
}

// resetPeakRSS resets VmHWM of pid to its current RSS (Linux ≥ 4.0).
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// statusKB returns a "kB" field of /proc/<pid>/status (VmHWM, VmRSS).
func statusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func procComm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// dockerdPID finds the running dockerd: its pid file, else a scan of /proc.
func dockerdPID() int {
	if b, err := os.ReadFile("/var/run/docker.pid"); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && procComm(pid) == "dockerd" {
			return pid
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		pid, _ := strconv.Atoi(filepath.Base(p))
		if procComm(pid) == "dockerd" {
			return pid
		}
	}
	return 0
}

// blockedInFIFOOpen reports whether pid sleeps in open(2) of a FIFO that
// has no writer yet (the parallel benchmark's start barrier).
func blockedInFIFOOpen(pid int) bool { return wchan(pid) == "wait_for_partner" }

func wchan(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", pid))
	return strings.TrimSpace(string(b))
}

// dirBytes is the total size of the regular files below dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// ctxSwitches sums the voluntary context switches of every thread of pid
// (a thread's voluntary switch is, for a FIFO reader, a sleep waiting for
// data: the number of wake-ups).
func ctxSwitches(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*", pid))
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(t + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}
