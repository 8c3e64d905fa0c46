package fluentd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// Errors a Send may wrap. Test them with errors.Is; whether a failure is
// retried is decided by sinks.IsPermanent alone (doc.go lists the classes).
var (
	// ErrNoAck: no ack came for a chunk before fluentd-read-timeout, the
	// context's end, or the connection's close. Retryable.
	ErrNoAck = errors.New("fluentd: no ack for the chunk")
	// ErrAckMismatch: the server acked a different chunk. Retryable; the
	// connection is closed, since acks and chunks no longer pair up.
	ErrAckMismatch = errors.New("fluentd: ack does not match the chunk")
	// ErrProtocol: the server sent something the protocol does not allow
	// at that point (a malformed HELO/PONG/ack, or a message nobody asked
	// for). Retryable, on a new connection.
	ErrProtocol = errors.New("fluentd: unexpected message from the server")
	// ErrAuthRejected: the server answered PONG with auth_result false
	// (wrong shared key, user or password). Permanent.
	ErrAuthRejected = errors.New("fluentd: the server rejected our credentials")
	// ErrServerAuth: the PONG's digest does not prove that the server holds
	// the shared key. Retryable: the records stay in the ring until a
	// server that can prove it answers.
	ErrServerAuth = errors.New("fluentd: the server did not prove the shared key")
	// ErrHandshakeRequired: the server sent HELO but no shared key is
	// configured. Permanent (a configuration mismatch).
	ErrHandshakeRequired = errors.New("fluentd: the server requires the secured-forward handshake; set " + OptSharedKeyFile)
)

// Sink sends batches to one forward server over one shared connection.
// Sends are serialised on the connection, so that each ack is read by the
// Send that wrote its chunk and frames never interleave; encoding, the
// expensive part, runs before that, concurrently.
type Sink struct {
	cfg       Config
	tls       *tls.Config
	hostname  string
	opt       encodeOptions
	ids       chunkIDs
	bytesSent *pipeline.Counter
	// maxRequest caps the entry bytes of one request (maxRequestBytes;
	// tests lower it).
	maxRequest int

	// sem is the right to use the connection; a channel rather than a
	// mutex so that a Send waiting for it honours its context.
	sem chan struct{}
	// encoding bounds the Sends that hold an encoded batch: one on the
	// connection and one being encoded for it. Requests go out one at a
	// time anyway, and every encoder in hand is about twice its batch's
	// line bytes: with 20 containers sending at once (the receiver down,
	// say), 20 encoders were a third of the plugin's peak heap.
	encoding chan struct{}

	mu     sync.Mutex // guards closed and conn
	closed bool
	conn   *conn
}

var _ sinks.Sink = (*Sink)(nil)

// New returns a Sink for cfg. It does not touch the network: the
// connection is made by the first Send, with its context.
func New(cfg Config, m *pipeline.Metrics) (sinks.Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:        cfg,
		hostname:   cfg.Hostname,
		opt:        encodeOptions{subSecond: cfg.SubSecondPrecision},
		maxRequest: maxRequestBytes,
		sem:        make(chan struct{}, 1),
		encoding:   make(chan struct{}, 2),
	}
	if cfg.TLS {
		tc, err := cfg.tlsConfig()
		if err != nil {
			return nil, err
		}
		s.tls = tc
	}
	if s.hostname == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			s.hostname = h
		} else {
			s.hostname = "localhost"
		}
	}
	_, _ = rand.Read(s.ids.prefix[:]) // never fails (crypto/rand)
	const name = "logship_sink_bytes_sent_total"
	m.Help(name, "Bytes written to the network by a sink.")
	s.bytesSent = m.Counter(name + `{sink="fluentd"}`)
	return s, nil
}

