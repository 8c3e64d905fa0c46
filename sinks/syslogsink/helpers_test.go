package syslogsink

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// ---- an RFC 5424 parser, strict enough to catch malformed output ----

type sdParam struct{ Name, Value string }

type sdElement struct {
	ID     string
	Params []sdParam
}

type msg5424 struct {
	PRI                                         int
	Timestamp, Hostname, AppName, ProcID, MsgID string
	SD                                          []sdElement
	Msg                                         string
	HasMsg                                      bool
}

func (m *msg5424) param(id, name string) (string, bool) {
	for _, e := range m.SD {
		if e.ID != id {
			continue
		}
		for _, p := range e.Params {
			if p.Name == name {
				return p.Value, true
			}
		}
	}
	return "", false
}

func parse5424(s string) (*msg5424, error) {
	m := &msg5424{}
	if !strings.HasPrefix(s, "<") {
		return nil, errors.New("no PRI")
	}
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return nil, errors.New("bad PRI")
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 || (len(s[1:end]) > 1 && s[1] == '0') {
		return nil, errors.New("bad PRI value")
	}
	m.PRI = pri
	s = s[end+1:]
	if !strings.HasPrefix(s, "1 ") {
		return nil, errors.New("bad VERSION")
	}
	s = s[2:]
	fields := make([]string, 5)
	limits := []int{64, 255, 48, 128, 32}
	for i := range fields {
		sp := strings.IndexByte(s, ' ')
		if sp <= 0 {
			return nil, fmt.Errorf("header field %d missing", i)
		}
		f := s[:sp]
		if len(f) > limits[i] {
			return nil, fmt.Errorf("header field %d too long", i)
		}
		for j := 0; j < len(f); j++ {
			if f[j] < 33 || f[j] > 126 {
				return nil, fmt.Errorf("header field %d has byte %#x", i, f[j])
			}
		}
		fields[i] = f
		s = s[sp+1:]
	}
	m.Timestamp, m.Hostname, m.AppName, m.ProcID, m.MsgID = fields[0], fields[1], fields[2], fields[3], fields[4]
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	} else {
		if !strings.HasPrefix(s, "[") {
			return nil, errors.New("no STRUCTURED-DATA")
		}
		for strings.HasPrefix(s, "[") {
			s = s[1:]
			var e sdElement
			e.ID, s, err = parseSDName(s)
			if err != nil {
				return nil, fmt.Errorf("SD-ID: %w", err)
			}
			for strings.HasPrefix(s, " ") {
				var p sdParam
				p.Name, s, err = parseSDName(s[1:])
				if err != nil {
					return nil, fmt.Errorf("PARAM-NAME: %w", err)
				}
				if !strings.HasPrefix(s, `="`) {
					return nil, errors.New("no =\" after PARAM-NAME")
				}
				s = s[2:]
				var v strings.Builder
				for {
					if s == "" {
						return nil, errors.New("unterminated PARAM-VALUE")
					}
					c := s[0]
					if c == '\\' && len(s) > 1 && (s[1] == '"' || s[1] == '\\' || s[1] == ']') {
						v.WriteByte(s[1])
						s = s[2:]
						continue
					}
					if c == ']' {
						return nil, errors.New("unescaped ] in PARAM-VALUE")
					}
					if c == '\\' {
						return nil, errors.New("lone backslash in PARAM-VALUE")
					}
					s = s[1:]
					if c == '"' {
						break
					}
					v.WriteByte(c)
				}
				p.Value = v.String()
				e.Params = append(e.Params, p)
			}
			if !strings.HasPrefix(s, "]") {
				return nil, errors.New("SD-ELEMENT not closed")
			}
			s = s[1:]
			m.SD = append(m.SD, e)
		}
	}
	if s != "" {
		if s[0] != ' ' {
			return nil, errors.New("no SP before MSG")
		}
		m.Msg, m.HasMsg = s[1:], true
	}
	return m, nil
}

func parseSDName(s string) (string, string, error) {
	i := 0
	for i < len(s) && sdNameOK[s[i]] {
		i++
	}
	if i == 0 || i > 32 {
		return "", s, fmt.Errorf("bad SD-NAME length %d", i)
	}
	return s[:i], s[i:], nil
}

// ---- framing readers ----

