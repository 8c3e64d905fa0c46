package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/redact"
)

// optFlag collects repeated --opt key=value flags.
type optFlag map[string]string

func (o optFlag) String() string { return "" }

func (o optFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value")
	}
	o[k] = v
	return nil
}

// runRedact is `logship redact`: the plugin's masker as a stdin→stdout
// filter, one output line per input line, with the same options
// (--opt redact-mode=hash ...) and the same plugin env (REDACT_HASH_KEY).
func runRedact(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("redact", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := optFlag{}
	fs.Var(opts, "opt", "a log-opt as key=value, as given to --log-opt (repeatable), e.g. --opt redact-mode=partial")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: logship redact [--opt key=value ...] < in > out\n\n"+
			"Masks secrets in log lines read on stdin, exactly one output line per input line.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if err := pipeline.CheckKnown(opts, optionKeys...); err != nil {
		fmt.Fprintln(stderr, "logship redact:", err)
		return 2
	}
	pol, err := redact.ParsePolicy(opts, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "logship redact:", err)
		return 2
	}
	m, err := redact.New(pol, nil)
	if err != nil {
		fmt.Fprintln(stderr, "logship redact:", err)
		return 2
	}
	if err := m.Filter(stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "logship redact:", err)
		return 1
	}
	return 0
}
