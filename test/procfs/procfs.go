// Package procfs reads what the tests and the benchmark need to know about
// host processes from /proc: a process's stat fields, and which process is
// a managed Docker plugin. Linux only, like dockerd's plugin support.
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StatFields returns the fields of /proc/<pid>/stat after the command
// name: [0] is field 3 (state), [1] ppid, [11] utime, [12] stime. The
// command name is skipped by its last ')', since it may hold spaces and
// parentheses itself.
func StatFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

// PluginPID finds a managed plugin's process on the host: the child of the
// containerd shim started for task id (the plugin's id) in namespace
// plugins.moby. The plugin runs in its own pid namespace, so its own idea
// of its pid is useless. It returns 0 if there is none.
func PluginPID(id string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	shim := 0
	parent := map[int]int{}
	for _, p := range procs {
		pid, _ := strconv.Atoi(filepath.Base(p))
		if f, err := StatFields(pid); err == nil && len(f) > 1 {
			parent[pid], _ = strconv.Atoi(f[1])
		}
		cmdline, err := os.ReadFile(p + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte("containerd-shim")) || !bytes.Contains(cmdline, []byte("plugins.moby")) {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-id" && args[i+1] == id {
				shim = pid
			}
		}
	}
	if shim == 0 {
		return 0
	}
	for pid, pp := range parent {
		if pp == shim {
			return pid
		}
	}
	return 0
}
