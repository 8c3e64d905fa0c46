package syslogsink

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// The log-opts this package reads. The syslog-* names other than
// syslog-framing, syslog-hostname and syslog-max-datagram-size are Docker's
// syslog driver's, with Docker's meaning (see doc.go for the few
// deliberate differences).
const (
	OptAddress         = "syslog-address"
	OptFacility        = "syslog-facility"
	OptFormat          = "syslog-format"
	OptTLSCACert       = "syslog-tls-ca-cert"
	OptTLSCert         = "syslog-tls-cert"
	OptTLSKey          = "syslog-tls-key"
	OptTLSSkipVerify   = "syslog-tls-skip-verify"
	OptFraming         = "syslog-framing"
	OptHostname        = "syslog-hostname"
	OptMaxDatagramSize = "syslog-max-datagram-size"
)

// OptionKeys lists every log-opt this package reads. The tag, labels and
// env options reach the sink through Batch.Meta and belong to pipeline.
var OptionKeys = []string{
	OptAddress, OptFacility, OptFormat,
	OptTLSCACert, OptTLSCert, OptTLSKey, OptTLSSkipVerify,
	OptFraming, OptHostname, OptMaxDatagramSize,
}

// Network is the transport of syslog-address, named by its URL scheme.
type Network string

// The transports of Docker's syslog driver.
const (
	NetworkUDP      Network = "udp"
	NetworkTCP      Network = "tcp"
	NetworkTLS      Network = "tcp+tls"
	NetworkUnix     Network = "unix"     // stream socket
	NetworkUnixgram Network = "unixgram" // datagram socket
)

func (n Network) valid() bool {
	switch n {
	case NetworkUDP, NetworkTCP, NetworkTLS, NetworkUnix, NetworkUnixgram:
		return true
	}
	return false
}

// stream reports whether n carries a byte stream (framing applies) rather
// than one message per datagram.
func (n Network) stream() bool { return n == NetworkTCP || n == NetworkTLS || n == NetworkUnix }

// dialNetwork is the name net.Dial knows n by.
func (n Network) dialNetwork() string {
	if n == NetworkTLS {
		return "tcp"
	}
	return string(n)
}

// Format is the syslog-format log-opt.
type Format string

// The formats. Unset or empty syslog-format means FormatRFC5424Micro.
const (
	FormatRFC5424      Format = "rfc5424"      // RFC 5424, timestamps in whole seconds
	FormatRFC5424Micro Format = "rfc5424micro" // RFC 5424, timestamps in microseconds
	FormatRFC3164      Format = "rfc3164"      // BSD syslog, no structured data
)

func (f Format) valid() bool {
	return f == FormatRFC5424 || f == FormatRFC5424Micro || f == FormatRFC3164
}

// Framing separates messages on stream transports (syslog-framing).
type Framing string

// The framings of RFC 6587.
const (
	// FramingOctetCounted prefixes each message with its length in bytes
	// and a space (RFC 6587 §3.4.1, required by RFC 5425 for TLS); a
	// message may then hold any byte, newlines included.
	FramingOctetCounted Framing = "octet-counted"
	// FramingNewline ends each message with LF (RFC 6587 §3.4.2); an LF
	// inside a message is replaced by a space so it cannot split it.
	FramingNewline Framing = "newline"
)

// Defaults and bounds.
const (
	DefaultPort     = "514" // Docker's, for tcp+tls too
	DefaultFacility = 3     // daemon
	DefaultFormat   = FormatRFC5424Micro
	// DefaultMaxDatagramSize matches rsyslog's default maxMessageSize
	// (8k), which would cut longer messages anyway.
	DefaultMaxDatagramSize = 8192
	// MinMaxDatagramSize is the size RFC 5426 says every receiver must
	// take; MaxMaxDatagramSize the largest UDP payload over IPv4.
	MinMaxDatagramSize = 480
	MaxMaxDatagramSize = 65507
	maxHostnameLen     = 255 // RFC 5424 HOSTNAME
)

// facilityNames are Docker's (and syslog(3)'s) names; numbers 0-23 are
// accepted too.
var facilityNames = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Config configures one syslog Sink. Build it with ParseConfig or start
// from DefaultConfig.
type Config struct {
	// Network and Address come from syslog-address. Address is host:port
	// for udp, tcp and tcp+tls, and the socket path for unix and unixgram.
	Network Network
	Address string
	// Facility is 0-23 (syslog-facility; default daemon, 3).
	Facility int
	// Format is syslog-format; empty means DefaultFormat.
	Format Format
	// Framing applies to stream transports (syslog-framing). Empty means
	// octet-counted on tcp and tcp+tls and newline on unix, which is what
	// local syslog daemons' stream sockets expect.
	Framing Framing
	// Hostname is the HOSTNAME field (syslog-hostname); empty means
	// os.Hostname() when the Sink is built.
	Hostname string
	// TLS, for tcp+tls only: PEM files. TLSCACert replaces the system
	// roots; TLSCert and TLSKey are a client certificate and its key, set
	// together. TLSSkipVerify turns server verification off.
	TLSCACert     string
	TLSCert       string
	TLSKey        string
	TLSSkipVerify bool
	// MaxDatagramSize caps one udp or unixgram datagram
	// (syslog-max-datagram-size); longer messages are truncated, counted.
	MaxDatagramSize int
	// Delivery is how the shared wrapper batches and retries.
	Delivery sinks.DeliveryConfig
}

