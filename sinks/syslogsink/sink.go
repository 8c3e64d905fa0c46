package syslogsink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// Metric names; the sink label is shared with the other protocol packages.
const (
	metricBytesSent = `logship_sink_bytes_sent_total{sink="syslog"}`
	metricTruncated = `logship_sink_truncated_records_total{sink="syslog"}`
)

// sink is the syslog Sink. All Sends share one connection (or one
// connected datagram socket) and take turns on it; encoding happens before
// the turn, so concurrent Sends encode in parallel.
type sink struct {
	cfg     Config
	wire    wire
	tls     *tls.Config      // tcp+tls only
	cert    *tls.Certificate // client certificate, if any
	dialer  net.Dialer
	turn    chan struct{} // a one-slot semaphore: unlike a Mutex it can be awaited with a ctx
	mu      sync.Mutex    // guards conn and the closed transition
	conn    *conn
	closed  atomic.Bool
	sent    *pipeline.Counter
	trunced *pipeline.Counter
}

var _ sinks.Sink = (*sink)(nil)

// New builds a Sink for cfg. It reads the TLS files and the host name but
// does not touch the network: the first Send connects. A problem with cfg
// or with a TLS file is a *pipeline.OptionError naming the option.
func New(cfg Config, m *pipeline.Metrics) (sinks.Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &sink{
		cfg:  cfg,
		turn: make(chan struct{}, 1),
		wire: wire{
			facility: cfg.Facility,
			format:   cfg.format(),
			datagram: !cfg.Network.stream(),
			maxDgram: cfg.MaxDatagramSize,
			hostname: cfg.Hostname,
		},
	}
	if !s.wire.datagram {
		s.wire.framing = cfg.framing()
	}
	if s.wire.hostname == "" {
		// In a managed plugin this is the host's name, copied into the
		// plugin's UTS namespace when it starts.
		h, _ := os.Hostname()
		s.wire.hostname = sanitizeHostname(h)
	}
	if cfg.Network == NetworkTLS {
		var err error
		if s.tls, s.cert, err = loadTLS(cfg); err != nil {
			return nil, err
		}
	}
	m.Help("logship_sink_bytes_sent_total", "Bytes written to receivers' connections, by sink.")
	m.Help("logship_sink_truncated_records_total", "Records cut to the receiver's maximum message size, by sink.")
	s.sent = m.Counter(metricBytesSent)
	s.trunced = m.Counter(metricTruncated)
	return s, nil
}

// Send writes the batch and returns nil once every byte is in the socket:
// syslog has no acknowledgement. See doc.go for what that guarantees.
func (s *sink) Send(ctx context.Context, b *sinks.Batch) error {
	if s.closed.Load() {
		return sinks.Permanent(sinks.ErrClosed)
	}
	if b == nil || len(b.Events) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("syslog: %w", err)
	}
	e := getEncoder()
	defer putEncoder(e)
	e.encode(&s.wire, b)

	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("syslog: waiting for the connection: %w", ctx.Err())
	}
	defer func() { <-s.turn }()
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	if s.wire.datagram {
		return s.writeDatagrams(ctx, c, e)
	}
	stop := armDeadline(ctx, c.w)
	n, err := c.w.Write(e.buf)
	stop()
	s.sent.Add(uint64(n))
	if err != nil {
		// Part of the batch may have reached the receiver: the whole batch
		// is retried, so it may arrive twice, never not at all.
		s.drop(c)
		return s.writeError(ctx, err)
	}
	return nil
}

func (s *sink) writeDatagrams(ctx context.Context, c *conn, e *encoder) error {
	stop := armDeadline(ctx, c.w)
	defer stop()
	start := 0
	for i, d := range e.dgrams {
		n, err := c.w.Write(e.buf[start:d.end])
		s.sent.Add(uint64(n))
		if err != nil {
			s.drop(c)
			err = s.writeError(ctx, err)
			// A unix datagram socket either queued a datagram for the
			// receiver or failed it, so what went before is delivered.
			// UDP knows nothing of the kind: a refusal reports an ICMP
			// error caused by an earlier datagram, which is lost.
			if s.cfg.Network == NetworkUnixgram && i > 0 {
				failed := make([]int, 0, len(e.dgrams)-i)
				for j := i; j < len(e.dgrams); j++ {
					failed = append(failed, j)
				}
				return &sinks.PartialError{Err: err, Failed: failed}
			}
			return err
		}
		if d.truncated {
			s.trunced.Inc()
		}
		start = d.end
	}
	if s.cfg.Network == NetworkUDP {
		// On a connected UDP socket an ICMP port unreachable for one of
		// these datagrams is a pending socket error. On loopback it is
		// there already; elsewhere it may come later and fail the next
		// batch instead. Either way a batch sent to a dead port is retried
		// rather than silently lost, at least some of the time.
		if err := socketError(c.raw); err != nil {
			s.drop(c)
			return fmt.Errorf("syslog: udp receiver refused: %w", err)
		}
	}
	return nil
}

