package httpsink

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// The log-opts read by this package.
const (
	OptURL              = "http-url"
	OptFormat           = "http-format"
	OptCompression      = "http-compression"
	OptTimeout          = "http-timeout"
	OptBatchSize        = "http-batch-size"
	OptBatchBytes       = "http-batch-bytes"
	OptCAFile           = "http-ca-file"
	OptAuthFile         = "http-auth-file"
	OptHeaders          = "http-headers"
	OptESIndex          = "http-es-index"
	OptLokiLabels       = "http-loki-labels"
	OptSplunkSourcetype = "http-splunk-sourcetype"
	OptSplunkIndex      = "http-splunk-index"
)

// The plugin env read through ParseConfig's getenv. They let an operator
// give every container a credential with `docker plugin set`, where
// `docker inspect` of a container cannot show it.
const (
	// EnvAuthFile names a credential file, as http-auth-file does; the
	// log-opt wins when both are set.
	EnvAuthFile = "HTTP_AUTH_FILE"
	// EnvAuthToken holds a credential in the auth file format; used only
	// when neither http-auth-file nor HTTP_AUTH_FILE is set.
	EnvAuthToken = "HTTP_AUTH_TOKEN"
)

// OptionKeys lists every log-opt this package reads, for
// pipeline.CheckKnown.
var OptionKeys = []string{
	OptURL, OptFormat, OptCompression, OptTimeout, OptBatchSize, OptBatchBytes,
	OptCAFile, OptAuthFile, OptHeaders, OptESIndex, OptLokiLabels,
	OptSplunkSourcetype, OptSplunkIndex,
}

// Format is the request body format (log-opt http-format).
type Format string

// The formats. See doc.go for each wire format.
const (
	FormatNDJSON        Format = "ndjson"
	FormatJSON          Format = "json"
	FormatElasticsearch Format = "elasticsearch"
	FormatLoki          Format = "loki"
	FormatSplunkHEC     Format = "splunk-hec"
)

var formats = []string{string(FormatNDJSON), string(FormatJSON), string(FormatElasticsearch), string(FormatLoki), string(FormatSplunkHEC)}

// Compression is the request body's Content-Encoding (log-opt
// http-compression).
type Compression string

// The codecs.
const (
	CompressionGzip Compression = "gzip"
	CompressionZstd Compression = "zstd"
	CompressionNone Compression = "none"
)

var compressions = []string{string(CompressionGzip), string(CompressionZstd), string(CompressionNone)}

// Defaults and bounds of the options.
const (
	DefaultESIndex    = "logs-logship-default"
	DefaultBatchSize  = 1000
	DefaultBatchBytes = 1 << 20
	DefaultTimeout    = 10 * time.Second

	minTimeout, maxTimeout       = 100 * time.Millisecond, 10 * time.Minute
	minBatchSize, maxBatchSize   = 1, 100_000
	minBatchBytes, maxBatchBytes = 1_000, 64_000_000
	// maxCredentialFile caps what is read of an auth file: a credential is
	// a line, and a wrong path (a log file, a device) must not be slurped.
	maxCredentialFile = 64 << 10
)

// DefaultLokiLabels are the Loki stream labels when http-loki-labels is
// unset: few values each, so streams stay few.
var DefaultLokiLabels = []string{"container_name", "source"}

// Secret is a credential. It prints as [REDACTED] whatever the verb, so a
// Config can be logged.
type Secret string

func (Secret) String() string                  { return "[REDACTED]" }
func (Secret) GoString() string                { return `"[REDACTED]"` }
func (Secret) MarshalText() ([]byte, error)    { return []byte("[REDACTED]"), nil }
func (s Secret) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.String()) }

// Header is one extra request header from http-headers.
type Header struct {
	Name, Value string
}

