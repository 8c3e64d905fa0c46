package fluentd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// The log-opts this package reads. The first ten are Docker's fluentd
// driver's, with its names, defaults and meaning (docker-protocol.md §5.2,
// differences in doc.go); the rest are logship's.
const (
	OptAddress                = "fluentd-address"
	OptAsync                  = "fluentd-async"
	OptAsyncReconnectInterval = "fluentd-async-reconnect-interval"
	OptRetryWait              = "fluentd-retry-wait"
	OptMaxRetries             = "fluentd-max-retries"
	OptBufferLimit            = "fluentd-buffer-limit"
	OptSubSecondPrecision     = "fluentd-sub-second-precision"
	OptRequestAck             = "fluentd-request-ack"
	OptWriteTimeout           = "fluentd-write-timeout"
	OptReadTimeout            = "fluentd-read-timeout"

	OptTLSCACert     = "fluentd-tls-ca-cert"
	OptTLSCert       = "fluentd-tls-cert"
	OptTLSKey        = "fluentd-tls-key"
	OptTLSSkipVerify = "fluentd-tls-skip-verify"
	OptTLSServerName = "fluentd-tls-server-name"
	OptCompress      = "fluentd-compress"
	OptSharedKeyFile = "fluentd-shared-key-file"
	OptUsername      = "fluentd-username"
	OptPasswordFile  = "fluentd-password-file"
	OptHostname      = "fluentd-hostname"
)

// Plugin environment variables (docker plugin set) that hold credentials
// when no file is given. Log-opts never hold them: anyone who can docker
// inspect a container reads its log-opts.
const (
	EnvSharedKey = "FLUENTD_SHARED_KEY"
	EnvPassword  = "FLUENTD_PASSWORD"
)

// OptionKeys lists every log-opt this package reads, for
// pipeline.CheckKnown.
var OptionKeys = []string{
	OptAddress, OptAsync, OptAsyncReconnectInterval, OptRetryWait, OptMaxRetries,
	OptBufferLimit, OptSubSecondPrecision, OptRequestAck, OptWriteTimeout, OptReadTimeout,
	OptTLSCACert, OptTLSCert, OptTLSKey, OptTLSSkipVerify, OptTLSServerName,
	OptCompress, OptSharedKeyFile, OptUsername, OptPasswordFile, OptHostname,
}

// Defaults, as Docker's fluentd driver has them.
const (
	DefaultPort        = 24224
	DefaultHost        = "127.0.0.1"
	DefaultRetryWait   = time.Second
	DefaultBufferLimit = 1 << 20 // fluentd-buffer-limit: 1 MiB
)

// Bounds of the options. Docker checks no upper bounds; these keep a typo
// (1h instead of 1s) from stalling a sink for hours.
const (
	maxTimeout     = time.Hour
	maxRetryWait   = time.Hour
	maxBufferLimit = 256 << 20
	minRetryWait   = time.Millisecond
	dialTimeout    = 3 * time.Second // fluent-logger-golang's, which Docker uses
)

// Secret is a credential. It formats as [REDACTED], so a Config can be
// printed or logged without leaking it.
type Secret string

func (Secret) String() string               { return "[REDACTED]" }
func (Secret) GoString() string             { return `"[REDACTED]"` }
func (Secret) MarshalText() ([]byte, error) { return []byte("[REDACTED]"), nil }

// Format makes every fmt verb print [REDACTED], %x and %q included.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[REDACTED]") }

func (s Secret) empty() bool { return s == "" }

