package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/logship/logship/pipeline"
)

func TestSanitizeInfoMasksEnvAndLabels(t *testing.T) {
	b := &backend{metrics: pipeline.NewMetrics(), getenv: func(string) string { return "" }}
	info := pipeline.Info{
		Config:          map[string]string{"env": "DB_PASSWORD"},
		ContainerEnv:    []string{"DB_PASSWORD=s3cr3t-Passw0rd!", "PATH=/bin", "NOVALUE"},
		ContainerLabels: map[string]string{"api_token": "tok_abcdefghijklmnop", "app": "web"},
		ContainerArgs:   []string{"-c", "curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123' x"},
	}
	got := b.SanitizeInfo(info)
	joined := strings.Join(got.ContainerEnv, " ")
	if strings.Contains(joined, "s3cr3t") || got.ContainerLabels["api_token"] == "tok_abcdefghijklmnop" {
		t.Fatalf("secret kept: env %q labels %q", got.ContainerEnv, got.ContainerLabels)
	}
	if strings.Contains(got.ContainerArgs[1], "abcdefghijklmnopqrstuvwxyz0123") || got.ContainerArgs[0] != "-c" {
		t.Fatalf("args: %q", got.ContainerArgs)
	}
	if !slices.Contains(got.ContainerEnv, "PATH=/bin") || !slices.Contains(got.ContainerEnv, "NOVALUE") ||
		got.ContainerLabels["app"] != "web" {
		t.Fatalf("benign values changed: env %q labels %q", got.ContainerEnv, got.ContainerLabels)
	}
	if info.ContainerEnv[0] != "DB_PASSWORD=s3cr3t-Passw0rd!" {
		t.Fatal("SanitizeInfo modified its argument")
	}
}

// Plugin-wide defaults (LOG_OPTS) apply to every container; a container's
// own log-opts override them key by key.
func TestPluginWideDefaultsAndOverrides(t *testing.T) {
	b := &backend{metrics: pipeline.NewMetrics(), getenv: func(string) string { return "" },
		defaults: map[string]string{"redact-mode": "partial", "max-file": "3"}}
	p, err := b.plan(map[string]string{"max-file": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ring.MaxFile != 7 {
		t.Fatalf("container option did not override: max-file %d", p.ring.MaxFile)
	}
	out, changed := p.masker.AppendLine(nil, []byte("password=abcdefghijklmnop1234"))
	if !changed || !strings.HasSuffix(string(out), "1234") || strings.Contains(string(out), "abcdefghijklmnop") {
		t.Fatalf("plugin-wide redact-mode=partial not applied: %q", out)
	}
	if _, err := b.plan(map[string]string{"redact-mode": "loud"}); err == nil || !strings.Contains(err.Error(), "redact-mode") {
		t.Fatalf("bad override accepted: %v", err)
	}
}
