package sinks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
)

// memSpool is an in-memory ring with the Spool semantics.
type memSpool struct {
	mu      sync.Mutex
	recs    map[string][]pipeline.Record // Seq = index+first
	first   map[string]uint64            // Seq of recs[0]
	writers map[string]int
	notify  chan struct{}
}

func newMemSpool() *memSpool {
	return &memSpool{recs: map[string][]pipeline.Record{}, first: map[string]uint64{},
		writers: map[string]int{}, notify: make(chan struct{})}
}

func (s *memSpool) broadcast() { close(s.notify); s.notify = make(chan struct{}) }

func (s *memSpool) write(id string, lines ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first[id] == 0 {
		s.first[id] = 1
	}
	for _, l := range lines {
		seq := s.first[id] + uint64(len(s.recs[id]))
		s.recs[id] = append(s.recs[id], pipeline.Record{Seq: seq, Time: time.Now().UnixNano(),
			Source: pipeline.SourceStdout, Line: []byte(l)})
	}
	s.broadcast()
}

func (s *memSpool) setWriters(id string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writers[id] = n
	s.broadcast()
}

// evict drops the oldest n records.
func (s *memSpool) evict(id string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[id] = s.recs[id][n:]
	s.first[id] += uint64(n)
}

func (s *memSpool) end(id string) uint64 { return s.first[id] + uint64(len(s.recs[id])) }

func (s *memSpool) ReadFrom(ctx context.Context, id string, seq uint64, fn func(*pipeline.Record) error) (uint64, uint64, error) {
	s.mu.Lock()
	recs := slices.Clone(s.recs[id])
	first := s.first[id]
	s.mu.Unlock()
	var skipped uint64
	if seq < first {
		skipped = first - seq
		seq = first
	}
	for _, r := range recs {
		if r.Seq < seq {
			continue
		}
		if err := fn(&r); err != nil {
			return r.Seq, skipped, err
		}
		seq = r.Seq + 1
	}
	return seq, skipped, nil
}

func (s *memSpool) Wait(ctx context.Context, id string, seq uint64) (uint64, error) {
	for {
		s.mu.Lock()
		end := s.end(id)
		if s.first[id] == 0 {
			end = 1
		}
		if end > max(seq, 1) {
			s.mu.Unlock()
			return end, nil
		}
		if s.writers[id] == 0 {
			s.mu.Unlock()
			return seq, pipeline.ErrIdle
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return seq, ctx.Err()
		}
	}
}

// fakeSink records what it was sent and fails on demand.
type fakeSink struct {
	mu       sync.Mutex
	got      []string
	attempts int
	fail     func(attempt int, b *Batch) error
	sent     chan struct{}
	closed   int
}

func newFakeSink() *fakeSink { return &fakeSink{sent: make(chan struct{}, 1000)} }

func (f *fakeSink) Send(ctx context.Context, b *Batch) error {
	f.mu.Lock()
	f.attempts++
	a := f.attempts
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		if err := fail(a, b); err != nil {
			f.sent <- struct{}{}
			return err
		}
	}
	f.mu.Lock()
	for _, e := range b.Events {
		f.got = append(f.got, string(e.Line))
	}
	f.mu.Unlock()
	f.sent <- struct{}{}
	return nil
}

func (f *fakeSink) Close(context.Context) error {
	f.mu.Lock()
	f.closed++
	f.mu.Unlock()
	return nil
}

func (f *fakeSink) attemptCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

func (f *fakeSink) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// waitFor waits until cond holds, re-checking after every Send.
func (f *fakeSink) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	// Counters move just after Send returns, which is no event of its
	// own: re-check on a short tick too.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-f.sent:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s (got %d lines)", what, len(f.lines()))
		}
	}
}

const cid = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func fastDelivery() DeliveryConfig {
	dc := DefaultDeliveryConfig()
	dc.MaxAge = time.Millisecond
	dc.InitialBackoff = time.Millisecond
	dc.MaxBackoff = 5 * time.Millisecond
	return dc
}

type harness struct {
	d     *Delivery
	spool *memSpool
	sink  *fakeSink
	m     *pipeline.Metrics
	dir   string
	news  int
}