// DefaultConfig returns the defaults, without an address.
func DefaultConfig() Config {
	return Config{
		Facility:        DefaultFacility,
		Format:          DefaultFormat,
		MaxDatagramSize: DefaultMaxDatagramSize,
		Delivery:        sinks.DefaultDeliveryConfig(),
	}
}

const (
	wantAddress  = "udp://host[:port], tcp://host[:port], tcp+tls://host[:port] (default port 514), unix:///path or unixgram:///path"
	wantFacility = "a facility name (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, local0 to local7) or a number from 0 to 23"
	wantHostname = "1 to 255 printable ASCII characters without spaces"
	wantTLSFile  = "the path of a PEM file readable by the plugin"
)

// ParseConfig reads the syslog log-opts over DefaultConfig. enabled is
// true when syslog-address is set. The other options are checked even
// when it is not, so that a typo is reported, but the Sink is then off:
// unlike Docker's driver, logship has no implicit local syslog (set
// syslog-address=unixgram:///dev/log for that).
//
// Every problem is reported at once, each as a *pipeline.OptionError
// (wrapping pipeline.ErrInvalidOption) that names the option and never
// repeats its value. getenv is not used: the only credential, the TLS
// client key, is read from the file syslog-tls-key names.
func ParseConfig(opts map[string]string, getenv func(string) string) (cfg Config, enabled bool, err error) {
	_ = getenv
	p := pipeline.NewOptionParser(opts)
	cfg = DefaultConfig()
	addrOK := false
	if v, ok := p.Lookup(OptAddress); ok {
		enabled = true
		network, address, cause := parseAddress(v)
		if cause != nil {
			p.Fail(OptAddress, wantAddress, cause)
		} else {
			cfg.Network, cfg.Address, addrOK = network, address, true
		}
	}
	if v, ok := p.Lookup(OptFacility); ok {
		f, ok := parseFacility(v)
		if !ok {
			p.Fail(OptFacility, wantFacility, nil)
		}
		cfg.Facility = f
	}
	cfg.Format = Format(p.Enum(OptFormat, string(DefaultFormat),
		string(FormatRFC3164), string(FormatRFC5424), string(FormatRFC5424Micro)))
	cfg.Framing = Framing(p.Enum(OptFraming, "", string(FramingOctetCounted), string(FramingNewline)))
	cfg.Hostname = p.String(OptHostname, "")
	cfg.TLSCACert = p.String(OptTLSCACert, "")
	cfg.TLSCert = p.String(OptTLSCert, "")
	cfg.TLSKey = p.String(OptTLSKey, "")
	// Docker skips verification whenever the key is present, even with
	// "false"; logship reads the value, so "false" means what it says.
	cfg.TLSSkipVerify = p.Bool(OptTLSSkipVerify, false)
	cfg.MaxDatagramSize = int(p.Size(OptMaxDatagramSize, DefaultMaxDatagramSize, MinMaxDatagramSize, MaxMaxDatagramSize))
	if addrOK && cfg.Framing == "" && cfg.Network.stream() {
		cfg.Framing = cfg.framing()
	}
	cfg.check(p, enabled && addrOK)
	return cfg, enabled, p.Err()
}

// Validate reports every problem with c at once, as *pipeline.OptionErrors
// naming the log-opt behind each field.
func (c Config) Validate() error {
	p := pipeline.NewOptionParser(nil)
	c.check(p, true)
	if err := c.Delivery.Validate(); err != nil {
		return errors.Join(p.Err(), err)
	}
	return p.Err()
}

