package fluentd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
)

func TestParseAddress(t *testing.T) {
	cases := []struct {
		in               string
		network, address string
		tls              bool
		wantErr          error
	}{
		{"localhost", "tcp", "localhost:24224", false, nil},
		{"localhost:5000", "tcp", "localhost:5000", false, nil},
		{"tcp://example.com", "tcp", "example.com:24224", false, nil},
		{"tcp://example.com:1234", "tcp", "example.com:1234", false, nil},
		{"tcp://:1234", "tcp", "127.0.0.1:1234", false, nil},
		{"tcp://[::1]:1234", "tcp", "[::1]:1234", false, nil},
		{"tls://example.com", "tcp", "example.com:24224", true, nil},
		{"tcp+tls://example.com:24225", "tcp", "example.com:24225", true, nil},
		{"unix:///var/run/fluent.sock", "unix", "/var/run/fluent.sock", false, nil},
		{"unix://", "", "", false, errEmptyPath},
		{"udp://example.com", "", "", false, errScheme},
		{"tcp://example.com/path", "", "", false, errPathOnTCP},
		{"tcp://example.com:99999", "", "", false, errBadPort},
		{"tcp://example.com:0", "", "", false, errBadPort},
		{"tcp://exa mple.com:%zz", "", "", false, errBadAddress},
	}
	for _, tc := range cases {
		loc, err := parseAddress(tc.in)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%q: err %v, want %v", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || loc.network != tc.network || loc.address != tc.address || loc.tls != tc.tls {
			t.Errorf("%q: %+v, %v", tc.in, loc, err)
		}
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, enabled, err := ParseConfig(map[string]string{OptAddress: "fluent:24224"}, nil)
	if err != nil || !enabled {
		t.Fatal(enabled, err)
	}
	want := DefaultConfig()
	want.Address = "fluent:24224"
	if cfg.Key() != want.Key() {
		t.Fatalf("\n got %s\nwant %s", cfg.Key(), want.Key())
	}
	d := cfg.Delivery
	if d.InitialBackoff != time.Second || d.MaxRetries != -1 || d.MaxBytes != 1<<20 {
		t.Fatalf("delivery %+v", d)
	}
	if cfg.SubSecondPrecision || cfg.RequestAck || cfg.WriteTimeout != 0 || cfg.ReadTimeout != 0 || cfg.Compress != "" {
		t.Fatalf("Docker's defaults changed: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	_, enabled, err = ParseConfig(map[string]string{"tag": "x"}, nil)
	if enabled || err != nil {
		t.Fatal("no fluentd-address must mean disabled", enabled, err)
	}
}

func TestParseConfigDockerOptions(t *testing.T) {
	cfg, _, err := ParseConfig(map[string]string{
		OptAddress:                "tcp://fluent:24224",
		OptAsync:                  "true",
		OptAsyncReconnectInterval: "1s",
		OptRetryWait:              "2s",
		OptMaxRetries:             "5",
		OptBufferLimit:            "8k",
		OptSubSecondPrecision:     "true",
		OptRequestAck:             "true",
		OptWriteTimeout:           "3s",
		OptReadTimeout:            "20s",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Delivery
	if d.InitialBackoff != 2*time.Second || d.MaxRetries != 5 || d.MaxBytes != 8192 {
		t.Fatalf("delivery %+v (fluentd-buffer-limit is binary: 8k = 8192)", d)
	}
	if !cfg.Async || !cfg.SubSecondPrecision || !cfg.RequestAck || cfg.WriteTimeout != 3*time.Second || cfg.ReadTimeout != 20*time.Second {
		t.Fatalf("%+v", cfg)
	}
	if d.AttemptTimeout < 23*time.Second {
		t.Fatalf("AttemptTimeout %v would cut the write and read timeouts", d.AttemptTimeout)
	}

	for _, n := range []string{"2147483647", "9223372036854775807"} {
		cfg, _, err = ParseConfig(map[string]string{OptAddress: "x", OptMaxRetries: n}, nil)
		if err != nil || cfg.Delivery.MaxRetries != -1 {
			t.Fatalf("max-retries %s: %d %v, want -1 (forever)", n, cfg.Delivery.MaxRetries, err)
		}
	}
	cfg, _, err = ParseConfig(map[string]string{OptAddress: "x", OptRetryWait: "0s"}, nil)
	if err != nil || cfg.Delivery.InitialBackoff <= 0 {
		t.Fatal("Docker accepts a zero retry wait", err)
	}
}

// TestParseConfigErrors checks that every problem is reported at once, each
// naming its option, and that no value is repeated.
func TestParseConfigErrors(t *testing.T) {
	const secret = "hunter2"
	opts := map[string]string{
		OptAddress:                "udp://user:" + secret + "@host",
		OptAsync:                  "maybe" + secret,
		OptAsyncReconnectInterval: "50ms",
		OptRetryWait:              "soon" + secret,
		OptMaxRetries:             "-1",
		OptBufferLimit:            "lots" + secret,
		OptSubSecondPrecision:     "yes please",
		OptRequestAck:             "no thanks",
		OptWriteTimeout:           "-1s",
		OptReadTimeout:            "forever",
		OptCompress:               "zstd",
	}
	_, _, err := ParseConfig(opts, nil)
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Fatalf("%v does not wrap ErrInvalidOption", err)
	}
	msg := err.Error()
	if strings.Contains(msg, secret) {
		t.Fatalf("error repeats a value: %s", msg)
	}
	for k := range opts {
		if !strings.Contains(msg, "log-opt "+k+":") {
			t.Errorf("error does not name %s:\n%s", k, msg)
		}
	}
}

func TestParseConfigCrossChecks(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	cases := []struct {
		name string
		opts map[string]string
		want []string // options the error must name
	}{
		{"tls options without tls", map[string]string{OptAddress: "tcp://h", OptTLSCACert: "/x", OptTLSSkipVerify: "true"},
			[]string{OptTLSCACert, OptTLSSkipVerify}},
		{"cert without key", map[string]string{OptAddress: "tls://h", OptTLSCert: "/x"}, []string{OptTLSCert}},
		{"missing CA file", map[string]string{OptAddress: "tls://h", OptTLSCACert: filepath.Join(dir, "nope")}, []string{OptTLSCACert}},
		{"CA file without certs", map[string]string{OptAddress: "tls://h", OptTLSCACert: empty}, []string{OptTLSCACert}},
		{"missing key file", map[string]string{OptAddress: "h", OptSharedKeyFile: filepath.Join(dir, "nope")}, []string{OptSharedKeyFile}},
		{"empty key file", map[string]string{OptAddress: "h", OptSharedKeyFile: empty}, []string{OptSharedKeyFile}},
		{"user without key", map[string]string{OptAddress: "h", OptUsername: "u"}, []string{OptUsername, OptPasswordFile}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseConfig(tc.opts, nil)
			if !errors.Is(err, pipeline.ErrInvalidOption) {
				t.Fatalf("err = %v", err)
			}
			for _, k := range tc.want {
				if !strings.Contains(err.Error(), "log-opt "+k+":") {
					t.Errorf("error does not name %s: %v", k, err)
				}
			}
		})
	}
}

func TestCredentialsStayOutOfKeyAndPrints(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("the-shared-key\n"), 0o600)
	cfg, _, err := ParseConfig(map[string]string{
		OptAddress: "h", OptSharedKeyFile: keyFile, OptUsername: "u",
	}, func(k string) string {
		if k == EnvPassword {
			return "the-password"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SharedKey != "the-shared-key" || cfg.Password != "the-password" {
		t.Fatal("credentials not read (or the trailing newline kept)")
	}
	for _, s := range []string{
		cfg.Key(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		fmt.Sprintf("%s %q %x", cfg.SharedKey, cfg.SharedKey, cfg.Password),
	} {
		if strings.Contains(s, "the-shared-key") || strings.Contains(s, "the-password") || strings.Contains(s, "746865") {
			t.Fatalf("secret leaked: %s", s)
		}
	}
	if !strings.Contains(cfg.Key(), keyFile) || !strings.Contains(cfg.Key(), "env:"+EnvPassword) {
		t.Fatalf("Key should name where the secrets come from: %s", cfg.Key())
	}
}

func TestKeyIdentity(t *testing.T) {
	parse := func(opts map[string]string) string {
		t.Helper()
		cfg, _, err := ParseConfig(opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Key()
	}
	a := parse(map[string]string{OptAddress: "fluent:24224"})
	if b := parse(map[string]string{OptAddress: "tcp://fluent", OptAsync: "true"}); a != b {
		t.Fatalf("equivalent configs differ:\n%s\n%s", a, b)
	}
	for _, opts := range []map[string]string{
		{OptAddress: "fluent:24225"},
		{OptAddress: "tls://fluent:24224"},
		{OptAddress: "fluent:24224", OptRequestAck: "true"},
		{OptAddress: "fluent:24224", OptSubSecondPrecision: "true"},
		{OptAddress: "fluent:24224", OptCompress: "gzip"},
		{OptAddress: "fluent:24224", OptBufferLimit: "2m"},
		{OptAddress: "fluent:24224", OptHostname: "other"},
	} {
		if b := parse(opts); a == b {
			t.Errorf("%v has the same Key as the default", opts)
		}
	}
}
