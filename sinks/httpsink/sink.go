package httpsink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// MetricBytesSent counts the request body bytes written to the network
// (compressed, retransmissions on a stale keep-alive connection included).
const MetricBytesSent = `logship_sink_bytes_sent_total{sink="http"}`

// sink is the HTTP Sink. Everything but the credential is fixed at New,
// so concurrent Sends share it without locks.
type sink struct {
	cfg       Config
	cd        *codec
	url       string
	safeURL   string // for error messages: no query (it may hold a key)
	client    *http.Client
	transport *http.Transport
	header    http.Header // the static headers of every request
	auth      *authSource
	bytesSent *pipeline.Counter

	closed    atomic.Bool
	closing   context.Context // cancelled by Close: aborts attempts in flight
	cancel    context.CancelFunc
	closeOnce sync.Once
}

var _ sinks.Sink = (*sink)(nil)

// New validates cfg and returns a Sink. It reads the CA and auth files but
// does not touch the network: connections are made by Send, under its
// context.
func New(cfg Config, m *pipeline.Metrics) (sinks.Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsFiles().Load()
	if err != nil {
		return nil, err
	}
	auth, err := newAuthSource(cfg)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL) // checked by Validate
	safe := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}

	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second, // the attempt's ctx usually ends first
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:     tlsCfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        16,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     60 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// No Accept-Encoding: responses are small, and the caps on reading
		// them should count what the receiver sent.
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	client := &http.Client{
		Transport: tr,
		// A POST redirected with 301/302 would be replayed as a GET without
		// its body; a redirect is reported instead (StatusError).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	hostname, _ := os.Hostname()
	cd := newCodec(&cfg, hostname)
	h := http.Header{}
	h.Set("Content-Type", cd.contentType())
	if cfg.Compression != CompressionNone {
		h.Set("Content-Encoding", string(cfg.Compression))
	}
	h.Set("User-Agent", "logship")
	for _, x := range cfg.Headers {
		h.Add(x.Name, x.Value)
	}
	if cfg.Format == FormatSplunkHEC {
		// A token with indexer acknowledgement on refuses requests without
		// a channel (HEC code 10). Acks are not polled: delivery is
		// at-least-once as far as HEC's 200 tells.
		h.Set("X-Splunk-Request-Channel", newUUID())
	}

	ctx, cancel := context.WithCancel(context.Background())
	m.Help("logship_sink_bytes_sent_total", "request or frame bytes written to the network by a sink")
	return &sink{
		cfg:       cfg,
		cd:        cd,
		url:       cfg.URL,
		safeURL:   safe.String(),
		client:    client,
		transport: tr,
		header:    h,
		auth:      auth,
		bytesSent: m.Counter(MetricBytesSent),
		closing:   ctx,
		cancel:    cancel,
	}, nil
}

// Send encodes b, compresses it and POSTs it once. See doc.go for how
// each outcome is classified.
func (s *sink) Send(ctx context.Context, b *sinks.Batch) error {
	if s.closed.Load() {
		return sinks.Permanent(sinks.ErrClosed)
	}
	if b == nil || len(b.Events) == 0 {
		return nil
	}
	authz, err := s.auth.header()
	if err != nil {
		// Retryable: an auth file being rewritten, or fixed by the
		// operator, must not cost the batch. Sending without the
		// credential would get it dropped as a 401.
		return fmt.Errorf("httpsink: auth file: %w", err)
	}

	e := getEncoder()
	payload := e.encode(s.cd, b)
	switch s.cfg.Compression {
	case CompressionGzip:
		payload = e.gzip(payload)
	case CompressionZstd:
		payload = e.zstd(payload)
	}

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Delivery.AttemptTimeout)
	defer cancel()
	stop := context.AfterFunc(s.closing, cancel)
	defer stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, nil)
	if err != nil { // the URL was validated; kept for safety
		putEncoder(e)
		return sinks.Permanent(errors.New("httpsink: invalid http-url"))
	}
	bodies := &bodySet{payload: payload, sent: s.bytesSent}
	req.Body = bodies.open()
	req.ContentLength = int64(len(payload))
	// GetBody lets the Transport resend on a keep-alive connection the
	// server closed just as the request went out.
	req.GetBody = func() (io.ReadCloser, error) { return bodies.open(), nil }
	req.Header = s.header.Clone()
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}

	resp, err := s.client.Do(req)
	if err == nil {
		err = s.result(resp, b)
	} else {
		err = s.transportError(err)
	}
	bodies.release()
	putEncoder(e)
	return err
}

func (s *sink) transportError(err error) error {
	if s.closed.Load() {
		return sinks.Permanent(fmt.Errorf("%w: attempt aborted", sinks.ErrClosed))
	}
	// *url.Error repeats the URL, whose query may hold a key.
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return fmt.Errorf("httpsink: POST %s: %w", s.safeURL, err)
}

// Close aborts attempts in flight and drops idle connections. It is
// idempotent; Send after Close returns a Permanent ErrClosed.
func (s *sink) Close(context.Context) error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.cancel()
		s.transport.CloseIdleConnections()
	})
	return nil
}

// bodySet hands out readers over one pooled payload. The Transport may
// still hold a body after Do returns (it writes in another goroutine, and
// GetBody may have made a body it never used), so instead of waiting for
// every Close, release revokes them: a Read after release fails and never
// touches the payload, which can then go back to the pool.
type bodySet struct {
	payload  []byte
	sent     *pipeline.Counter
	mu       sync.Mutex
	released bool
}

func (bs *bodySet) open() *body { return &body{set: bs} }

func (bs *bodySet) release() {
	bs.mu.Lock()
	bs.released = true
	bs.mu.Unlock()
}

var errBodyReleased = errors.New("request body released")

type body struct {
	set *bodySet
	off int
}

func (b *body) Read(p []byte) (int, error) {
	bs := b.set
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.released {
		return 0, errBodyReleased
	}
	if b.off >= len(bs.payload) {
		return 0, io.EOF
	}
	n := copy(p, bs.payload[b.off:])
	b.off += n
	bs.sent.Add(uint64(n))
	return n, nil
}

func (b *body) Close() error { return nil }

// authSource yields the Authorization value. A file is re-read when its
// size or modification time changes, so a rotated token takes effect on
// the next attempt.
type authSource struct {
	static string // from HTTP_AUTH_TOKEN, or "" for none
	file   string
	format Format

	mu      sync.Mutex
	modTime time.Time
	size    int64
	value   string
}

func newAuthSource(cfg Config) (*authSource, error) {
	a := &authSource{file: cfg.AuthFile, format: cfg.Format}
	if cfg.AuthFile == "" {
		if cfg.AuthToken != "" {
			v, err := ParseCredential(string(cfg.AuthToken), cfg.Format)
			if err != nil {
				return nil, &envError{EnvAuthToken, credentialWantToken, err}
			}
			a.static = v
		}
		return a, nil
	}
	if _, err := a.header(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", pipeline.ErrInvalidOption, OptAuthFile, err)
	}
	return a, nil
}

func (a *authSource) header() (string, error) {
	if a.file == "" {
		return a.static, nil
	}
	fi, err := os.Stat(a.file)
	if err != nil {
		return "", pathless(err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.value != "" && fi.ModTime().Equal(a.modTime) && fi.Size() == a.size {
		return a.value, nil
	}
	v, err := readCredentialFile(a.file, a.format)
	if err != nil {
		return "", err
	}
	a.value, a.modTime, a.size = v, fi.ModTime(), fi.Size()
	return v, nil
}

func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