func newHarness(t *testing.T, spool *memSpool, sink *fakeSink, dir string) *harness {
	t.Helper()
	h := &harness{spool: spool, sink: sink, m: pipeline.NewMetrics(), dir: dir}
	d, err := NewDelivery(Config{Spool: spool, Dir: dir, Names: []string{"test"}, Metrics: h.m})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	t.Cleanup(func() { d.Close(context.Background()) })
	return h
}

func (h *harness) target(dc DeliveryConfig) Target {
	return Target{Name: "test", Key: "k", Delivery: dc, New: func() (Sink, error) { h.news++; return h.sink, nil }}
}

func (h *harness) ship(t *testing.T, id string, dc DeliveryConfig) {
	t.Helper()
	if err := h.d.Ship(id, &pipeline.Meta{ContainerID: id}, pipeline.NewParser(pipeline.DefaultConfig()),
		[]byte(`{"k":"v"}`), []Target{h.target(dc)}); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) counter(name string) uint64 {
	v, _ := h.m.Value(name)
	return uint64(v)
}

func numbered(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint("line ", i))
	}
	return out
}

func TestDeliversInOrderInBatchesAndResumesFromCursor(t *testing.T) {
	spool, sink, dir := newMemSpool(), newFakeSink(), t.TempDir()
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, dir)
	dc := fastDelivery()
	dc.MaxRecords = 7
	h.ship(t, cid, dc)
	spool.write(cid, numbered(0, 100)...)
	sink.waitFor(t, "100 delivered", func() bool {
		return h.counter(`logship_sink_records_delivered_total{sink="test"}`) == 100
	})
	if got := sink.lines(); !slices.Equal(got, numbered(0, 100)) {
		t.Fatalf("order: %q...", got[:5])
	}
	if sink.attemptCount() < 100/7 {
		t.Fatalf("%d attempts: batches above MaxRecords", sink.attempts)
	}
	if v := h.counter(`logship_sink_records_delivered_total{sink="test"}`); v != 100 {
		t.Fatalf("delivered = %d", v)
	}
	// A new process resumes after the acknowledged records.
	h.d.Close(context.Background())
	sink2 := newFakeSink()
	h2 := newHarness(t, spool, sink2, dir)
	spool.write(cid, numbered(100, 110)...)
	h2.ship(t, cid, dc)
	sink2.waitFor(t, "10 new lines", func() bool { return len(sink2.lines()) == 10 })
	if got := sink2.lines(); !slices.Equal(got, numbered(100, 110)) {
		t.Fatalf("after restart got %q", got)
	}
	plans, err := h2.d.Plans()
	if err != nil || string(plans[cid]) != `{"k":"v"}` {
		t.Fatalf("Plans = %q, %v", plans, err)
	}
}

func TestRetriesUntilTheReceiverIsBack(t *testing.T) {
	spool, sink := newMemSpool(), newFakeSink()
	sink.fail = func(a int, b *Batch) error {
		if a <= 5 {
			return errors.New("connection refused")
		}
		return nil
	}
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, t.TempDir())
	h.ship(t, cid, fastDelivery())
	spool.write(cid, numbered(0, 20)...)
	sink.waitFor(t, "20 lines", func() bool { return len(sink.lines()) == 20 })
	if !slices.Equal(sink.lines(), numbered(0, 20)) {
		t.Fatalf("got %q", sink.lines())
	}
	if v := h.counter(`logship_sink_records_retried_total{sink="test"}`); v == 0 {
		t.Fatal("retries not counted")
	}
}

func TestPermanentErrorDropsAndCounts(t *testing.T) {
	spool, sink := newMemSpool(), newFakeSink()
	sink.fail = func(a int, b *Batch) error {
		if string(b.Events[0].Line) == "bad" {
			return Permanent(errors.New("400 bad request"))
		}
		return nil
	}
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, t.TempDir())
	h.ship(t, cid, fastDelivery())
	spool.write(cid, "bad")
	sink.waitFor(t, "first attempt", func() bool {
		return h.counter(`logship_sink_records_dropped_total{sink="test",reason="permanent"}`) == 1
	})
	spool.write(cid, "good")
	sink.waitFor(t, "good", func() bool { return slices.Equal(sink.lines(), []string{"good"}) })
}

