package ffcheck

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/fluentforwardreceiver"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
	"github.com/logship/logship/sinks/fluentd"
)

const containerID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var base = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// startReceiver runs the real receiver on a unix socket and returns the
// fluentd-address for it.
func startReceiver(t *testing.T, next consumer.Logs) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fwd.sock")
	f := fluentforwardreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*fluentforwardreceiver.Config)
	cfg.ListenAddress = "unix://" + path
	r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	return "unix://" + path
}

func newSink(t *testing.T, opts map[string]string) sinks.Sink {
	t.Helper()
	opts[fluentd.OptRequestAck] = "true"
	opts[fluentd.OptReadTimeout] = "5s"
	cfg, enabled, err := fluentd.ParseConfig(opts, nil)
	if err != nil || !enabled {
		t.Fatal(enabled, err)
	}
	s, err := fluentd.New(cfg, pipeline.NewMetrics())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func batch(lines ...string) *sinks.Batch {
	p := pipeline.NewParser(pipeline.DefaultConfig())
	evs := make([]pipeline.Event, len(lines))
	for i, l := range lines {
		rec := pipeline.Record{Time: base.UnixNano() + int64(i)*1001, Source: pipeline.SourceStdout, Line: []byte(l)}
		p.Parse(&rec, &evs[i])
	}
	meta := &pipeline.Meta{ContainerID: containerID, ContainerName: "web", Tag: "docker.web",
		Attrs: map[string]string{"env": "prod"}}
	return &sinks.Batch{Meta: meta, Events: evs}
}

func records(logs []plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for _, l := range logs {
		for i := range l.ResourceLogs().Len() {
			sl := l.ResourceLogs().At(i).ScopeLogs()
			for j := range sl.Len() {
				lr := sl.At(j).LogRecords()
				for k := range lr.Len() {
					out = append(out, lr.At(k))
				}
			}
		}
	}
	return out
}

func TestPackedForwardAckedByOTelReceiver(t *testing.T) {
	for _, compress := range []string{"none", "gzip"} {
		t.Run(compress, func(t *testing.T) {
			got := new(consumertest.LogsSink)
			addr := startReceiver(t, got)
			s := newSink(t, map[string]string{
				fluentd.OptAddress: addr, fluentd.OptSubSecondPrecision: "true", fluentd.OptCompress: compress,
			})
			b := batch(
				`plain line`,
				`{"level":"warn","n":42,"f":0.5,"user":{"id":7,"tags":["a","b"]},"request_id":"req-1"}`,
				`third`,
			)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Send(ctx, b); err != nil {
				t.Fatal(err) // nil means the receiver acked after its consumer took the records
			}
			recs := records(got.AllLogs())
			if len(recs) != 3 {
				t.Fatalf("%d records", len(recs))
			}
			for i, r := range recs {
				if r.Body().Str() != string(b.Events[i].Line) {
					t.Errorf("record %d body %q", i, r.Body().Str())
				}
				if want := base.Add(time.Duration(i) * 1001); !r.Timestamp().AsTime().Equal(want) {
					t.Errorf("record %d time %v, want %v (nanoseconds kept)", i, r.Timestamp().AsTime(), want)
				}
				attrs := r.Attributes().AsRaw()
				for k, want := range map[string]any{
					"container_id": containerID, "container_name": "/web", "source": "stdout",
					"env": "prod", "fluent.tag": "docker.web",
				} {
					if attrs[k] != want {
						t.Errorf("record %d %s = %#v, want %#v", i, k, attrs[k], want)
					}
				}
			}
			attrs := recs[1].Attributes().AsRaw()
			want := map[string]any{"level": "warn", "n": int64(42), "f": 0.5, "request_id": "req-1",
				"user": map[string]any{"id": int64(7), "tags": []any{"a", "b"}}}
			for k, v := range want {
				if fmt.Sprint(attrs[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %#v, want %#v", k, attrs[k], v)
				}
			}
			if v, ok := recs[1].Attributes().Get("user"); !ok || v.Type() != pcommon.ValueTypeMap {
				t.Errorf("nested object did not arrive as a map")
			}
		})
	}
}

func TestIntegerSeconds(t *testing.T) {
	got := new(consumertest.LogsSink)
	s := newSink(t, map[string]string{fluentd.OptAddress: startReceiver(t, got)})
	if err := s.Send(context.Background(), batch("x")); err != nil {
		t.Fatal(err)
	}
	recs := records(got.AllLogs())
	if len(recs) != 1 || !recs[0].Timestamp().AsTime().Equal(base) {
		t.Fatalf("%d records, time %v", len(recs), recs[0].Timestamp().AsTime())
	}
}

func TestConsumerFailureIsNotAcked(t *testing.T) {
	fail := consumertest.NewErr(errors.New("downstream refused"))
	s := newSink(t, map[string]string{fluentd.OptAddress: startReceiver(t, fail)})
	err := s.Send(context.Background(), batch("x"))
	if !errors.Is(err, fluentd.ErrNoAck) || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want retryable ErrNoAck", err)
	}
}

func TestManyBatchesOneConnection(t *testing.T) {
	got := new(consumertest.LogsSink)
	s := newSink(t, map[string]string{fluentd.OptAddress: startReceiver(t, got)})
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"i":%d}`, i)
	}
	for range 5 {
		if err := s.Send(context.Background(), batch(lines...)); err != nil {
			t.Fatal(err)
		}
	}
	if n := got.LogRecordCount(); n != 5000 {
		t.Fatalf("%d records", n)
	}
}
