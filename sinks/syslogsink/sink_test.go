package syslogsink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

func listenTCP(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustParse(t testing.TB, raw string) *msg5424 {
	t.Helper()
	m, err := parse5424(raw)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return m
}

func TestTCPOctetCounted(t *testing.T) {
	srv := newStreamServer(t, listenTCP(t), FramingOctetCounted)
	cfg := cfgFor(NetworkTCP, srv.ln.Addr().String())
	cfg.Facility = 23
	s, m := newTestSink(t, cfg)
	if srv.accepted() != 0 {
		t.Fatal("New connected")
	}
	b := batchOf(testMeta, "first", "multi\nline\nmessage", "", "last")
	b.Events[1].Source = pipeline.SourceStderr
	if err := s.Send(ctxTimeout(t, 5*time.Second), b); err != nil {
		t.Fatal(err)
	}
	got := expect(t, srv.msgs, srv.errs, 4)
	wantMsg := []string{"first", "multi\nline\nmessage", "", "last"}
	wantPRI := []int{23*8 + 6, 23*8 + 3, 23*8 + 6, 23*8 + 6}
	total := 0
	for i, raw := range got {
		msg := mustParse(t, raw)
		if msg.Msg != wantMsg[i] || msg.PRI != wantPRI[i] {
			t.Errorf("message %d: PRI %d MSG %q, want %d %q", i, msg.PRI, msg.Msg, wantPRI[i], wantMsg[i])
		}
		if want := fmt.Sprintf("2026-11-27T05:41:00.%06dZ", 123456+1000*i); msg.Timestamp != want {
			t.Errorf("message %d timestamp %s, want %s", i, msg.Timestamp, want)
		}
		total += len(fmt.Sprint(len(raw))) + 1 + len(raw)
	}
	if v, _ := m.Value(metricBytesSent); int(v) != total {
		t.Errorf("bytes sent metric %v, want %d", v, total)
	}
	if n := srv.accepted(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestTCPNewline(t *testing.T) {
	srv := newStreamServer(t, listenTCP(t), FramingNewline)
	cfg := cfgFor(NetworkTCP, srv.ln.Addr().String())
	cfg.Framing = FramingNewline
	cfg.Format = FormatRFC5424
	s, _ := newTestSink(t, cfg)
	if err := s.Send(ctxTimeout(t, 5*time.Second), batchOf(testMeta, "a", "b\nc", "d")); err != nil {
		t.Fatal(err)
	}
	got := expect(t, srv.msgs, srv.errs, 3)
	for i, want := range []string{"a", "b c", "d"} {
		m := mustParse(t, got[i])
		if m.Msg != want || m.Timestamp != "2026-11-27T05:41:00Z" {
			t.Errorf("message %d: %q at %s, want %q", i, m.Msg, m.Timestamp, want)
		}
	}
}

func TestPRIOverTCP(t *testing.T) {
	srv := newStreamServer(t, listenTCP(t), FramingOctetCounted)
	for fac := 0; fac <= 23; fac++ {
		cfg := cfgFor(NetworkTCP, srv.ln.Addr().String())
		cfg.Facility = fac
		s, _ := newTestSink(t, cfg)
		b := batchOf(testMeta, "out", "err")
		b.Events[1].Source = pipeline.SourceStderr
		if err := s.Send(ctxTimeout(t, 5*time.Second), b); err != nil {
			t.Fatal(err)
		}
		got := expect(t, srv.msgs, srv.errs, 2)
		if p0, p1 := mustParse(t, got[0]).PRI, mustParse(t, got[1]).PRI; p0 != fac*8+6 || p1 != fac*8+3 {
			t.Errorf("facility %d: PRI %d and %d", fac, p0, p1)
		}
	}
}

func TestRFC3164OverTCP(t *testing.T) {
	srv := newStreamServer(t, listenTCP(t), FramingNewline)
	cfg := cfgFor(NetworkTCP, srv.ln.Addr().String())
	cfg.Format = FormatRFC3164
	cfg.Framing = FramingNewline
	s, _ := newTestSink(t, cfg)
	if err := s.Send(ctxTimeout(t, 5*time.Second), batchOf(testMeta, "hello")); err != nil {
		t.Fatal(err)
	}
	if got := expect(t, srv.msgs, srv.errs, 1)[0]; got != "<30>Nov 27 05:41:00 host1 web[3f2a1b9c8d7e]: hello" {
		t.Errorf("got %q", got)
	}
}

// TestReconnectAfterServerClose: a receiver that closed the connection
// (restart, idle timeout) must not swallow the next batch.
func TestReconnectAfterServerClose(t *testing.T) {
	srv := newStreamServer(t, listenTCP(t), FramingOctetCounted)
	s, _ := newTestSink(t, cfgFor(NetworkTCP, srv.ln.Addr().String()))
	checkReconnect(t, s, srv)
	if n := srv.accepted(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// checkReconnect sends a batch, has the server close the connection, waits
// until the sink noticed, and checks that the next batch arrives.
func checkReconnect(t *testing.T, s *sink, srv *streamServer) {
	t.Helper()
	ctx := ctxTimeout(t, 10*time.Second)
	if err := s.Send(ctx, batchOf(testMeta, "one")); err != nil {
		t.Fatal(err)
	}
	expect(t, srv.msgs, srv.errs, 1)
	old := s.conn
	srv.closeConns()
	// The watcher notices the FIN; wait for that rather than for time.
	select {
	case <-old.dead:
	case <-time.After(waitTimeout):
		t.Fatal("closed connection not noticed")
	}
	if err := s.Send(ctx, batchOf(testMeta, "two")); err != nil {
		t.Fatal(err)
	}
	if m := mustParse(t, expect(t, srv.msgs, srv.errs, 1)[0]); m.Msg != "two" {
		t.Errorf("got %q", m.Msg)
	}
}

// TestPeerClosedPeek checks the synchronous check that covers the moment
// between the peer's FIN and the watcher noticing it. A unix socket pair
// makes the close visible to the other end at once.
func TestPeerClosedPeek(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk(fds[0]), mk(fds[1])
	defer a.Close()
	if peerClosed(a) {
		t.Fatal("open connection reported closed")
	}
	if _, err := b.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if peerClosed(a) {
		t.Fatal("connection with pending data reported closed")
	}
	buf := make([]byte, 1)
	if _, err := a.Read(buf); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if !peerClosed(a) {
		t.Fatal("closed connection reported open")
	}
}

func TestServerDown(t *testing.T) {
	ln := listenTCP(t)
	addr := ln.Addr().String()
	ln.Close()
	s, _ := newTestSink(t, cfgFor(NetworkTCP, addr))
	start := time.Now()
	err := s.Send(ctxTimeout(t, 2*time.Second), batchOf(testMeta, "x"))
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v, want ECONNREFUSED wrapped", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestConnectBoundedByContext: a receiver that never answers the TCP or
// the TLS handshake costs the Send its deadline, not more.
func TestConnectBoundedByContext(t *testing.T) {
	ln, _ := blackhole(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"tls handshake", func() Config {
			c := cfgFor(NetworkTLS, ln.Addr().String())
			c.TLSSkipVerify = true
			return c
		}()},
		{"unroutable", cfgFor(NetworkTCP, "192.0.2.1:514")}, // TEST-NET-1
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestSink(t, tc.cfg)
			start := time.Now()
			err := s.Send(ctxTimeout(t, 300*time.Millisecond), batchOf(testMeta, "x"))
			if err == nil || sinks.IsPermanent(err) {
				t.Fatalf("err = %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// blackhole accepts connections, announces them on accepted, and never
// reads them.
func blackhole(t testing.TB) (ln net.Listener, accepted chan struct{}) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
		})
		return errors.Join(err, serr)
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = make(chan struct{}, 16)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln, accepted
}

// smallSendBuffer caps the sink's socket send buffer (and blackhole the
// peer's receive buffer) so that a few MB are enough to fill them.
func smallSendBuffer(s *sink) {
	s.dialer.Control = func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 64<<10)
		})
		return errors.Join(err, serr)
	}
}

func bigBatch(n, size int) *sinks.Batch {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = strings.Repeat("x", size)
	}
	return batchOf(testMeta, lines...)
}

// TestStuckReceiver: a receiver that stops reading blocks the Send that
// is writing until its deadline, and the Sends waiting for their turn
// until theirs; none of them longer, none reported as delivered.
func TestStuckReceiver(t *testing.T) {
	ln, _ := blackhole(t)
	s, _ := newTestSink(t, cfgFor(NetworkTCP, ln.Addr().String()))
	smallSendBuffer(s)
	big := bigBatch(40, 100_000) // 4 MB: more than both socket buffers
	var wg sync.WaitGroup
	errs := make([]error, 3)
	took := make([]time.Duration, 3)
	for i := range 3 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(300+100*i)*time.Millisecond)
			defer cancel()
			start := time.Now()
			errs[i] = s.Send(ctx, big)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil || sinks.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("send %d: %v, want a retryable deadline error", i, err)
		}
		// Generous: encoding 4 MB on a loaded 2-core machine takes a while.
		if limit := time.Duration(300+100*i)*time.Millisecond + 5*time.Second; took[i] > limit {
			t.Errorf("send %d took %v", i, took[i])
		}
	}
}

