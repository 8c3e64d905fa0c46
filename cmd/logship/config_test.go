package main

import (
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
