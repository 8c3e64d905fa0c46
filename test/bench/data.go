package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Line shapes written by the benchmark containers. The files are made once
// on the host (cached by name) and bind-mounted read-only into the
// container, which only runs `cat`: the container's CPU is never the
// bottleneck, and every driver sees the same bytes.
const (
	shapeJSON = "json" // 300-byte JSON lines with a request_id and secrets
	shapeText = "text" // 130-byte plain text lines

	jsonLineLen = 300
	textLineLen = 130
)

func lineLen(shape string) int {
	if shape == shapeText {
		return textLineLen
	}
	return jsonLineLen
}

const hexDigits = "0123456789abcdef"

type gen struct {
	r   *rand.Rand
	t   time.Time
	buf []byte
}

func newGen(seed uint64) *gen {
	return &gen{
		r: rand.New(rand.NewPCG(seed, 0x10657a1b)),
		t: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
	}
}

func (g *gen) hex(n int) []byte {
	for range n {
		g.buf = append(g.buf, hexDigits[g.r.IntN(16)])
	}
	return g.buf
}

func (g *gen) uuid() {
	g.hex(8)
	g.buf = append(g.buf, '-')
	g.hex(4)
	g.buf = append(g.buf, '-')
	g.hex(4)
	g.buf = append(g.buf, '-')
	g.hex(4)
	g.buf = append(g.buf, '-')
	g.hex(12)
}

func (g *gen) alnum(n int, alphabet string) {
	for range n {
		g.buf = append(g.buf, alphabet[g.r.IntN(len(alphabet))])
	}
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b64url     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	filler     = " upstream=orders-v2 region=eu-west-1 retries=0 cache=miss pool=primary shard=7 tls=1.3 agent=curl/8.5 "
)

var (
	methods = []string{"GET", "POST", "PUT", "DELETE"}
	levels  = []string{"info", "info", "info", "warn", "error", "debug"}
	paths   = []string{"/api/v1/orders", "/api/v1/users", "/api/v2/payments", "/login", "/api/v1/cart"}
	words   = []string{"order", "invoice", "session", "payment", "cart", "profile"}
)

// jsonLine appends one JSON line of exactly jsonLineLen bytes (without the
// newline): a request_id, a password field, a bearer JWT inside msg and an
// AWS access key id, the secrets logship's masker is meant to catch.
func (g *gen) jsonLine() []byte {
	g.t = g.t.Add(time.Duration(200+g.r.IntN(5000)) * time.Microsecond)
	g.buf = g.buf[:0]
	g.buf = append(g.buf, `{"ts":"`...)
	g.buf = g.t.AppendFormat(g.buf, "2006-01-02T15:04:05.000Z")
	g.buf = append(g.buf, `","level":"`...)
	g.buf = append(g.buf, levels[g.r.IntN(len(levels))]...)
	g.buf = append(g.buf, `","msg":"`...)
	g.buf = append(g.buf, methods[g.r.IntN(len(methods))]...)
	g.buf = append(g.buf, ' ')
	g.buf = append(g.buf, paths[g.r.IntN(len(paths))]...)
	g.buf = append(g.buf, ` Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1`...)
	g.alnum(8, b64url)
	g.buf = append(g.buf, "In0."...)
	g.alnum(16, b64url)
	g.buf = append(g.buf, `","request_id":"`...)
	g.uuid()
	g.buf = append(g.buf, `","password":"hunter2`...)
	g.hex(6)
	g.buf = append(g.buf, `","aws_key":"AKIA`...)
	g.alnum(16, upperAlnum)
	g.buf = fmt.Appendf(g.buf, `","status":%d,"note":"`, 200+g.r.IntN(4)*100)
	return g.pad(jsonLineLen, `"}`)
}

// textLine appends one plain text line of exactly textLineLen bytes.
func (g *gen) textLine() []byte {
	g.t = g.t.Add(time.Duration(200+g.r.IntN(5000)) * time.Microsecond)
	g.buf = g.buf[:0]
	g.buf = g.t.AppendFormat(g.buf, "2006-01-02 15:04:05.000")
	g.buf = fmt.Appendf(g.buf, " %-5s [worker-%d] %s %d done in %d ms request_id=",
		levels[g.r.IntN(len(levels))], g.r.IntN(16), words[g.r.IntN(len(words))], g.r.IntN(1_000_000), g.r.IntN(2000))
	g.uuid()
	g.buf = append(g.buf, ' ')
	return g.pad(textLineLen, "")
}

// pad fills the line with filler text up to n bytes, then the suffix. The
// shapes above leave room for both; a line that would have to be cut (and,
// for JSON, stop being JSON) is a bug in them.
func (g *gen) pad(n int, suffix string) []byte {
	room := n - len(suffix)
	if len(g.buf) > room {
		panic(fmt.Sprintf("bench data: a %d-byte line does not fit in %d bytes: %s", len(g.buf)+len(suffix), n, g.buf))
	}
	for i := g.r.IntN(len(filler)); len(g.buf) < room; i = (i + 1) % len(filler) {
		g.buf = append(g.buf, filler[i])
	}
	g.buf = append(g.buf[:room], suffix...)
	return g.buf
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
	g := newGen(seed)
	for range n {
		var l []byte
		if shape == shapeText {
			l = g.textLine()
		} else {
			l = g.jsonLine()
		}
		w.Write(l)
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
