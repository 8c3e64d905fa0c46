package main

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPluginConfigDefaults(t *testing.T) {
	c, err := loadPluginConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/docker/logship" || c.MaxLineSize != 1<<20 || c.PartialTimeout != 2*time.Second ||
		c.RingCodec != "s2" || c.MetricsAddr != "127.0.0.1:9464" || c.ContainersDir != "/var/lib/docker/containers" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestPluginConfigReportsEveryProblem(t *testing.T) {
	_, err := loadPluginConfig(env(map[string]string{
		"LOG_LEVEL": "loud", "MAX_LINE_SIZE": "1g", "PARTIAL_TIMEOUT": "soon",
		"RING_CODEC": "lz4", "DATA_DIR": "relative", "LOG_OPTS": "tag={{.Name}};garbage",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"LOG_LEVEL", "MAX_LINE_SIZE", "PARTIAL_TIMEOUT", "RING_CODEC", "DATA_DIR", "LOG_OPTS"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestLogOptsEnvSplitsOnSemicolons(t *testing.T) {
	c, err := loadPluginConfig(env(map[string]string{"LOG_OPTS": " labels=a,b ; tag={{.Name}};CONTAINERS_DIR=x", "CONTAINERS_DIR": "none"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultOpts["labels"] != "a,b" || c.DefaultOpts["tag"] != "{{.Name}}" || c.ContainersDir != "" {
		t.Fatalf("got %+v", c)
	}
}

func TestPerformanceSettings(t *testing.T) {
	c, err := loadPluginConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ReadCoalesce != 200*time.Microsecond || c.GCPercent != 100 || c.MemoryLimit != 0 {
		t.Fatalf("defaults: coalesce %v, gc %d, limit %d", c.ReadCoalesce, c.GCPercent, c.MemoryLimit)
	}
	c, err = loadPluginConfig(env(map[string]string{"READ_COALESCE": "0", "GC_PERCENT": "400", "MEMORY_LIMIT": "48m"}))
	if err != nil || c.ReadCoalesce != 0 || c.GCPercent != 400 || c.MemoryLimit != 48<<20 {
		t.Fatalf("got %v, %d, %d, %v", c.ReadCoalesce, c.GCPercent, c.MemoryLimit, err)
	}
	_, err = loadPluginConfig(env(map[string]string{"READ_COALESCE": "20ms", "GC_PERCENT": "off", "MEMORY_LIMIT": "1k"}))
	for _, name := range []string{"READ_COALESCE", "GC_PERCENT", "MEMORY_LIMIT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

// config.json's env values are the defaults the code has anyway (a
// `docker plugin upgrade` keeps the old settings, so a new variable may be
// absent and the code's default applies).
func TestConfigJSONDefaultsMatchCode(t *testing.T) {
	b, err := os.ReadFile("../../config.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Env []struct{ Name, Value string }
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{}
	for _, e := range manifest.Env {
		vals[e.Name] = e.Value
	}
	fromJSON, err := loadPluginConfig(env(vals))
	if err != nil {
		t.Fatal(err)
	}
	def, _ := loadPluginConfig(env(nil))
	if !reflect.DeepEqual(fromJSON, def) {
		t.Fatalf("config.json's env gives\n%+v\nthe code's defaults are\n%+v", fromJSON, def)
	}
}
