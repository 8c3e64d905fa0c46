package fluentd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logship/logship/sinks"
)

// testPKI is a CA with a server certificate for 127.0.0.1/localhost and a
// client certificate, written as PEM files.
type testPKI struct {
	dir                       string
	caFile, certFile, keyFile string // client cert and key
	otherCAFile               string // a CA that signed nothing here
	serverCert                tls.Certificate
	caPool                    *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	caKey, caCert, caDER := newCA(t, "logship test CA")
	_, _, otherDER := newCA(t, "other CA")
	p.caPool = x509.NewCertPool()
	p.caPool.AddCert(caCert)

	serverKey, serverDER := leaf(t, caCert, caKey, "fwd-server", x509.ExtKeyUsageServerAuth,
		[]string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	p.serverCert = tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}
	clientKey, clientDER := leaf(t, caCert, caKey, "logship", x509.ExtKeyUsageClientAuth, nil, nil)

	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	p.otherCAFile = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", otherDER)
	p.certFile = writePEM(t, dir, "client.pem", "CERTIFICATE", clientDER)
	keyDER, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	p.keyFile = writePEM(t, dir, "client.key", "EC PRIVATE KEY", keyDER)
	return p
}

var serial int64

func template(cn string) *x509.Certificate {
	serial++
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
}

func newCA(t *testing.T, cn string) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := template(cn)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (*ecdsa.PrivateKey, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := template(cn)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	tmpl.DNSNames, tmpl.IPAddresses = dns, ips
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newTLSServer is a forward server that requires a client certificate
// signed by the test CA.
func newTLSServer(t *testing.T, pki *testPKI) *fwdServer {
	srv := newFwdServer(t, "tcp")
	srv.tlsConfig = &tls.Config{
		Certificates: []tls.Certificate{pki.serverCert},
		ClientCAs:    pki.caPool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	return srv.start()
}

func TestTLSMutual(t *testing.T) {
	pki := newTestPKI(t)
	srv := newTLSServer(t, pki)
	_, port, _ := net.SplitHostPort(srv.addr())
	cfg, enabled, err := ParseConfig(map[string]string{
		OptAddress:     "tls://localhost:" + port,
		OptTLSCACert:   pki.caFile,
		OptTLSCert:     pki.certFile,
		OptTLSKey:      pki.keyFile,
		OptRequestAck:  "true",
		OptCompress:    "gzip",
		OptHostname:    "h",
		OptReadTimeout: "5s",
	}, nil)
	if err != nil || !enabled {
		t.Fatal(enabled, err)
	}
	s, _ := newSink(t, cfg)
	for range 2 { // the second Send reuses the connection
		if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("over tls")}); err != nil {
			t.Fatal(err)
		}
	}
	got, _, conns, errs := srv.snapshot()
	if len(errs) > 0 || len(got) != 2 || got[0].Record["log"] != "over tls" || conns != 1 {
		t.Fatalf("events %+v, %d conns, errs %v", got, conns, errs)
	}
}