func TestRetryAfterIsHonoured(t *testing.T) {
	spool, sink := newMemSpool(), newFakeSink()
	var times []time.Time
	sink.fail = func(a int, b *Batch) error {
		times = append(times, time.Now())
		if a == 1 {
			return RetryAfter(errors.New("429"), 300*time.Millisecond)
		}
		return nil
	}
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, t.TempDir())
	h.ship(t, cid, fastDelivery())
	spool.write(cid, "x")
	sink.waitFor(t, "x", func() bool { return len(sink.lines()) == 1 })
	if gap := times[1].Sub(times[0]); gap < 300*time.Millisecond {
		t.Fatalf("retried after %v, receiver asked for 300ms", gap)
	}
}

func TestPartialFailureResendsOnlyFailedEvents(t *testing.T) {
	spool, sink := newMemSpool(), newFakeSink()
	sink.fail = func(a int, b *Batch) error {
		if a == 1 {
			if len(b.Events) != 4 {
				return fmt.Errorf("want 4 events, got %d", len(b.Events))
			}
			// Events 1 and 3 failed (retry), 2 failed for good; 0 was taken.
			return &PartialError{Err: errors.New("bulk"), Failed: []int{1, 3}, Permanent: []int{2}}
		}
		return nil
	}
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, t.TempDir())
	dc := fastDelivery()
	dc.MaxAge = time.Second // all four in one batch
	h.ship(t, cid, dc)
	spool.write(cid, "a", "b", "c", "d")
	sink.waitFor(t, "retry", func() bool {
		return h.counter(`logship_sink_records_delivered_total{sink="test"}`) == 3
	})
	if got := sink.lines(); !slices.Equal(got, []string{"b", "d"}) {
		t.Fatalf("resent %q", got)
	}
	if v := h.counter(`logship_sink_records_delivered_total{sink="test"}`); v != 3 {
		t.Fatalf("delivered = %d, want 3 (a, then b and d)", v)
	}
	if v := h.counter(`logship_sink_records_dropped_total{sink="test",reason="permanent"}`); v != 1 {
		t.Fatalf("dropped = %d", v)
	}
}

func TestTooLargeSplitsDownToSingleRecords(t *testing.T) {
	spool, sink := newMemSpool(), newFakeSink()
	sink.fail = func(a int, b *Batch) error {
		for _, e := range b.Events {
			if string(e.Line) == "huge" || len(b.Events) > 2 {
				return fmt.Errorf("413: %w", ErrTooLarge)
			}
		}
		return nil
	}
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, t.TempDir())
	dc := fastDelivery()
	dc.MaxAge = time.Second
	h.ship(t, cid, dc)
	spool.write(cid, "a", "b", "huge", "c", "d")
	sink.waitFor(t, "split", func() bool { return len(sink.lines()) == 4 })
	if got := sink.lines(); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Fatalf("got %q", got)
	}
	if v := h.counter(`logship_sink_records_dropped_total{sink="test",reason="too_large"}`); v != 1 {
		t.Fatalf("too_large = %d", v)
	}
}

func TestMaxRetriesDropsAndMovesOn(t *testing.T) {
	spool, sink := newMemSpool(), newFakeSink()
	sink.fail = func(a int, b *Batch) error {
		if string(b.Events[0].Line) == "doomed" {
			return errors.New("timeout")
		}
		return nil
	}
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, t.TempDir())
	dc := fastDelivery()
	dc.MaxRetries = 2
	h.ship(t, cid, dc)
	spool.write(cid, "doomed")
	sink.waitFor(t, "drop", func() bool {
		return h.counter(`logship_sink_records_dropped_total{sink="test",reason="retries_exhausted"}`) == 1
	})
	if sink.attemptCount() != 3 {
		t.Fatalf("%d attempts for MaxRetries=2", sink.attempts)
	}
	spool.write(cid, "next")
	sink.waitFor(t, "next", func() bool { return len(sink.lines()) == 1 })
}

