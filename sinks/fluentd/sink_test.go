package fluentd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

const testContainerID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func testMeta() *pipeline.Meta {
	return &pipeline.Meta{ContainerID: testContainerID, ContainerName: "web", Tag: "docker.web"}
}

// events parses lines into Events as the delivery wrapper does; the times
// are base + i ms + 123 ns.
func events(lines ...string) []pipeline.Event {
	p := pipeline.NewParser(pipeline.DefaultConfig())
	out := make([]pipeline.Event, len(lines))
	for i, l := range lines {
		rec := pipeline.Record{
			Seq:    uint64(i + 1),
			Time:   baseTime.UnixNano() + int64(i)*int64(time.Millisecond) + 123,
			Source: pipeline.SourceStdout,
			Line:   []byte(l),
		}
		p.Parse(&rec, &out[i])
	}
	return out
}

var baseTime = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func testConfig(network, addr string) Config {
	c := DefaultConfig()
	c.Network, c.Address = network, addr
	c.Hostname = "logship-test"
	return c
}

func newSink(t *testing.T, cfg Config) (*Sink, *pipeline.Metrics) {
	t.Helper()
	m := pipeline.NewMetrics()
	s, err := New(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s.(*Sink), m
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitRequests(t *testing.T, srv *fwdServer, n int) []fwdRequest {
	t.Helper()
	var got []fwdRequest
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case r := <-srv.requestSeen:
			got = append(got, r)
		case <-timeout:
			t.Fatalf("got %d requests, want %d", len(got), n)
		}
	}
	return got
}

func TestRecordContents(t *testing.T) {
	for _, subSecond := range []bool{false, true} {
		t.Run(fmt.Sprintf("subsecond=%t", subSecond), func(t *testing.T) {
			srv := newFwdServer(t, "tcp").start()
			cfg := testConfig("tcp", srv.addr())
			cfg.SubSecondPrecision = subSecond
			cfg.RequestAck = true
			s, m := newSink(t, cfg)

			evs := events(
				`plain text line request_id=r-1`,
				`{"level":"info","msg":"caf\u00e9 \"q\"","n":42,"neg":-7,"f":1.5,"big":18446744073709551615,"huge":1e999,"ok":true,"nil":null,"nested":{"a":[1,"x",{"b":false}],"e":{}},"arr":[],"request_id":"abc","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`,
				`cut line`,
			)
			evs[2].Source = pipeline.SourceStderr
			evs[2].Partial = true
			meta := testMeta()
			meta.Attrs = map[string]string{"com.example.team": "core", "env": "prod"}
			if err := s.Send(ctxT(t), &sinks.Batch{Meta: meta, Events: evs}); err != nil {
				t.Fatal(err)
			}
			got, reqs, _, errs := srv.snapshot()
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if len(reqs) != 1 || reqs[0].Mode != "packed" || reqs[0].Size != 3 || reqs[0].Entries != 3 || reqs[0].Tag != "docker.web" {
				t.Fatalf("requests = %+v", reqs)
			}
			common := map[string]any{
				"container_id":     testContainerID,
				"container_name":   "/web",
				"com.example.team": "core",
				"env":              "prod",
			}
			with := func(kv ...any) map[string]any {
				m := map[string]any{}
				for k, v := range common {
					m[k] = v
				}
				for i := 0; i < len(kv); i += 2 {
					m[kv[i].(string)] = kv[i+1]
				}
				return m
			}
			want := []map[string]any{
				with("source", "stdout", "log", "plain text line request_id=r-1", "request_id", "r-1"),
				with("source", "stdout", "log", evs[1].Line, "level", "info", "msg", `café "q"`,
					"n", int64(42), "neg", int64(-7), "f", 1.5, "big", uint64(18446744073709551615), "huge", "1e999",
					"ok", true, "nil", nil,
					"nested", map[string]any{"a": []any{int64(1), "x", map[string]any{"b": false}}, "e": map[string]any{}},
					"arr", []any{},
					"request_id", "abc", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
				with("source", "stderr", "log", "cut line", "partial_message", "true"),
			}
			want[1]["log"] = string(evs[1].Line)
			for i := range want {
				if got[i].Tag != "docker.web" {
					t.Errorf("event %d tag %q", i, got[i].Tag)
				}
				normalise(got[i].Record)
				normalise(want[i])
				if !reflect.DeepEqual(got[i].Record, want[i]) {
					t.Errorf("event %d record\n got %#v\nwant %#v", i, got[i].Record, want[i])
				}
				wantTime := fwdTime{Sec: baseTime.Unix()}
				if subSecond {
					wantTime = fwdTime{Sec: baseTime.Unix(), Nsec: int64(i)*int64(time.Millisecond) + 123, Ext: true}
				}
				if got[i].Time != wantTime {
					t.Errorf("event %d time %+v, want %+v", i, got[i].Time, wantTime)
				}
			}
			sent, _ := m.Value(`logship_sink_bytes_sent_total{sink="fluentd"}`)
			srv.mu.Lock()
			received := srv.bytes
			srv.mu.Unlock()
			if int64(sent) != received || sent == 0 {
				t.Errorf("bytes_sent = %v, server read %d", sent, received)
			}
		})
	}
}

// normalise maps msgpack's positive ints (decoded as uint64 when sent as
// uint) to int64 where they fit, so expectations can be written plainly.
func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalise(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalise(e)
		}
	case uint64:
		if x <= 1<<63-1 {
			return int64(x)
		}
	case []byte:
		return string(x)
	}
	return v
}

