package httpsink

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// optionKeys returns the Key of every *pipeline.OptionError in err and
// the name of every env problem, sorted.
func optionKeys(t *testing.T, err error) []string {
	t.Helper()
	if !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Fatalf("error %v does not wrap ErrInvalidOption", err)
	}
	var keys []string
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case *pipeline.OptionError:
			keys = append(keys, x.Key)
			return
		case *envError:
			keys = append(keys, x.name)
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

func noEnv(string) string { return "" }

func TestParseConfigDisabled(t *testing.T) {
	c, enabled, err := ParseConfig(map[string]string{"http-format": "bogus", "tag": "x"}, nil)
	if err != nil || enabled {
		t.Fatalf("without http-url: enabled=%v err=%v", enabled, err)
	}
	if c.Format != FormatNDJSON {
		t.Errorf("defaults not returned: %+v", c)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, enabled, err := ParseConfig(map[string]string{"http-url": "https://logs.example:9428/insert/jsonline?_msg_field=log"}, noEnv)
	if err != nil || !enabled {
		t.Fatalf("enabled=%v err=%v", enabled, err)
	}
	want := DefaultConfig()
	want.URL = "https://logs.example:9428/insert/jsonline?_msg_field=log"
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if c.Format != FormatNDJSON || c.Compression != CompressionGzip || c.ESIndex != DefaultESIndex ||
		c.Delivery.MaxRecords != 1000 || c.Delivery.MaxBytes != 1<<20 || c.Delivery.AttemptTimeout != 10*time.Second ||
		c.Delivery.MaxRetries != sinks.DefaultDeliveryConfig().MaxRetries {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseConfigAll(t *testing.T) {
	dir := t.TempDir()
	caPEM, _ := testCA(t)
	ca := writeFile(t, dir, "ca.pem", string(caPEM))
	auth := writeFile(t, dir, "auth", "Splunk abc\n")
	c, _, err := ParseConfig(map[string]string{
		"http-url":               "http://127.0.0.1:8088/services/collector/event",
		"http-format":            "splunk-hec",
		"http-compression":       "zstd",
		"http-timeout":           "3s",
		"http-batch-size":        "250",
		"http-batch-bytes":       "2m",
		"http-ca-file":           ca,
		"http-auth-file":         auth,
		"http-headers":           "x-scope-orgid=tenant1, AccountID = 12 ,",
		"http-splunk-sourcetype": "docker",
		"http-splunk-index":      "main",
	}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != FormatSplunkHEC || c.Compression != CompressionZstd || c.Delivery.AttemptTimeout != 3*time.Second ||
		c.Delivery.MaxRecords != 250 || c.Delivery.MaxBytes != 2_000_000 || c.CAFile != ca || c.AuthFile != auth ||
		c.SplunkSourcetype != "docker" || c.SplunkIndex != "main" ||
		fmt.Sprint(c.Headers) != "[{X-Scope-Orgid tenant1} {Accountid 12}]" {
		t.Errorf("got %+v", c)
	}
}

// TestParseConfigErrors: every problem at once, each naming its option,
// none repeating a value.
func TestParseConfigErrors(t *testing.T) {
	dir := t.TempDir()
	secretPath := filepath.Join(dir, "SECRETPATH")
	opts := map[string]string{
		"http-url":         "http://user:SECRETPW@host/x",
		"http-format":      "SECRETFMT",
		"http-compression": "SECRETZ",
		"http-timeout":     "SECRET",
		"http-batch-size":  "0",
		"http-batch-bytes": "1",
		"http-ca-file":     secretPath,
		"http-auth-file":   secretPath,
		"http-headers":     "Authorization=SECRETHDR,bad name=x",
	}
	_, enabled, err := ParseConfig(opts, noEnv)
	if !enabled || err == nil {
		t.Fatalf("enabled=%v err=%v", enabled, err)
	}
	got := optionKeys(t, err)
	want := []string{"http-auth-file", "http-batch-bytes", "http-batch-size", "http-ca-file", "http-compression",
		"http-format", "http-headers", "http-headers", "http-timeout", "http-url"}
	if !slices.Equal(got, want) {
		t.Errorf("options %v, want %v", got, want)
	}
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("the error repeats a value: %v", err)
	}

	for _, tc := range []struct {
		opts map[string]string
		key  string
	}{
		{map[string]string{"http-url": "ftp://host/x"}, "http-url"},
		{map[string]string{"http-url": "http:///nohost"}, "http-url"},
		{map[string]string{"http-url": "http://host/x#frag"}, "http-url"},
		{map[string]string{"http-url": "http://h o st/%zz"}, "http-url"},
		{map[string]string{"http-url": "http://h/", "http-format": "elasticsearch", "http-es-index": "Logs"}, "http-es-index"},
		{map[string]string{"http-url": "http://h/", "http-format": "elasticsearch", "http-es-index": "_x"}, "http-es-index"},
		{map[string]string{"http-url": "http://h/", "http-format": "elasticsearch", "http-es-index": "a b"}, "http-es-index"},
		{map[string]string{"http-url": "http://h/", "http-format": "loki", "http-loki-labels": "a.b,a_b"}, "http-loki-labels"},
		{map[string]string{"http-url": "http://h/", "http-format": "loki", "http-loki-labels": " , "}, "http-loki-labels"},
		{map[string]string{"http-url": "http://h/", "http-headers": "X-A=b\x01"}, "http-headers"},
		{map[string]string{"http-url": "http://h/", "http-headers": "=b"}, "http-headers"},
		{map[string]string{"http-url": "http://h/", "http-splunk-index": "a\nb"}, "http-splunk-index"},
	} {
		_, _, err := ParseConfig(tc.opts, noEnv)
		if err == nil {
			t.Errorf("%v: no error", tc.opts)
			continue
		}
		if got := optionKeys(t, err); !slices.Equal(got, []string{tc.key}) {
			t.Errorf("%v: options %v, want [%s]", tc.opts, got, tc.key)
		}
	}
	// An ES index is only checked for the elasticsearch format.
	if _, _, err := ParseConfig(map[string]string{"http-url": "http://h/", "http-es-index": "Logs"}, noEnv); err != nil {
		t.Errorf("es index checked for ndjson: %v", err)
	}
}

func TestParseConfigAuthSources(t *testing.T) {
	dir := t.TempDir()
	optFile := writeFile(t, dir, "opt", "Bearer from-opt")
	envFile := writeFile(t, dir, "env", "Bearer from-env-file")
	bad := writeFile(t, dir, "bad", "Bearer a\nBearer b\n")
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	base := map[string]string{"http-url": "http://h/"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"http-url": "http://h/"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	env[EnvAuthToken] = "tok"
	c, _, err := ParseConfig(base, getenv)
	if err != nil || c.AuthToken != "tok" || c.AuthFile != "" {
		t.Errorf("env token: %+v %v", c, err)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v %s", c, c, c, c.AuthToken), "tok\"") ||
		strings.Contains(fmt.Sprintf("%v", c.AuthToken), "tok") {
		t.Errorf("the token prints: %v", c)
	}
	env[EnvAuthFile] = envFile
	c, _, err = ParseConfig(base, getenv)
	if err != nil || c.AuthFile != envFile || c.AuthToken != "" {
		t.Errorf("env file wins over env token: %+v %v", c, err)
	}
	c, _, err = ParseConfig(with("http-auth-file", optFile), getenv)
	if err != nil || c.AuthFile != optFile {
		t.Errorf("log-opt wins over env: %+v %v", c, err)
	}
	// Errors name the source.
	_, _, err = ParseConfig(with("http-auth-file", bad), getenv)
	if got := optionKeys(t, err); !slices.Equal(got, []string{"http-auth-file"}) {
		t.Errorf("bad log-opt file: %v", err)
	}
	env[EnvAuthFile] = bad
	_, _, err = ParseConfig(base, getenv)
	if got := optionKeys(t, err); !slices.Equal(got, []string{EnvAuthFile}) || strings.Contains(err.Error(), dir) {
		t.Errorf("bad env file: %v", err)
	}
	delete(env, EnvAuthFile)
	env[EnvAuthToken] = "Bogus scheme"
	_, _, err = ParseConfig(base, getenv)
	if got := optionKeys(t, err); !slices.Equal(got, []string{EnvAuthToken}) || strings.Contains(err.Error(), "Bogus") {
		t.Errorf("bad env token: %v", err)
	}
	// A file too large to be a credential is not read whole.
	big := writeFile(t, dir, "big", strings.Repeat("a", maxCredentialFile+1))
	if _, _, err = ParseConfig(with("http-auth-file", big), nil); err == nil {
		t.Error("a huge auth file was accepted")
	}
}

func TestParseCredential(t *testing.T) {
	for _, tc := range []struct {
		in     string
		format Format
		want   string // "" = error
	}{
		{"Bearer abc", FormatNDJSON, "Bearer abc"},
		{"BEARER abc\n", FormatNDJSON, "Bearer abc"},
		{"Basic dXNlcjpwYXNz", FormatNDJSON, "Basic dXNlcjpwYXNz"},
		{"Basic not*base64", FormatNDJSON, ""},
		{"ApiKey dXNlcjpwYXNz", FormatElasticsearch, "ApiKey dXNlcjpwYXNz"},
		{"Splunk abc", FormatNDJSON, "Splunk abc"},
		{"abc", FormatSplunkHEC, "Splunk abc"},
		{"abc", FormatLoki, "Bearer abc"},
		{"user:pass word", FormatNDJSON, "Basic dXNlcjpwYXNzIHdvcmQ="},
		{"", FormatNDJSON, ""},
		{" \n ", FormatNDJSON, ""},
		{"Bearer a\nBearer b", FormatNDJSON, ""},
		{"Bearer a b", FormatNDJSON, ""},
		{"Bearer ", FormatNDJSON, ""},
		{"Digest x", FormatNDJSON, ""},
		{"tok\x00en", FormatNDJSON, ""},
	} {
		got, err := ParseCredential(tc.in, tc.format)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseCredential(%q) = %q, want an error", tc.in, got)
			} else if strings.Contains(err.Error(), strings.TrimSpace(tc.in)) && strings.TrimSpace(tc.in) != "" {
				t.Errorf("error repeats the credential: %v", err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCredential(%q, %s) = %q, %v; want %q", tc.in, tc.format, got, err, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	dir := t.TempDir()
	auth := writeFile(t, dir, "a", "Bearer SECRETTOKEN")
	base := map[string]string{"http-url": "http://h/x"}
	k := func(opts map[string]string, env map[string]string) string {
		t.Helper()
		m := map[string]string{}
		for kk, v := range base {
			m[kk] = v
		}
		for kk, v := range opts {
			m[kk] = v
		}
		c, _, err := ParseConfig(m, func(s string) string { return env[s] })
		if err != nil {
			t.Fatal(err)
		}
		return c.Key()
	}
	k0 := k(nil, nil)
	if k0 != k(map[string]string{"tag": "x", "http-format": "ndjson"}, nil) {
		t.Error("options that change nothing changed the key")
	}
	seen := map[string]string{k0: "base"}
	for name, tc := range map[string]struct{ opts, env map[string]string }{
		"url":         {opts: map[string]string{"http-url": "http://h/y"}},
		"format":      {opts: map[string]string{"http-format": "json"}},
		"compression": {opts: map[string]string{"http-compression": "none"}},
		"timeout":     {opts: map[string]string{"http-timeout": "1s"}},
		"batch":       {opts: map[string]string{"http-batch-size": "5"}},
		"bytes":       {opts: map[string]string{"http-batch-bytes": "5k"}},
		"auth":        {opts: map[string]string{"http-auth-file": auth}},
		"envtoken":    {env: map[string]string{EnvAuthToken: "SECRETTOKEN"}},
		"headers":     {opts: map[string]string{"http-headers": "X-A=1"}},
	} {
		key := k(tc.opts, tc.env)
		if prev, dup := seen[key]; dup {
			t.Errorf("%s and %s have the same key %s", name, prev, key)
		}
		seen[key] = name
		if strings.Contains(key, "SECRET") {
			t.Errorf("key holds a secret: %s", key)
		}
	}
}

func TestOptionKeysAccepted(t *testing.T) {
	opts := map[string]string{}
	for _, k := range OptionKeys {
		opts[k] = "x"
	}
	if err := pipeline.CheckKnown(opts, OptionKeys); err != nil {
		t.Error(err)
	}
	// Every option ParseConfig reads is listed: an unlisted one would make
	// `docker run` fail as unknown.
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "Opt") && strings.Contains(line, `= "http-`) {
			name := strings.Trim(strings.TrimSpace(strings.SplitN(line, "=", 2)[1]), `"`)
			if !slices.Contains(OptionKeys, name) {
				t.Errorf("%s is not in OptionKeys", name)
			}
		}
	}
}
