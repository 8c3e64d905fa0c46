package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/logship/logship/driver"
	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/pipeline/ring"
	"github.com/logship/logship/sinks"
)

// runPlugin is the plugin's entrypoint: config → store → driver → serve.
func runPlugin(ctx context.Context, getenv func(string) string) int {
	cfg, cfgErr := loadPluginConfig(getenv)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if cfgErr != nil {
		log.Error("invalid configuration", "error", cfgErr)
		return 1
	}
	if err := servePlugin(ctx, cfg, getenv, log); err != nil {
		log.Error("logship stopped", "error", err)
		return 1
	}
	return 0
}

func servePlugin(ctx context.Context, cfg pluginConfig, getenv func(string) string, log *slog.Logger) error {
	debug.SetGCPercent(cfg.GCPercent)
	if cfg.MemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	metrics := pipeline.NewMetrics()

	rcfg := ring.DefaultConfig()
	rcfg.Dir = filepath.Join(cfg.DataDir, "rings")
	rcfg.Codec = cfg.RingCodec
	rcfg.ContainersDir = cfg.ContainersDir
	rcfg.OrphanGrace = cfg.OrphanGrace
	rcfg.MaxAge = cfg.OrphanMaxAge
	rcfg.MaxTotal = cfg.RingsMaxTotal
	rcfg.Metrics = metrics
	rcfg.Logger = log.With("component", "ring")
	store, err := ring.Open(rcfg)
	if err != nil {
		return err
	}
	defer store.Close()

	delivery, err := sinks.NewDelivery(sinks.Config{
		Spool:   store,
		Dir:     filepath.Join(cfg.DataDir, "delivery"),
		Names:   sinkNames,
		Metrics: metrics,
		Logger:  log.With("component", "sinks"),
	})
	if err != nil {
		return err
	}
	be := &backend{store: store, delivery: delivery, metrics: metrics, defaults: cfg.DefaultOpts,
		getenv: getenv, log: log.With("component", "backend")}

	dcfg := driver.DefaultConfig()
	dcfg.StateDir = filepath.Join(cfg.DataDir, "streams")
	dcfg.MaxLineSize = cfg.MaxLineSize
	dcfg.PartialTimeout = cfg.PartialTimeout
	dcfg.ReadCoalesce = cfg.ReadCoalesce
	dcfg.Logger = log.With("component", "driver")
	dcfg.Metrics = metrics
	drv, err := driver.New(dcfg, be)
	if err != nil {
		return err
	}

	// Listen first: dockerd gives a (re)started plugin about 9 s to accept
	// connections before it disables it.
	if err := os.MkdirAll(filepath.Dir(cfg.Socket), 0o755); err != nil {
		return err
	}
	_ = os.Remove(cfg.Socket)
	ln, err := net.Listen("unix", cfg.Socket)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: drv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("logship started", "version", version, "socket", cfg.Socket, "data_dir", cfg.DataDir)

	n, err := drv.Reattach(ctx)
	if err != nil {
		log.Error("re-attach failed", "error", err)
	} else if n > 0 {
		log.Info("re-attached streams", "count", n)
	}

	be.resume()
	go cleanupLoop(ctx, store, delivery, log)
	if cfg.MetricsAddr != "" {
		go serveMetrics(ctx, cfg.MetricsAddr, metrics, log)
	}
	if cfg.PprofAddr != "" {
		go servePprof(ctx, cfg.PprofAddr, log)
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving plugin socket", "error", err)
		}
	}
	// dockerd sends SIGTERM and kills after 10 s: leave state for the next
	// process, flush what was read, then stop.
	sctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := drv.Shutdown(sctx); err != nil {
		log.Error("driver shutdown", "error", err)
	}
	if err := delivery.Close(sctx); err != nil {
		log.Error("delivery shutdown", "error", err)
	}
	_ = srv.Shutdown(sctx)
	log.Info("logship stopped")
	return nil
}

// cleanupLoop applies the ring's orphan policy at start and hourly.
func cleanupLoop(ctx context.Context, store *ring.Store, delivery *sinks.Delivery, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		removed, err := store.Cleanup(time.Now())
		if err != nil {
			log.Warn("ring cleanup", "error", err)
		}
		if len(removed) > 0 {
			log.Info("removed rings of gone containers", "count", len(removed))
		}
		if ids, err := store.Containers(); err == nil {
			keep := make(map[string]bool, len(ids))
			for _, id := range ids {
				keep[id] = true
			}
			if _, err := delivery.Forget(keep); err != nil {
				log.Warn("delivery cleanup", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// serveMetrics serves the Prometheus text format on addr (/metrics). The
// plugin runs in the host's network namespace, so the default
// 127.0.0.1:9464 is the host's loopback.
func serveMetrics(ctx context.Context, addr string, m *pipeline.Metrics, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_ = m.WritePrometheus(w)
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics endpoint", "addr", addr, "error", err)
	}
}

// servePprof exposes Go's profiler (CPU, heap, allocations) for performance
// work; off unless PPROF_ADDR is set.
func servePprof(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("pprof endpoint", "addr", addr, "error", err)
	}
}