// Config configures one HTTP Sink. Build it with ParseConfig or start from
// DefaultConfig; New validates it.
type Config struct {
	// URL is where batches are POSTed (log-opt http-url): http or https,
	// query allowed (VictoriaLogs takes its ingestion parameters there),
	// no user:password@ (credentials go in an auth file), no fragment.
	URL string
	// Format of the body (http-format), default ndjson.
	Format Format
	// Compression of the body (http-compression), default gzip.
	Compression Compression
	// CAFile is a PEM bundle trusted in addition to the system roots
	// (http-ca-file), as Docker's tlsconfig does for syslog-tls-ca-cert.
	CAFile string
	// AuthFile holds the credential (http-auth-file, else plugin env
	// HTTP_AUTH_FILE). It is re-read when it changes, so a token can be
	// rotated without restarting containers. See ParseCredential.
	AuthFile string
	// AuthToken is the credential from plugin env HTTP_AUTH_TOKEN, used
	// when AuthFile is empty.
	AuthToken Secret
	// Headers are extra, non-secret request headers (http-headers:
	// Name=value pairs separated by commas), e.g. X-Scope-OrgID for Loki
	// or AccountID/ProjectID for VictoriaLogs tenants.
	Headers []Header
	// ESIndex is the _index of every bulk action (http-es-index), default
	// logs-logship-default: Elasticsearch 8's built-in logs-*-* template
	// makes it a data stream.
	ESIndex string
	// LokiLabels are the stream labels (http-loki-labels): container_name,
	// container_id, image, tag, source, or an attribute selected by the
	// labels/env log-opts. Names are made valid Loki label names ([a-zA-Z_]
	// [a-zA-Z0-9_]*; others become '_').
	LokiLabels []string
	// SplunkSourcetype and SplunkIndex are the HEC sourcetype and index
	// (http-splunk-sourcetype, http-splunk-index); empty means the token's
	// defaults.
	SplunkSourcetype string
	SplunkIndex      string
	// Delivery is what the shared wrapper uses: MaxRecords from
	// http-batch-size, MaxBytes from http-batch-bytes, AttemptTimeout from
	// http-timeout; the rest are sinks.DefaultDeliveryConfig.
	Delivery sinks.DeliveryConfig
}

// DefaultConfig returns the defaults, with no URL.
func DefaultConfig() Config {
	d := sinks.DefaultDeliveryConfig()
	d.MaxRecords = DefaultBatchSize
	d.MaxBytes = DefaultBatchBytes
	d.AttemptTimeout = DefaultTimeout
	return Config{
		Format:      FormatNDJSON,
		Compression: CompressionGzip,
		ESIndex:     DefaultESIndex,
		LokiLabels:  slices.Clone(DefaultLokiLabels),
		Delivery:    d,
	}
}

// envError is a problem with the plugin env. It wraps ErrInvalidOption so
// that `docker run` fails with it, like a bad log-opt.
type envError struct {
	name, want string
	err        error
}

func (e *envError) Error() string {
	msg := fmt.Sprintf("plugin env %s: invalid value, want %s", e.name, e.want)
	if e.err != nil {
		msg += " (" + e.err.Error() + ")"
	}
	return msg
}

func (e *envError) Unwrap() []error { return []error{pipeline.ErrInvalidOption, e.err} }