func TestTLSFailures(t *testing.T) {
	pki := newTestPKI(t)
	srv := newTLSServer(t, pki)
	_, port, _ := net.SplitHostPort(srv.addr())
	cases := []struct {
		name string
		opts map[string]string
	}{
		{"unknown CA", map[string]string{OptTLSCACert: pki.otherCAFile, OptTLSCert: pki.certFile, OptTLSKey: pki.keyFile}},
		{"no client cert", map[string]string{OptTLSCACert: pki.caFile}},
		{"wrong server name", map[string]string{OptTLSCACert: pki.caFile, OptTLSCert: pki.certFile, OptTLSKey: pki.keyFile, OptTLSServerName: "elsewhere"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts[OptAddress] = "tcp+tls://127.0.0.1:" + port
			tc.opts[OptRequestAck] = "true"
			tc.opts[OptReadTimeout] = "2s"
			cfg, _, err := ParseConfig(tc.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := newSink(t, cfg)
			err = s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("x")})
			// A certificate problem can be fixed on the server side, and
			// the ring keeps the records meanwhile: retryable.
			if err == nil || sinks.IsPermanent(err) {
				t.Fatalf("err = %v, want a retryable error", err)
			}
		})
	}
	t.Run("skip verify", func(t *testing.T) {
		cfg, _, err := ParseConfig(map[string]string{
			OptAddress: "tls://127.0.0.1:" + port, OptTLSSkipVerify: "true",
			OptTLSCert: pki.certFile, OptTLSKey: pki.keyFile, OptRequestAck: "true",
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := newSink(t, cfg)
		if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("x")}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestHandshake(t *testing.T) {
	const key = "s3cret-shared-key"
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(key+"\n"), 0o600)

	run := func(t *testing.T, srv *fwdServer, opts map[string]string, env map[string]string) error {
		t.Helper()
		opts[OptAddress] = srv.addr()
		opts[OptRequestAck] = "true"
		opts[OptReadTimeout] = "5s"
		opts[OptHostname] = "client-host"
		cfg, _, err := ParseConfig(opts, func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		s, _ := newSink(t, cfg)
		return s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("secured")})
	}

	t.Run("good key from file", func(t *testing.T) {
		srv := newFwdServer(t, "tcp")
		srv.sharedKey = key
		srv.start()
		if err := run(t, srv, map[string]string{OptSharedKeyFile: keyFile}, nil); err != nil {
			t.Fatal(err)
		}
		if got, _, _, errs := srv.snapshot(); len(got) != 1 || len(errs) > 0 {
			t.Fatalf("events %v errs %v", got, errs)
		}
	})
	t.Run("good key and user from env", func(t *testing.T) {
		srv := newFwdServer(t, "tcp")
		srv.sharedKey = key
		srv.users = map[string]string{"alice": "pw"}
		srv.start()
		err := run(t, srv, map[string]string{OptUsername: "alice"}, map[string]string{EnvSharedKey: key, EnvPassword: "pw"})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bad key is permanent", func(t *testing.T) {
		srv := newFwdServer(t, "tcp")
		srv.sharedKey = "another key"
		srv.start()
		err := run(t, srv, map[string]string{OptSharedKeyFile: keyFile}, nil)
		if !errors.Is(err, ErrAuthRejected) || !sinks.IsPermanent(err) {
			t.Fatalf("err = %v, want Permanent(ErrAuthRejected)", err)
		}
	})
	t.Run("bad password is permanent", func(t *testing.T) {
		srv := newFwdServer(t, "tcp")
		srv.sharedKey = key
		srv.users = map[string]string{"alice": "pw"}
		srv.start()
		err := run(t, srv, map[string]string{OptSharedKeyFile: keyFile, OptUsername: "alice"}, map[string]string{EnvPassword: "wrong"})
		if !errors.Is(err, ErrAuthRejected) || !sinks.IsPermanent(err) {
			t.Fatalf("err = %v, want Permanent(ErrAuthRejected)", err)
		}
	})
	t.Run("bad PONG digest", func(t *testing.T) {
		srv := newFwdServer(t, "tcp")
		srv.sharedKey = key
		srv.badPongDigest = true
		srv.start()
		err := run(t, srv, map[string]string{OptSharedKeyFile: keyFile}, nil)
		if !errors.Is(err, ErrServerAuth) || sinks.IsPermanent(err) {
			t.Fatalf("err = %v, want retryable ErrServerAuth", err)
		}
		if got, _, _, _ := srv.snapshot(); len(got) != 0 {
			t.Fatal("records sent to an unverified server")
		}
	})
	t.Run("server without keepalive", func(t *testing.T) {
		srv := newFwdServer(t, "tcp")
		srv.sharedKey = key
		srv.keepalive = false
		srv.start()
		cfg, _, err := ParseConfig(map[string]string{OptAddress: srv.addr(), OptSharedKeyFile: keyFile, OptRequestAck: "true"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := newSink(t, cfg)
		for range 3 {
			if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("x")}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, conns, _ := srv.snapshot(); conns != 3 {
			t.Fatalf("%d connections, want one per Send", conns)
		}
	})
	t.Run("server wants a handshake we cannot do", func(t *testing.T) {
		srv := newFwdServer(t, "tcp")
		srv.sharedKey = key
		srv.start()
		err := run(t, srv, map[string]string{}, nil)
		if !errors.Is(err, ErrHandshakeRequired) || !sinks.IsPermanent(err) {
			t.Fatalf("err = %v, want Permanent(ErrHandshakeRequired)", err)
		}
	})
	t.Run("no HELO within the read timeout", func(t *testing.T) {
		srv := newFwdServer(t, "tcp").start() // no handshake on its side
		cfg, _, err := ParseConfig(map[string]string{OptAddress: srv.addr(), OptSharedKeyFile: keyFile, OptReadTimeout: "50ms"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := newSink(t, cfg)
		err = s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("x")})
		if err == nil || sinks.IsPermanent(err) {
			t.Fatalf("err = %v, want retryable", err)
		}
	})
}

// Without acks the first batch to a server that wants a handshake is lost
// (the protocol cannot tell); its HELO is noticed before the next write.
func TestHandshakeRequiredWithoutAck(t *testing.T) {
	srv := newFwdServer(t, "tcp")
	srv.sharedKey = "k"
	srv.start()
	s, _ := newSink(t, testConfig("tcp", srv.addr()))
	if err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("lost")}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	<-c.dead // the server gave up on the PING it wanted
	err := s.Send(ctxT(t), &sinks.Batch{Meta: testMeta(), Events: events("x")})
	if !errors.Is(err, ErrHandshakeRequired) || !sinks.IsPermanent(err) {
		t.Fatalf("err = %v, want Permanent(ErrHandshakeRequired)", err)
	}
}
