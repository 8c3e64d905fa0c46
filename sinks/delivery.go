package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/logship/logship/pipeline"
)

// Spool is the ring as delivery sees it (implemented by *ring.Store).
type Spool interface {
	// ReadFrom calls fn with every stored record whose Seq is at least seq,
	// in order, and returns the Seq to ask for next and how many Seqs in
	// between were no longer stored (evicted before delivery).
	ReadFrom(ctx context.Context, containerID string, seq uint64, fn func(*pipeline.Record) error) (next, skipped uint64, err error)
	// Wait blocks until a record with Seq >= seq is readable; it returns
	// pipeline.ErrIdle when the container has no open stream and nothing
	// at or after seq.
	Wait(ctx context.Context, containerID string, seq uint64) (end uint64, err error)
}

// Target is one receiver a container ships to.
type Target struct {
	// Name is the protocol ("fluentd", "syslog", "http"): the metrics label.
	Name string
	// Key identifies the receiver and its options (the protocol's
	// Config.Key()). Containers with equal Keys share one Sink, and the
	// cursor file is named by a hash of Name and Key.
	Key      string
	Delivery DeliveryConfig
	// New builds the Sink the first time the Key is used.
	New func() (Sink, error)
}

// Config configures Delivery.
type Config struct {
	Spool Spool
	// Dir holds, per container, the sinks' cursors and the delivery plan.
	Dir string
	// Names are the protocols whose metrics are created at start, so that
	// every counter reads 0 before the first record.
	Names   []string
	Metrics *pipeline.Metrics
	Logger  *slog.Logger
	// SinkLinger keeps a sink (and its connection) open this long after
	// its last shipper retired, so short-lived containers do not reconnect
	// for every run (default 1m).
	SinkLinger time.Duration
}

// Delivery runs one shipper per (container, target): a goroutine that waits
// for new records in the ring, batches them, sends them with retries, and
// advances a persisted cursor after each acknowledged batch. Shippers never
// touch the FIFO path: a receiver that is down costs only lag, and what the
// ring still holds is delivered when it comes back, also after a crash.
type Delivery struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	shippers map[string]*shipper // by container id + "\x00" + target key
	shared   map[string]*sharedSink
	metrics  map[string]*sinkMetrics
	closed   bool
}

type sharedSink struct {
	sink  Sink
	refs  int
	timer *time.Timer // closes the sink after SinkLinger without users
}

// NewDelivery returns a Delivery; shippers start with Ship.
func NewDelivery(cfg Config) (*Delivery, error) {
	if cfg.Spool == nil {
		return nil, errors.New("sinks: nil Spool")
	}
	if cfg.Dir == "" || !filepath.IsAbs(cfg.Dir) {
		return nil, errors.New("sinks: Dir must be an absolute path")
	}
	if cfg.SinkLinger <= 0 {
		cfg.SinkLinger = time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Delivery{
		cfg: cfg, log: log, ctx: ctx, cancel: cancel,
		shippers: map[string]*shipper{},
		shared:   map[string]*sharedSink{},
		metrics:  map[string]*sinkMetrics{},
	}
	for _, n := range cfg.Names {
		d.metricsFor(n)
	}
	return d, nil
}

// Ship makes sure the container's records are being delivered to each
// target. It is cheap and idempotent: dockerd opens streams often, and a
// shipper that is already running only needs to know there may be more.
// plan is an opaque description of the targets (the container's
// log-opts), stored so that delivery of a stopped container's backlog can
// resume after a restart (see Plans).
func (d *Delivery) Ship(containerID string, meta *pipeline.Meta, parser *pipeline.Parser, plan []byte, targets []Target) error {
	if len(targets) == 0 {
		return nil
	}
	if containerID == "" || filepath.Base(containerID) != containerID || containerID[0] == '.' {
		return fmt.Errorf("sinks: invalid container id %q", containerID)
	}
	for _, t := range targets {
		if err := t.Delivery.Validate(); err != nil {
			return fmt.Errorf("sink %s: %w", t.Name, err)
		}
	}
	if err := d.savePlan(containerID, plan); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("sinks: delivery closed")
	}
	for _, t := range targets {
		k := containerID + "\x00" + t.Key
		if s := d.shippers[k]; s != nil {
			s.kicked = true
			continue
		}
		s := &shipper{
			d: d, id: containerID, t: t, meta: meta, parser: parser,
			m: d.metricsFor(t.Name), cursorPath: d.cursorPath(containerID, t),
		}
		s.ctx, s.cancel = context.WithCancel(d.ctx)
		d.shippers[k] = s
		d.wg.Add(1)
		go s.run()
	}
	return nil
}

// retire removes s unless Ship was called for it since it last looked:
// then a new stream may be writing and s must keep going.
func (d *Delivery) retire(s *shipper) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.kicked && !d.closed {
		s.kicked = false
		return false
	}
	delete(d.shippers, s.id+"\x00"+s.t.Key)
	return true
}

func (d *Delivery) acquireSink(t Target) (Sink, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sh := d.shared[t.Key]; sh != nil {
		sh.refs++
		if sh.timer != nil {
			sh.timer.Stop()
			sh.timer = nil
		}
		return sh.sink, nil
	}
	s, err := t.New()
	if err != nil {
		return nil, err
	}
	d.shared[t.Key] = &sharedSink{sink: s, refs: 1}
	return s, nil
}

func (d *Delivery) releaseSink(t Target) {
	d.mu.Lock()
	defer d.mu.Unlock()
	sh := d.shared[t.Key]
	if sh == nil {
		return
	}
	sh.refs--
	if sh.refs > 0 || d.closed {
		return
	}
	sh.timer = time.AfterFunc(d.cfg.SinkLinger, func() {
		d.mu.Lock()
		if sh.refs > 0 || d.shared[t.Key] != sh {
			d.mu.Unlock()
			return
		}
		delete(d.shared, t.Key)
		d.mu.Unlock()
		closeSink(sh.sink)
	})
}

func closeSink(s Sink) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

// Close stops every shipper (a batch in flight is abandoned; its records
// stay in the ring behind the cursor and are sent again by the next
// process) and closes the sinks. It is idempotent.
func (d *Delivery) Close(ctx context.Context) error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("sinks: close: %w", ctx.Err())
	}
	d.mu.Lock()
	all := d.shared
	d.shared = map[string]*sharedSink{}
	d.mu.Unlock()
	for _, sh := range all {
		if sh.timer != nil {
			sh.timer.Stop()
		}
		closeSink(sh.sink)
	}
	return nil
}

// Active returns the number of running shippers.
func (d *Delivery) Active() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.shippers)
}