// ParseConfig reads the http-* log-opts over DefaultConfig, and the plugin
// env through getenv (nil means none). enabled reports whether http-url is
// set; when it is not, nothing else is checked and cfg is the default.
// Every problem is reported at once, naming the option, never its value. It
// reads the CA and auth files, so that a wrong path or a malformed
// credential fails `docker run` rather than the first delivery.
func ParseConfig(opts map[string]string, getenv func(string) string) (cfg Config, enabled bool, err error) {
	cfg = DefaultConfig()
	p := pipeline.NewOptionParser(opts)
	u, ok := p.Lookup(OptURL)
	if !ok {
		return cfg, false, nil
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cfg.URL = u
	cfg.Format = Format(p.Enum(OptFormat, string(cfg.Format), formats...))
	cfg.Compression = Compression(p.Enum(OptCompression, string(cfg.Compression), compressions...))
	cfg.Delivery.AttemptTimeout = p.Duration(OptTimeout, cfg.Delivery.AttemptTimeout, minTimeout, maxTimeout)
	cfg.Delivery.MaxRecords = p.Int(OptBatchSize, cfg.Delivery.MaxRecords, minBatchSize, maxBatchSize)
	cfg.Delivery.MaxBytes = int(p.Size(OptBatchBytes, int64(cfg.Delivery.MaxBytes), minBatchBytes, maxBatchBytes))
	cfg.CAFile = p.String(OptCAFile, "")
	cfg.ESIndex = p.String(OptESIndex, cfg.ESIndex)
	cfg.LokiLabels = p.List(OptLokiLabels, cfg.LokiLabels)
	cfg.SplunkSourcetype = p.String(OptSplunkSourcetype, "")
	cfg.SplunkIndex = p.String(OptSplunkIndex, "")
	if v, ok := p.Lookup(OptHeaders); ok {
		cfg.Headers = parseHeaders(v)
	}

	var envErrs []error
	authFileOpt := OptAuthFile
	if f, ok := p.Lookup(OptAuthFile); ok {
		cfg.AuthFile = f
	} else if f := getenv(EnvAuthFile); f != "" {
		cfg.AuthFile, authFileOpt = f, ""
	} else if t := getenv(EnvAuthToken); t != "" {
		cfg.AuthToken = Secret(t)
	}

	cfg.check(p)
	// The files are read here as well as in New: a missing CA or a
	// malformed credential should fail `docker run`, not every attempt.
	if cfg.CAFile != "" {
		if _, err := cfg.tlsFiles().Load(); err != nil {
			p.Fail(OptCAFile, "a readable PEM file of CA certificates (as the plugin sees it)", err)
		}
	}
	if cfg.AuthFile != "" {
		if _, err := readCredentialFile(cfg.AuthFile, cfg.Format); err != nil {
			if authFileOpt != "" {
				p.Fail(authFileOpt, credentialWant, err)
			} else {
				envErrs = append(envErrs, &envError{EnvAuthFile, credentialWant, err})
			}
		}
	} else if cfg.AuthToken != "" {
		if _, err := ParseCredential(string(cfg.AuthToken), cfg.Format); err != nil {
			envErrs = append(envErrs, &envError{EnvAuthToken, credentialWantToken, err})
		}
	}
	return cfg, true, errors.Join(append([]error{p.Err()}, envErrs...)...)
}

const (
	credentialWant      = "a readable file (as the plugin sees it) holding one credential line: Bearer <token>, Basic <base64>, ApiKey <base64>, Splunk <token>, user:password, or a bare token"
	credentialWantToken = "one credential: Bearer <token>, Basic <base64>, ApiKey <base64>, Splunk <token>, user:password, or a bare token"
)

// Validate reports every problem with c at once, naming the log-opt of
// each field. It does no IO: New reads the files.
func (c Config) Validate() error {
	p := pipeline.NewOptionParser(nil)
	c.check(p)
	var errs []error
	if err := p.Err(); err != nil {
		errs = append(errs, err)
	}
	if c.AuthFile == "" && c.AuthToken != "" {
		if _, err := ParseCredential(string(c.AuthToken), c.Format); err != nil {
			errs = append(errs, &envError{EnvAuthToken, credentialWantToken, err})
		}
	}
	return errors.Join(errs...)
}

func (c Config) check(p *pipeline.OptionParser) {
	if err := checkURL(c.URL); err != nil {
		p.Fail(OptURL, "an http:// or https:// URL without user:password@ (credentials go in http-auth-file)", err)
	}
	if !slices.Contains(formats, string(c.Format)) {
		p.Fail(OptFormat, "one of "+strings.Join(formats, ", "), nil)
	}
	if !slices.Contains(compressions, string(c.Compression)) {
		p.Fail(OptCompression, "one of "+strings.Join(compressions, ", "), nil)
	}
	for i, h := range c.Headers {
		if err := checkHeader(h); err != nil {
			p.Fail(OptHeaders, "comma-separated Name=value pairs of non-secret headers", fmt.Errorf("pair %d: %w", i+1, err))
		}
	}
	if c.Format == FormatElasticsearch {
		if err := checkESIndex(c.ESIndex); err != nil {
			p.Fail(OptESIndex, "an Elasticsearch index or data stream name such as logs-logship-default", err)
		}
	}
	if c.Format == FormatLoki {
		if len(c.LokiLabels) == 0 {
			p.Fail(OptLokiLabels, "a comma-separated list of names such as container_name,source", errors.New("no label given"))
		}
		seen := map[string]int{}
		for i, l := range c.LokiLabels {
			n := lokiLabelName(l)
			if j, dup := seen[n]; dup {
				p.Fail(OptLokiLabels, "a comma-separated list of names such as container_name,source",
					fmt.Errorf("names %d and %d give the same label", j+1, i+1))
			}
			seen[n] = i
		}
	}
	for key, v := range map[string]string{OptSplunkSourcetype: c.SplunkSourcetype, OptSplunkIndex: c.SplunkIndex} {
		if hasControl(v) {
			p.Fail(key, "text without control characters", nil)
		}
	}
	if err := c.Delivery.Validate(); err != nil {
		// The wrapper's field names are not options; name the options that
		// set them and keep the wrapper's explanation.
		p.Fail(OptBatchSize+", "+OptBatchBytes+" or "+OptTimeout, "valid delivery settings", err)
	}
}

var (
	errUserinfo = errors.New("the URL holds credentials")
	errScheme   = errors.New("the scheme is not http or https")
	errNoHost   = errors.New("no host")
	errFragment = errors.New("the URL has a #fragment")
)

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's errors quote the URL or parts of it, which may hold
		// a credential.
		return errors.New("not a valid URL")
	}
	switch {
	case u.User != nil:
		return errUserinfo
	case u.Scheme != "http" && u.Scheme != "https":
		return errScheme
	case u.Host == "":
		return errNoHost
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errFragment
	}
	return nil
}