func TestKeyCollisions(t *testing.T) {
	srv := newFwdServer(t, "tcp").start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	s, _ := newSink(t, cfg)
	meta := testMeta()
	// Docker's attribute semantics: an attribute named like a base key
	// replaces it, and partial_message wins over an attribute.
	meta.Attrs = map[string]string{"env": "prod", "source": "from-label"}
	evs := events(
		`{"log":"inner","container_name":"x","env":"dev","request_id":"r-9","a":1,"a":2,"a":3,"json.b":"y","b":"z","b":"w","source":"s","log":"again"}`,
		`{"requestId":"r-1","request_id":7}`,
		`{"partial_message":"no"}`,
	)
	evs[2].Partial = true
	if err := s.Send(ctxT(t), &sinks.Batch{Meta: meta, Events: evs}); err != nil {
		t.Fatal(err)
	}
	got, _, _, errs := srv.snapshot()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	base := map[string]any{"container_id": testContainerID, "container_name": "/web", "env": "prod", "source": "from-label"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	want := []map[string]any{
		with("log", string(evs[0].Line),
			"json.log", "inner", "json.container_name", "x", "json.env", "dev",
			"request_id", "r-9", // promoted from the field, not repeated
			"a", int64(1), "json.a", int64(2), // the third "a" has no free key
			"json.b", "y", "b", "z", // the second "b" finds json.b taken: left out
			"json.source", "s"), // the second "log" finds json.log taken: left out
		// The promoted id came from requestId; the request_id field, a
		// number, differs from it and moves aside.
		with("log", string(evs[1].Line), "request_id", "r-1", "requestId", "r-1", "json.request_id", int64(7)),
		with("log", string(evs[2].Line), "partial_message", "true", "json.partial_message", "no"),
	}
	for i := range want {
		normalise(got[i].Record)
		if !reflect.DeepEqual(got[i].Record, want[i]) {
			t.Errorf("event %d\n got %#v\nwant %#v", i, got[i].Record, want[i])
		}
	}
	// And no key is written twice (a decoder into a map would hide that).
	e := getEncoder()
	defer putEncoder(e)
	e.encodeBatch(&sinks.Batch{Meta: meta, Events: evs}, encodeOptions{})
	for i := range evs {
		keys := recordKeys(t, e, i)
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("event %d: key %q written twice in %q", i, k, keys)
			}
			seen[k] = true
		}
		if len(keys) != len(want[i]) {
			t.Errorf("event %d: %d keys, want %d", i, len(keys), len(want[i]))
		}
	}
}

