package sinks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/pipeline"
)

func TestTLSFilesReportsEveryProblemWithoutPaths(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := TLSFiles{
		CAFile: junk, CertFile: filepath.Join(dir, "missing.pem"), KeyFile: filepath.Join(dir, "missing.key"),
		CAOpt: "x-tls-ca-cert", CertOpt: "x-tls-cert", KeyOpt: "x-tls-key",
	}.Load()
	if !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Fatalf("err = %v, want an invalid-option error", err)
	}
	for _, opt := range []string{"x-tls-ca-cert", "x-tls-cert", "x-tls-key"} {
		if !strings.Contains(err.Error(), opt) {
			t.Errorf("error does not name %s: %v", opt, err)
		}
	}
	if strings.Contains(err.Error(), dir) {
		t.Errorf("error shows a path: %v", err)
	}
	tc, err := TLSFiles{SkipVerify: true, ServerName: "h"}.Load()
	if err != nil || tc.MinVersion < 0x0303 || tc.ServerName != "h" || !tc.InsecureSkipVerify || tc.RootCAs != nil {
		t.Fatalf("plain config = %+v, %v", tc, err)
	}
}