// parseHeaders splits "A=b, C=d". Problems are left to checkHeader.
func parseHeaders(v string) []Header {
	var hs []Header
	for _, kv := range strings.Split(v, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, value, _ := strings.Cut(kv, "=")
		hs = append(hs, Header{Name: http.CanonicalHeaderKey(strings.TrimSpace(name)), Value: strings.TrimSpace(value)})
	}
	return hs
}

// reservedHeaders are set by the sink; Authorization is refused too, since
// log-opts are visible to anyone who can `docker inspect`.
var reservedHeaders = []string{
	"Authorization", "Content-Type", "Content-Encoding", "Content-Length",
	"Host", "Transfer-Encoding", "Connection", "Te", "Trailer", "Upgrade", "Proxy-Authorization",
	"X-Splunk-Request-Channel",
}

func checkHeader(h Header) error {
	if h.Name == "" {
		return errors.New("no name")
	}
	for i := 0; i < len(h.Name); i++ {
		if !isTokenChar(h.Name[i]) {
			return errors.New("the name is not an HTTP token")
		}
	}
	if slices.Contains(reservedHeaders, h.Name) {
		return fmt.Errorf("header %s is set by logship (credentials go in %s)", h.Name, OptAuthFile)
	}
	if hasControl(h.Value) {
		return errors.New("the value has control characters")
	}
	return nil
}

func isTokenChar(c byte) bool {
	return c > 0x20 && c < 0x7f && !strings.ContainsRune(`"(),/:;<=>?@[\]{}`, rune(c))
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// checkESIndex applies Elasticsearch's index name rules, so that a typo
// fails `docker run` and not every bulk item.
func checkESIndex(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > 255:
		return errors.New("longer than 255 bytes")
	case s == "." || s == "..":
		return errors.New("not a name")
	case strings.ContainsAny(s[:1], "-_+"):
		return errors.New("starts with -, _ or +")
	case strings.ToLower(s) != s:
		return errors.New("has upper-case letters")
	case strings.ContainsAny(s, `\/*?"<>| ,#:`) || hasControl(s):
		return errors.New(`has one of \ / * ? " < > | space , # :`)
	}
	return nil
}

// lokiLabelName maps a name to a valid Prometheus/Loki label name:
// [a-zA-Z_][a-zA-Z0-9_]*, anything else replaced by '_'. Attribute keys
// such as com.docker.compose.service become com_docker_compose_service.
func lokiLabelName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 0 && '0' <= s[0] && s[0] <= '9' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