func TestAckMismatchClosesConnection(t *testing.T) {
	srv := newFwdServer(t, "tcp")
	srv.ackPlan = func(n int) ackAction {
		if n == 0 {
			return ackWrong
		}
		return ackOK
	}
	srv.start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	s, _ := newSink(t, cfg)
	b := &sinks.Batch{Meta: testMeta(), Events: events("one")}
	err := s.Send(ctxT(t), b)
	if !errors.Is(err, ErrAckMismatch) || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want retryable ErrAckMismatch", err)
	}
	if err := s.Send(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	if _, _, conns, _ := srv.snapshot(); conns != 2 {
		t.Fatalf("%d connections, want 2 (the mismatch must drop the first)", conns)
	}
}

func TestAckTimeoutIsRetryable(t *testing.T) {
	srv := newFwdServer(t, "tcp")
	srv.ackPlan = func(n int) ackAction {
		if n == 0 {
			return ackNone
		}
		return ackOK
	}
	srv.start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	cfg.ReadTimeout = 50 * time.Millisecond
	s, _ := newSink(t, cfg)
	b := &sinks.Batch{Meta: testMeta(), Events: events("one")}
	start := time.Now()
	err := s.Send(ctxT(t), b)
	if !errors.Is(err, ErrNoAck) || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want retryable ErrNoAck", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("ack timeout took %v", d)
	}
	if err := s.Send(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	if _, reqs, conns, _ := srv.snapshot(); conns != 2 || len(reqs) != 2 {
		t.Fatalf("%d connections, %d requests; want 2, 2", conns, len(reqs))
	}
}

func TestServerClosesBeforeAck(t *testing.T) {
	srv := newFwdServer(t, "tcp")
	srv.ackPlan = func(int) ackAction { return ackClose }
	srv.start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	s, _ := newSink(t, cfg)
	err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("one")})
	if !errors.Is(err, ErrNoAck) || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want retryable ErrNoAck", err)
	}
}

func TestContextEndsAckWait(t *testing.T) {
	srv := newFwdServer(t, "tcp")
	srv.ackPlan = func(int) ackAction { return ackDelay }
	srv.start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	s, _ := newSink(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, &sinks.Batch{Meta: testMeta(), Events: events("one")}) }()
	waitRequests(t, srv, 1) // written; the ack is held back
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || sinks.IsPermanent(err) {
			t.Fatalf("err = %v, want retryable context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return after cancel")
	}
	// A second Send waiting for the connection honours its context too.
}

func TestSendWaitingForConnectionHonoursContext(t *testing.T) {
	srv := newFwdServer(t, "tcp")
	srv.ackPlan = func(int) ackAction { return ackDelay }
	srv.start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	s, _ := newSink(t, cfg)
	go s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("holds the connection")})
	waitRequests(t, srv, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := s.Send(ctx, &sinks.Batch{Meta: testMeta(), Events: events("waits")})
	if !errors.Is(err, context.DeadlineExceeded) || sinks.IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestUnixSocket(t *testing.T) {
	srv := newFwdServer(t, "unix").start()
	cfg, enabled, err := ParseConfig(map[string]string{
		OptAddress: "unix://" + srv.addr(), OptRequestAck: "true", OptHostname: "h",
	}, nil)
	if err != nil || !enabled {
		t.Fatal(enabled, err)
	}
	s, _ := newSink(t, cfg)
	if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("over unix")}); err != nil {
		t.Fatal(err)
	}
	got, _, _, _ := srv.snapshot()
	if len(got) != 1 || got[0].Record["log"] != "over unix" {
		t.Fatalf("got %+v", got)
	}
}

