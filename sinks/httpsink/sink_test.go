package httpsink

import (
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// request is what the test server saw of one request.
type request struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Wire                   int    // body bytes on the wire
	Body                   []byte // decoded per Content-Encoding
	Err                    error  // decoding error
}

// server is a loopback HTTP receiver whose answers the test chooses.
type server struct {
	*httptest.Server
	reqs   chan request
	handle atomic.Pointer[func(w http.ResponseWriter, r *http.Request, req request)]
}

func newServer(t *testing.T, tlsCfg *tls.Config) *server {
	t.Helper()
	s := &server{reqs: make(chan request, 1000)}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		req := request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Wire: len(raw)}
		req.Body, req.Err = decodeBody(r.Header.Get("Content-Encoding"), raw)
		s.reqs <- req
		if h := s.handle.Load(); h != nil {
			(*h)(w, r, req)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	if tlsCfg != nil {
		s.TLS = tlsCfg
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func (s *server) respond(f func(w http.ResponseWriter, r *http.Request, req request)) {
	s.handle.Store(&f)
}

func (s *server) status(code int, header map[string]string, body string) {
	s.respond(func(w http.ResponseWriter, _ *http.Request, _ request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	})
}

func (s *server) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-s.reqs:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the server")
		return request{}
	}
}

// decodeBody decompresses with implementations other than the sink's
// where there are (the standard library's gzip).
func decodeBody(enc string, raw []byte) ([]byte, error) {
	switch enc {
	case "":
		return raw, nil
	case "gzip":
		zr, err := stdgzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case "zstd":
		d, err := zstd.NewReader(nil)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(raw, nil)
	}
	return nil, fmt.Errorf("unknown encoding %q", enc)
}