func TestCloseBreaksSend(t *testing.T) {
	ln, accepted := blackhole(t)
	s, _ := newTestSink(t, cfgFor(NetworkTCP, ln.Addr().String()))
	smallSendBuffer(s)
	done := make(chan error, 1)
	go func() { done <- s.Send(context.Background(), bigBatch(40, 100_000)) }()
	// Close once the Send has connected: whether it is writing already or
	// about to, it must fail.
	select {
	case <-accepted:
	case err := <-done:
		t.Fatalf("Send returned %v before Close", err)
	case <-time.After(waitTimeout):
		t.Fatal("no connection")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || sinks.IsPermanent(err) || !errors.Is(err, sinks.ErrClosed) {
			t.Errorf("interrupted Send: %v, want retryable wrapping ErrClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Close did not interrupt Send")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err := s.Send(context.Background(), batchOf(testMeta, "x"))
	if !sinks.IsPermanent(err) || !errors.Is(err, sinks.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	srv := newStreamServer(t, listenTCP(t), FramingOctetCounted)
	s, _ := newTestSink(t, cfgFor(NetworkTCP, srv.ln.Addr().String()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Send(ctx, batchOf(testMeta, "x")); !errors.Is(err, context.Canceled) || sinks.IsPermanent(err) {
		t.Errorf("err = %v", err)
	}
	if err := s.Send(ctx, &sinks.Batch{Meta: testMeta}); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	if srv.accepted() != 0 {
		t.Error("connected for nothing")
	}
}

// TestConcurrentSends: many Sends share one connection and their frames
// never interleave.
func TestConcurrentSends(t *testing.T) {
	srv := newStreamServer(t, listenTCP(t), FramingOctetCounted)
	s, _ := newTestSink(t, cfgFor(NetworkTCP, srv.ln.Addr().String()))
	const senders, batches, per = 8, 20, 50
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for b := range batches {
				lines := make([]string, per)
				for i := range lines {
					lines[i] = fmt.Sprintf("g%d-b%d-i%d %s", g, b, i, strings.Repeat("y", i*37))
				}
				if err := s.Send(ctxTimeout(t, 10*time.Second), batchOf(testMeta, lines...)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := expect(t, srv.msgs, srv.errs, senders*batches*per)
	seen := map[string]bool{}
	next := map[string]int{}
	for _, raw := range got {
		m := mustParse(t, raw)
		key, _, _ := strings.Cut(m.Msg, " ")
		if seen[key] {
			t.Fatalf("duplicate %s", key)
		}
		seen[key] = true
		var g, b, i int
		fmt.Sscanf(key, "g%d-b%d-i%d", &g, &b, &i)
		// Within a batch, records keep their order.
		id := fmt.Sprintf("%d-%d", g, b)
		if next[id] != i {
			t.Fatalf("batch %s: record %d after %d", id, i, next[id]-1)
		}
		next[id]++
	}
	if n := srv.accepted(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestUnixStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "syslog.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := newStreamServer(t, ln, FramingNewline) // unix defaults to newline
	cfg, enabled, err := ParseConfig(map[string]string{OptAddress: "unix://" + path}, nil)
	if err != nil || !enabled {
		t.Fatal(err)
	}
	s, _ := newTestSink(t, cfg)
	if err := s.Send(ctxTimeout(t, 5*time.Second), batchOf(testMeta, "via unix", "two")); err != nil {
		t.Fatal(err)
	}
	got := expect(t, srv.msgs, srv.errs, 2)
	if m := mustParse(t, got[0]); m.Msg != "via unix" {
		t.Errorf("got %q", m.Msg)
	}
}

func TestUnixgram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := newDgramServer(t, pc)
	s, _ := newTestSink(t, cfgFor(NetworkUnixgram, path))
	if err := s.Send(ctxTimeout(t, 5*time.Second), batchOf(testMeta, "a", "b\nc", "")); err != nil {
		t.Fatal(err)
	}
	got := expect(t, srv.msgs, nil, 3)
	for i, want := range []string{"a", "b\nc", ""} {
		if m := mustParse(t, got[i]); m.Msg != want {
			t.Errorf("datagram %d: %q, want %q", i, m.Msg, want)
		}
	}
	// Receiver gone: the error is retryable, and no datagram was taken.
	pc.Close()
	os.Remove(path)
	err = s.Send(ctxTimeout(t, 5*time.Second), batchOf(testMeta, "lost?"))
	if err == nil || sinks.IsPermanent(err) {
		t.Errorf("send to a removed socket: %v", err)
	}
}

// TestUnixgramPartial: when the receiver's queue fills in the middle of a
// batch, the datagrams already queued are reported taken and only the
// rest is retried.
func TestUnixgramPartial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", path) // never read
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, _ := newTestSink(t, cfgFor(NetworkUnixgram, path))
	err = s.Send(ctxTimeout(t, 300*time.Millisecond), bigBatch(2000, 100))
	var pe *sinks.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PartialError", err)
	}
	if len(pe.Failed) == 0 || len(pe.Failed) == 2000 || pe.Failed[len(pe.Failed)-1] != 1999 || len(pe.Permanent) != 0 {
		t.Errorf("failed %d records ending with %d", len(pe.Failed), pe.Failed[len(pe.Failed)-1])
	}
	for i := 1; i < len(pe.Failed); i++ {
		if pe.Failed[i] != pe.Failed[i-1]+1 {
			t.Fatal("failed indices not a run")
		}
	}
}

func TestUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newDgramServer(t, pc)
	cfg := cfgFor(NetworkUDP, pc.LocalAddr().String())
	cfg.MaxDatagramSize = 1000
	s, m := newTestSink(t, cfg)
	long := strings.Repeat("z", 5000)
	if err := s.Send(ctxTimeout(t, 5*time.Second), batchOf(testMeta, "short", long, "multi\nline")); err != nil {
		t.Fatal(err)
	}
	got := expect(t, srv.msgs, nil, 3)
	if m := mustParse(t, got[0]); m.Msg != "short" {
		t.Errorf("datagram 0: %q", m.Msg)
	}
	if m := mustParse(t, got[1]); len(got[1]) != 1000 || strings.Trim(m.Msg, "z") != "" {
		t.Errorf("datagram 1: %d bytes: %q", len(got[1]), got[1])
	}
	if m := mustParse(t, got[2]); m.Msg != "multi\nline" {
		t.Errorf("datagram 2: %q", m.Msg)
	}
	if v, _ := m.Value(metricTruncated); v != 1 {
		t.Errorf("truncated metric %v, want 1", v)
	}
	if v, _ := m.Value(metricBytesSent); int(v) != len(got[0])+len(got[1])+len(got[2]) {
		t.Errorf("bytes metric %v", v)
	}
}

// TestUDPReceiverDown: on loopback the port-unreachable reply comes back
// at once, so a batch sent to a dead UDP port fails (retryably) instead
// of vanishing. Over a network it may come later; see doc.go.
func TestUDPReceiverDown(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	s, _ := newTestSink(t, cfgFor(NetworkUDP, addr))
	var errs []error
	for range 3 {
		err := s.Send(ctxTimeout(t, 2*time.Second), batchOf(testMeta, "x", "y"))
		if err != nil {
			if sinks.IsPermanent(err) {
				t.Fatalf("permanent: %v", err)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("err = %v, want ECONNREFUSED", err)
			}
			return
		}
		errs = append(errs, err)
	}
	t.Errorf("3 batches to a closed UDP port all reported delivered")
}

// BenchmarkSendTCP is the whole Send of a 1000-record batch of 300-byte
// JSON lines to a loopback receiver that discards what it reads.
func BenchmarkSendTCP(b *testing.B) {
	ln := listenTCP(b)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	s, _ := newTestSink(b, cfgFor(NetworkTCP, ln.Addr().String()))
	batch, size := benchBatch()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		if err := s.Send(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch.Events)), "ns/event")
}
