package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
)

// jsonlConfig configures the jsonl exporter:
//
//	exporters:
//	  jsonl:
//	    path: /run/dir/fluent.jsonl   # records are appended here
//	    fail_file: /run/dir/fluent.fail   # while it exists, every batch is rejected
//	    delay_file: /run/dir/fluent.delay # holds a Go duration: wait that long per batch
//
// The fluentforwardreceiver acks a chunk only after the exporter returned, so
// a rejected batch is never acked (the connection is closed) and a delayed
// one is acked late: the two files are the tests' fault injection.
type jsonlConfig struct {
	Path      string `mapstructure:"path"`
	FailFile  string `mapstructure:"fail_file"`
	DelayFile string `mapstructure:"delay_file"`
}

func (c *jsonlConfig) Validate() error {
	if c.Path == "" {
		return errors.New("path must be set")
	}
	return nil
}

func newJSONLFactory() exporter.Factory {
	return exporter.NewFactory(
		component.MustNewType("jsonl"),
		func() component.Config { return &jsonlConfig{} },
		exporter.WithLogs(func(_ context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
			return &jsonlExporter{cfg: cfg.(*jsonlConfig), log: set.Logger}, nil
		}, component.StabilityLevelDevelopment),
	)
}

// jsonlExporter writes each log record as one JSON object per line:
//
//	{"time_unix_nano":1764223121447000001,"time":"2026-11-27T06:38:41.447000001Z",
//	 "body":"hello","attributes":{"fluent.tag":"docker.web","container_name":"/web"}}
//
// A batch is written with a single write(2) to a file opened with O_APPEND,
// before ConsumeLogs returns; readers never see half a batch interleaved with
// another, and a test may truncate the file between checks.
type jsonlExporter struct {
	cfg *jsonlConfig
	log *zap.Logger
	mu  sync.Mutex
	f   *os.File
}

type jsonlRecord struct {
	TimeUnixNano         uint64         `json:"time_unix_nano"`
	Time                 string         `json:"time,omitempty"`
	ObservedTimeUnixNano uint64         `json:"observed_time_unix_nano,omitempty"`
	Body                 any            `json:"body"`
	Attributes           map[string]any `json:"attributes"`
	Resource             map[string]any `json:"resource,omitempty"`
}

func (e *jsonlExporter) Start(context.Context, component.Host) error {
	f, err := os.OpenFile(e.cfg.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	e.f = f
	return nil
}

func (e *jsonlExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.f == nil {
		return nil
	}
	err := e.f.Close()
	e.f = nil
	return err
}

func (e *jsonlExporter) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

func (e *jsonlExporter) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if e.cfg.FailFile != "" {
		if _, err := os.Stat(e.cfg.FailFile); err == nil {
			e.log.Info("rejecting a batch (fail file present)", zap.Int("records", ld.LogRecordCount()))
			return fmt.Errorf("rejecting %d records: %s exists", ld.LogRecordCount(), e.cfg.FailFile)
		}
	}
	if e.cfg.DelayFile != "" {
		if b, err := os.ReadFile(e.cfg.DelayFile); err == nil {
			d, err := time.ParseDuration(strings.TrimSpace(string(b)))
			if err != nil {
				return fmt.Errorf("%s: %w", e.cfg.DelayFile, err)
			}
			e.log.Info("delaying a batch (delay file present)", zap.Int("records", ld.LogRecordCount()), zap.Duration("delay", d))
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var res map[string]any
		if rl.Resource().Attributes().Len() > 0 {
			res = rl.Resource().Attributes().AsRaw()
		}
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				rec := jsonlRecord{
					TimeUnixNano:         uint64(lr.Timestamp()),
					ObservedTimeUnixNano: uint64(lr.ObservedTimestamp()),
					Body:                 lr.Body().AsRaw(),
					Attributes:           lr.Attributes().AsRaw(),
					Resource:             res,
				}
				if lr.Timestamp() != 0 {
					rec.Time = lr.Timestamp().AsTime().UTC().Format(time.RFC3339Nano)
				}
				if err := enc.Encode(rec); err != nil {
					return fmt.Errorf("encoding record: %w", err)
				}
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.f == nil {
		return errors.New("exporter is shut down")
	}
	if _, err := e.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing %s: %w", e.cfg.Path, err)
	}
	return nil
}
