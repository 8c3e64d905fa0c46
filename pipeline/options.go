package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
)

// ErrInvalidOption is wrapped by every error about a log-opt, so callers can
// tell a user mistake (reject `docker run`) from an internal failure.
var ErrInvalidOption = errors.New("invalid log-opt")

// OptionError is one problem with one log-opt. Its message names the option
// and what it accepts. It never repeats the value: log-opts may hold
// credentials, and these errors end up in logs.
type OptionError struct {
	Key  string
	Want string // what the option accepts, e.g. "a size such as 20m"
	Err  error  // optional cause
}

func (e *OptionError) Error() string {
	msg := fmt.Sprintf("log-opt %s: invalid value, want %s", e.Key, e.Want)
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

func (e *OptionError) Unwrap() []error { return []error{ErrInvalidOption, e.Err} }

// DockerOptionKeys are log-opts that dockerd itself reads and passes on to
// every driver, plugins included. They are accepted and ignored.
var DockerOptionKeys = []string{
	"mode", "max-buffer-size",
	"cache-disabled", "cache-max-size", "cache-max-file", "cache-compress",
	"cache-labels", "cache-labels-regex", "cache-env", "cache-env-regex", "cache-tag",
}

// CheckKnown returns an error naming every key of opts that is neither in one
// of the known lists nor in DockerOptionKeys, with the list of accepted keys.
func CheckKnown(opts map[string]string, known ...[]string) error {
	accepted := map[string]bool{}
	for _, k := range DockerOptionKeys {
		accepted[k] = true
	}
	var all []string
	for _, list := range known {
		for _, k := range list {
			accepted[k] = true
			all = append(all, k)
		}
	}
	var unknown []string
	for k := range opts {
		if !accepted[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	slices.Sort(all)
	return fmt.Errorf("%w: unknown log-opt %s for logship log driver; accepted: %s",
		ErrInvalidOption, quoteJoin(unknown), strings.Join(all, ", "))
}

func quoteJoin(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = "'" + k + "'"
	}
	return strings.Join(q, ", ")
}

// OptionParser reads typed values out of a log-opt map and collects every
// problem, so that one `docker run` reports all bad options at once.
//
//	p := NewOptionParser(opts)
//	size := p.Size("max-size", 20<<20)
//	files := p.Int("max-file", 5, 1, 1000)
//	if err := p.Err(); err != nil { ... }
type OptionParser struct {
	opts map[string]string
	errs []error
}

// NewOptionParser returns a parser over opts (which it does not modify).
func NewOptionParser(opts map[string]string) *OptionParser {
	return &OptionParser{opts: opts}
}

// Err returns all problems found so far, joined, or nil.
func (p *OptionParser) Err() error { return errors.Join(p.errs...) }

// Fail records a problem with key found by the caller's own checks.
func (p *OptionParser) Fail(key, want string, cause error) {
	p.errs = append(p.errs, &OptionError{Key: key, Want: want, Err: cause})
}

// Lookup returns the raw value and whether the key is set (non-empty).
func (p *OptionParser) Lookup(key string) (string, bool) {
	v, ok := p.opts[key]
	return v, ok && v != ""
}

// String returns the value of key, or def when it is unset or empty.
func (p *OptionParser) String(key, def string) string {
	if v, ok := p.Lookup(key); ok {
		return v
	}
	return def
}

// Bool parses key with strconv.ParseBool, as Docker's drivers do.
func (p *OptionParser) Bool(key string, def bool) bool {
	v, ok := p.Lookup(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.Fail(key, "true or false", nil)
		return def
	}
	return b
}

// Int parses a decimal integer in [min, max].
func (p *OptionParser) Int(key string, def, min, max int) int {
	v, ok := p.Lookup(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		p.Fail(key, fmt.Sprintf("an integer from %d to %d", min, max), nil)
		return def
	}
	return n
}

// Size parses a size with Docker's units.FromHumanSize (decimal: 20m is
// 20,000,000 bytes, as the json-file and local drivers read max-size) and
// requires it to be in [min, max].
func (p *OptionParser) Size(key string, def, min, max int64) int64 {
	v, ok := p.Lookup(key)
	if !ok {
		return def
	}
	n, err := units.FromHumanSize(v)
	if err != nil || n < min || n > max {
		p.Fail(key, fmt.Sprintf("a size from %s to %s such as 20m",
			units.HumanSize(float64(min)), units.HumanSize(float64(max))), nil)
		return def
	}
	return n
}

// Duration parses a Go duration (such as 1s or 500ms) in [min, max].
func (p *OptionParser) Duration(key string, def, min, max time.Duration) time.Duration {
	v, ok := p.Lookup(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < min || d > max {
		p.Fail(key, fmt.Sprintf("a duration from %v to %v such as 1s", min, max), nil)
		return def
	}
	return d
}

// Enum returns the value of key if it is one of allowed, else records an
// error listing them.
func (p *OptionParser) Enum(key, def string, allowed ...string) string {
	v, ok := p.Lookup(key)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, v) {
		p.Fail(key, "one of "+strings.Join(allowed, ", "), nil)
		return def
	}
	return v
}

// List splits a comma-separated value, trimming blanks and dropping empty
// items.
func (p *OptionParser) List(key string, def []string) []string {
	v, ok := p.Lookup(key)
	if !ok {
		return def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