func (s *sink) writeError(ctx context.Context, err error) error {
	if s.closed.Load() {
		// Close broke this write. Not Permanent: the batch is not at
		// fault, and whoever retries it later must not drop it.
		return fmt.Errorf("syslog: %w during send: %w", sinks.ErrClosed, err)
	}
	return fmt.Errorf("syslog: write: %w", withCtxErr(ctx, err))
}

// withCtxErr adds ctx's error to an error that ctx caused. A deadline
// taken from ctx expires on its own timer, a moment before ctx's, so a
// timeout past ctx's deadline counts as ctx's.
func withCtxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w: %w", cerr, err)
}

// armDeadline bounds c's writes by ctx: its deadline, and its cancellation
// through an immediate deadline. The returned stop must be called before
// c is written again.
func armDeadline(ctx context.Context, c net.Conn) (stop func()) {
	d, _ := ctx.Deadline() // zero: no deadline
	c.SetWriteDeadline(d)
	fired := make(chan struct{})
	cancel := context.AfterFunc(ctx, func() {
		c.SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	return func() {
		if !cancel() {
			<-fired // so that it cannot expire the next Send's writes
		}
	}
}

// connect returns the shared connection, replacing it when the peer has
// closed it, or dials. The caller holds the turn.
func (s *sink) connect(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if s.closed.Load() {
		return nil, fmt.Errorf("syslog: %w", sinks.ErrClosed)
	}
	if c != nil {
		if c.usable() {
			return c, nil
		}
		// The receiver closed or reset the connection while it was idle.
		// Writing to it would "succeed" into a dead socket and lose the
		// batch, so reconnect first.
		s.drop(c)
	}
	c, err := s.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("syslog: connect: %w", withCtxErr(ctx, err))
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		c.close()
		return nil, fmt.Errorf("syslog: %w", sinks.ErrClosed)
	}
	s.conn = c
	s.mu.Unlock()
	return c, nil
}

// drop forgets c if it is the shared connection, and closes it.
func (s *sink) drop(c *conn) {
	s.mu.Lock()
	if s.conn == c {
		s.conn = nil
	}
	s.mu.Unlock()
	c.close()
}

func (s *sink) dial(ctx context.Context) (*conn, error) {
	raw, err := s.dialer.DialContext(ctx, s.cfg.Network.dialNetwork(), s.cfg.Address)
	if err != nil {
		return nil, err
	}
	c := &conn{w: raw, raw: raw}
	switch {
	case s.cfg.Network == NetworkTLS:
		if err := s.handshake(ctx, c); err != nil {
			raw.Close()
			return nil, err
		}
	case s.cfg.Network.stream():
		c.watch()
	}
	return c, nil
}

// Close closes the connection; a Send in progress fails (retryably). It is
// idempotent. A TLS connection is closed with close_notify, within ctx.
func (s *sink) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c != nil {
		c.shutdown(ctx)
	}
	return nil
}

// conn is one connection to the receiver.
type conn struct {
	w    net.Conn      // where messages go: the socket, or TLS over it
	raw  net.Conn      // the socket
	dead chan struct{} // streams: closed once the peer closed or failed the connection
	err  error         // why; written before dead is closed
	once sync.Once
}

// watch starts reading the connection. Syslog receivers send nothing, so
// the read only ends when the receiver closes or resets the connection,
// which marks it dead before the next batch is written into it. It also
// lets TLS process post-handshake messages (session tickets, key updates,
// alerts). What is read is discarded through a fixed buffer, so a
// receiver that does send cannot make it hold memory.
func (c *conn) watch() {
	c.dead = make(chan struct{})
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := c.w.Read(buf); err != nil {
				c.err = err
				close(c.dead)
				return
			}
		}
	}()
}

var errPeerClosed = errors.New("connection closed by the receiver")

// usable reports whether the connection may still take a batch. The
// watcher may not have run yet after the peer's FIN arrived, so streams
// also peek at the socket.
func (c *conn) usable() bool {
	if c.dead == nil { // datagrams
		return true
	}
	select {
	case <-c.dead:
		return false
	default:
	}
	return !peerClosed(c.raw)
}

func (c *conn) close() { c.once.Do(func() { c.raw.Close() }) }

// shutdown closes c, with a TLS close_notify if ctx leaves time for it.
func (c *conn) shutdown(ctx context.Context) {
	c.once.Do(func() {
		if c.w == c.raw {
			c.raw.Close()
			return
		}
		stop := context.AfterFunc(ctx, func() { c.raw.Close() })
		c.w.Close() // sends close_notify (bounded by 5 s in crypto/tls), then closes raw
		stop()
	})
}
