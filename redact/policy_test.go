package redact

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/pipeline"
)

func TestParsePolicyDefaults(t *testing.T) {
	p, err := ParsePolicy(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Disabled || p.Mode != ModeMask || len(p.Patterns) != 0 || len(p.PII) != 0 {
		t.Errorf("defaults: %+v", p)
	}
	if _, err := New(p, nil); err != nil {
		t.Fatal(err)
	}
}

func TestParsePolicyValues(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "hmac.key")
	os.WriteFile(keyFile, []byte("0123456789abcdef0123\n"), 0o600)
	patFile := filepath.Join(dir, "patterns")
	os.WriteFile(patFile, []byte("# comment\n\nacme [0-9]{6}\n  \nfoo_[a-z]+\n"), 0o600)
	p, err := ParsePolicy(map[string]string{
		OptRedact:       "true",
		OptMode:         "hash",
		OptKeys:         "pin, x-acme-sig",
		OptPatterns:     `tok_[a-z0-9]{16}  key=(\w+)`,
		OptPatternsFile: patFile,
		OptAllow:        "AKIAIOSFODNN7EXAMPLE",
		OptAllowKeys:    "session_token",
		OptPII:          "email,ip",
		OptHashKeyFile:  keyFile,
	}, func(string) string { return "env-key-is-not-used-0000" })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`tok_[a-z0-9]{16}`, `key=(\w+)`, `acme [0-9]{6}`, `foo_[a-z]+`}
	if strings.Join(p.Patterns, "|") != strings.Join(want, "|") {
		t.Errorf("patterns %q", p.Patterns)
	}
	if string(p.HashKey) != "0123456789abcdef0123" || p.Mode != ModeHash {
		t.Errorf("hash key %q mode %s", p.HashKey, p.Mode)
	}
	if strings.Join(p.ExtraKeys, "|") != "pin|x-acme-sig" || len(p.PII) != 2 {
		t.Errorf("%+v", p)
	}
	// The key comes from the plugin env when no file is given.
	p, err = ParsePolicy(map[string]string{OptMode: "hash"}, func(k string) string {
		if k == EnvHashKey {
			return "from-the-plugin-env-0001"
		}
		return ""
	})
	if err != nil || string(p.HashKey) != "from-the-plugin-env-0001" {
		t.Fatalf("%v %q", err, p.HashKey)
	}
	p, err = ParsePolicy(map[string]string{OptRedact: "false"}, nil)
	if err != nil || !p.Disabled {
		t.Fatalf("%v %+v", err, p)
	}
	m, _ := New(p, nil)
	if out, changed := m.AppendLine(nil, []byte(`password=x`)); changed || out != nil {
		t.Error("disabled masker changed a line")
	}
}

// TestParsePolicyErrors: every problem at once, each naming its option,
// none repeating the value.
func TestParsePolicyErrors(t *testing.T) {
	secretish := "SeCrEtVaLuE"
	opts := map[string]string{
		OptRedact:       "maybe" + secretish,
		OptMode:         "scramble" + secretish,
		OptPatterns:     `ok_[a-z]+ (unclosed` + secretish + ` a*`,
		OptPatternsFile: "/nonexistent/" + secretish,
		OptPII:          "email,ssn" + secretish,
		OptHashKeyFile:  "/nonexistent/key" + secretish,
		OptKeys:         "pin,,--",
	}
	_, err := ParsePolicy(opts, nil)
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Errorf("error does not wrap ErrInvalidOption: %v", err)
	}
	msg := err.Error()
	for _, k := range []string{OptRedact, OptMode, OptPatterns, OptPatternsFile, OptPII, OptHashKeyFile} {
		if !strings.Contains(msg, "log-opt "+k+":") {
			t.Errorf("error does not name %s:\n%s", k, msg)
		}
	}
	if strings.Contains(msg, secretish) || strings.Contains(msg, "unclosed") {
		t.Errorf("error repeats a value:\n%s", msg)
	}
	for _, want := range []string{"pattern 2: regexp: missing closing )", "pattern 3: pattern matches the empty string", "file does not exist"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	t.Log(msg)
}

func TestPolicyValidate(t *testing.T) {
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("zero policy: %v", err)
	}
	bad := Policy{Mode: "x", PII: []string{"dna"}, Patterns: []string{"("}, ExtraKeys: []string{""}}
	err := bad.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, k := range []string{OptMode, OptPII, OptPatterns, OptKeys} {
		if !strings.Contains(err.Error(), "log-opt "+k+":") {
			t.Errorf("missing %s in %v", k, err)
		}
	}
	if err := (Policy{Mode: ModeHash}).Validate(); err == nil || !strings.Contains(err.Error(), EnvHashKey) {
		t.Errorf("hash without key: %v", err)
	}
	if err := (Policy{Mode: ModeHash, HashKey: []byte("short")}).Validate(); err == nil {
		t.Error("short hash key accepted")
	}
	if _, err := New(bad, nil); err == nil {
		t.Error("New accepted an invalid policy")
	}
}

func TestOptionKeysKnown(t *testing.T) {
	opts := map[string]string{}
	for _, k := range OptionKeys {
		opts[k] = "x"
	}
	if err := pipeline.CheckKnown(opts, OptionKeys); err != nil {
		t.Error(err)
	}
}
