package sinks

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/logship/logship/pipeline"
)

// countingSpool counts the calls that take a reference on a ring.
type countingSpool struct {
	*memSpool
	waits, reads atomic.Int64
}

func (s *countingSpool) Wait(ctx context.Context, id string, seq uint64) (uint64, error) {
	s.waits.Add(1)
	return s.memSpool.Wait(ctx, id, seq)
}

func (s *countingSpool) ReadFrom(ctx context.Context, id string, seq uint64, fn func(*pipeline.Record) error) (uint64, uint64, error) {
	s.reads.Add(1)
	return s.memSpool.ReadFrom(ctx, id, seq, fn)
}

func newCountingHarness(t *testing.T, spool *countingSpool, sink *fakeSink) *harness {
	t.Helper()
	h := &harness{spool: spool.memSpool, sink: sink, m: pipeline.NewMetrics(), dir: t.TempDir()}
	d, err := NewDelivery(Config{Spool: spool, Dir: h.dir, Names: []string{"test"}, Metrics: h.m})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	t.Cleanup(func() { d.Close(context.Background()) })
	return h
}

// While the receiver fails, a shipper does not hold its batch through the
// backoff: it reads it from the ring again for each attempt. What arrives
// in the end is every record once, in order, and the attempts and retries
// are counted as before.
func TestOutageDoesNotHoldTheBatch(t *testing.T) {
	mem, sink := newMemSpool(), newFakeSink()
	spool := &countingSpool{memSpool: mem}
	sink.fail = func(a int, b *Batch) error {
		if a <= 4 {
			return errors.New("connection refused")
		}
		return nil
	}
	mem.setWriters(cid, 1)
	mem.write(cid, numbered(0, 50)...)
	h := newCountingHarness(t, spool, sink)
	h.ship(t, cid, fastDelivery())
	sink.waitFor(t, "50 lines", func() bool { return len(sink.lines()) == 50 })
	if !slices.Equal(sink.lines(), numbered(0, 50)) {
		t.Fatalf("got %q", sink.lines())
	}
	if r := spool.reads.Load(); r < 5 {
		t.Fatalf("%d reads for 5 attempts: the batch was held, not read again", r)
	}
	if v := h.counter(`logship_sink_records_retried_total{sink="test"}`); v != 4*50 {
		t.Fatalf("retried = %d, want %d", v, 4*50)
	}
	if v := h.counter(`logship_sink_attempts_failed_total{sink="test"}`); v != 4 {
		t.Fatalf("failed attempts = %d, want 4", v)
	}
}

// MaxRetries counts the attempts of a batch across its re-reads.
func TestOutageRetriesAreCountedAcrossRereads(t *testing.T) {
	mem, sink := newMemSpool(), newFakeSink()
	spool := &countingSpool{memSpool: mem}
	sink.fail = func(a int, b *Batch) error {
		if a <= 3 {
			return errors.New("connection refused")
		}
		return nil
	}
	mem.setWriters(cid, 1)
	mem.write(cid, numbered(0, 10)...)
	h := newCountingHarness(t, spool, sink)
	dc := fastDelivery()
	dc.MaxRetries = 2 // attempts 1..3 fail: the batch is dropped after the third
	h.ship(t, cid, dc)
	sink.waitFor(t, "drop", func() bool {
		return h.counter(`logship_sink_records_dropped_total{sink="test",reason="retries_exhausted"}`) == 10
	})
	mem.write(cid, numbered(10, 12)...)
	sink.waitFor(t, "next lines", func() bool { return len(sink.lines()) == 2 })
	if got := sink.lines(); !slices.Equal(got, numbered(10, 12)) {
		t.Fatalf("after the drop got %q", got)
	}
}

// Through a backlog the shipper asks the ring once per batch (the read),
// not three times: each call re-opens a ring whose writer has closed.
func TestBacklogReadsOncePerBatch(t *testing.T) {
	mem, sink := newMemSpool(), newFakeSink()
	spool := &countingSpool{memSpool: mem}
	mem.setWriters(cid, 0) // the container has stopped; its ring waits for delivery
	mem.write(cid, numbered(0, 1000)...)
	h := newCountingHarness(t, spool, sink)
	dc := fastDelivery()
	dc.MaxRecords = 10
	h.ship(t, cid, dc)
	sink.waitFor(t, "all", func() bool { return len(sink.lines()) == 1000 })
	batches := int64(100)
	// One read per batch (the last one also finds the end), plus the
	// waits before the first batch and after the last.
	t.Logf("%d reads, %d waits", spool.reads.Load(), spool.waits.Load())
	if r, w := spool.reads.Load(), spool.waits.Load(); r > batches+2 || w > 4 {
		t.Fatalf("%d reads and %d waits for %d batches", r, w, batches)
	}
	got := sink.lines()
	for i, l := range got {
		if l != numbered(i, i+1)[0] {
			t.Fatalf("line %d = %q", i, l)
		}
	}
}