// Send encodes b as PackedForward requests and writes them on the shared
// connection, dialling it first if needed. With fluentd-request-ack it
// returns nil only once every request is acknowledged; without, once every
// byte is written (the protocol can tell no more). See doc.go for the
// classification of errors.
func (s *Sink) Send(ctx context.Context, b *sinks.Batch) error {
	if s.isClosed() {
		return sinks.Permanent(sinks.ErrClosed)
	}
	if b == nil || len(b.Events) == 0 {
		return nil
	}
	select {
	case s.encoding <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("fluentd: waiting to encode: %w", ctx.Err())
	}
	defer func() { <-s.encoding }()
	e := getEncoder()
	defer putEncoder(e)
	e.encodeBatch(b, s.opt)
	e.spans = e.split(s.maxRequest, e.spans)
	spans := e.spans
	tag := tagOf(b.Meta)

	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("fluentd: waiting for the connection: %w", ctx.Err())
	}
	defer func() { <-s.sem }()

	c, err := s.connection(ctx)
	if err != nil {
		return s.classify(ctx, err)
	}
	// Cancelling ctx aborts a write in progress; reads are waited for
	// with select. Once this has fired the connection's write deadline is
	// in the past, so the connection is discarded.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetWriteDeadline(aLongTimeAgo) })
	for i, sp := range spans {
		if err := s.sendSpan(ctx, c, e, sp, tag); err != nil {
			stop()
			s.discard(c)
			err = s.classify(ctx, err)
			if i == 0 || sinks.IsPermanent(err) {
				return err
			}
			failed := make([]int, 0, len(b.Events)-sp.from)
			for j := sp.from; j < len(b.Events); j++ {
				failed = append(failed, j)
			}
			return &sinks.PartialError{Err: err, Failed: failed}
		}
	}
	if !stop() || !c.keepalive {
		s.discard(c)
	}
	return nil
}

var aLongTimeAgo = time.Unix(1, 0)

// sendSpan writes one request and, with acks on, waits for its ack.
func (s *Sink) sendSpan(ctx context.Context, c *conn, e *encoder, sp span, tag string) error {
	chunk := ""
	if s.cfg.RequestAck {
		chunk = s.ids.next()
	}
	parts, err := e.frame(sp, tag, chunk, s.cfg.Compress == "gzip")
	if err != nil {
		return fmt.Errorf("fluentd: compress: %w", err)
	}
	var deadline time.Time
	if s.cfg.WriteTimeout > 0 {
		deadline = time.Now().Add(s.cfg.WriteTimeout)
	}
	if err := c.nc.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("fluentd: %w", err)
	}
	// Checked after setting the deadline: a cancel from here on moves it
	// into the past (AfterFunc in Send); one before is seen here.
	if err := ctx.Err(); err != nil {
		return err
	}
	bufs := net.Buffers{parts[0], parts[1], parts[2]}
	n, err := bufs.WriteTo(c.nc) // writev on TCP and unix sockets
	s.bytesSent.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("fluentd: write to %s: %w", s.cfg.Address, err)
	}
	if chunk == "" {
		return nil
	}
	v, err := c.await(ctx, s.cfg.ReadTimeout)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoAck, err)
	}
	if isHELO(&v) {
		return sinks.Permanent(ErrHandshakeRequired)
	}
	ack, ok := v.get("ack")
	if !ok {
		return fmt.Errorf("%w: expected an ack", ErrProtocol)
	}
	if got, ok := ack.bytes(); !ok || string(got) != chunk {
		return ErrAckMismatch
	}
	return nil
}

// classify adds what the Sink knows to an error from the connection: a
// closed Sink makes it Permanent(ErrClosed), an ended context is wrapped
// in. Errors already marked Permanent at their source stay so.
func (s *Sink) classify(ctx context.Context, err error) error {
	if s.isClosed() && !errors.Is(err, sinks.ErrClosed) {
		return sinks.Permanent(fmt.Errorf("%w: %w", sinks.ErrClosed, err))
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}

func tagOf(m *pipeline.Meta) string {
	if m == nil {
		return "docker"
	}
	if m.Tag != "" {
		return m.Tag
	}
	// What the default tag template, {{.ID}}, renders.
	if len(m.ContainerID) >= 12 {
		return m.ContainerID[:12]
	}
	if m.ContainerID != "" {
		return m.ContainerID
	}
	return "docker"
}

func (s *Sink) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// connection returns the live connection, or dials a new one. A server
// message waiting on an idle connection means it is broken (or, for HELO,
// that the server wants a handshake we are not configured for).
func (s *Sink) connection(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		// msgs first: a reader that stopped may have queued a message.
		select {
		case v := <-c.msgs:
			s.discard(c)
			if isHELO(&v) && s.cfg.SharedKey.empty() {
				return nil, sinks.Permanent(ErrHandshakeRequired)
			}
			c = nil
		default:
			select {
			case <-c.dead:
				s.discard(c)
				c = nil
			default:
				return c, nil
			}
		}
	}
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.close()
		return nil, sinks.Permanent(sinks.ErrClosed)
	}
	s.conn = c
	s.mu.Unlock()
	return c, nil
}

