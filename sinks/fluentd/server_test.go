package fluentd

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// fwdServer is a small forward-protocol server for tests. It decodes every
// mode (Message, Forward, PackedForward, CompressedPackedForward) with
// tinylib/msgp, an implementation independent of ours, records what it got,
// and acks chunks as told: normally, never, wrongly, by closing, or after a
// release. With a shared key it runs the server side of the handshake.
type fwdServer struct {
	t  *testing.T
	ln net.Listener

	// Set before the first connection.
	sharedKey      string
	serverHostname string
	users          map[string]string // username -> password; nil: no user auth
	badPongDigest  bool
	keepalive      bool
	tlsConfig      *tls.Config

	mu       sync.Mutex
	events   []fwdEvent
	requests []fwdRequest
	conns    int
	bytes    int64
	errs     []error
	// ackPlan, if set, decides what to do with the n-th chunked request
	// (from 0).
	ackPlan  func(n int) ackAction
	nChunked int
	open     []net.Conn

	// requestSeen receives one value per decoded request.
	requestSeen chan fwdRequest
	// release lets delayed acks go.
	release chan struct{}
	wg      sync.WaitGroup
}

type ackAction int

const (
	ackOK    ackAction = iota
	ackNone            // keep the connection, send nothing
	ackWrong           // ack another chunk id
	ackClose           // close the connection without an ack
	ackDelay           // ack once release is closed
)

type fwdTime struct {
	Sec, Nsec int64
	Ext       bool // EventTime (ext 0) rather than an integer
}

type fwdEvent struct {
	Tag    string
	Time   fwdTime
	Record map[string]any
}

type fwdRequest struct {
	Tag     string
	Mode    string // message, forward, packed, compressed
	Size    int    // the size option, -1 if absent
	Entries int
	Chunk   string
	Options map[string]any
}

func newFwdServer(t *testing.T, network string) *fwdServer {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = t.TempDir() + "/fwd.sock"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &fwdServer{t: t, ln: ln, requestSeen: make(chan fwdRequest, 1000), release: make(chan struct{}),
		serverHostname: "fwd-server", keepalive: true}
	t.Cleanup(s.close)
	return s
}

// start begins accepting; call after setting the options.
func (s *fwdServer) start() *fwdServer {
	if s.tlsConfig != nil {
		s.ln = tls.NewListener(s.ln, s.tlsConfig)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.open = append(s.open, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.serve(c)
			}()
		}
	}()
	return s
}

func (s *fwdServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
	s.wg.Wait()
}

func (s *fwdServer) addr() string { return s.ln.Addr().String() }

// closeConns closes every open connection (the server "restarts").
func (s *fwdServer) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
	s.open = nil
}

func (s *fwdServer) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *fwdServer) snapshot() ([]fwdEvent, []fwdRequest, int, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fwdEvent(nil), s.events...), append([]fwdRequest(nil), s.requests...), s.conns, append([]error(nil), s.errs...)
}

type countingReader struct {
	r io.Reader
	s *fwdServer
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.s.mu.Lock()
	c.s.bytes += int64(n)
	c.s.mu.Unlock()
	return n, err
}