func TestCompressedPackedForward(t *testing.T) {
	srv := newFwdServer(t, "tcp").start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	cfg.Compress = "gzip"
	s, m := newSink(t, cfg)
	var lines []string
	for i := range 500 {
		lines = append(lines, fmt.Sprintf(`{"level":"info","i":%d,"msg":"the same words again and again"}`, i))
	}
	if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events(lines...)}); err != nil {
		t.Fatal(err)
	}
	got, reqs, _, errs := srv.snapshot()
	if len(errs) > 0 || len(reqs) != 1 || reqs[0].Mode != "compressed" || reqs[0].Size != 500 {
		t.Fatalf("requests %+v errs %v", reqs, errs)
	}
	for i, ev := range got {
		if normalise(ev.Record["i"]) != int64(i) {
			t.Fatalf("event %d: %v", i, ev.Record)
		}
	}
	sent, _ := m.Value(`logship_sink_bytes_sent_total{sink="fluentd"}`)
	if raw := 500 * 100; sent > float64(raw)/4 {
		t.Errorf("sent %v bytes for %d bytes of lines: not compressed?", sent, raw)
	}
}

func TestSplitLargeBatch(t *testing.T) {
	srv := newFwdServer(t, "tcp").start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	s, _ := newSink(t, cfg)
	s.maxRequest = 2000
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf("line %03d %s", i, strings.Repeat("x", 100)))
	}
	if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events(lines...)}); err != nil {
		t.Fatal(err)
	}
	got, reqs, conns, _ := srv.snapshot()
	if len(reqs) < 5 || conns != 1 {
		t.Fatalf("%d requests on %d connections", len(reqs), conns)
	}
	total := 0
	for _, r := range reqs {
		if r.Chunk == "" || r.Size != r.Entries {
			t.Fatalf("request %+v", r)
		}
		total += r.Entries
	}
	if total != 100 || len(got) != 100 {
		t.Fatalf("%d entries", total)
	}
	for i, ev := range got {
		if want := lines[i]; ev.Record["log"] != want {
			t.Fatalf("event %d out of order: %v", i, ev.Record["log"])
		}
	}
}

func TestPartialFailureReportsUnackedEvents(t *testing.T) {
	srv := newFwdServer(t, "tcp")
	srv.ackPlan = func(n int) ackAction {
		if n == 1 {
			return ackClose
		}
		return ackOK
	}
	srv.start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	s, _ := newSink(t, cfg)
	s.maxRequest = 1000
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("line %03d %s", i, strings.Repeat("y", 100)))
	}
	evs := events(lines...)
	err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: evs})
	var pe *sinks.PartialError
	if !errors.As(err, &pe) || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want *PartialError", err)
	}
	_, reqs, _, _ := srv.snapshot()
	acked := reqs[0].Entries
	if len(pe.Failed) != len(evs)-acked || pe.Failed[0] != acked || pe.Failed[len(pe.Failed)-1] != len(evs)-1 {
		t.Fatalf("Failed = %v, first request held %d events", pe.Failed, acked)
	}
	if !errors.Is(err, ErrNoAck) {
		t.Fatalf("err = %v", err)
	}
}

