package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/driver"
	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/pipeline/ring"
	"github.com/logship/logship/redact"
	"github.com/logship/logship/sinks"
	"github.com/logship/logship/sinks/fluentd"
	"github.com/logship/logship/test/benchdata"
)

// benchLines are 300-byte JSON lines with a request id; one in four carries
// a secret (a password field or a bearer token).
func benchLines(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		secret := ""
		switch i % 4 {
		case 1:
			secret = `,"password":"hunter2-` + fmt.Sprint(i) + `"`
		case 3:
			secret = `,"auth":"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"`
		}
		l := fmt.Sprintf(`{"ts":"2026-11-27T10:00:00.%03dZ","level":"info","msg":"request handled","method":"GET","path":"/api/v1/orders/%d","status":200,"duration_ms":%d,"request_id":"90f26b82-fe91-4329-9785-%012d","user":"u%d"%s}`,
			i%1000, i, i%997, i, i%50, secret)
		if pad := 300 - len(l) - len(`,"pad":""`); pad > 0 {
			l = l[:len(l)-1] + `,"pad":"` + strings.Repeat(".", pad) + `"}`
		}
		out[i] = []byte(l)
	}
	return out
}

// BenchmarkPipeline measures the whole in-process path of one line, on one
// goroutine: FIFO frame decode, partial reassembly, masking, the ring
// (append, WAL flush, s2 block compression), reading back from the ring,
// JSON parsing and id promotion, and encoding for Fluentd. Run with -cpu 1;
// lines/s = 1e9 / ns/op.
func BenchmarkPipeline(b *testing.B) { benchPipeline(b, benchLines(1000)) }

// BenchmarkPipelineSecrets is the same with `make bench`'s JSON lines
// (test/benchdata), every one of which has three secrets to mask.
func BenchmarkPipelineSecrets(b *testing.B) { benchPipeline(b, benchdata.JSONLines(1000, true)) }

func benchPipeline(b *testing.B, lines [][]byte) {
	batch := len(lines)
	for _, l := range lines {
		if !json.Valid(l) {
			b.Fatalf("not a JSON line: %s", l)
		}
	}
	var frames []byte
	for i, l := range lines {
		frames = driver.AppendFrame(frames, &driver.Entry{Source: []byte("stdout"), TimeNano: int64(1e18) + int64(i), Line: l})
	}
	m := pipeline.NewMetrics()
	store, err := ring.Open(ring.Config{Dir: filepath.Join(b.TempDir(), "rings"), Metrics: m})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	rw, err := store.OpenWriter(id, ring.DefaultOptions(), nil)
	if err != nil {
		b.Fatal(err)
	}
	masker, err := redact.New(redact.DefaultPolicy(), m)
	if err != nil {
		b.Fatal(err)
	}
	w := redact.NewWriter(rw, masker)
	defer w.Close()
	asm := driver.NewAssembler(0, m)
	parser := pipeline.NewParser(pipeline.DefaultConfig())
	meta := &pipeline.Meta{ContainerID: id, ContainerName: "web", Tag: "web", ImageName: "app:1"}
	events := make([]pipeline.Event, batch)
	arena := make([]byte, 0, 512*batch)
	offs := make([]int, 0, batch)
	recs := make([]pipeline.Record, 0, batch)
	var out []byte
	cursor := uint64(1)
	emit := func(r *pipeline.Record) error { return w.Write(r) }
	// One FrameReader over an endless repetition of the batch, as the
	// driver keeps one per stream (a new one per batch would allocate its
	// 64 KiB buffer each time and make GC look busier than it is).
	fr := driver.NewFrameReader(&loopReader{b: frames}, 0, 0)
	var e driver.Entry

	b.SetBytes(300)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		// Write side: the driver's stream goroutine.
		for range batch {
			if err := fr.Next(&e); err != nil {
				b.Fatal(err)
			}
			if err := asm.Add(&e, zeroTime, emit); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		// Read side: a shipper building one batch and encoding it.
		arena, offs, recs = arena[:0], offs[:0], recs[:0]
		next, _, err := store.ReadFrom(context.Background(), id, cursor, func(r *pipeline.Record) error {
			offs = append(offs, len(arena))
			arena = append(arena, r.Line...)
			rec := *r
			recs = append(recs, rec)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		cursor = next
		for i := range recs {
			end := len(arena)
			if i+1 < len(recs) {
				end = offs[i+1]
			}
			recs[i].Line = arena[offs[i]:end]
			parser.Parse(&recs[i], &events[i])
		}
		out = fluentd.AppendRequests(out[:0], &sinks.Batch{Meta: meta, Events: events[:len(recs)]}, true)
	}
	b.StopTimer()
	b.ReportMetric(1e9/(float64(b.Elapsed().Nanoseconds())/float64(b.N)), "lines/s")
}

var zeroTime time.Time

// loopReader reads b over and over, in reads of at most 64 KiB (a pipe's
// worth), so frames straddle reads as they do on a FIFO.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p[:min(len(p), 64<<10)], l.b[l.off:])
	l.off = (l.off + n) % len(l.b)
	return n, nil
}
