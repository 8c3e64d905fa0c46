package httpsink

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// benchBatch is 1000 parsed JSON lines of about 300 bytes, as a busy web
// service writes them.
func benchBatch(b *testing.B) *sinks.Batch {
	b.Helper()
	var rs []rec
	for i := range 1000 {
		l := fmt.Sprintf(`{"ts":"2026-11-27T05:41:%02d.%03dZ","level":"info","logger":"http.access","msg":"GET /api/v1/users/%d completed","request_id":"req-%08x-4c1e-9a7b","status":200,"duration_ms":%d.%03d,"bytes":%d,"client_ip":"10.0.%d.%d","user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko"}`,
			i%60, i%1000, 10000+i, i*7919, i%50, i%1000, 512+i, i%256, i*13%256)
		rs = append(rs, rec{line: l, dt: 0})
	}
	bt := batchOf(testMeta(), rs...)
	n := 0
	for i := range bt.Events {
		n += len(bt.Events[i].Line)
		if !bt.Events[i].IsJSON {
			b.Fatal("bench line is not JSON")
		}
	}
	if avg := n / len(bt.Events); avg < 280 || avg > 320 {
		b.Fatalf("average line %d bytes, want about 300", avg)
	}
	return bt
}

func lineBytes(bt *sinks.Batch) int64 {
	var n int64
	for i := range bt.Events {
		n += int64(len(bt.Events[i].Line))
	}
	return n
}

// BenchmarkEncode encodes (and compresses) 1000 300-byte JSON events per
// op; ns/event and the body sizes are reported.
func BenchmarkEncode(b *testing.B) {
	bt := benchBatch(b)
	for _, f := range formats {
		for _, comp := range compressions {
			b.Run(f+"/"+comp, func(b *testing.B) {
				c := configFor("http://127.0.0.1/", Format(f), Compression(comp))
				cd := newCodec(&c, "host")
				b.ReportAllocs()
				b.SetBytes(lineBytes(bt))
				var raw, wire int
				for b.Loop() {
					e := getEncoder()
					p := e.encode(cd, bt)
					raw = len(p)
					switch Compression(comp) {
					case CompressionGzip:
						p = e.gzip(p)
					case CompressionZstd:
						p = e.zstd(p)
					}
					wire = len(p)
					putEncoder(e)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(bt.Events)), "ns/event")
				b.ReportMetric(float64(raw)/float64(len(bt.Events)), "B/event-raw")
				b.ReportMetric(float64(wire)/float64(len(bt.Events)), "B/event-wire")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkSend is a whole attempt (encode, gzip, POST over loopback,
// answer) against a receiver that discards the body.
func BenchmarkSend(b *testing.B) {
	bt := benchBatch(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s, err := New(configFor(srv.URL, FormatNDJSON, CompressionGzip), pipeline.NewMetrics())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	b.ReportAllocs()
	b.SetBytes(lineBytes(bt))
	for b.Loop() {
		if err := s.Send(context.Background(), bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(bt.Events)), "ns/event")
}
