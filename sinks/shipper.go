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
	// attempt counts the failed attempts of the batch at the cursor, kept
	// across the re-reads of a batch that waits for the receiver without
	// being held in memory (see run).
	attempt int
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
	// backlog: the last batch was cut at its size limit, so the ring holds
	// more records right now. Then neither the wait for records nor the
	// check for more (pending) is asked of the ring: each of those takes a
	// reference on the container's ring, and once its writer has closed
	// (a container that stopped while delivery lags) every reference
	// re-opens the ring's files, three times per batch of a backlog.
	backlog := false
	for {
		var err error
		if !backlog {
			_, err = s.d.cfg.Spool.Wait(ctx, s.id, cursor)
		}
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
		next, full, ok := s.fill(ctx, cursor)
		if !ok {
			s.d.retire(s)
			return
		}
		if s.batch.len() > 0 {
			ok, again := s.deliver(ctx, s.batch.build(s.meta, s.parser), true)
			if !ok {
				s.d.retire(s)
				return // shutting down: the batch is sent again after restart
			}
			if again > 0 {
				// The receiver failed and the whole batch is to be sent again
				// after a backoff of up to MaxBackoff. The ring holds it, so
				// it is not kept in memory meanwhile (lines, parsed events:
				// about 1 MB for a full batch of 300-byte JSON lines, per
				// container, for as long as the receiver is down); it is read
				// again from the same cursor when the wait is over.
				s.batch.release()
				if !sleep(ctx, again) {
					s.d.retire(s)
					return
				}
				backlog = true
				continue
			}
		}
		s.attempt = 0
		backlog = full
		if !full && !s.pending(ctx, next) {
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
// returns the cursor after the batch, and whether the batch was cut at its
// size limit with the next record already read (so more are waiting).
func (s *shipper) fill(ctx context.Context, cursor uint64) (after uint64, full, ok bool) {
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
			return cursor, true, true
		case ctx.Err() != nil:
			return cursor, false, false
		case err != nil:
			s.d.log.Warn("reading ring", "sink", s.t.Name, "container_id", s.id, "error", err)
			return cursor, false, true
		}
		wait := time.Until(deadline)
		if s.batch.len() == 0 || wait <= 0 {
			return cursor, false, true
		}
		// Give the batch until MaxAge to fill: a container writing line by
		// line should not cost one request per line.
		wctx, cancel := context.WithTimeout(ctx, wait)
		_, err = s.d.cfg.Spool.Wait(wctx, s.id, cursor)
		cancel()
		if err != nil {
			return cursor, false, ctx.Err() == nil
		}
	}
}

// deliver sends b until it is resolved: acknowledged, or dropped for a
// counted reason. It returns ok false only when ctx ends first. With whole
// (b is the batch just read, nothing of it sent yet), a failure that calls
// for another attempt of the whole batch is not waited out here: deliver
// returns the backoff as again, and the caller reads the batch anew after
// it (s.attempt carries the count). Once part of a batch has been taken
// (a split, a partial failure) the rest is kept and retried here.
func (s *shipper) deliver(ctx context.Context, b *Batch, whole bool) (ok bool, again time.Duration) {
	dc := s.t.Delivery
	attempt := 0
	if whole {
		attempt = s.attempt
	}
	for ; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, dc.AttemptTimeout)
		err := s.sink.Send(actx, b)
		cancel()
		n := uint64(len(b.Events))
		if err == nil {
			s.m.delivered.Add(n)
			s.fails = 0
			return true, 0
		}
		if ctx.Err() != nil {
			return false, 0
		}
		s.m.attemptsFailed.Inc()
		var pe *PartialError
		var ra *RetryAfterError
		wait := backoff(dc, attempt)
		switch {
		case IsPermanent(err):
			s.m.dropPermanent.Add(n)
			s.logFailure("receiver refused records; dropped", err, n)
			return true, 0
		case errors.Is(err, ErrTooLarge):
			if n == 1 {
				s.m.dropTooLarge.Inc()
				s.logFailure("record too large for the receiver; dropped", err, 1)
				return true, 0
			}
			h := len(b.Events) / 2
			if ok, _ := s.deliver(ctx, &Batch{Meta: b.Meta, Events: b.Events[:h]}, false); !ok {
				return false, 0
			}
			ok, _ := s.deliver(ctx, &Batch{Meta: b.Meta, Events: b.Events[h:]}, false)
			return ok, 0
		case errors.As(err, &pe):
			taken := n - uint64(len(pe.Failed)) - uint64(len(pe.Permanent))
			s.m.delivered.Add(taken)
			s.m.dropPermanent.Add(uint64(len(pe.Permanent)))
			if len(pe.Failed) == 0 {
				return true, 0
			}
			retry := make([]pipeline.Event, 0, len(pe.Failed))
			for _, i := range pe.Failed {
				if i >= 0 && i < len(b.Events) {
					retry = append(retry, b.Events[i])
				}
			}
			b = &Batch{Meta: b.Meta, Events: retry}
			whole = false // re-reading would send the taken ones again
		case errors.As(err, &ra):
			wait = min(ra.After, dc.MaxRetryAfter)
		}
		if dc.MaxRetries >= 0 && attempt >= dc.MaxRetries {
			s.m.dropExhausted.Add(uint64(len(b.Events)))
			s.logFailure("retries exhausted; records dropped", err, uint64(len(b.Events)))
			return true, 0
		}
		s.m.retried.Add(uint64(len(b.Events)))
		s.logFailure("delivery failed; will retry", err, uint64(len(b.Events)))
		if whole {
			s.attempt = attempt + 1
			return true, max(wait, 1) // > 0 means "again"
		}
		if !sleep(ctx, wait) {
			return false, 0
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
