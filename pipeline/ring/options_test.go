package ring

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
)

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want Options
	}{
		{nil, Options{MaxSize: 20 * 1024 * 1024, MaxFile: 5, Compress: true}},
		{map[string]string{"max-size": "", "max-file": "", "compress": ""}, DefaultOptions()},
		// Decimal units, as Docker reads max-size.
		{map[string]string{"max-size": "10m", "max-file": "1", "compress": "false"}, Options{MaxSize: 10_000_000, MaxFile: 1, Compress: false}},
		{map[string]string{"max-size": "64k", "max-file": "1000", "compress": "1"}, Options{MaxSize: 64_000, MaxFile: 1000, Compress: true}},
		// Other packages' options are not this parser's business.
		{map[string]string{"tag": "{{.Name}}"}, DefaultOptions()},
	} {
		got, err := ParseOptions(tc.opts)
		if err != nil {
			t.Errorf("%v: %v", tc.opts, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%v: got %+v, want %+v", tc.opts, got, tc.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%v: Validate: %v", tc.opts, err)
		}
	}
}

func TestParseOptionsReportsEverything(t *testing.T) {
	_, err := ParseOptions(map[string]string{"max-size": "hunter2", "max-file": "0", "compress": "maybe"})
	if !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Fatalf("error %v does not wrap ErrInvalidOption", err)
	}
	msg := err.Error()
	for _, want := range []string{"max-size", "max-file", "compress", "20m", "from 1 to 1000", "true or false"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q: %s", want, msg)
		}
	}
	// Values may be secrets; they are never echoed.
	if strings.Contains(msg, "hunter2") || strings.Contains(msg, "maybe") {
		t.Errorf("error repeats a value: %s", msg)
	}
	for _, bad := range []map[string]string{
		{"max-size": "1k"},    // below the minimum
		{"max-size": "2t"},    // above the maximum
		{"max-size": "-1"},    // negative
		{"max-file": "1001"},  // above the maximum
		{"max-file": "three"}, // not a number
	} {
		if _, err := ParseOptions(bad); !errors.Is(err, pipeline.ErrInvalidOption) {
			t.Errorf("%v accepted: %v", bad, err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	err := Options{MaxSize: 10, MaxFile: 0}.Validate()
	var oe *pipeline.OptionError
	if !errors.As(err, &oe) || !errors.Is(err, pipeline.ErrInvalidOption) {
		t.Fatalf("Validate: %v", err)
	}
	for _, key := range []string{"max-size", "max-file"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("Validate does not report %s: %v", key, err)
		}
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Dir: "/x"}).Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	err := Config{BlockSize: 1, Codec: "lz4", OrphanGrace: -time.Second, MaxAge: -time.Second, MaxTotal: -1}.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"Dir", "BlockSize", "Codec", "OrphanGrace", "MaxAge", "MaxTotal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %s: %v", want, err)
		}
	}
	if _, err := Open(Config{BlockSize: 1}); err == nil {
		t.Fatal("Open accepted a bad config")
	}
	def := DefaultConfig()
	if def.BlockSize != 128<<10 || def.OrphanGrace != 5*time.Minute || def.MaxAge != 168*time.Hour || def.MaxTotal != 0 || def.Codec != CodecS2 {
		t.Fatalf("defaults changed: %+v", def)
	}
}

func TestOptionKeys(t *testing.T) {
	// Every key ParseOptions reads is declared, so CheckKnown accepts it.
	opts := map[string]string{"max-size": "1m", "max-file": "2", "compress": "true"}
	if err := pipeline.CheckKnown(opts, OptionKeys); err != nil {
		t.Fatal(err)
	}
}
