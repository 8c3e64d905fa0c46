package sinks

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/logship/logship/pipeline"
)

type sinkMetrics struct {
	delivered, retried                         *pipeline.Counter
	dropPermanent, dropTooLarge, dropExhausted *pipeline.Counter
	dropEvicted                                *pipeline.Counter
	attemptsFailed                             *pipeline.Counter
}

func (d *Delivery) metricsFor(name string) *sinkMetrics {
	if m := d.metrics[name]; m != nil {
		return m
	}
	r := d.cfg.Metrics
	l := `{sink="` + name + `"}`
	drop := func(reason string) *pipeline.Counter {
		return r.Counter(`logship_sink_records_dropped_total{sink="` + name + `",reason="` + reason + `"}`)
	}
	m := &sinkMetrics{
		delivered:      r.Counter("logship_sink_records_delivered_total" + l),
		retried:        r.Counter("logship_sink_records_retried_total" + l),
		attemptsFailed: r.Counter("logship_sink_attempts_failed_total" + l),
		dropPermanent:  drop("permanent"),
		dropTooLarge:   drop("too_large"),
		dropExhausted:  drop("retries_exhausted"),
		dropEvicted:    drop("evicted"),
	}
	r.Help("logship_sink_records_retried_total", "records sent again after a failed or unacknowledged attempt: each may be a duplicate at the receiver")
	r.Help("logship_sink_records_dropped_total", "records that will never be delivered, by reason")
	r.Help("logship_sink_lag_seconds", "age of the oldest record not yet acknowledged by the receiver")
	r.GaugeFunc("logship_sink_lag_seconds"+l, func() float64 { return d.lag(name) })
	d.metrics[name] = m
	return m
}

// lag is the age of the oldest record being delivered, over the shippers
// of one protocol; 0 when all are caught up.
func (d *Delivery) lag(name string) float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now().UnixNano()
	var worst int64
	for _, s := range d.shippers {
		if s.t.Name != name {
			continue
		}
		if t := s.oldest.Load(); t != 0 && now-t > worst {
			worst = now - t
		}
	}
	return float64(worst) / 1e9
}

// shipper delivers one container's records to one target.
type shipper struct {
	d          *Delivery
	id         string
	t          Target
	meta       *pipeline.Meta
	parser     *pipeline.Parser
	m          *sinkMetrics
	cursorPath string
	kicked     bool // guarded by d.mu

	ctx    context.Context // ends at Close, or when the container's ring is gone (Forget)
	cancel context.CancelFunc
	sink   Sink
	oldest atomic.Int64 // time of the oldest undelivered record in hand, 0 if none
	batch  batchBuf
	fails  uint64
}

func (s *shipper) run() {
	defer s.d.wg.Done()
	ctx := s.ctx
	defer s.cancel()
	sink, err := s.d.acquireSink(s.t)
	if err != nil {
		s.d.log.Error("cannot create sink", "sink", s.t.Name, "container_id", s.id, "error", err)
		s.d.retire(s)
		return
	}
	s.sink = sink
	defer s.d.releaseSink(s.t)

	cursor := s.loadCursor()
	for {
		_, err := s.d.cfg.Spool.Wait(ctx, s.id, cursor)
		switch {
		case errors.Is(err, pipeline.ErrIdle):
			if s.d.retire(s) {
				return
			}
			continue
		case ctx.Err() != nil:
			s.d.retire(s)
			return
		case err != nil:
			s.d.log.Warn("waiting for records", "sink", s.t.Name, "container_id", s.id, "error", err)
			if !sleep(ctx, s.t.Delivery.InitialBackoff) {
				s.d.retire(s)
				return
			}
			continue
		}
		next, ok := s.fill(ctx, cursor)
		if !ok {
			s.d.retire(s)
			return
		}
		if s.batch.len() > 0 {
			if !s.deliver(ctx, s.batch.build(s.meta, s.parser)) {
				s.d.retire(s)
				return // shutting down: the batch is sent again after restart
			}
		}
		if !s.pending(ctx, next) {
			s.oldest.Store(0) // caught up: no lag
		}
		if next != cursor {
			cursor = next
			if err := s.saveCursor(cursor); err != nil {
				s.d.log.Error("cannot save sink cursor", "sink", s.t.Name, "container_id", s.id, "error", err)
			}
		}
	}
}

var errBatchFull = errors.New("batch full")

// pending reports, without waiting, whether records at or after seq are
// readable. While they are, the lag gauge keeps the age of the batch just
// sent until the next one replaces it, instead of dipping to 0 between
// batches of a backlog.
func (s *shipper) pending(ctx context.Context, seq uint64) bool {
	nctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.d.cfg.Spool.Wait(nctx, s.id, seq)
	return err == nil
}

