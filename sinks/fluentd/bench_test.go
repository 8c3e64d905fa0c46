package fluentd

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// benchBatch is 1000 JSON events of about 300 bytes each, with a request
// id, as a busy web service logs them.
func benchBatch(b *testing.B) *sinks.Batch {
	lines := make([]string, 1000)
	for i := range lines {
		l := fmt.Sprintf(`{"time":"2026-11-27T08:00:00.%06dZ","level":"info","msg":"GET /api/v1/orders/%d completed","status":200,"duration_ms":12.5,"request_id":"req-%08d","user":{"id":%d,"role":"customer"},"path":"/api/v1/orders","pad":"`, i, i, i, i)
		lines[i] = l + strings.Repeat("x", max(0, 298-len(l))) + `"}`
	}
	meta := testMeta()
	meta.Attrs = map[string]string{"com.example.team": "core", "env": "prod"}
	batch := &sinks.Batch{Meta: meta, Events: events(lines...)}
	n := 0
	for _, ev := range batch.Events {
		n += len(ev.Line)
	}
	b.SetBytes(int64(n))
	return batch
}

// BenchmarkEncode is the whole CPU cost of a Send but the syscalls:
// records, PackedForward framing. ns/op divided by 1000 is ns/event.
func BenchmarkEncode(b *testing.B) { benchEncode(b, "Y2h1bmsgaWQgYmFzZTY0IQ==", false) }

// BenchmarkEncodeGzip is the same with CompressedPackedForward.
func BenchmarkEncodeGzip(b *testing.B) { benchEncode(b, "", true) }

func benchEncode(b *testing.B, chunk string, gzip bool) {
	batch := benchBatch(b)
	b.ReportAllocs()
	for b.Loop() {
		e := getEncoder()
		e.encodeBatch(batch, encodeOptions{subSecond: true})
		e.spans = e.split(maxRequestBytes, e.spans)
		for _, sp := range e.spans {
			if _, err := e.frame(sp, "docker.web", chunk, gzip); err != nil {
				b.Fatal(err)
			}
		}
		putEncoder(e)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Events)), "ns/event")
}

// BenchmarkSendLoopback sends to a loopback server that discards, without
// acks: encoding plus the writev.
func BenchmarkSendLoopback(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	cfg := testConfig("tcp", ln.Addr().String())
	cfg.SubSecondPrecision = true
	s, err := New(cfg, pipeline.NewMetrics())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	batch := benchBatch(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Events)), "ns/event")
}
