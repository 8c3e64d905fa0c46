package syslogsink

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/logship/logship/sinks"
)

// loadTLS reads the TLS files once, when the Sink is built (as Docker's
// driver does at container start): a renewed certificate is picked up by
// the next Sink, that is after the plugin restarts. Errors name the option
// and never the path.
func loadTLS(c Config) (*tls.Config, *tls.Certificate, error) {
	host, _, _ := net.SplitHostPort(c.Address)
	tc, err := sinks.TLSFiles{
		CAFile: c.TLSCACert, CertFile: c.TLSCert, KeyFile: c.TLSKey,
		CAOpt: OptTLSCACert, CertOpt: OptTLSCert, KeyOpt: OptTLSKey,
		ServerName: host, SkipVerify: c.TLSSkipVerify,
	}.Load()
	if err != nil {
		return nil, nil, err
	}
	var cert *tls.Certificate
	if len(tc.Certificates) > 0 {
		cert = &tc.Certificates[0]
		tc.Certificates = nil
	}
	return tc, cert, nil
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
