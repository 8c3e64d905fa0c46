package pipeline

import (
	"errors"
	"fmt"
	"slices"
)

// The log-opts read by this package. The Docker-compatible ones (tag,
// labels, labels-regex, env, env-regex) need the container's Info and are
// checked by NewMeta; the others by ParseConfig.
const (
	OptTag           = "tag"
	OptLabels        = "labels"
	OptLabelsRegex   = "labels-regex"
	OptEnv           = "env"
	OptEnvRegex      = "env-regex"
	OptParseJSON     = "parse-json"
	OptParseMaxSize  = "parse-max-size"
	OptRequestIDKeys = "request-id-keys"
)

// OptionKeys lists every log-opt this package reads, for CheckKnown.
var OptionKeys = []string{
	OptTag, OptLabels, OptLabelsRegex, OptEnv, OptEnvRegex,
	OptParseJSON, OptParseMaxSize, OptRequestIDKeys,
}

// Bounds of Config.MaxParseSize. The upper bound keeps the memory one Event
// may hold on to, and the time one line may take, within reason.
const (
	DefaultMaxParseSize = 1 << 20
	minMaxParseSize     = 1_000      // "1kB" in Docker's decimal units
	maxMaxParseSize     = 64_000_000 // "64MB"
)

// Config configures the per-record stages (Parser).
type Config struct {
	// ParseJSON turns JSON parsing on (log-opt parse-json). When off,
	// every line is text, and ids are searched for as in text.
	ParseJSON bool
	// MaxParseSize is the longest line that is parsed and searched for
	// ids (log-opt parse-max-size); a longer line is passed on as text
	// with no ids.
	MaxParseSize int
	// RequestIDKeys are the keys whose value becomes the request id, best
	// first (log-opt request-id-keys, comma-separated). Matching ignores
	// ASCII case and the separators '_', '-' and '.'. Empty
	// turns the request-id search off.
	RequestIDKeys []string
}

// DefaultConfig returns the configuration used when no log-opt is set.
func DefaultConfig() Config {
	return Config{
		ParseJSON:     true,
		MaxParseSize:  DefaultMaxParseSize,
		RequestIDKeys: slices.Clone(DefaultRequestIDKeys),
	}
}

// ParseConfig reads the package's own log-opts over DefaultConfig and
// reports every problem at once, each as an *OptionError wrapping
// ErrInvalidOption. Unknown keys are not its business (CheckKnown).
func ParseConfig(opts map[string]string) (Config, error) {
	p := NewOptionParser(opts)
	c := DefaultConfig()
	c.ParseJSON = p.Bool(OptParseJSON, c.ParseJSON)
	c.MaxParseSize = int(p.Size(OptParseMaxSize, int64(c.MaxParseSize), minMaxParseSize, maxMaxParseSize))
	if _, set := p.Lookup(OptRequestIDKeys); set {
		c.RequestIDKeys = p.List(OptRequestIDKeys, nil)
		if len(c.RequestIDKeys) == 0 {
			p.Fail(OptRequestIDKeys, requestIDKeysWant, errNoKeys)
		}
	}
	c.check(p)
	return c, p.Err()
}

// Validate reports every problem with c at once, as *OptionErrors naming
// the log-opt that sets the field.
func (c Config) Validate() error {
	p := NewOptionParser(nil)
	c.check(p)
	return p.Err()
}

const requestIDKeysWant = "a comma-separated list of key names such as request_id,x-request-id"

var errNoKeys = errors.New("no key given")

func (c Config) check(p *OptionParser) {
	if c.MaxParseSize < minMaxParseSize || c.MaxParseSize > maxMaxParseSize {
		p.Fail(OptParseMaxSize, fmt.Sprintf("a size from %d to %d bytes", minMaxParseSize, maxMaxParseSize), nil)
	}
	for i, k := range c.RequestIDKeys {
		if problem := checkRequestIDKey(k); problem != "" {
			// The position, not the key: OptionError never repeats a value.
			p.Fail(OptRequestIDKeys, requestIDKeysWant, fmt.Errorf("key %d: %s", i+1, problem))
		}
	}
}