// Config configures one fluentd Sink. Build it with ParseConfig, or start
// from DefaultConfig.
type Config struct {
	// Network is "tcp" or "unix"; Address is host:port or a socket path
	// (fluentd-address: tcp://host:port, unix:///path, and for TLS
	// tls://host:port or tcp+tls://host:port).
	Network string
	Address string
	// TLS wraps the connection in TLS (tls:// or tcp+tls://). TLSCAFile
	// is trusted in addition to the system roots; TLSCertFile and TLSKeyFile are a client
	// certificate for mutual TLS; TLSServerName overrides the name checked
	// in the server's certificate (default: the address's host).
	TLS           bool
	TLSCAFile     string
	TLSCertFile   string
	TLSKeyFile    string
	TLSSkipVerify bool
	TLSServerName string

	// Async is fluentd-async. It is accepted for compatibility and has no
	// effect: delivery never blocks the container in logship (doc.go).
	Async bool
	// SubSecondPrecision sends EventTime (nanoseconds) instead of integer
	// seconds.
	SubSecondPrecision bool
	// RequestAck asks the server to acknowledge each request; Send returns
	// nil only once every request of the batch is acknowledged.
	RequestAck bool
	// WriteTimeout bounds each write, ReadTimeout each wait for an ack or
	// a handshake message; 0 means bounded only by Send's context.
	WriteTimeout time.Duration
	ReadTimeout  time.Duration
	// Compress is "" or "gzip" (CompressedPackedForward).
	Compress string

	// SharedKey turns on the secured-forward handshake (HELO/PING/PONG).
	// SharedKeySource and PasswordSource say where the secrets came from
	// (a file path, or "env:NAME"); they identify the config in Key.
	SharedKey       Secret
	SharedKeySource string
	Username        string
	Password        Secret
	PasswordSource  string
	// Hostname is this client's name in the handshake; "" means
	// os.Hostname().
	Hostname string

	// Delivery is derived from fluentd-retry-wait (InitialBackoff),
	// fluentd-max-retries (MaxRetries) and fluentd-buffer-limit (MaxBytes).
	Delivery sinks.DeliveryConfig
}

// DefaultConfig returns the configuration of an empty option map, but with
// Docker's default address filled in.
func DefaultConfig() Config {
	d := sinks.DefaultDeliveryConfig()
	d.InitialBackoff = DefaultRetryWait
	d.MaxBytes = DefaultBufferLimit
	d.MaxRetries = -1
	return Config{
		Network:  "tcp",
		Address:  net.JoinHostPort(DefaultHost, strconv.Itoa(DefaultPort)),
		Delivery: d,
	}
}

// ParseConfig reads the fluentd log-opts over DefaultConfig. enabled is
// true when fluentd-address is set; the other options are still checked
// when it is not, so a typo is reported either way. Credentials are read
// from the files named by fluentd-shared-key-file and
// fluentd-password-file, or else from getenv(EnvSharedKey) and
// getenv(EnvPassword); getenv may be nil. Every problem is reported at once,
// as *pipeline.OptionError wrapping pipeline.ErrInvalidOption; no error
// repeats an option's value.
func ParseConfig(opts map[string]string, getenv func(string) string) (cfg Config, enabled bool, err error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	p := pipeline.NewOptionParser(opts)
	c := DefaultConfig()

	addr, enabled := p.Lookup(OptAddress)
	if enabled {
		if loc, err := parseAddress(addr); err != nil {
			p.Fail(OptAddress, "tcp://host:port, tls://host:port, tcp+tls://host:port or unix:///path", err)
		} else {
			c.Network, c.Address, c.TLS = loc.network, loc.address, loc.tls
		}
	}
	c.Async = p.Bool(OptAsync, false)
	if d := p.Duration(OptAsyncReconnectInterval, 0, 0, 10*time.Second); d != 0 && d < 100*time.Millisecond {
		p.Fail(OptAsyncReconnectInterval, "0 or a duration from 100ms to 10s", nil)
	}
	// Docker accepts a zero retry wait; the delivery wrapper needs a
	// positive one, so 0 becomes the smallest.
	c.Delivery.InitialBackoff = max(p.Duration(OptRetryWait, DefaultRetryWait, 0, maxRetryWait), minRetryWait)
	c.Delivery.MaxBackoff = max(c.Delivery.MaxBackoff, c.Delivery.InitialBackoff)
	// Docker's default, math.MaxInt32, means forever; so does anything
	// from there up.
	if n := p.Int(OptMaxRetries, -1, 0, math.MaxInt); n >= math.MaxInt32 {
		c.Delivery.MaxRetries = -1
	} else {
		c.Delivery.MaxRetries = n
	}
	if v, ok := p.Lookup(OptBufferLimit); ok {
		// Docker reads this option with RAMInBytes (binary units: 1m is
		// 1 MiB), not with the decimal FromHumanSize of max-size.
		n, err := units.RAMInBytes(v)
		if err != nil || n < 1 || n > maxBufferLimit {
			p.Fail(OptBufferLimit, "a size from 1 byte to 256m such as 1m (binary units)", nil)
		} else {
			c.Delivery.MaxBytes = int(n)
		}
	}
	c.SubSecondPrecision = p.Bool(OptSubSecondPrecision, false)
	c.RequestAck = p.Bool(OptRequestAck, false)
	c.WriteTimeout = p.Duration(OptWriteTimeout, 0, 0, maxTimeout)
	c.ReadTimeout = p.Duration(OptReadTimeout, 0, 0, maxTimeout)
	c.Delivery.AttemptTimeout = attemptTimeout(c.Delivery.AttemptTimeout, c.WriteTimeout, c.ReadTimeout)

	c.TLSCAFile = p.String(OptTLSCACert, "")
	c.TLSCertFile = p.String(OptTLSCert, "")
	c.TLSKeyFile = p.String(OptTLSKey, "")
	c.TLSSkipVerify = p.Bool(OptTLSSkipVerify, false)
	c.TLSServerName = p.String(OptTLSServerName, "")
	if c.Compress = p.Enum(OptCompress, "none", "none", "gzip"); c.Compress == "none" {
		c.Compress = ""
	}
	c.Username = p.String(OptUsername, "")
	c.Hostname = p.String(OptHostname, "")

	if !enabled {
		return c, false, p.Err()
	}
	c.SharedKey, c.SharedKeySource = readSecret(p, OptSharedKeyFile, EnvSharedKey, getenv)
	c.Password, c.PasswordSource = readSecret(p, OptPasswordFile, EnvPassword, getenv)
	// Options that failed to parse kept their defaults above, so these
	// cross-checks do not report them twice.
	c.check(p)
	return c, true, p.Err()
}

