package syslogsink

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, enabled, err := ParseConfig(map[string]string{OptAddress: "tcp://logs.example.com"}, nil)
	if err != nil || !enabled {
		t.Fatalf("enabled %v, err %v", enabled, err)
	}
	want := Config{
		Network:         NetworkTCP,
		Address:         "logs.example.com:514",
		Facility:        3,
		Format:          FormatRFC5424Micro,
		Framing:         FramingOctetCounted,
		MaxDatagramSize: 8192,
		Delivery:        sinks.DefaultDeliveryConfig(),
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseConfigAddress(t *testing.T) {
	for _, tc := range []struct {
		in      string
		network Network
		addr    string
		framing Framing
	}{
		{"udp://10.0.0.1", NetworkUDP, "10.0.0.1:514", ""},
		{"udp://10.0.0.1:5140", NetworkUDP, "10.0.0.1:5140", ""},
		{"tcp://[::1]", NetworkTCP, "[::1]:514", FramingOctetCounted},
		{"tcp://[::1]:601", NetworkTCP, "[::1]:601", FramingOctetCounted},
		{"tcp+tls://logs:6514", NetworkTLS, "logs:6514", FramingOctetCounted},
		{"tcp+tls://logs", NetworkTLS, "logs:514", FramingOctetCounted},
		{"tcp://logs:514/ignored/path", NetworkTCP, "logs:514", FramingOctetCounted},
		{"unix:///run/syslog.sock", NetworkUnix, "/run/syslog.sock", FramingNewline},
		{"unixgram:///dev/log", NetworkUnixgram, "/dev/log", ""},
	} {
		cfg, enabled, err := ParseConfig(map[string]string{OptAddress: tc.in}, nil)
		if err != nil || !enabled {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if cfg.Network != tc.network || cfg.Address != tc.addr || cfg.Framing != tc.framing {
			t.Errorf("%s: %s %s %s, want %s %s %s", tc.in, cfg.Network, cfg.Address, cfg.Framing, tc.network, tc.addr, tc.framing)
		}
	}
	for _, bad := range []string{
		"logs.example.com:514", "http://logs:514", "tcp://", "tcp://:514", "tcp://logs:0", "tcp://logs:99999",
		"tcp://logs:syslog", "unix://relative/path", "unixgram://", "%zz",
	} {
		_, enabled, err := ParseConfig(map[string]string{OptAddress: bad}, nil)
		if err == nil || !enabled {
			t.Errorf("%q: accepted", bad)
			continue
		}
		if !errors.Is(err, pipeline.ErrInvalidOption) || !strings.Contains(err.Error(), OptAddress) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParseConfigOptions(t *testing.T) {
	opts := map[string]string{
		OptAddress:         "tcp+tls://logs:6514",
		OptFacility:        "local7",
		OptFormat:          "rfc3164",
		OptFraming:         "newline",
		OptHostname:        "node-1.example",
		OptTLSCACert:       "/etc/ca.pem",
		OptTLSCert:         "/etc/c.pem",
		OptTLSKey:          "/etc/c.key",
		OptTLSSkipVerify:   "true",
		OptMaxDatagramSize: "2k",
		"mode":             "non-blocking", // dockerd's; not ours to judge
	}
	cfg, enabled, err := ParseConfig(opts, nil)
	if err != nil || !enabled {
		t.Fatal(err)
	}
	want := Config{
		Network: NetworkTLS, Address: "logs:6514", Facility: 23, Format: FormatRFC3164, Framing: FramingNewline,
		Hostname: "node-1.example", TLSCACert: "/etc/ca.pem", TLSCert: "/etc/c.pem", TLSKey: "/etc/c.key",
		TLSSkipVerify: true, MaxDatagramSize: 2000, Delivery: sinks.DefaultDeliveryConfig(),
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	for in, want := range map[string]int{"kern": 0, "0": 0, "user": 1, "daemon": 3, "authpriv": 10, "ftp": 11, "12": 12, "local0": 16, "23": 23} {
		cfg, _, err := ParseConfig(map[string]string{OptAddress: "udp://h", OptFacility: in}, nil)
		if err != nil || cfg.Facility != want {
			t.Errorf("facility %s: %d %v, want %d", in, cfg.Facility, err, want)
		}
	}
	// Empty values mean the default, as for Docker's driver.
	cfg, _, err = ParseConfig(map[string]string{OptAddress: "udp://h", OptFormat: "", OptFacility: ""}, nil)
	if err != nil || cfg.Format != FormatRFC5424Micro || cfg.Facility != 3 {
		t.Errorf("empty options: %+v %v", cfg, err)
	}
	for _, f := range []string{"rfc5424", "rfc5424micro", "rfc3164"} {
		if cfg, _, err := ParseConfig(map[string]string{OptAddress: "udp://h", OptFormat: f}, nil); err != nil || string(cfg.Format) != f {
			t.Errorf("format %s: %v", f, err)
		}
	}
}

// TestParseConfigErrors: every problem at once, each naming its option,
// none repeating a value.
func TestParseConfigErrors(t *testing.T) {
	const secret = "hunter2SECRET"
	opts := map[string]string{
		OptAddress:         "tcp://logs:514",
		OptFacility:        "local8" + secret,
		OptFormat:          "json" + secret,
		OptFraming:         "lf" + secret,
		OptHostname:        "a b" + secret,
		OptTLSCACert:       "/ca" + secret,
		OptTLSCert:         "/cert" + secret,
		OptTLSSkipVerify:   "yes" + secret,
		OptMaxDatagramSize: "1" + secret,
	}
	cfg, enabled, err := ParseConfig(opts, nil)
	if !enabled || err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	if strings.Contains(msg, secret) {
		t.Errorf("error repeats a value: %s", msg)
	}
	for _, key := range []string{OptFacility, OptFormat, OptFraming, OptHostname, OptTLSCACert, OptTLSKey, OptTLSSkipVerify, OptMaxDatagramSize} {
		if !strings.Contains(msg, "log-opt "+key+":") {
			t.Errorf("error does not name %s:\n%s", key, msg)
		}
	}
	var oe *pipeline.OptionError
	if !errors.As(err, &oe) || !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Errorf("%v is not an OptionError", err)
	}
	// TLS options on a plain tcp address are refused, not ignored.
	if !strings.Contains(msg, "log-opt "+OptTLSCACert+": invalid value, want to be used with a tcp+tls://") {
		t.Errorf("TLS on tcp:// not refused:\n%s", msg)
	}
	_ = cfg
}

func TestParseConfigDisabled(t *testing.T) {
	cfg, enabled, err := ParseConfig(map[string]string{"tag": "{{.Name}}", OptFacility: "local0"}, nil)
	if enabled || err != nil {
		t.Errorf("enabled %v, err %v", enabled, err)
	}
	if cfg.Facility != 16 {
		t.Errorf("facility %d", cfg.Facility)
	}
	_, enabled, err = ParseConfig(map[string]string{OptAddress: "", OptFacility: "nope"}, nil)
	if enabled || err == nil || !strings.Contains(err.Error(), OptFacility) {
		t.Errorf("typo without an address: enabled %v, err %v", enabled, err)
	}
	// The TLS options need an address to be judged against.
	if _, enabled, err := ParseConfig(map[string]string{OptTLSCACert: "/ca.pem"}, nil); enabled || err != nil {
		t.Errorf("enabled %v, err %v", enabled, err)
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{}).Validate(); err == nil {
		t.Error("zero Config valid")
	}
	c := Config{
		Network: "sctp", Facility: 24, Format: "xml", Framing: "cr", Hostname: strings.Repeat("h", 256),
		TLSKey: "/k", MaxDatagramSize: 100, Delivery: sinks.DefaultDeliveryConfig(),
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("valid")
	}
	for _, key := range []string{OptAddress, OptFacility, OptFormat, OptFraming, OptHostname, OptTLSCert, OptMaxDatagramSize} {
		if !strings.Contains(err.Error(), "log-opt "+key+":") {
			t.Errorf("no problem reported for %s:\n%v", key, err)
		}
	}
	c = cfgFor(NetworkUnix, "relative.sock")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), OptAddress) {
		t.Errorf("relative unix path: %v", err)
	}
	c = cfgFor(NetworkTCP, "h:514")
	c.Delivery.MaxRecords = 0
	if err := c.Validate(); err == nil {
		t.Error("bad delivery config accepted")
	}
	c = cfgFor(NetworkTCP, "h:514")
	c.Format, c.Framing = "", ""
	if err := c.Validate(); err != nil {
		t.Errorf("empty format and framing mean the defaults: %v", err)
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New accepted an invalid Config")
	}
}

func TestKey(t *testing.T) {
	parse := func(opts map[string]string) Config {
		t.Helper()
		c, _, err := ParseConfig(opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := parse(map[string]string{OptAddress: "tcp://logs"})
	same := []Config{
		parse(map[string]string{OptAddress: "tcp://logs:514"}),
		parse(map[string]string{OptAddress: "tcp://logs", OptFraming: "octet-counted", OptFormat: "rfc5424micro", OptFacility: "3"}),
		parse(map[string]string{OptAddress: "tcp://logs", OptMaxDatagramSize: "2k"}), // not a datagram transport
	}
	for i, c := range same {
		if c.Key() != base.Key() {
			t.Errorf("same[%d]: %s != %s", i, c.Key(), base.Key())
		}
	}
	seen := map[string]bool{base.Key(): true}
	for i, c := range []Config{
		parse(map[string]string{OptAddress: "tcp://logs2"}),
		parse(map[string]string{OptAddress: "udp://logs"}),
		parse(map[string]string{OptAddress: "tcp://logs", OptFacility: "local0"}),
		parse(map[string]string{OptAddress: "tcp://logs", OptFormat: "rfc5424"}),
		parse(map[string]string{OptAddress: "tcp://logs", OptFraming: "newline"}),
		parse(map[string]string{OptAddress: "tcp://logs", OptHostname: "h"}),
		parse(map[string]string{OptAddress: "tcp+tls://logs"}),
		parse(map[string]string{OptAddress: "tcp+tls://logs", OptTLSSkipVerify: "true"}),
		parse(map[string]string{OptAddress: "tcp+tls://logs", OptTLSCACert: "/ca.pem"}),
		parse(map[string]string{OptAddress: "udp://logs", OptMaxDatagramSize: "2k"}),
	} {
		if seen[c.Key()] {
			t.Errorf("different[%d] collides: %s", i, c.Key())
		}
		seen[c.Key()] = true
	}
}

func TestOptionKeys(t *testing.T) {
	// Every key ParseConfig reads passes pipeline.CheckKnown.
	opts := map[string]string{}
	for _, k := range OptionKeys {
		opts[k] = "x"
	}
	if err := pipeline.CheckKnown(opts, OptionKeys); err != nil {
		t.Error(err)
	}
	if err := pipeline.CheckKnown(map[string]string{"syslog-tls-skip-verfy": "1"}, OptionKeys); err == nil {
		t.Error("typo accepted")
	}
}
