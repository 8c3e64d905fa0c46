package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"

	"github.com/logship/logship/driver"
)

// pluginConfig is the plugin-wide configuration, read from the plugin's
// environment (config.json "env", changed with `docker plugin set`). Every
// variable has a default here too: `docker plugin upgrade` keeps the old
// settings, so a variable new in this version may be absent.
type pluginConfig struct {
	LogLevel       slog.Level
	DataDir        string
	Socket         string
	ContainersDir  string
	OrphanGrace    time.Duration
	OrphanMaxAge   time.Duration
	RingsMaxTotal  int64
	MaxLineSize    int
	PartialTimeout time.Duration
	// ReadCoalesce is the driver's pause after a read that drained a FIFO
	// (driver.Config.ReadCoalesce); 0 reads at once.
	ReadCoalesce time.Duration
	// GCPercent and MemoryLimit set the Go runtime's GC target
	// (debug.SetGCPercent) and soft memory limit (debug.SetMemoryLimit;
	// 0 = none). They are logship's own names, not GOGC and GOMEMLIMIT:
	// the runtime reads those before main, and a malformed GOMEMLIMIT
	// would crash the plugin at every start instead of being reported.
	GCPercent   int
	MemoryLimit int64
	// PprofAddr serves net/http/pprof for profiling ("" = off).
	PprofAddr string
	// RingCodec compresses ring blocks: s2 (fast) or zstd (smaller).
	RingCodec string
	// MetricsAddr is where the Prometheus text endpoint listens ("" = off).
	MetricsAddr string
	// DefaultOpts are plugin-wide log-opts; a container's own log-opts
	// override them key by key.
	DefaultOpts map[string]string
}

func loadPluginConfig(getenv func(string) string) (pluginConfig, error) {
	c := pluginConfig{
		LogLevel:       slog.LevelInfo,
		DataDir:        "/var/lib/docker/logship",
		Socket:         "/run/docker/plugins/logship.sock",
		ContainersDir:  "/var/lib/docker/containers",
		OrphanGrace:    5 * time.Minute,
		OrphanMaxAge:   168 * time.Hour,
		MaxLineSize:    1 << 20,
		PartialTimeout: 2 * time.Second,
		ReadCoalesce:   200 * time.Microsecond,
		GCPercent:      100,
		MetricsAddr:    "127.0.0.1:9464",
		RingCodec:      "s2",
		DefaultOpts:    map[string]string{},
	}
	var errs []error
	bad := func(name, want string) { errs = append(errs, fmt.Errorf("env %s: invalid value, want %s", name, want)) }
	str := func(name string, dst *string) {
		if v, ok := lookup(getenv, name); ok {
			*dst = v
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v, ok := lookup(getenv, name); ok {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				bad(name, "a duration such as 5m")
				return
			}
			*dst = d
		}
	}
	if v, ok := lookup(getenv, "LOG_LEVEL"); ok {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			bad("LOG_LEVEL", "debug, info, warn or error")
		}
	}
	str("DATA_DIR", &c.DataDir)
	str("SOCKET", &c.Socket)
	str("METRICS_ADDR", &c.MetricsAddr)
	str("RING_CODEC", &c.RingCodec)
	str("PPROF_ADDR", &c.PprofAddr)
	if c.PprofAddr == "none" {
		c.PprofAddr = ""
	}
	if c.RingCodec != "s2" && c.RingCodec != "zstd" {
		bad("RING_CODEC", "s2 or zstd")
	}
	if c.MetricsAddr == "none" {
		c.MetricsAddr = ""
	}
	str("CONTAINERS_DIR", &c.ContainersDir)
	if c.ContainersDir == "none" {
		c.ContainersDir = "" // no container-existence check; age and size policies only
	}
	dur("ORPHAN_GRACE", &c.OrphanGrace)
	dur("ORPHAN_MAX_AGE", &c.OrphanMaxAge)
	dur("PARTIAL_TIMEOUT", &c.PartialTimeout)
	dur("READ_COALESCE", &c.ReadCoalesce)
	if v, ok := lookup(getenv, "RINGS_MAX_TOTAL"); ok {
		n, err := units.RAMInBytes(v)
		if err != nil || n < 0 {
			bad("RINGS_MAX_TOTAL", "a size such as 10g, or 0 for no cap")
		} else {
			c.RingsMaxTotal = n
		}
	}
	if v, ok := lookup(getenv, "MAX_LINE_SIZE"); ok {
		n, err := units.RAMInBytes(v)
		if err != nil || n < 1<<10 || n > 8<<20 {
			bad("MAX_LINE_SIZE", "a size from 1k to 8m")
		} else {
			c.MaxLineSize = int(n)
		}
	}
	if v, ok := lookup(getenv, "GC_PERCENT"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 25 || n > 10000 {
			bad("GC_PERCENT", "an integer from 25 to 10000")
		} else {
			c.GCPercent = n
		}
	}
	if v, ok := lookup(getenv, "MEMORY_LIMIT"); ok && v != "none" {
		n, err := units.RAMInBytes(v)
		if err != nil || n < 0 || n > 0 && n < 16<<20 {
			bad("MEMORY_LIMIT", "a size of at least 16m, such as 256m, or none")
		} else {
			c.MemoryLimit = n
		}
	}
	if v, ok := lookup(getenv, "LOG_OPTS"); ok {
		opts, err := parseOptList(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("env LOG_OPTS: %w", err))
		}
		c.DefaultOpts = opts
	}
	if !filepath.IsAbs(c.DataDir) {
		bad("DATA_DIR", "an absolute path")
	}
	if c.ContainersDir != "" && !filepath.IsAbs(c.ContainersDir) {
		bad("CONTAINERS_DIR", "an absolute path or empty")
	}
	if c.PartialTimeout <= 0 {
		bad("PARTIAL_TIMEOUT", "a positive duration")
	}
	if c.ReadCoalesce > driver.MaxReadCoalesce {
		bad("READ_COALESCE", "a duration from 0 (off) to "+driver.MaxReadCoalesce.String())
	}
	return c, errors.Join(errs...)
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := strings.TrimSpace(getenv(name))
	return v, v != ""
}

// parseOptList parses "k=v;k=v". ';' separates pairs because values such as
// labels=a,b contain commas.
func parseOptList(s string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			errs = append(errs, fmt.Errorf("item %d: want key=value", len(out)+len(errs)+1))
			continue
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, errors.Join(errs...)
}
