package redact

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/logship/logship/pipeline"
)

// Mode is how a secret is replaced.
type Mode string

// The replacement modes (log-opt redact-mode).
const (
	// ModeMask replaces every secret with "[REDACTED]".
	ModeMask Mode = "mask"
	// ModePartial keeps the last four characters: "****abcd". Secrets
	// shorter than 12 bytes (and values whose tail is not plain ASCII)
	// become "****".
	ModePartial Mode = "partial"
	// ModeHash replaces a secret with "[hmac-" + the first 12 hex digits of
	// HMAC-SHA256(key, secret) + "]": equal secrets give equal
	// replacements, so they stay correlatable without being revealed.
	ModeHash Mode = "hash"
)

// The log-opts of this package.
const (
	OptRedact       = "redact"               // true (default) or false
	OptMode         = "redact-mode"          // mask (default), partial, hash
	OptKeys         = "redact-keys"          // extra sensitive key names, comma-separated
	OptPatterns     = "redact-patterns"      // extra RE2 patterns, separated by white space
	OptPatternsFile = "redact-patterns-file" // a file of RE2 patterns, one per line
	OptAllow        = "redact-allow"         // literal values never masked, comma-separated
	OptAllowKeys    = "redact-allow-keys"    // key names never treated as sensitive, comma-separated
	OptPII          = "redact-pii"           // personal data to mask: email, ip, phone (comma-separated)
	OptHashKeyFile  = "redact-hash-key-file" // file holding the HMAC key for redact-mode=hash
)

// EnvHashKey is the plugin environment variable that holds the HMAC key when
// redact-hash-key-file is not set. The key never comes from a log-opt value:
// log-opts are visible to anyone who can `docker inspect`.
const EnvHashKey = "REDACT_HASH_KEY"

// OptionKeys lists every log-opt this package reads, for
// pipeline.CheckKnown.
var OptionKeys = []string{
	OptRedact, OptMode, OptKeys, OptPatterns, OptPatternsFile, OptAllow, OptAllowKeys, OptPII,
	OptHashKeyFile,
}

// Limits that keep a policy's cost bounded.
const (
	maxPatterns      = 64
	maxPatternLen    = 1024
	maxListItems     = 256
	minHashKeyLen    = 16
	maxHashKeyLen    = 4096
	maxPatternsBytes = 1 << 20
)

// Policy is a masking policy: what is masked and how. The zero value is the
// default policy (built-in rules, ModeMask). Build a Masker from it with New.
type Policy struct {
	// Mode is the replacement (redact-mode); empty means ModeMask.
	Mode Mode
	// ExtraKeys are more sensitive key names (redact-keys), matched by
	// word parts like the built-in ones: "pin" also covers userPin,
	// USER_PIN and user-pin (but not pin_count).
	ExtraKeys []string
	// Patterns are RE2 regular expressions (redact-patterns and the lines
	// of redact-patterns-file); matches are masked, or only their first
	// capture group when they have one.
	Patterns []string
	// Allow are literal values that are never masked (redact-allow), such
	// as a well-known test key that a rule flags.
	Allow []string
	// AllowKeys are key names that are never sensitive
	// (redact-allow-keys), normalised like ExtraKeys.
	AllowKeys []string
	// PII lists the personal data to mask (redact-pii): any of "email",
	// "ip", "phone", or "all".
	PII []string
	// HashKey is the HMAC key of ModeHash (redact-hash-key-file or the
	// plugin env REDACT_HASH_KEY).
	HashKey []byte
	// Disabled turns masking off (redact=false).
	Disabled bool
}

// DefaultPolicy returns the policy used when no log-opt is set: every
// built-in rule, ModeMask.
func DefaultPolicy() Policy { return Policy{Mode: ModeMask} }

var (
	errNoHashKey      = errors.New("hash mode needs a key: set redact-hash-key-file or the plugin env " + EnvHashKey)
	errShortHashKey   = fmt.Errorf("the key must be %d to %d bytes", minHashKeyLen, maxHashKeyLen)
	errPatternInvalid = errors.New("invalid pattern")
	errEmptyMatch     = errors.New("pattern matches the empty string")
	errTooMany        = errors.New("too many items")
)

const (
	wantBool     = "true or false"
	wantMode     = "one of mask, partial, hash"
	wantKeys     = "key names separated by commas"
	wantPatterns = "RE2 regular expressions separated by white space (use redact-patterns-file for patterns with spaces)"
	wantFile     = "the path of a readable file inside the plugin"
	wantAllow    = "literal values separated by commas"
	wantPII      = "a comma-separated subset of email, ip, phone (or all)"
	wantHashKey  = "a file holding 16 to 4096 bytes of key"
)