// check adds c's problems to p. withAddress includes the address and the
// rules that depend on the transport.
func (c Config) check(p *pipeline.OptionParser, withAddress bool) {
	if withAddress {
		switch {
		case !c.Network.valid():
			p.Fail(OptAddress, wantAddress, errors.New("unsupported transport"))
		case c.Address == "":
			p.Fail(OptAddress, wantAddress, errors.New("no host or path"))
		case c.Network == NetworkUnix || c.Network == NetworkUnixgram:
			if !strings.HasPrefix(c.Address, "/") {
				p.Fail(OptAddress, wantAddress, errors.New("socket path not absolute"))
			}
		default:
			if _, _, err := splitHostPort(c.Address); err != nil {
				p.Fail(OptAddress, wantAddress, err)
			}
		}
		if c.Network != NetworkTLS {
			for _, o := range []struct {
				key string
				set bool
			}{{OptTLSCACert, c.TLSCACert != ""}, {OptTLSCert, c.TLSCert != ""}, {OptTLSKey, c.TLSKey != ""}, {OptTLSSkipVerify, c.TLSSkipVerify}} {
				if o.set {
					// Refused rather than ignored as Docker does: whoever
					// set it expects TLS, and would get plain text.
					p.Fail(o.key, "to be used with a tcp+tls:// syslog-address", nil)
				}
			}
		}
	}
	if c.Facility < 0 || c.Facility > 23 {
		p.Fail(OptFacility, wantFacility, nil)
	}
	if c.Format != "" && !c.Format.valid() {
		p.Fail(OptFormat, "one of rfc3164, rfc5424, rfc5424micro", nil)
	}
	if c.Framing != "" && c.Framing != FramingOctetCounted && c.Framing != FramingNewline {
		p.Fail(OptFraming, "one of octet-counted, newline", nil)
	}
	if c.Hostname != "" && !validHostname(c.Hostname) {
		p.Fail(OptHostname, wantHostname, nil)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		missing := OptTLSKey
		if c.TLSCert == "" {
			missing = OptTLSCert
		}
		p.Fail(missing, wantTLSFile, errors.New("syslog-tls-cert and syslog-tls-key go together"))
	}
	if c.MaxDatagramSize < MinMaxDatagramSize || c.MaxDatagramSize > MaxMaxDatagramSize {
		p.Fail(OptMaxDatagramSize, fmt.Sprintf("a size from %d to %d bytes", MinMaxDatagramSize, MaxMaxDatagramSize), nil)
	}
}

// Key identifies the receiver and every option that changes the bytes on
// the wire: containers whose Configs have equal Keys share one Sink. It
// holds file paths, never file contents.
func (c Config) Key() string {
	var b strings.Builder
	fmt.Fprintf(&b, "syslog %s://%s facility=%d format=%s hostname=%q", c.Network, c.Address, c.Facility, c.format(), c.Hostname)
	if c.Network.stream() {
		fmt.Fprintf(&b, " framing=%s", c.framing())
	} else {
		fmt.Fprintf(&b, " max-datagram-size=%d", c.MaxDatagramSize)
	}
	if c.Network == NetworkTLS {
		fmt.Fprintf(&b, " ca=%q cert=%q key=%q skip-verify=%t", c.TLSCACert, c.TLSCert, c.TLSKey, c.TLSSkipVerify)
	}
	d := c.Delivery
	fmt.Fprintf(&b, " delivery=%d/%d/%v/%v/%v/%v/%d/%v", d.MaxRecords, d.MaxBytes, d.MaxAge,
		d.InitialBackoff, d.MaxBackoff, d.MaxRetryAfter, d.MaxRetries, d.AttemptTimeout)
	return b.String()
}

func (c Config) format() Format {
	if c.Format == "" {
		return DefaultFormat
	}
	return c.Format
}

// framing resolves the default framing of a stream transport.
func (c Config) framing() Framing {
	switch {
	case c.Framing != "":
		return c.Framing
	case c.Network == NetworkUnix:
		// syslog-ng's unix-stream() and friends read LF-terminated
		// messages, as Docker's driver sends them.
		return FramingNewline
	default:
		return FramingOctetCounted
	}
}

// parseAddress splits syslog-address as Docker's driver does, except that
// a host is required and an IPv6 literal without a port works. The
// errors never quote the value.
func parseAddress(s string) (Network, string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", errors.New("not a URL")
	}
	n := Network(u.Scheme)
	switch n {
	case NetworkUnix, NetworkUnixgram:
		// unix://relative/path would put "relative" in Host, and Docker
		// would then quietly use "/path".
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			return "", "", errors.New("want an absolute socket path after " + u.Scheme + "://")
		}
		return n, u.Path, nil
	case NetworkUDP, NetworkTCP, NetworkTLS:
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = DefaultPort
		}
		addr := net.JoinHostPort(host, port)
		if _, _, err := splitHostPort(addr); err != nil {
			return "", "", err
		}
		return n, addr, nil
	case "":
		return "", "", errors.New("no scheme")
	}
	return "", "", errors.New("unsupported scheme")
}

// splitHostPort checks a host:port with a non-empty host and a numeric
// port from 1 to 65535.
func splitHostPort(addr string) (string, string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", errors.New("want host:port")
	}
	if host == "" {
		return "", "", errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", errors.New("port must be a number from 1 to 65535")
	}
	return host, port, nil
}

func parseFacility(s string) (int, bool) {
	if f, ok := facilityNames[s]; ok {
		return f, true
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 23 {
		return n, true
	}
	return DefaultFacility, false
}

func validHostname(s string) bool {
	if len(s) == 0 || len(s) > maxHostnameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}
