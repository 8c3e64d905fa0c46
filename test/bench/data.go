package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/logship/logship/test/benchdata"
)

// Line shapes written by the benchmark containers, made by test/benchdata
// (which the Go benchmarks share). The files are made once on the host
// (cached by name) and bind-mounted read-only into the container, which
// only runs `cat`: the container's CPU is never the bottleneck, and every
// driver sees the same bytes.
const (
	shapeJSON = "json" // 300-byte JSON lines with a request_id and secrets
	shapeText = "text" // 130-byte plain text lines

	jsonLineLen = benchdata.JSONLineLen
	textLineLen = benchdata.TextLineLen
)

func lineLen(shape string) int {
	if shape == shapeText {
		return textLineLen
	}
	return jsonLineLen
}

// line returns the next line of the shape.
func line(g *benchdata.Gen, shape string) []byte {
	if shape == shapeText {
		return g.TextLine()
	}
	return g.JSONLine(true)
}

// dataFile returns the path of a file of n lines of the shape, creating it
// (atomically, cached by name) in dir.
func dataFile(dir, shape string, n int, seed uint64) (string, error) {
	// v2: the JSON lines of v1 were cut at 300 bytes, and so were not JSON.
	name := fmt.Sprintf("%s-v2-%d-%d.log", shape, n, seed)
	path := filepath.Join(dir, name)
	if st, err := os.Stat(path); err == nil && st.Size() == int64(n)*int64(lineLen(shape)+1) {
		return name, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	g := benchdata.New(seed)
	for range n {
		w.Write(line(g, shape))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", err
	}
	return name, os.Rename(tmp.Name(), path)
}
