package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
)

// benchLines are 300-byte JSON lines with a request id; one in four carries
// a secret, as in `make bench`.
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
func BenchmarkPipeline(b *testing.B) {
	const batch = 1000
	lines := benchLines(batch)
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
	rd := bytes.NewReader(frames)
	fr := driver.NewFrameReader(rd, 0, 0)
	var e driver.Entry

	b.SetBytes(300)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += batch {
		// Write side: the driver's stream goroutine.
		rd.Reset(frames)
		fr = driver.NewFrameReader(rd, 0, 0)
		for {
			if err := fr.Next(&e); err == io.EOF {
				break
			} else if err != nil {
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