// readOctetCounted reads one "LEN SP MSG" frame strictly: LEN has no
// leading zero and at most 9 digits (frames are capped at 64 MiB).
func readOctetCounted(r *bufio.Reader) (string, error) {
	n := 0
	digits := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			if digits > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if c == ' ' && digits > 0 {
			break
		}
		if c < '0' || c > '9' || (digits == 0 && c == '0') || digits == 9 {
			return "", fmt.Errorf("bad octet count byte %q", c)
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if n > 64<<20 {
		return "", errors.New("frame too large")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", io.ErrUnexpectedEOF
	}
	return string(b), nil
}

func readNewline(r *bufio.Reader) (string, error) {
	s, err := r.ReadString('\n')
	if err != nil {
		if s != "" && err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return s[:len(s)-1], nil
}

// ---- loopback receivers ----

// streamServer accepts connections and parses frames from each into msgs.
// A framing error is reported on errs and ends that connection.
type streamServer struct {
	ln      net.Listener
	framing Framing
	msgs    chan string
	errs    chan error
	conns   chan net.Conn // each accepted connection, after the first read succeeded
	mu      sync.Mutex
	open    []net.Conn
	n       int
}

func newStreamServer(t testing.TB, ln net.Listener, framing Framing) *streamServer {
	s := &streamServer{ln: ln, framing: framing, msgs: make(chan string, 1<<16), errs: make(chan error, 64), conns: make(chan net.Conn, 64)}
	t.Cleanup(s.stop)
	go s.serve()
	return s
}

func (s *streamServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.open = append(s.open, c)
		s.n++
		s.mu.Unlock()
		go s.read(c)
	}
}

func (s *streamServer) read(c net.Conn) {
	r := bufio.NewReader(c)
	first := true
	for {
		var m string
		var err error
		if s.framing == FramingNewline {
			m, err = readNewline(r)
		} else {
			m, err = readOctetCounted(r)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
				s.errs <- err
			}
			c.Close()
			return
		}
		if first {
			first = false
			s.conns <- c
		}
		s.msgs <- m
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

func (s *streamServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// closeConns closes every accepted connection, as a receiver restarting
// would.
func (s *streamServer) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
	s.open = nil
}

func (s *streamServer) stop() {
	s.ln.Close()
	s.closeConns()
}

const waitTimeout = 10 * time.Second

// expect returns the next n messages, failing on a framing error or when
// they do not come within waitTimeout.
func expect(t testing.TB, msgs chan string, errs chan error, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for len(out) < n {
		select {
		case m := <-msgs:
			out = append(out, m)
		case err := <-errs:
			t.Fatalf("receiver: %v", err)
		case <-timer.C:
			t.Fatalf("got %d of %d messages", len(out), n)
		}
	}
	return out
}

// dgramServer receives datagrams (udp or unixgram).
type dgramServer struct {
	pc   net.PacketConn
	msgs chan string
}

func newDgramServer(t testing.TB, pc net.PacketConn) *dgramServer {
	s := &dgramServer{pc: pc, msgs: make(chan string, 1<<16)}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1<<17)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.msgs <- string(buf[:n])
		}
	}()
	return s
}

// ---- sinks under test ----

func newTestSink(t testing.TB, cfg Config) (*sink, *pipeline.Metrics) {
	t.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = "host1"
	}
	m := pipeline.NewMetrics()
	s, err := New(cfg, m)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s.(*sink), m
}

func cfgFor(network Network, addr string) Config {
	c := DefaultConfig()
	c.Network, c.Address = network, addr
	return c
}

var testMeta = &pipeline.Meta{
	ContainerID:   "3f2a1b9c8d7e5f4a3f2a1b9c8d7e5f4a3f2a1b9c8d7e5f4a3f2a1b9c8d7e5f4a",
	ContainerName: "web",
	ImageName:     "nginx:1.25",
	Tag:           "web",
}

// t0 is 2026-11-27T05:41:00.123456789Z.
var t0 = time.Date(2026, 11, 27, 5, 41, 0, 123456789, time.UTC).UnixNano()

func ev(src pipeline.Source, ns int64, line string) pipeline.Event {
	return pipeline.Event{Record: pipeline.Record{Time: ns, Source: src, Line: []byte(line)}}
}

func batchOf(meta *pipeline.Meta, lines ...string) *sinks.Batch {
	b := &sinks.Batch{Meta: meta}
	for i, l := range lines {
		b.Events = append(b.Events, ev(pipeline.SourceStdout, t0+int64(i)*int64(time.Millisecond), l))
	}
	return b
}

// ---- a PKI made for each test ----

type testPKI struct {
	dir                           string
	caPool                        *x509.CertPool
	caFile, serverCert, serverKey string
	clientCert, clientKey         string
	server                        tls.Certificate
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "logship test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(ca)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)

	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string, tls.Certificate) {
		key := mustKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		cf := writePEM(t, dir, name+".pem", "CERTIFICATE", der)
		kf := writePEM(t, dir, name+".key", "PRIVATE KEY", kder)
		pair, err := tls.LoadX509KeyPair(cf, kf)
		if err != nil {
			t.Fatal(err)
		}
		return cf, kf, pair
	}
	p.serverCert, p.serverKey, p.server = issue("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey, _ = issue("client", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