// discard forgets c if it is the current connection, and closes it.
func (s *Sink) discard(c *conn) {
	s.mu.Lock()
	if s.conn == c {
		s.conn = nil
	}
	s.mu.Unlock()
	c.close()
}

func (s *Sink) dial(ctx context.Context) (*conn, error) {
	d := &net.Dialer{Timeout: dialTimeout}
	var nc net.Conn
	var err error
	if s.tls != nil {
		td := &tls.Dialer{NetDialer: d, Config: s.tls}
		nc, err = td.DialContext(ctx, "tcp", s.cfg.Address)
	} else {
		nc, err = d.DialContext(ctx, s.cfg.Network, s.cfg.Address)
	}
	if err != nil {
		return nil, fmt.Errorf("fluentd: connect: %w", err)
	}
	c := newConn(nc)
	if !s.cfg.SharedKey.empty() {
		if err := s.handshake(ctx, c); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// Close closes the connection, interrupting a Send in progress (which then
// returns Permanent(ErrClosed)), and waits for its reader to stop or ctx to
// end. It is idempotent.
func (s *Sink) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	c.close()
	select {
	case <-c.dead:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// conn is one connection to the server with its reader goroutine. The
// reader decodes each server message (capped, decode.go) and hands it over
// on msgs; it stops at the first error, an unsolicited message beyond the
// one msgs buffers, or the connection's close, and then closes dead. So a
// server that hangs up is noticed before the next write, not after it.
type conn struct {
	nc        net.Conn
	msgs      chan value
	dead      chan struct{}
	err       error // why the reader stopped; read only after dead is closed
	keepalive bool
}

func newConn(nc net.Conn) *conn {
	c := &conn{nc: nc, msgs: make(chan value, 1), dead: make(chan struct{}), keepalive: true}
	go c.readLoop()
	return c
}

func (c *conn) readLoop() {
	defer close(c.dead)
	r := newReader(c.nc)
	for {
		v, err := r.next()
		if err != nil {
			c.err = err
			_ = c.nc.Close()
			return
		}
		select {
		case c.msgs <- v:
		default:
			c.err = fmt.Errorf("%w: a message nobody asked for", ErrProtocol)
			_ = c.nc.Close()
			return
		}
	}
}

func (c *conn) close() { _ = c.nc.Close() }

// await waits for the next server message, up to timeout (0: no limit but
// ctx).
func (c *conn) await(ctx context.Context, timeout time.Duration) (value, error) {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case v := <-c.msgs:
		return v, nil
	case <-c.dead:
		// The reader may have queued a message before it stopped.
		select {
		case v := <-c.msgs:
			return v, nil
		default:
		}
		if c.err != nil {
			return value{}, fmt.Errorf("connection closed: %w", c.err)
		}
		return value{}, net.ErrClosed
	case <-expired:
		return value{}, fmt.Errorf("no answer within %v (%w)", timeout, os.ErrDeadlineExceeded)
	case <-ctx.Done():
		return value{}, ctx.Err()
	}
}

func isHELO(v *value) bool {
	if v.kind != kindArray || len(v.items) == 0 {
		return false
	}
	b, ok := v.items[0].bytes()
	return ok && string(b) == "HELO"
}

// quoteReason renders a server-provided reason for an error message:
// quoted and cut, since it is untrusted text.
func quoteReason(b []byte) string {
	const max = 200
	if len(b) > max {
		b = b[:max]
	}
	return strconv.QuoteToASCII(string(b))
}