func TestEvictedBeforeDeliveryIsCounted(t *testing.T) {
	spool, sink := newMemSpool(), newFakeSink()
	spool.write(cid, numbered(0, 10)...)
	spool.evict(cid, 4)
	h := newHarness(t, spool, sink, t.TempDir())
	h.ship(t, cid, fastDelivery())
	sink.waitFor(t, "rest", func() bool { return len(sink.lines()) == 6 })
	if v := h.counter(`logship_sink_records_dropped_total{sink="test",reason="evicted"}`); v != 4 {
		t.Fatalf("evicted = %d", v)
	}
}

func TestSinkSharedAndShipperRetiresWhenIdle(t *testing.T) {
	spool, sink := newMemSpool(), newFakeSink()
	other := "f" + cid[1:]
	spool.write(cid, "a")
	spool.write(other, "b")
	h := newHarness(t, spool, sink, t.TempDir())
	h.ship(t, cid, fastDelivery())
	h.ship(t, other, fastDelivery())
	sink.waitFor(t, "both", func() bool { return len(sink.lines()) == 2 })
	// No writer and nothing left: both shippers retire and the shared sink
	// is closed once.
	sink.waitFor(t, "shippers to retire", func() bool { return h.d.Active() == 0 })
	if h.news != 1 {
		t.Fatalf("sink created %d times for one key", h.news)
	}
	h.d.Close(context.Background())
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.closed != 1 {
		t.Fatalf("sink closed %d times", sink.closed)
	}
}

func TestCloseDuringOutageDoesNotAdvance(t *testing.T) {
	spool, sink, dir := newMemSpool(), newFakeSink(), t.TempDir()
	sink.fail = func(int, *Batch) error { return errors.New("down") }
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, dir)
	h.ship(t, cid, fastDelivery())
	spool.write(cid, "kept")
	sink.waitFor(t, "a failed attempt", func() bool { return sink.attemptCount() > 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	sink2 := newFakeSink()
	h2 := newHarness(t, spool, sink2, dir)
	h2.ship(t, cid, fastDelivery())
	sink2.waitFor(t, "kept", func() bool { return slices.Equal(sink2.lines(), []string{"kept"}) })
}

func TestLagStaysUpThroughABacklog(t *testing.T) {
	spool, sink := newMemSpool(), newFakeSink()
	release := make(chan struct{})
	sink.fail = func(a int, b *Batch) error {
		if a == 2 {
			<-release // the second batch of the backlog is in flight
		}
		return nil
	}
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, t.TempDir())
	dc := fastDelivery()
	dc.MaxRecords = 10
	spool.write(cid, numbered(0, 30)...)
	h.ship(t, cid, dc)
	sink.waitFor(t, "first batch", func() bool { return len(sink.lines()) == 10 })
	// Between batches of a backlog the gauge must not read 0.
	if lag, _ := h.m.Value(`logship_sink_lag_seconds{sink="test"}`); lag <= 0 {
		t.Fatalf("lag = %v while 20 records wait", lag)
	}
	close(release)
	sink.waitFor(t, "all", func() bool { return len(sink.lines()) == 30 })
	sink.waitFor(t, "lag back to 0", func() bool {
		lag, _ := h.m.Value(`logship_sink_lag_seconds{sink="test"}`)
		return lag == 0
	})
}

func TestForgetStopsShipperOfRemovedContainer(t *testing.T) {
	spool, sink, dir := newMemSpool(), newFakeSink(), t.TempDir()
	sink.fail = func(int, *Batch) error { return errors.New("receiver down") }
	spool.setWriters(cid, 1)
	h := newHarness(t, spool, sink, dir)
	h.ship(t, cid, fastDelivery())
	spool.write(cid, "x")
	sink.waitFor(t, "retries", func() bool { return sink.attemptCount() > 2 })
	if _, err := h.d.Forget(map[string]bool{}); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, "shipper to stop", func() bool { return h.d.Active() == 0 })
	if plans, _ := h.d.Plans(); len(plans) != 0 {
		t.Fatalf("plans kept: %v", plans)
	}
}