func TestConcurrentSends(t *testing.T) {
	srv := newFwdServer(t, "tcp").start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	s, _ := newSink(t, cfg)
	const workers, sends, per = 8, 20, 50
	var wg sync.WaitGroup
	errc := make(chan error, workers*sends)
	for w := range workers {
		wg.Go(func() {
			for i := range sends {
				lines := make([]string, per)
				for j := range lines {
					lines[j] = fmt.Sprintf(`{"w":%d,"i":%d,"j":%d,"pad":"%s"}`, w, i, j, strings.Repeat("p", 200))
				}
				if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events(lines...)}); err != nil {
					errc <- err
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	got, reqs, conns, errs := srv.snapshot()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(reqs) != workers*sends || len(got) != workers*sends*per || conns != 1 {
		t.Fatalf("%d requests, %d events, %d connections", len(reqs), len(got), conns)
	}
	seen := map[string]bool{}
	for _, ev := range got {
		k := fmt.Sprint(ev.Record["w"], ev.Record["i"], ev.Record["j"])
		if seen[k] {
			t.Fatalf("duplicate %s", k)
		}
		seen[k] = true
	}
}

func TestReconnectAfterServerDropsIdleConnection(t *testing.T) {
	srv := newFwdServer(t, "tcp").start()
	cfg := testConfig("tcp", srv.addr()) // no acks: only the reader can tell
	s, _ := newSink(t, cfg)
	b := &sinks.Batch{Meta: testMeta(), Events: events("first")}
	if err := s.Send(ctxT(t), b); err != nil {
		t.Fatal(err)
	}
	waitRequests(t, srv, 1)
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	srv.closeConns()
	<-c.dead // the reader saw the close
	if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("second")}); err != nil {
		t.Fatal(err)
	}
	waitRequests(t, srv, 1)
	got, _, conns, _ := srv.snapshot()
	if conns != 2 || len(got) != 2 || got[1].Record["log"] != "second" {
		t.Fatalf("%d connections, events %+v", conns, got)
	}
}

func TestDeadServer(t *testing.T) {
	srv := newFwdServer(t, "tcp")
	addr := srv.addr()
	srv.ln.Close()
	cfg := testConfig("tcp", addr)
	s, _ := newSink(t, cfg) // New does not dial
	err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("x")})
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
}

func TestClose(t *testing.T) {
	srv := newFwdServer(t, "tcp")
	srv.ackPlan = func(int) ackAction { return ackDelay }
	srv.start()
	cfg := testConfig("tcp", srv.addr())
	cfg.RequestAck = true
	s, _ := newSink(t, cfg)
	done := make(chan error, 1)
	go func() { done <- s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("x")}) }()
	waitRequests(t, srv, 1)
	if err := s.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, sinks.ErrClosed) || !sinks.IsPermanent(err) {
		t.Fatalf("in-flight Send: %v, want Permanent(ErrClosed)", err)
	}
	if err := s.Close(ctxT(t)); err != nil {
		t.Fatal("second Close:", err)
	}
	err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("x")})
	if !errors.Is(err, sinks.ErrClosed) || !sinks.IsPermanent(err) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestEmptyBatchSendsNothing(t *testing.T) {
	srv := newFwdServer(t, "tcp").start()
	s, _ := newSink(t, testConfig("tcp", srv.addr()))
	if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta()}); err != nil {
		t.Fatal(err)
	}
	if _, _, conns, _ := srv.snapshot(); conns != 0 {
		t.Fatalf("%d connections for an empty batch", conns)
	}
}

// TestWriteHonoursContext: a server that stops reading must not hold a
// Send past its context, nor past fluentd-write-timeout.
func TestWriteHonoursContext(t *testing.T) {
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = strings.Repeat("z", 4000) // 4 MB: far more than a unix socket buffers
	}
	big := &sinks.Batch{Meta: testMeta(), Events: events(lines...)}
	for _, viaTimeout := range []bool{false, true} {
		t.Run(fmt.Sprintf("write-timeout=%t", viaTimeout), func(t *testing.T) {
			ln, err := net.Listen("unix", t.TempDir()+"/stuck.sock")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				if c, err := ln.Accept(); err == nil {
					accepted <- c // never read from
				}
			}()
			cfg := testConfig("unix", ln.Addr().String())
			if viaTimeout {
				cfg.WriteTimeout = 300 * time.Millisecond
			}
			s, _ := newSink(t, cfg)
			// Connect first, with a small batch the socket buffers.
			if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("small")}); err != nil {
				t.Fatal(err)
			}
			c := <-accepted
			defer c.Close()

			ctx := ctxT(t)
			if !viaTimeout {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
			}
			start := time.Now()
			err = s.Send(ctx, big)
			if err == nil || sinks.IsPermanent(err) {
				t.Fatalf("err = %v, want a retryable timeout", err)
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want a deadline error", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("Send took %v", d)
			}
		})
	}
}