// fill reads records from cursor into the batch until it is full, or
// until its first record has waited MaxAge and nothing more came. It
// returns the cursor after the batch.
func (s *shipper) fill(ctx context.Context, cursor uint64) (uint64, bool) {
	dc := s.t.Delivery
	s.batch.reset()
	add := func(r *pipeline.Record) error {
		if s.batch.len() > 0 && (s.batch.len() >= dc.MaxRecords || s.batch.bytes+len(r.Line) > dc.MaxBytes) {
			return errBatchFull
		}
		s.batch.add(r)
		if s.batch.len() == 1 {
			s.oldest.Store(r.Time)
		}
		return nil
	}
	deadline := time.Now().Add(dc.MaxAge)
	for {
		next, skipped, err := s.d.cfg.Spool.ReadFrom(ctx, s.id, cursor, add)
		if skipped > 0 {
			s.m.dropEvicted.Add(skipped)
			s.d.log.Warn("records evicted from the ring before delivery", "sink", s.t.Name,
				"container_id", s.id, "count", skipped)
		}
		cursor = next
		switch {
		case errors.Is(err, errBatchFull):
			return cursor, true
		case ctx.Err() != nil:
			return cursor, false
		case err != nil:
			s.d.log.Warn("reading ring", "sink", s.t.Name, "container_id", s.id, "error", err)
			return cursor, true
		}
		wait := time.Until(deadline)
		if s.batch.len() == 0 || wait <= 0 {
			return cursor, true
		}
		// Give the batch until MaxAge to fill: a container writing line by
		// line should not cost one request per line.
		wctx, cancel := context.WithTimeout(ctx, wait)
		_, err = s.d.cfg.Spool.Wait(wctx, s.id, cursor)
		cancel()
		if err != nil {
			return cursor, ctx.Err() == nil
		}
	}
}

// deliver sends b until it is resolved: acknowledged, or dropped for a
// counted reason. It returns false only when ctx ends first.
func (s *shipper) deliver(ctx context.Context, b *Batch) bool {
	dc := s.t.Delivery
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, dc.AttemptTimeout)
		err := s.sink.Send(actx, b)
		cancel()
		n := uint64(len(b.Events))
		if err == nil {
			s.m.delivered.Add(n)
			s.fails = 0
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.m.attemptsFailed.Inc()
		var pe *PartialError
		var ra *RetryAfterError
		wait := backoff(dc, attempt)
		switch {
		case IsPermanent(err):
			s.m.dropPermanent.Add(n)
			s.logFailure("receiver refused records; dropped", err, n)
			return true
		case errors.Is(err, ErrTooLarge):
			if n == 1 {
				s.m.dropTooLarge.Inc()
				s.logFailure("record too large for the receiver; dropped", err, 1)
				return true
			}
			h := len(b.Events) / 2
			return s.deliver(ctx, &Batch{Meta: b.Meta, Events: b.Events[:h]}) &&
				s.deliver(ctx, &Batch{Meta: b.Meta, Events: b.Events[h:]})
		case errors.As(err, &pe):
			taken := n - uint64(len(pe.Failed)) - uint64(len(pe.Permanent))
			s.m.delivered.Add(taken)
			s.m.dropPermanent.Add(uint64(len(pe.Permanent)))
			if len(pe.Failed) == 0 {
				return true
			}
			retry := make([]pipeline.Event, 0, len(pe.Failed))
			for _, i := range pe.Failed {
				if i >= 0 && i < len(b.Events) {
					retry = append(retry, b.Events[i])
				}
			}
			b = &Batch{Meta: b.Meta, Events: retry}
		case errors.As(err, &ra):
			wait = min(ra.After, dc.MaxRetryAfter)
		}
		if dc.MaxRetries >= 0 && attempt >= dc.MaxRetries {
			s.m.dropExhausted.Add(uint64(len(b.Events)))
			s.logFailure("retries exhausted; records dropped", err, uint64(len(b.Events)))
			return true
		}
		s.m.retried.Add(uint64(len(b.Events)))
		s.logFailure("delivery failed; will retry", err, uint64(len(b.Events)))
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// logFailure logs the first failure of a run and then every 100th, so an
// outage of hours does not flood dockerd's log.
func (s *shipper) logFailure(msg string, err error, n uint64) {
	s.fails++
	if s.fails == 1 || s.fails%100 == 0 {
		s.d.log.Warn(msg, "sink", s.t.Name, "container_id", s.id, "records", n,
			"failures", s.fails, "error", err)
	}
}

// backoff is InitialBackoff·2^attempt capped at MaxBackoff, with ±20%
// jitter so that many shippers do not retry in step.
func backoff(dc DeliveryConfig, attempt int) time.Duration {
	d := dc.InitialBackoff
	for i := 0; i < attempt && d < dc.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, dc.MaxBackoff)
	j := time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	return d + j
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
