package syslogsink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

var tlsVersions = []struct {
	name string
	v    uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

func tlsServer(t *testing.T, pki *testPKI, version uint16, clientAuth tls.ClientAuthType, tickets bool) *streamServer {
	t.Helper()
	ln := tls.NewListener(listenTCP(t), &tls.Config{
		Certificates:           []tls.Certificate{pki.server},
		ClientAuth:             clientAuth,
		ClientCAs:              pki.caPool,
		MinVersion:             version,
		MaxVersion:             version,
		SessionTicketsDisabled: !tickets,
	})
	return newStreamServer(t, ln, FramingOctetCounted)
}

func tlsOpts(srv *streamServer, kv ...string) map[string]string {
	opts := map[string]string{OptAddress: "tcp+tls://" + srv.ln.Addr().String()}
	for i := 0; i+1 < len(kv); i += 2 {
		opts[kv[i]] = kv[i+1]
	}
	return opts
}

func tlsSink(t *testing.T, opts map[string]string) *sink {
	t.Helper()
	cfg, enabled, err := ParseConfig(opts, nil)
	if err != nil || !enabled {
		t.Fatalf("ParseConfig: %v", err)
	}
	s, _ := newTestSink(t, cfg)
	return s
}

func TestTLSMutual(t *testing.T) {
	pki := newTestPKI(t)
	for _, v := range tlsVersions {
		for _, tickets := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/tickets=%v", v.name, tickets), func(t *testing.T) {
				srv := tlsServer(t, pki, v.v, tls.RequireAndVerifyClientCert, tickets)
				s := tlsSink(t, tlsOpts(srv, OptTLSCACert, pki.caFile, OptTLSCert, pki.clientCert, OptTLSKey, pki.clientKey))
				if err := s.Send(ctxTimeout(t, 10*time.Second), batchOf(testMeta, "over tls", "multi\nline")); err != nil {
					t.Fatal(err)
				}
				got := expect(t, srv.msgs, srv.errs, 2)
				if m := mustParse(t, got[1]); m.Msg != "multi\nline" {
					t.Errorf("got %q", m.Msg)
				}
				// The shared connection serves the next batch too.
				if err := s.Send(ctxTimeout(t, 10*time.Second), batchOf(testMeta, "again")); err != nil {
					t.Fatal(err)
				}
				expect(t, srv.msgs, srv.errs, 1)
				if n := srv.accepted(); n != 1 {
					t.Errorf("%d connections", n)
				}
			})
		}
	}
}

// TestTLSClientRefused: a server that refuses the client's certificate
// (or its absence) must make Send fail, with TLS 1.3 too, where the
// refusal comes after the client's handshake is over.
func TestTLSClientRefused(t *testing.T) {
	pki := newTestPKI(t)
	other := newTestPKI(t) // a client certificate from another CA
	for _, v := range tlsVersions {
		for _, tc := range []struct {
			name string
			kv   []string
		}{
			{"no client cert", []string{OptTLSCACert, pki.caFile}},
			{"untrusted client cert", []string{OptTLSCACert, pki.caFile, OptTLSCert, other.clientCert, OptTLSKey, other.clientKey}},
		} {
			t.Run(v.name+"/"+tc.name, func(t *testing.T) {
				srv := tlsServer(t, pki, v.v, tls.RequireAndVerifyClientCert, true)
				s := tlsSink(t, tlsOpts(srv, tc.kv...))
				for i := range 2 { // and again, on a new connection
					err := s.Send(ctxTimeout(t, 10*time.Second), batchOf(testMeta, "must not be lost"))
					if err == nil {
						t.Fatalf("send %d: refused client reported delivery", i)
					}
					if sinks.IsPermanent(err) {
						t.Errorf("send %d: %v is permanent; a certificate can be fixed", i, err)
					}
				}
				select {
				case m := <-srv.msgs:
					t.Errorf("server got %q", m)
				default:
				}
			})
		}
	}
}

func TestTLSServerVerification(t *testing.T) {
	pki := newTestPKI(t)
	srv := tlsServer(t, pki, tls.VersionTLS13, tls.NoClientCert, true)

	// The test CA is not in the system roots.
	s := tlsSink(t, tlsOpts(srv))
	err := s.Send(ctxTimeout(t, 10*time.Second), batchOf(testMeta, "x"))
	var unknown x509.UnknownAuthorityError
	if err == nil || sinks.IsPermanent(err) || !errors.As(err, &unknown) {
		t.Errorf("unknown CA: %v, want a retryable x509.UnknownAuthorityError", err)
	}

	// Docker skips verification whenever the option is present; logship
	// reads it, so "false" verifies.
	s = tlsSink(t, tlsOpts(srv, OptTLSSkipVerify, "false"))
	if err := s.Send(ctxTimeout(t, 10*time.Second), batchOf(testMeta, "x")); err == nil {
		t.Error("skip-verify=false skipped verification")
	}

	// The refused handshakes above ended in errors at that server.
	srv = tlsServer(t, pki, tls.VersionTLS13, tls.NoClientCert, true)
	s = tlsSink(t, tlsOpts(srv, OptTLSSkipVerify, "true"))
	if err := s.Send(ctxTimeout(t, 10*time.Second), batchOf(testMeta, "insecure")); err != nil {
		t.Fatal(err)
	}
	if m := mustParse(t, expect(t, srv.msgs, srv.errs, 1)[0]); m.Msg != "insecure" {
		t.Errorf("got %q", m.Msg)
	}

	s = tlsSink(t, tlsOpts(srv, OptTLSCACert, pki.caFile))
	if err := s.Send(ctxTimeout(t, 10*time.Second), batchOf(testMeta, "verified")); err != nil {
		t.Fatal(err)
	}
	if m := mustParse(t, expect(t, srv.msgs, srv.errs, 1)[0]); m.Msg != "verified" {
		t.Errorf("got %q", m.Msg)
	}
}

func TestTLSReconnect(t *testing.T) {
	pki := newTestPKI(t)
	srv := tlsServer(t, pki, tls.VersionTLS13, tls.RequireAndVerifyClientCert, true)
	s := tlsSink(t, tlsOpts(srv, OptTLSCACert, pki.caFile, OptTLSCert, pki.clientCert, OptTLSKey, pki.clientKey))
	checkReconnect(t, s, srv)
}

func TestTLSFileErrors(t *testing.T) {
	pki := newTestPKI(t)
	secretPath := pki.dir + "/s3cr3t-missing.pem"
	cfg, _, err := ParseConfig(map[string]string{
		OptAddress:   "tcp+tls://127.0.0.1:6514",
		OptTLSCACert: secretPath,
		OptTLSCert:   pki.clientCert,
		OptTLSKey:    pki.serverKey, // does not match the certificate
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, nil)
	if err == nil {
		t.Fatal("New accepted unreadable TLS files")
	}
	if !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Errorf("%v does not wrap ErrInvalidOption", err)
	}
	msg := err.Error()
	for _, want := range []string{OptTLSCACert, OptTLSCert} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not name %s", msg, want)
		}
	}
	if strings.Contains(msg, "s3cr3t") || strings.Contains(msg, pki.dir) {
		t.Errorf("%q repeats a path", msg)
	}
}
