package syslogsink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/logship/logship/pipeline"
)

// loadTLS reads the TLS files once, when the Sink is built (as Docker's
// driver does at container start): a renewed certificate is picked up by
// the next Sink, that is after the plugin restarts. Errors name the option
// and never the path.
func loadTLS(c Config) (*tls.Config, *tls.Certificate, error) {
	p := pipeline.NewOptionParser(nil)
	host, _, _ := net.SplitHostPort(c.Address)
	tc := &tls.Config{
		ServerName:         host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: c.TLSSkipVerify,
	}
	if c.TLSCACert != "" {
		if pem, err := os.ReadFile(c.TLSCACert); err != nil {
			p.Fail(OptTLSCACert, wantTLSFile, withoutPath(err))
		} else {
			// Added to the system roots, as Docker's tlsconfig.Client does.
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				p.Fail(OptTLSCACert, "a PEM file of CA certificates", errors.New("no certificate found"))
			}
			tc.RootCAs = pool
		}
	}
	var cert *tls.Certificate
	if c.TLSCert != "" && c.TLSKey != "" {
		certPEM, err := os.ReadFile(c.TLSCert)
		if err != nil {
			p.Fail(OptTLSCert, wantTLSFile, withoutPath(err))
		}
		keyPEM, kerr := os.ReadFile(c.TLSKey)
		if kerr != nil {
			p.Fail(OptTLSKey, wantTLSFile, withoutPath(kerr))
		}
		if err == nil && kerr == nil {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				p.Fail(OptTLSCert, "a PEM certificate that matches the syslog-tls-key PEM key", err)
			} else {
				cert = &pair
			}
		}
	}
	if err := p.Err(); err != nil {
		return nil, nil, err
	}
	return tc, cert, nil
}

func withoutPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// handshake runs TLS over c.raw and starts watching the connection.
//
// With TLS 1.3 a client's handshake is over before the server has checked
// the client's certificate: a server that refuses it (or its absence)
// says so with an alert after the handshake, which the client sees only
// when it reads. A batch written meanwhile would be reported delivered and
// lost, and so would every batch after it, reconnect after reconnect. So
// when the server asked for a certificate, handshake waits for evidence
// that it accepted the client: a session ticket (OpenSSL, GnuTLS and Go
// servers send them once the client is authenticated), or an alert, or,
// for servers that send no tickets, a few round trips (at least 50 ms, at
// most 1 s) without an alert.
func (s *sink) handshake(ctx context.Context, c *conn) error {
	hs := &handshakeState{cert: s.cert, ticket: make(chan struct{}, 1)}
	tc := s.tls.Clone()
	tc.ClientSessionCache = hs
	tc.GetClientCertificate = hs.clientCertificate
	tconn := tls.Client(c.raw, tc)
	start := time.Now()
	if err := tconn.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	rtt := time.Since(start)
	c.w = tconn
	c.watch()
	if tconn.ConnectionState().Version < tls.VersionTLS13 || !hs.requested.Load() {
		return nil
	}
	t := time.NewTimer(min(max(4*rtt, 50*time.Millisecond), time.Second))
	defer t.Stop()
	select {
	case <-hs.ticket:
		return nil
	case <-t.C:
		return nil
	case <-c.dead:
		return fmt.Errorf("tls: the receiver refused the client after the handshake: %w", c.err)
	case <-ctx.Done():
		return fmt.Errorf("tls: waiting for the receiver to accept the client: %w", ctx.Err())
	}
}

// handshakeState is one connection's view of its handshake. It is the
// connection's ClientSessionCache only to learn when a session ticket
// arrives; it never resumes a session.
type handshakeState struct {
	cert      *tls.Certificate
	requested atomic.Bool
	ticket    chan struct{}
}

func (h *handshakeState) Get(string) (*tls.ClientSessionState, bool) { return nil, false }

func (h *handshakeState) Put(_ string, cs *tls.ClientSessionState) {
	if cs == nil {
		return
	}
	select {
	case h.ticket <- struct{}{}:
	default:
	}
}

// clientCertificate answers a CertificateRequest as crypto/tls would with
// Config.Certificates, and notes that the server asked.
func (h *handshakeState) clientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	h.requested.Store(true)
	if h.cert != nil && cri.SupportsCertificate(h.cert) == nil {
		return h.cert, nil
	}
	return new(tls.Certificate), nil
}
