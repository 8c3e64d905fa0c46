package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDataFlowsOneWay enforces the package graph of DESIGN.md: driver,
// redact, the ring and the sinks import pipeline and not each other; only
// cmd wires them together.
func TestDataFlowsOneWay(t *testing.T) {
	const mod = "github.com/logship/logship/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, mod+"...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	forbidden := map[string][]string{
		"driver":        {"redact", "pipeline/ring", "sinks"},
		"redact":        {"driver", "pipeline/ring", "sinks"},
		"pipeline/ring": {"driver", "redact", "sinks"},
		"sinks":         {"driver", "redact", "pipeline/ring"},
		"pipeline":      {"driver", "redact", "pipeline/ring", "sinks"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		if strings.HasPrefix(pkg, "test/") || strings.HasPrefix(pkg, "cmd/") {
			continue
		}
		root := pkg
		for k := range forbidden {
			if pkg == k || strings.HasPrefix(pkg, k+"/") && !(k == "pipeline" && strings.HasPrefix(pkg, "pipeline/ring")) {
				root = k
			}
		}
		bad := forbidden[root]
		for _, dep := range fields[1:] {
			d := strings.TrimPrefix(dep, mod)
			if d == dep {
				continue
			}
			for _, b := range bad {
				if d == b || strings.HasPrefix(d, b+"/") {
					t.Errorf("%s imports %s", pkg, d)
				}
			}
		}
	}
}