// ParsePolicy reads the package's log-opts over DefaultPolicy and reports
// every problem at once, each as a *pipeline.OptionError (wrapping
// pipeline.ErrInvalidOption) that names the option and never repeats its
// value. getenv (os.Getenv in the plugin, may be nil) supplies
// REDACT_HASH_KEY. Files named by options are read here, once.
func ParsePolicy(opts map[string]string, getenv func(string) string) (Policy, error) {
	p := pipeline.NewOptionParser(opts)
	pol := DefaultPolicy()
	pol.Disabled = !p.Bool(OptRedact, true)
	pol.Mode = Mode(p.Enum(OptMode, string(ModeMask), string(ModeMask), string(ModePartial), string(ModeHash)))
	pol.ExtraKeys = p.List(OptKeys, nil)
	if v, ok := p.Lookup(OptPatterns); ok {
		pol.Patterns = strings.Fields(v)
	}
	if path, ok := p.Lookup(OptPatternsFile); ok {
		lines, err := readPatternsFile(path)
		if err != nil {
			p.Fail(OptPatternsFile, wantFile, err)
		}
		pol.Patterns = append(pol.Patterns, lines...)
	}
	pol.Allow = p.List(OptAllow, nil)
	pol.AllowKeys = p.List(OptAllowKeys, nil)
	pol.PII = p.List(OptPII, nil)
	if path, ok := p.Lookup(OptHashKeyFile); ok {
		key, err := readKeyFile(path)
		if err != nil {
			p.Fail(OptHashKeyFile, wantHashKey, err)
		} else {
			pol.HashKey = key
		}
	} else if getenv != nil {
		if k := getenv(EnvHashKey); k != "" {
			pol.HashKey = []byte(k)
		}
	}
	pol.check(p)
	return pol, p.Err()
}

// Validate reports every problem with the policy at once, each as a
// *pipeline.OptionError naming the log-opt the field comes from.
func (pol Policy) Validate() error {
	p := pipeline.NewOptionParser(nil)
	pol.check(p)
	return p.Err()
}

func (pol Policy) check(p *pipeline.OptionParser) {
	switch pol.Mode {
	case "", ModeMask, ModePartial:
	case ModeHash:
		if len(pol.HashKey) == 0 {
			p.Fail(OptMode, wantMode, errNoHashKey)
		}
	default:
		p.Fail(OptMode, wantMode, nil)
	}
	if n := len(pol.HashKey); n > 0 && (n < minHashKeyLen || n > maxHashKeyLen) {
		p.Fail(OptHashKeyFile, wantHashKey, errShortHashKey)
	}
	checkList(p, OptKeys, wantKeys, pol.ExtraKeys, true)
	checkList(p, OptAllow, wantAllow, pol.Allow, false)
	checkList(p, OptAllowKeys, wantKeys, pol.AllowKeys, true)
	if _, ok := parsePII(pol.PII); !ok {
		p.Fail(OptPII, wantPII, nil)
	}
	if len(pol.Patterns) > maxPatterns {
		p.Fail(OptPatterns, wantPatterns, errTooMany)
	}
	for i, expr := range pol.Patterns {
		if len(expr) > maxPatternLen {
			p.Fail(OptPatterns, wantPatterns, fmt.Errorf("pattern %d: longer than %d bytes", i+1, maxPatternLen))
			continue
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			p.Fail(OptPatterns, wantPatterns, fmt.Errorf("pattern %d: %w", i+1, patternError(err)))
			continue
		}
		if re.MatchString("") {
			p.Fail(OptPatterns, wantPatterns, fmt.Errorf("pattern %d: %w", i+1, errEmptyMatch))
		}
	}
}

// checkList rejects empty items, and for key names items without a letter
// or digit.
func checkList(p *pipeline.OptionParser, opt, want string, items []string, key bool) {
	if len(items) > maxListItems {
		p.Fail(opt, want, errTooMany)
		return
	}
	for _, it := range items {
		if it == "" || (key && normalizeKeyName(it) == "") {
			p.Fail(opt, want, nil)
			return
		}
	}
}

// fileError describes a file problem without the path (an option value).
func fileError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("file does not exist")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("permission denied")
	}
	return errors.New("cannot read file")
}

func readPatternsFile(path string) ([]string, error) {
	b, err := readSmallFile(path, maxPatternsBytes)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		out = append(out, line)
	}
	return out, nil
}

func readKeyFile(path string) ([]byte, error) {
	b, err := readSmallFile(path, maxHashKeyLen+2)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) < minHashKeyLen || len(b) > maxHashKeyLen {
		return nil, errShortHashKey
	}
	return b, nil
}

func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > limit {
		return nil, errors.New("file too large")
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fileError(err)
	}
	return b, nil
}
