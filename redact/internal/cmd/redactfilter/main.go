// Command redactfilter is the masker as a stdin→stdout filter: exactly one
// masked line per input line, in order. It is the package's own test
// program for ../shared/corpus/score.py and the model for `logship redact`:
//
//	go build -o /tmp/redactfilter ./redact/internal/cmd/redactfilter
//	python3 score.py secrets-dev.jsonl benign-dev.jsonl -- /tmp/redactfilter
//	/tmp/redactfilter --opt redact-mode=partial --opt redact-keys=pin < app.log
//
// Options are the plugin's log-opts (--opt key=value, repeatable); the hash
// key comes from redact-hash-key-file or the environment (REDACT_HASH_KEY).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/redact"
)

type optList map[string]string

func (o optList) String() string { return "" }
func (o optList) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value")
	}
	o[k] = val
	return nil
}

func main() {
	opts := optList{}
	flag.Var(opts, "opt", "a log-opt as key=value (repeatable), e.g. --opt redact-mode=partial")
	flag.Parse()
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "redactfilter:", err)
		os.Exit(2)
	}
}

func run(opts map[string]string) error {
	if err := pipeline.CheckKnown(opts, redact.OptionKeys); err != nil {
		return err
	}
	pol, err := redact.ParsePolicy(opts, os.Getenv)
	if err != nil {
		return err
	}
	m, err := redact.New(pol, nil)
	if err != nil {
		return err
	}
	return m.Filter(os.Stdin, os.Stdout)
}