// attemptTimeout keeps the wrapper's per-attempt timeout from cutting the
// write and ack timeouts the user asked for.
func attemptTimeout(def, write, read time.Duration) time.Duration {
	return max(def, dialTimeout+write+read)
}

// readSecret reads a credential from the file named by the option, else
// from the environment variable. One trailing newline is dropped: files
// written with echo have one.
func readSecret(p *pipeline.OptionParser, opt, env string, getenv func(string) string) (Secret, string) {
	if path, ok := p.Lookup(opt); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			// The cause names the path, which is no secret.
			p.Fail(opt, "a readable file holding the secret", err)
			return "", ""
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s == "" {
			p.Fail(opt, "a file holding a non-empty secret", nil)
			return "", ""
		}
		return Secret(s), path
	}
	if s := getenv(env); s != "" {
		return Secret(s), "env:" + env
	}
	return "", ""
}

// Validate reports every problem with c at once, each naming the log-opt
// that sets the field. It also loads the TLS files, so that a missing or
// malformed certificate fails docker run rather than the first Send.
func (c Config) Validate() error {
	p := pipeline.NewOptionParser(nil)
	c.check(p)
	return p.Err()
}

func (c Config) check(p *pipeline.OptionParser) {
	switch c.Network {
	case "tcp":
		if _, port, err := net.SplitHostPort(c.Address); err != nil || port == "" {
			p.Fail(OptAddress, "host:port", nil)
		}
	case "unix":
		if strings.TrimLeft(c.Address, "/") == "" {
			p.Fail(OptAddress, "unix:///path with a non-empty path", nil)
		}
		if c.TLS {
			p.Fail(OptAddress, "TLS over tcp only (tls:// or tcp+tls://)", nil)
		}
	default:
		p.Fail(OptAddress, "a tcp or unix address", nil)
	}
	if !c.TLS {
		for _, o := range []struct {
			opt string
			set bool
		}{
			{OptTLSCACert, c.TLSCAFile != ""}, {OptTLSCert, c.TLSCertFile != ""}, {OptTLSKey, c.TLSKeyFile != ""},
			{OptTLSSkipVerify, c.TLSSkipVerify}, {OptTLSServerName, c.TLSServerName != ""},
		} {
			if o.set {
				p.Fail(o.opt, "to be set only with a tls:// or tcp+tls:// "+OptAddress, nil)
			}
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.Fail(OptTLSCert, "to be set together with "+OptTLSKey, nil)
	}
	if c.TLS {
		if _, err := c.tlsConfig(); err != nil {
			var oe *pipeline.OptionError
			if errors.As(err, &oe) {
				p.Fail(oe.Key, oe.Want, oe.Err)
			}
		}
	}
	if c.Compress != "" && c.Compress != "gzip" {
		p.Fail(OptCompress, "none or gzip", nil)
	}
	if c.WriteTimeout < 0 || c.WriteTimeout > maxTimeout {
		p.Fail(OptWriteTimeout, "a duration from 0s to 1h", nil)
	}
	if c.ReadTimeout < 0 || c.ReadTimeout > maxTimeout {
		p.Fail(OptReadTimeout, "a duration from 0s to 1h", nil)
	}
	if c.Username != "" && c.Password.empty() {
		p.Fail(OptPasswordFile, "a password file (or "+EnvPassword+") when "+OptUsername+" is set", nil)
	}
	if (c.Username != "" || !c.Password.empty()) && c.SharedKey.empty() {
		p.Fail(OptUsername, "user authentication only together with a shared key ("+OptSharedKeyFile+" or "+EnvSharedKey+")", nil)
	}
	if err := c.Delivery.Validate(); err != nil {
		p.Fail(OptBufferLimit+", "+OptRetryWait+", "+OptMaxRetries, "delivery settings within bounds", err)
	}
}

// tlsConfig builds the client TLS configuration. Errors are
// *pipeline.OptionError naming the option whose file failed.
func (c Config) tlsConfig() (*tls.Config, error) {
	f := sinks.TLSFiles{
		CAFile: c.TLSCAFile, CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile,
		CAOpt: OptTLSCACert, CertOpt: OptTLSCert, KeyOpt: OptTLSKey,
		ServerName: c.TLSServerName, SkipVerify: c.TLSSkipVerify,
	}
	if f.ServerName == "" && c.Network == "tcp" {
		if host, _, err := net.SplitHostPort(c.Address); err == nil {
			f.ServerName = host
		}
	}
	return f.Load()
}

// Key identifies the Config: containers whose Configs have equal Keys share
// one Sink. It holds every field that changes what is sent or how, and no
// secret: credentials appear as where they come from (path or env name).
// fluentd-async has no effect and is left out.
func (c Config) Key() string {
	var b strings.Builder
	scheme := c.Network
	if c.TLS {
		scheme = "tls"
	}
	fmt.Fprintf(&b, "fluentd %s://%s", scheme, c.Address)
	if c.TLS {
		fmt.Fprintf(&b, " ca=%q cert=%q key=%q skip-verify=%t server-name=%q",
			c.TLSCAFile, c.TLSCertFile, c.TLSKeyFile, c.TLSSkipVerify, c.TLSServerName)
	}
	fmt.Fprintf(&b, " ack=%t subsecond=%t compress=%q write-timeout=%v read-timeout=%v",
		c.RequestAck, c.SubSecondPrecision, c.Compress, c.WriteTimeout, c.ReadTimeout)
	if !c.SharedKey.empty() {
		fmt.Fprintf(&b, " shared-key=%q user=%q password=%q", c.SharedKeySource, c.Username, c.PasswordSource)
	}
	fmt.Fprintf(&b, " hostname=%q delivery=%+v", c.Hostname, c.Delivery)
	return b.String()
}

// location is a parsed fluentd-address.
type location struct {
	network, address string
	tls              bool
}

// errors for parseAddress. They never contain the address: a log-opt may
// hold credentials (a URL with user:password@), and OptionErrors are logged.
var (
	errScheme     = errors.New("unsupported scheme")
	errEmptyPath  = errors.New("empty socket path")
	errPathOnTCP  = errors.New("a tcp or tls address takes no path")
	errBadPort    = errors.New("port must be a number from 1 to 65535")
	errBadAddress = errors.New("not a URL")
)

// parseAddress reads fluentd-address as Docker's driver does: a value
// without "://" gets tcp://; the default host is 127.0.0.1 and the default
// port 24224. logship adds TLS under tcp+tls:// next to Docker's tls://.
func parseAddress(s string) (location, error) {
	if !strings.Contains(s, "://") {
		s = "tcp://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return location{}, errBadAddress
	}
	var loc location
	switch strings.ToLower(u.Scheme) {
	case "unix":
		if strings.TrimLeft(u.Path, "/") == "" {
			return location{}, errEmptyPath
		}
		return location{network: "unix", address: u.Path}, nil
	case "tcp":
	case "tls", "tcp+tls":
		loc.tls = true
	default:
		return location{}, errScheme
	}
	if u.Path != "" && u.Path != "/" {
		return location{}, errPathOnTCP
	}
	host, port := u.Hostname(), DefaultPort
	if host == "" {
		host = DefaultHost
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return location{}, errBadPort
		}
		port = int(n)
	}
	loc.network = "tcp"
	loc.address = net.JoinHostPort(host, strconv.Itoa(port))
	return loc, nil
}
