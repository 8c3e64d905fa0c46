package sinks

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/logship/logship/pipeline"
)

// TLSFiles describes a sink's client TLS configuration by the PEM files its
// log-opts name. The option names are carried along so that every error
// names the option, never the path (log-opts are not secret, but paths in
// errors end up in logs that are shared more widely than the config).
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
	CAOpt, CertOpt, KeyOpt    string
	ServerName                string
	SkipVerify                bool
}

// maxPEM caps what is read from one PEM file.
const maxPEM = 1 << 20

// Load reads the files once and returns the client configuration: TLS 1.2
// or newer; the CA file's certificates added to the system roots (as
// Docker's tlsconfig.Client does); the client certificate when both cert
// and key are given. It reports every problem at once, as
// *pipeline.OptionErrors.
func (f TLSFiles) Load() (*tls.Config, error) {
	p := pipeline.NewOptionParser(nil)
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         f.ServerName,
		InsecureSkipVerify: f.SkipVerify, //nolint:gosec // the user asked for it (*-tls-skip-verify)
	}
	if f.CAFile != "" {
		if pem, err := readPEM(f.CAFile); err != nil {
			p.Fail(f.CAOpt, "a readable PEM file of CA certificates", err)
		} else {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				p.Fail(f.CAOpt, "a PEM file with at least one CA certificate", nil)
			}
			tc.RootCAs = pool
		}
	}
	if f.CertFile != "" || f.KeyFile != "" {
		certPEM, cerr := readPEM(f.CertFile)
		if cerr != nil {
			p.Fail(f.CertOpt, "a readable PEM certificate file", cerr)
		}
		keyPEM, kerr := readPEM(f.KeyFile)
		if kerr != nil {
			p.Fail(f.KeyOpt, "a readable PEM key file", kerr)
		}
		if cerr == nil && kerr == nil {
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				p.Fail(f.CertOpt, "a PEM certificate that matches the PEM key of "+f.KeyOpt, err)
			} else {
				tc.Certificates = []tls.Certificate{pair}
			}
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return tc, nil
}

// readPEM reads a small file; its errors carry no path.
func readPEM(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("not set")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, withoutPath(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEM+1))
	if err != nil {
		return nil, withoutPath(err)
	}
	if len(b) > maxPEM {
		return nil, errors.New("file larger than 1 MiB")
	}
	return b, nil
}

func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