func (s *fwdServer) serve(c net.Conn) {
	r := msgp.NewReader(countingReader{c, s})
	w := msgp.NewWriter(c)
	if s.sharedKey != "" && !s.handshake(r, w) {
		return
	}
	for {
		v, err := r.ReadIntf()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				s.fail(fmt.Errorf("read request: %w", err))
			}
			return
		}
		req, err := s.decodeRequest(v)
		if err != nil {
			s.fail(err)
			return
		}
		s.requestSeen <- req
		if req.Chunk == "" {
			continue
		}
		s.mu.Lock()
		action := ackOK
		if s.ackPlan != nil {
			action = s.ackPlan(s.nChunked)
		}
		s.nChunked++
		s.mu.Unlock()
		switch action {
		case ackNone:
			continue
		case ackClose:
			return
		case ackWrong:
			req.Chunk = "bm90IHRoZSByaWdodCBjaHVuaw=="
		case ackDelay:
			<-s.release
		}
		if err := w.WriteMapHeader(1); err == nil {
			_ = w.WriteString("ack")
			_ = w.WriteString(req.Chunk)
			_ = w.Flush()
		}
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func (s *fwdServer) handshake(r *msgp.Reader, w *msgp.Writer) bool {
	nonce := make([]byte, 16)
	rand.Read(nonce)
	authSalt := ""
	if s.users != nil {
		authSalt = "auth-salt"
	}
	w.WriteArrayHeader(2)
	w.WriteString("HELO")
	w.WriteMapHeader(3)
	w.WriteString("nonce")
	w.WriteBytes(nonce)
	w.WriteString("auth")
	w.WriteString(authSalt)
	w.WriteString("keepalive")
	w.WriteBool(s.keepalive)
	if err := w.Flush(); err != nil {
		return false
	}
	v, err := r.ReadIntf()
	if err != nil {
		s.fail(fmt.Errorf("read PING: %w", err))
		return false
	}
	ping, ok := v.([]any)
	if !ok || len(ping) != 6 || ping[0] != "PING" {
		s.fail(fmt.Errorf("bad PING %#v", v))
		return false
	}
	hostname, _ := ping[1].(string)
	salt, _ := ping[2].(string)
	digest, _ := ping[3].(string)
	user, _ := ping[4].(string)
	pwDigest, _ := ping[5].(string)
	hexsum := func(parts ...string) string {
		h := sha512.New()
		for _, p := range parts {
			io.WriteString(h, p)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	ok, reason := true, ""
	if digest != hexsum(salt, hostname, string(nonce), s.sharedKey) {
		ok, reason = false, "shared_key mismatch"
	} else if s.users != nil {
		pw, known := s.users[user]
		if !known || pwDigest != hexsum(authSalt, user, pw) {
			ok, reason = false, "username/password mismatch"
		}
	}
	pong := hexsum(salt, s.serverHostname, string(nonce), s.sharedKey)
	if s.badPongDigest {
		pong = hexsum("not", "the", "key")
	}
	w.WriteArrayHeader(5)
	w.WriteString("PONG")
	w.WriteBool(ok)
	w.WriteString(reason)
	w.WriteString(s.serverHostname)
	w.WriteString(pong)
	if err := w.Flush(); err != nil || !ok {
		return false
	}
	return true
}

func (s *fwdServer) decodeRequest(v any) (fwdRequest, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) < 2 {
		return fwdRequest{}, fmt.Errorf("request is not an array: %#v", v)
	}
	req := fwdRequest{Size: -1}
	if req.Tag, ok = arr[0].(string); !ok {
		return req, fmt.Errorf("tag is %T", arr[0])
	}
	var events []fwdEvent
	optIdx := 2
	switch x := arr[1].(type) {
	case []any: // Forward
		req.Mode = "forward"
		for _, e := range x {
			ev, err := decodeEntry(req.Tag, e)
			if err != nil {
				return req, err
			}
			events = append(events, ev)
		}
	case []byte, string: // PackedForward, maybe compressed
		var raw []byte
		if b, ok := x.([]byte); ok {
			raw = b
		} else {
			raw = []byte(x.(string))
		}
		req.Mode = "packed"
		if len(arr) > 2 {
			if opt, ok := arr[2].(map[string]any); ok && opt["compressed"] == "gzip" {
				req.Mode = "compressed"
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				if err != nil {
					return req, err
				}
				if raw, err = io.ReadAll(zr); err != nil {
					return req, err
				}
			}
		}
		for len(raw) > 0 {
			var e any
			var err error
			if e, raw, err = msgp.ReadIntfBytes(raw); err != nil {
				return req, fmt.Errorf("packed entry: %w", err)
			}
			ev, err := decodeEntry(req.Tag, e)
			if err != nil {
				return req, err
			}
			events = append(events, ev)
		}
	default: // Message
		req.Mode = "message"
		if len(arr) < 3 {
			return req, fmt.Errorf("short message")
		}
		ev, err := decodeEntry(req.Tag, []any{arr[1], arr[2]})
		if err != nil {
			return req, err
		}
		events = append(events, ev)
		optIdx = 3
	}
	req.Entries = len(events)
	if len(arr) > optIdx {
		opt, ok := arr[optIdx].(map[string]any)
		if !ok {
			return req, fmt.Errorf("option is %T", arr[optIdx])
		}
		req.Options = opt
		req.Chunk, _ = opt["chunk"].(string)
		switch n := opt["size"].(type) {
		case int64:
			req.Size = int(n)
		case uint64:
			req.Size = int(n)
		}
	}
	s.mu.Lock()
	s.events = append(s.events, events...)
	s.requests = append(s.requests, req)
	s.mu.Unlock()
	return req, nil
}

func decodeEntry(tag string, e any) (fwdEvent, error) {
	pair, ok := e.([]any)
	if !ok || len(pair) != 2 {
		return fwdEvent{}, fmt.Errorf("entry is not [time, record]: %#v", e)
	}
	ev := fwdEvent{Tag: tag}
	switch t := pair[0].(type) {
	case int64:
		ev.Time = fwdTime{Sec: t}
	case uint64:
		ev.Time = fwdTime{Sec: int64(t)}
	case *msgp.RawExtension:
		if t.Type != 0 || len(t.Data) != 8 {
			return ev, fmt.Errorf("bad EventTime ext %d len %d", t.Type, len(t.Data))
		}
		ev.Time = fwdTime{Sec: int64(binary.BigEndian.Uint32(t.Data)), Nsec: int64(binary.BigEndian.Uint32(t.Data[4:])), Ext: true}
	default:
		return ev, fmt.Errorf("time is %T", pair[0])
	}
	if ev.Record, ok = pair[1].(map[string]any); !ok {
		return ev, fmt.Errorf("record is %T", pair[1])
	}
	return ev, nil
}