func newSink(t *testing.T, c Config, m *pipeline.Metrics) sinks.Sink {
	t.Helper()
	s, err := New(c, m)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func configFor(url string, f Format, comp Compression) Config {
	c := DefaultConfig()
	c.URL = url
	c.Format = f
	c.Compression = comp
	return c
}

func okBulk(n int) string {
	items := strings.TrimSuffix(strings.Repeat(`{"create":{"_index":"x","status":201}},`, n), ",")
	return `{"took":1,"errors":false,"items":[` + items + `]}`
}

// TestSendFormats posts a batch in every format and codec and checks the
// method, the headers, and the exact decoded body.
func TestSendFormats(t *testing.T) {
	srv := newServer(t, nil)
	b := batchOf(testMeta(), rec{line: `{"msg":"hello","request_id":"abc"}`}, rec{line: "plain \xff", src: pipeline.SourceStderr, dt: time.Millisecond})
	wantType := map[Format]string{
		FormatNDJSON: "application/x-ndjson", FormatJSON: "application/json", FormatElasticsearch: "application/x-ndjson",
		FormatLoki: "application/json", FormatSplunkHEC: "application/json",
	}
	for _, f := range formats {
		for _, comp := range compressions {
			t.Run(f+"/"+comp, func(t *testing.T) {
				switch Format(f) {
				case FormatElasticsearch:
					srv.status(200, map[string]string{"Content-Type": "application/json"}, okBulk(2))
				case FormatLoki:
					srv.status(204, nil, "")
				case FormatSplunkHEC:
					srv.status(200, nil, `{"text":"Success","code":0}`)
				default:
					srv.status(200, nil, "")
				}
				c := configFor(srv.URL+"/ingest?_msg_field=log", Format(f), Compression(comp))
				m := pipeline.NewMetrics()
				s := newSink(t, c, m)
				if err := s.Send(context.Background(), b); err != nil {
					t.Fatalf("Send: %v", err)
				}
				r := srv.next(t)
				if r.Method != http.MethodPost || r.Path != "/ingest" || r.RawQuery != "_msg_field=log" {
					t.Errorf("request %s %s?%s", r.Method, r.Path, r.RawQuery)
				}
				if got := r.Header.Get("Content-Type"); got != wantType[Format(f)] {
					t.Errorf("Content-Type %q, want %q", got, wantType[Format(f)])
				}
				wantEnc := comp
				if comp == "none" {
					wantEnc = ""
				}
				if got := r.Header.Get("Content-Encoding"); got != wantEnc {
					t.Errorf("Content-Encoding %q, want %q", got, wantEnc)
				}
				if r.Header.Get("Authorization") != "" {
					t.Errorf("Authorization sent without a credential")
				}
				if got := r.Header.Get("X-Splunk-Request-Channel"); (got != "") != (Format(f) == FormatSplunkHEC) {
					t.Errorf("X-Splunk-Request-Channel %q", got)
				}
				if r.Err != nil {
					t.Fatalf("decoding the body: %v", r.Err)
				}
				want := encodeFor(t, c, b)
				// encodeFor uses a fixed host name; the sink uses the real one.
				if Format(f) == FormatSplunkHEC {
					h, _ := os.Hostname()
					want = strings.ReplaceAll(want, `"host":"host-1"`, `"host":`+string(appendStr(nil, h)))
				}
				if string(r.Body) != want {
					t.Errorf("body:\n got %s\nwant %s", r.Body, want)
				}
				if got, _ := m.Value(MetricBytesSent); got != float64(r.Wire) {
					t.Errorf("%s = %v, want %d (bytes on the wire)", MetricBytesSent, got, r.Wire)
				}
			})
		}
	}
}

func TestSendEmptyBatch(t *testing.T) {
	srv := newServer(t, nil)
	s := newSink(t, configFor(srv.URL, FormatNDJSON, CompressionGzip), nil)
	if err := s.Send(context.Background(), &sinks.Batch{Meta: testMeta()}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.reqs:
		t.Error("an empty batch was posted")
	default:
	}
}

// TestStatusClasses checks how every class of answer is classified.
func TestStatusClasses(t *testing.T) {
	srv := newServer(t, nil)
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	type want int
	const (
		ok want = iota
		retry
		retryAfter
		tooLarge
		permanent
	)
	for _, tc := range []struct {
		code   int
		header map[string]string
		body   string
		want   want
		after  time.Duration // for retryAfter: expected, ±2s for dates
		inErr  string
	}{
		{code: 200, want: ok},
		{code: 201, want: ok},
		{code: 204, want: ok},
		{code: 400, body: "cannot parse JSON\x00 line\nsecond", want: permanent, inErr: "400 Bad Request: cannot parse JSON  line second"},
		{code: 401, want: permanent},
		{code: 403, want: permanent},
		{code: 404, want: permanent},
		{code: 408, want: retry},
		{code: 413, want: tooLarge},
		{code: 429, header: map[string]string{"Retry-After": "7"}, want: retryAfter, after: 7 * time.Second},
		{code: 429, header: map[string]string{"Retry-After": date}, want: retryAfter, after: 90 * time.Second},
		{code: 429, want: retry},
		{code: 503, header: map[string]string{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, want: retryAfter, after: 0},
		{code: 503, header: map[string]string{"Retry-After": "soon"}, want: retry},
		{code: 500, want: retry},
		{code: 502, want: retry},
		{code: 503, body: `{"text":"Server is busy","code":9}`, want: retry, inErr: "Server is busy"},
		{code: 504, want: retry},
		{code: 400, body: `{"text":"Invalid data format","code":6,"invalid-event-number":0}`, want: permanent, inErr: `"code":6`},
		{code: 307, header: map[string]string{"Location": "/elsewhere"}, want: permanent, inErr: "redirects are not followed"},
		{code: 400, body: strings.Repeat("x", 5000), want: permanent},
	} {
		t.Run(fmt.Sprint(tc.code, tc.header), func(t *testing.T) {
			srv.status(tc.code, tc.header, tc.body)
			s := newSink(t, configFor(srv.URL+"/p?api_key=sekrit", FormatNDJSON, CompressionGzip), nil)
			err := s.Send(context.Background(), batchOf(testMeta(), rec{line: "x"}))
			srv.next(t)
			var ra *sinks.RetryAfterError
			gotRA := errors.As(err, &ra)
			switch tc.want {
			case ok:
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			case retry:
				if err == nil || sinks.IsPermanent(err) || gotRA || errors.Is(err, sinks.ErrTooLarge) {
					t.Fatalf("want plain retryable, got %v", err)
				}
			case retryAfter:
				if !gotRA || sinks.IsPermanent(err) {
					t.Fatalf("want RetryAfter, got %v", err)
				}
				if d := ra.After - tc.after; d < -2*time.Second || d > 2*time.Second {
					t.Fatalf("retry after %v, want %v", ra.After, tc.after)
				}
			case tooLarge:
				if !errors.Is(err, sinks.ErrTooLarge) || sinks.IsPermanent(err) {
					t.Fatalf("want ErrTooLarge, not permanent; got %v", err)
				}
			case permanent:
				if !sinks.IsPermanent(err) {
					t.Fatalf("want permanent, got %v", err)
				}
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.code {
				t.Fatalf("error %v does not carry StatusError %d", err, tc.code)
			}
			if len(se.Body) > maxSnippet+len("…") {
				t.Errorf("body snippet of %d bytes", len(se.Body))
			}
			if tc.inErr != "" && !strings.Contains(err.Error(), tc.inErr) {
				t.Errorf("error %q lacks %q", err, tc.inErr)
			}
			if strings.Contains(err.Error(), "sekrit") {
				t.Errorf("error repeats the URL query: %v", err)
			}
		})
	}
}

// TestSlowReceiver: an answer that does not come within the attempt's
// deadline is a retryable timeout, and Send returns at the deadline.
func TestSlowReceiver(t *testing.T) {
	srv := newServer(t, nil)
	release := make(chan struct{})
	defer close(release)
	srv.respond(func(w http.ResponseWriter, r *http.Request, _ request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	b := batchOf(testMeta(), rec{line: "x"})

	// The caller's deadline.
	s := newSink(t, configFor(srv.URL, FormatNDJSON, CompressionGzip), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Send(ctx, b)
	if err == nil || sinks.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a retryable deadline error, got %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Send took %v past a 200ms deadline", el)
	}
	srv.next(t)

	// The sink's own http-timeout.
	c := configFor(srv.URL, FormatNDJSON, CompressionGzip)
	c.Delivery.AttemptTimeout = 200 * time.Millisecond
	s = newSink(t, c, nil)
	if err := s.Send(context.Background(), b); err == nil || sinks.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a retryable deadline error, got %v", err)
	}
	srv.next(t)
}

func TestNetworkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := newSink(t, configFor("http://"+addr+"/x?token=sekrit", FormatNDJSON, CompressionGzip), nil)
	err = s.Send(context.Background(), batchOf(testMeta(), rec{line: "x"}))
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("want a retryable error, got %v", err)
	}
	if strings.Contains(err.Error(), "sekrit") {
		t.Errorf("error repeats the URL query: %v", err)
	}

	// A receiver that resets the connection mid-answer.
	srv := newServer(t, nil)
	srv.respond(func(w http.ResponseWriter, r *http.Request, _ request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	})
	s = newSink(t, configFor(srv.URL, FormatNDJSON, CompressionGzip), nil)
	if err := s.Send(context.Background(), batchOf(testMeta(), rec{line: "x"})); err == nil || sinks.IsPermanent(err) {
		t.Fatalf("want a retryable error, got %v", err)
	}
}

func TestElasticsearchPartialFailure(t *testing.T) {
	srv := newServer(t, nil)
	c := configFor(srv.URL+"/_bulk", FormatElasticsearch, CompressionGzip)
	s := newSink(t, c, nil)
	b := batchOf(testMeta(), lines("0", "1", "2", "3", "4", "5")...)
	srv.status(200, nil, `{"took":3,"errors":true,"items":[
		{"create":{"_index":"x","status":201}},
		{"create":{"_index":"x","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}},
		{"create":{"_index":"x","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n]"}}},
		{"index":{"_index":"x","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}},
		{"create":{"_index":"x","status":200}},
		{"create":{"_index":"x","status":409,"error":{"type":"version_conflict_engine_exception","reason":"document already exists"}}}]}`)
	err := s.Send(context.Background(), b)
	var pe *sinks.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("want PartialError, got %v", err)
	}
	if fmt.Sprint(pe.Failed) != "[1 3]" || fmt.Sprint(pe.Permanent) != "[2 5]" {
		t.Errorf("Failed %v Permanent %v, want [1 3] [2 5]", pe.Failed, pe.Permanent)
	}
	if sinks.IsPermanent(err) {
		t.Error("a partial failure must not be Permanent as a whole")
	}
	if !strings.Contains(err.Error(), "es_rejected_execution_exception") {
		t.Errorf("error lacks the first item's reason: %v", err)
	}
	srv.next(t)

	// Only permanent failures.
	srv.status(200, nil, `{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":400,"error":{"type":"x"}}}]}`)
	err = s.Send(context.Background(), batchOf(testMeta(), lines("0", "1")...))
	if !errors.As(err, &pe) || len(pe.Failed) != 0 || fmt.Sprint(pe.Permanent) != "[1]" {
		t.Errorf("got %v", err)
	}
	srv.next(t)

	// An answer that cannot be matched to the batch is retried whole.
	for _, body := range []string{
		`{"errors":true,"items":[{"create":{"status":201}}]}`,
		`<html>proxy says hi</html>`,
		`{"errors":true,"items":` + strings.Repeat(" ", minBulkResponse) + `[]}`,
	} {
		srv.status(200, nil, body)
		err = s.Send(context.Background(), batchOf(testMeta(), lines("0", "1")...))
		if err == nil || sinks.IsPermanent(err) || errors.As(err, &pe) {
			t.Errorf("body %.40q: want a plain retryable error, got %v", body, err)
		}
		srv.next(t)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthorization(t *testing.T) {
	srv := newServer(t, nil)
	dir := t.TempDir()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:pa ss:x"))
	for _, tc := range []struct {
		file   string
		format Format
		want   string
	}{
		{"Bearer abc.def\n", FormatNDJSON, "Bearer abc.def"},
		{"  bearer   abc  \r\n", FormatLoki, "Bearer abc"},
		{"Basic dXNlcjpwYXNz\n", FormatJSON, "Basic dXNlcjpwYXNz"},
		{"user:pa ss:x", FormatElasticsearch, basic},
		{"ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==", FormatElasticsearch, "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="},
		{"Splunk 11111111-2222-3333-4444-555555555555", FormatSplunkHEC, "Splunk 11111111-2222-3333-4444-555555555555"},
		{"11111111-2222-3333-4444-555555555555\n", FormatSplunkHEC, "Splunk 11111111-2222-3333-4444-555555555555"},
		{"rawtoken", FormatNDJSON, "Bearer rawtoken"},
	} {
		c := configFor(srv.URL, tc.format, CompressionNone)
		c.AuthFile = writeFile(t, dir, "cred", tc.file)
		s := newSink(t, c, nil)
		srv.status(200, nil, okBulk(1))
		if err := s.Send(context.Background(), batchOf(testMeta(), rec{line: "x"})); err != nil {
			t.Fatal(err)
		}
		if got := srv.next(t).Header.Get("Authorization"); got != tc.want {
			t.Errorf("file %q (%s): Authorization %q, want %q", tc.file, tc.format, got, tc.want)
		}
	}

	// From the plugin env.
	c := configFor(srv.URL, FormatNDJSON, CompressionNone)
	c.AuthToken = "Bearer from-env"
	s := newSink(t, c, nil)
	srv.status(200, nil, "")
	if err := s.Send(context.Background(), batchOf(testMeta(), rec{line: "x"})); err != nil {
		t.Fatal(err)
	}
	if got := srv.next(t).Header.Get("Authorization"); got != "Bearer from-env" {
		t.Errorf("Authorization %q", got)
	}
}

// TestAuthFileRotation: a rewritten auth file takes effect on the next
// Send; a file that becomes unreadable or malformed fails the attempt
// retryably instead of sending without the credential.
func TestAuthFileRotation(t *testing.T) {
	srv := newServer(t, nil)
	dir := t.TempDir()
	c := configFor(srv.URL, FormatNDJSON, CompressionNone)
	c.AuthFile = writeFile(t, dir, "token", "Bearer one\n")
	s := newSink(t, c, nil)
	send := func() error { return s.Send(context.Background(), batchOf(testMeta(), rec{line: "x"})) }
	if err := send(); err != nil {
		t.Fatal(err)
	}
	if got := srv.next(t).Header.Get("Authorization"); got != "Bearer one" {
		t.Fatalf("Authorization %q", got)
	}
	// Same size, new content: the modification time tells.
	writeFile(t, dir, "token", "Bearer two\n")
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(c.AuthFile, later, later); err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil {
		t.Fatal(err)
	}
	if got := srv.next(t).Header.Get("Authorization"); got != "Bearer two" {
		t.Errorf("after rotation: Authorization %q", got)
	}
	writeFile(t, dir, "token", "")
	if err := send(); err == nil || sinks.IsPermanent(err) {
		t.Errorf("empty auth file: want a retryable error, got %v", err)
	}
	os.Remove(c.AuthFile)
	if err := send(); err == nil || sinks.IsPermanent(err) || strings.Contains(err.Error(), dir) {
		t.Errorf("missing auth file: want a retryable error without the path, got %v", err)
	}
	select {
	case r := <-srv.reqs:
		t.Errorf("a request went out without a credential: %v", r.Header)
	default:
	}
}

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it.
func testCA(t *testing.T) (caPEM []byte, server tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "logship test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestHTTPS(t *testing.T) {
	caPEM, cert := testCA(t)
	srv := newServer(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	caFile := writeFile(t, t.TempDir(), "ca.pem", string(caPEM))
	b := batchOf(testMeta(), rec{line: "over tls"})

	// Without the CA the server is not trusted: retryable (an operator
	// can fix the trust store without losing the ring's records).
	s := newSink(t, configFor(srv.URL, FormatNDJSON, CompressionGzip), nil)
	err := s.Send(context.Background(), b)
	var uae x509.UnknownAuthorityError
	if err == nil || sinks.IsPermanent(err) || !errors.As(err, &uae) {
		t.Fatalf("without the CA: want a retryable unknown-authority error, got %v", err)
	}

	c := configFor(srv.URL, FormatNDJSON, CompressionGzip)
	c.CAFile = caFile
	s = newSink(t, c, nil)
	if err := s.Send(context.Background(), b); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	if r := srv.next(t); !strings.Contains(string(r.Body), "over tls") {
		t.Errorf("body %s", r.Body)
	}

	// TLS below 1.2 is refused.
	old := newServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: tls.VersionTLS11})
	c.URL = old.URL
	s = newSink(t, c, nil)
	if err := s.Send(context.Background(), b); err == nil {
		t.Error("a TLS 1.1 server was accepted")
	}
}

func TestClose(t *testing.T) {
	srv := newServer(t, nil)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	srv.respond(func(w http.ResponseWriter, r *http.Request, _ request) {
		entered <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	s, err := New(configFor(srv.URL, FormatNDJSON, CompressionGzip), nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Send(context.Background(), batchOf(testMeta(), rec{line: "x"})) }()
	<-entered
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !sinks.IsPermanent(err) || !errors.Is(err, sinks.ErrClosed) {
			t.Errorf("in-flight Send after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not abort the attempt in flight")
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err = s.Send(context.Background(), batchOf(testMeta(), rec{line: "x"}))
	if !sinks.IsPermanent(err) || !errors.Is(err, sinks.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}

// TestNewDoesNotDial: New with nothing listening succeeds at once.
func TestNewDoesNotDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	s, err := New(configFor("http://"+ln.Addr().String(), FormatNDJSON, CompressionGzip), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("New/Close made %d connections", n)
	}
}

// TestConcurrentSends shares one Sink between goroutines (run with -race).
func TestConcurrentSends(t *testing.T) {
	srv := newServer(t, nil)
	var got sync.Map
	srv.respond(func(w http.ResponseWriter, _ *http.Request, req request) {
		for _, l := range bytes.Split(bytes.TrimSpace(req.Body), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(l, &m); err != nil {
				t.Errorf("bad line %q: %v", l, err)
			}
			got.Store(m["log"], true)
		}
	})
	for _, comp := range compressions {
		s := newSink(t, configFor(srv.URL, FormatNDJSON, Compression(comp)), pipeline.NewMetrics())
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 20 {
					b := batchOf(testMeta(), rec{line: fmt.Sprintf("%s g%d i%d", comp, g, i)}, rec{line: "second"})
					if err := s.Send(context.Background(), b); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
	}
	if n := len(srv.reqs); n != 3*8*20 {
		t.Errorf("%d requests, want %d", n, 3*8*20)
	}
	for _, comp := range compressions {
		for g := range 8 {
			for i := range 20 {
				if _, ok := got.Load(fmt.Sprintf("%s g%d i%d", comp, g, i)); !ok {
					t.Errorf("line %s g%d i%d did not arrive", comp, g, i)
				}
			}
		}
	}
}
