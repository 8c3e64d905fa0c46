// Command logship is the logship Docker log driver plugin and its tools.
//
//	logship plugin    the managed plugin's entrypoint (see config.json)
//	logship redact    the masker as a stdin→stdout filter
//	logship version   prints the version
//
// Everything here is wiring: configuration from the environment, explicit
// construction of the packages, serving, signals. Logic lives in the
// packages, where it is tested.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "plugin":
		return runPlugin(ctx, os.Getenv)
	case "redact":
		return runRedact(args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	case "version", "--version", "-v":
		fmt.Println("logship", version)
		return 0
	case "help", "--help", "-h":
		usage()
		return 0
	}
	fmt.Fprintf(os.Stderr, "logship: unknown command %q\n", args[0])
	usage()
	return 2
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: logship <command>

commands:
  plugin    run as the Docker log-driver plugin (the plugin's entrypoint)
  redact    mask secrets in log lines: stdin → stdout, one line per line
            (logship redact --help for the options)
  version   print the version
`)
}
