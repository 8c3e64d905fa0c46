package pipeline

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// optionKeys returns the Key of every *OptionError joined in err, sorted.
func optionKeys(t *testing.T, err error) []string {
	t.Helper()
	if !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("error %v does not wrap ErrInvalidOption", err)
	}
	var keys []string
	var walk func(error)
	walk = func(e error) {
		if oe, ok := e.(*OptionError); ok {
			keys = append(keys, oe.Key)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	slices.Sort(keys)
	return keys
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if !c.ParseJSON || c.MaxParseSize != 1<<20 || !reflect.DeepEqual(c.RequestIDKeys, DefaultRequestIDKeys) {
		t.Errorf("DefaultConfig() = %+v", c)
	}
	c.RequestIDKeys[0] = "changed"
	if DefaultRequestIDKeys[0] == "changed" {
		t.Error("DefaultConfig shares DefaultRequestIDKeys")
	}
	for _, k := range DefaultRequestIDKeys {
		if p := checkRequestIDKey(k); p != "" {
			t.Errorf("default key %q: %s", k, p)
		}
	}
}

func TestParseConfig(t *testing.T) {
	f := func(opts map[string]string, want Config) {
		t.Helper()
		got, err := ParseConfig(opts)
		if err != nil {
			t.Fatalf("ParseConfig(%v): %v", opts, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ParseConfig(%v) =\n%+v, want\n%+v", opts, got, want)
		}
	}
	def := DefaultConfig()
	f(nil, def)
	f(map[string]string{"mode": "non-blocking", "tag": "{{.Name}}", OptParseJSON: "", OptRequestIDKeys: ""}, def)

	c := DefaultConfig()
	c.ParseJSON = false
	f(map[string]string{OptParseJSON: "false"}, c)

	c = DefaultConfig()
	c.MaxParseSize = 2_000_000
	f(map[string]string{OptParseMaxSize: "2m"}, c)

	c = DefaultConfig()
	c.RequestIDKeys = []string{"txn_id", "X-Trace-Request", "rid"}
	f(map[string]string{OptRequestIDKeys: " txn_id, X-Trace-Request ,,rid "}, c)
}

func TestParseConfigErrors(t *testing.T) {
	for _, c := range []struct {
		opts map[string]string
		keys []string
	}{
		{map[string]string{OptParseJSON: "maybe"}, []string{OptParseJSON}},
		{map[string]string{OptParseMaxSize: "lots"}, []string{OptParseMaxSize}},
		{map[string]string{OptParseMaxSize: "10"}, []string{OptParseMaxSize}},
		{map[string]string{OptParseMaxSize: "1g"}, []string{OptParseMaxSize}},
		{map[string]string{OptRequestIDKeys: " , ,"}, []string{OptRequestIDKeys}},
		{map[string]string{OptRequestIDKeys: "request id"}, []string{OptRequestIDKeys}},
		{map[string]string{OptRequestIDKeys: "réq"}, []string{OptRequestIDKeys}},
		{map[string]string{OptRequestIDKeys: "__"}, []string{OptRequestIDKeys}},
		{map[string]string{OptRequestIDKeys: strings.Repeat("k", 64)}, []string{OptRequestIDKeys}},
		{map[string]string{OptRequestIDKeys: "rid,Trace-ID"}, []string{OptRequestIDKeys}},
		{map[string]string{OptRequestIDKeys: "span_id"}, []string{OptRequestIDKeys}},
		{map[string]string{OptRequestIDKeys: "traceparent"}, []string{OptRequestIDKeys}},
		// Every problem at once.
		{map[string]string{OptParseJSON: "maybe", OptParseMaxSize: "huge", OptRequestIDKeys: "a b,trace_id"},
			[]string{OptParseJSON, OptParseMaxSize, OptRequestIDKeys, OptRequestIDKeys}},
	} {
		_, err := ParseConfig(c.opts)
		if err == nil {
			t.Errorf("ParseConfig(%v) accepted", c.opts)
			continue
		}
		if got := optionKeys(t, err); !reflect.DeepEqual(got, c.keys) {
			t.Errorf("ParseConfig(%v): errors for %v, want %v (%v)", c.opts, got, c.keys, err)
		}
	}
	// Keys that are containers only may be request-id keys.
	if _, err := ParseConfig(map[string]string{OptRequestIDKeys: "req,ctx"}); err != nil {
		t.Errorf("container names rejected: %v", err)
	}
}

func TestConfigErrorsDoNotRepeatValues(t *testing.T) {
	const secret = "hunter2"
	_, err := ParseConfig(map[string]string{
		OptParseJSON: secret, OptParseMaxSize: secret, OptRequestIDKeys: "a " + secret,
	})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error %q repeats the value", err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := Config{MaxParseSize: 10, RequestIDKeys: []string{"ok", "not ok", "trace_id"}}
	if got := optionKeys(t, c.Validate()); !reflect.DeepEqual(got, []string{OptParseMaxSize, OptRequestIDKeys, OptRequestIDKeys}) {
		t.Errorf("Validate() errors for %v", got)
	}
	c = Config{MaxParseSize: DefaultMaxParseSize} // no request-id keys: search off
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestOptionKeysAccepted(t *testing.T) {
	opts := map[string]string{}
	for _, k := range OptionKeys {
		opts[k] = "x"
	}
	if err := CheckKnown(opts, OptionKeys); err != nil {
		t.Errorf("CheckKnown rejects our own keys: %v", err)
	}
	opts["parse_json"] = "x"
	if err := CheckKnown(opts, OptionKeys); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("CheckKnown accepts a misspelt key: %v", err)
	}
}

func TestNewParserSanitises(t *testing.T) {
	p := NewParser(Config{ParseJSON: true, RequestIDKeys: []string{"bad key", "trace_id", "txn"}})
	if p.maxSize != DefaultMaxParseSize {
		t.Errorf("maxSize = %d", p.maxSize)
	}
	checkLine(t, p, `{"txn":"a","trace_id":"t"}`, ids{req: "a", trace: "t"})
	checkLine(t, p, `{"trace_id":"t"}`, ids{trace: "t"})
}
