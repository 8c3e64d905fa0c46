package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRedactCommand(t *testing.T) {
	in := "password=hunter2hunter2\n{\"token\":\"abc123secretvalue\",\"request_id\":\"req-1\"}\nplain line\nlast"
	var out, errb bytes.Buffer
	if code := runRedact(nil, strings.NewReader(in), &out, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	if strings.Count(got, "\n") != 3 || !strings.HasSuffix(got, "\nlast") {
		t.Fatalf("line structure changed: %q", got)
	}
	if strings.Contains(got, "hunter2") || strings.Contains(got, "abc123secretvalue") {
		t.Fatalf("secret survived: %q", got)
	}
	if !strings.Contains(got, `"request_id":"req-1"`) || !strings.Contains(got, "plain line\n") {
		t.Fatalf("benign content changed: %q", got)
	}
}

func TestRedactCommandRejectsBadOptions(t *testing.T) {
	var out, errb bytes.Buffer
	code := runRedact([]string{"--opt", "redact-mode=loud", "--opt", "no-such=1"}, strings.NewReader(""), &out, &errb,
		func(string) string { return "" })
	if code != 2 || !strings.Contains(errb.String(), "no-such") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	errb.Reset()
	code = runRedact([]string{"--opt", "redact-mode=loud"}, strings.NewReader(""), &out, &errb, func(string) string { return "" })
	if code != 2 || !strings.Contains(errb.String(), "redact-mode") || strings.Contains(errb.String(), "loud") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