// Key identifies the Sink a container ships through: equal Keys share one.
// It holds every option that changes what is sent or how, and no secret:
// the credential is named by where it comes from (a file path or the env
// variable), never by its value.
func (c Config) Key() string {
	var b strings.Builder
	w := func(k, v string) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(v))
		b.WriteByte(' ')
	}
	w("url", c.URL)
	w("format", string(c.Format))
	w("compression", string(c.Compression))
	w("ca", c.CAFile)
	switch {
	case c.AuthFile != "":
		w("auth", "file:"+c.AuthFile)
	case c.AuthToken != "":
		w("auth", "env:"+EnvAuthToken)
	default:
		w("auth", "")
	}
	for _, h := range c.Headers {
		w("header", h.Name+": "+h.Value)
	}
	switch c.Format {
	case FormatElasticsearch:
		w("es-index", c.ESIndex)
	case FormatLoki:
		w("loki-labels", strings.Join(c.LokiLabels, ","))
	case FormatSplunkHEC:
		w("splunk-sourcetype", c.SplunkSourcetype)
		w("splunk-index", c.SplunkIndex)
	}
	w("timeout", c.Delivery.AttemptTimeout.String())
	w("batch-size", strconv.Itoa(c.Delivery.MaxRecords))
	w("batch-bytes", strconv.Itoa(c.Delivery.MaxBytes))
	return "http " + strings.TrimSuffix(b.String(), " ")
}

// ParseCredential turns the content of an auth file (or HTTP_AUTH_TOKEN)
// into an Authorization header value. The content is one line; surrounding
// whitespace (a trailing newline) is ignored:
//
//	Bearer <token>      sent as is
//	Basic <base64>      sent as is (base64 of user:password)
//	ApiKey <base64>     sent as is (Elasticsearch API keys)
//	Splunk <token>      sent as is (Splunk HEC tokens)
//	user:password       sent as Basic base64(user:password); the password
//	                    may hold spaces, the user name may not
//	<token>             a bare token: "Splunk <token>" with format
//	                    splunk-hec, "Bearer <token>" otherwise
//
// A bare token holding ':' is read as user:password; give such a token with
// its scheme.
func ParseCredential(s string, f Format) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("empty credential")
	case strings.ContainsAny(s, "\r\n"):
		return "", errors.New("more than one line")
	case hasControl(s):
		return "", errors.New("control characters in the credential")
	}
	scheme, rest, spaced := strings.Cut(s, " ")
	if spaced && !strings.ContainsRune(scheme, ':') {
		rest = strings.TrimSpace(rest)
		if rest == "" || strings.ContainsAny(rest, " \t") {
			return "", errors.New("want one scheme and one credential separated by a space")
		}
		switch strings.ToLower(scheme) {
		case "bearer":
			return "Bearer " + rest, nil
		case "splunk":
			return "Splunk " + rest, nil
		case "basic", "apikey":
			if _, err := base64.StdEncoding.DecodeString(rest); err != nil {
				return "", fmt.Errorf("%s credential is not base64", scheme)
			}
			if strings.ToLower(scheme) == "basic" {
				return "Basic " + rest, nil
			}
			return "ApiKey " + rest, nil
		}
		return "", errors.New("unknown scheme (want Bearer, Basic, ApiKey or Splunk)")
	}
	switch strings.ToLower(s) {
	case "bearer", "basic", "apikey", "splunk":
		return "", errors.New("a scheme without a credential")
	}
	if strings.ContainsRune(s, ':') {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)), nil
	}
	if f == FormatSplunkHEC {
		return "Splunk " + s, nil
	}
	return "Bearer " + s, nil
}

// readCredentialFile reads and parses an auth file. Errors never hold the
// path or the content.
func readCredentialFile(path string, f Format) (string, error) {
	b, err := readCapped(path, maxCredentialFile)
	if err != nil {
		return "", err
	}
	return ParseCredential(string(b), f)
}

var errFileTooLarge = errors.New("file too large")

// readCapped reads a whole file of at most max bytes. Its errors do not
// repeat the path (it is an option value).
func readCapped(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, pathless(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, pathless(err)
	}
	if int64(len(b)) > max {
		return nil, errFileTooLarge
	}
	return b, nil
}

func pathless(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// tlsFiles is the sink's TLS setup: the http-ca-file certificates on top
// of the system roots.
func (c Config) tlsFiles() sinks.TLSFiles {
	return sinks.TLSFiles{CAFile: c.CAFile, CAOpt: OptCAFile}
}
