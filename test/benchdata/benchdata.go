// Package benchdata makes the log lines logship's benchmarks write: the
// 300-byte JSON lines and 130-byte text lines of `make bench` (test/bench),
// which the Go benchmarks of redact and cmd/logship use too, so that a
// figure in ns/line and one from the end-to-end run are about the same
// bytes. A Gen is deterministic: the same seed gives the same lines.
package benchdata

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// The line lengths, without the newline.
const (
	JSONLineLen = 300
	TextLineLen = 130
)

// Gen generates lines. The slice a method returns is reused by the next
// call.
type Gen struct {
	r   *rand.Rand
	t   time.Time
	buf []byte
}

// New returns a generator seeded with seed.
func New(seed uint64) *Gen {
	return &Gen{
		r: rand.New(rand.NewPCG(seed, 0x10657a1b)),
		t: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
	}
}

// JSONLines returns n JSON lines of seed 1 (the lines of make bench's
// files), each in its own slice.
func JSONLines(n int, secrets bool) [][]byte {
	g := New(1)
	out := make([][]byte, n)
	for i := range out {
		out[i] = append([]byte(nil), g.JSONLine(secrets)...)
	}
	return out
}

const (
	hexDigits  = "0123456789abcdef"
	lowerAlpha = "abcdefghijklmnopqrstuvwxyz"
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

// jsonVariant is what differs between the JSON lines with and without
// secrets: the same places, the same lengths and the same random draws.
type jsonVariant struct {
	msgHead, msgMid, msgAlphabet string
	userField, keyField          string
}

var (
	withSecrets = jsonVariant{
		msgHead:     ` Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1`,
		msgMid:      "In0.",
		msgAlphabet: b64url,
		userField:   `","password":"hunter2`,
		keyField:    `","aws_key":"AKIA`,
	}
	plain = jsonVariant{
		msgHead:     ` handled for the caller with the user's session cookie `,
		msgMid:      " ok ",
		msgAlphabet: lowerAlpha,
		userField:   `","username":"hunter`,
		keyField:    `","account":"ACCT`,
	}
)

func (g *Gen) alnum(n int, alphabet string) {
	for range n {
		g.buf = append(g.buf, alphabet[g.r.IntN(len(alphabet))])
	}
}

func (g *Gen) uuid() {
	for k, n := range []int{8, 4, 4, 4, 12} {
		if k > 0 {
			g.buf = append(g.buf, '-')
		}
		g.alnum(n, hexDigits)
	}
}

// JSONLine returns one JSON object of exactly JSONLineLen bytes with a
// request_id. With secrets it holds what logship's masker is meant to
// catch: a bearer JWT inside msg, a password field and an AWS access key
// id. Without, the same places hold ordinary text, a user name and an
// account id of the same lengths, drawn from the same random sequence, so
// both variants have the same shape and cost the same to generate.
func (g *Gen) JSONLine(secrets bool) []byte {
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
	v := &plain
	if secrets {
		v = &withSecrets
	}
	g.buf = append(g.buf, v.msgHead...)
	g.alnum(8, v.msgAlphabet)
	g.buf = append(g.buf, v.msgMid...)
	g.alnum(16, v.msgAlphabet)
	g.buf = append(g.buf, `","request_id":"`...)
	g.uuid()
	g.buf = append(g.buf, v.userField...)
	g.alnum(6, hexDigits)
	g.buf = append(g.buf, v.keyField...)
	g.alnum(16, upperAlnum)
	g.buf = fmt.Appendf(g.buf, `","status":%d,"note":"`, 200+g.r.IntN(4)*100)
	return g.pad(JSONLineLen, `"}`)
}

// TextLine returns one plain text line of exactly TextLineLen bytes with
// a request_id=.
func (g *Gen) TextLine() []byte {
	g.t = g.t.Add(time.Duration(200+g.r.IntN(5000)) * time.Microsecond)
	g.buf = g.buf[:0]
	g.buf = g.t.AppendFormat(g.buf, "2006-01-02 15:04:05.000")
	g.buf = fmt.Appendf(g.buf, " %-5s [worker-%d] %s %d done in %d ms request_id=",
		levels[g.r.IntN(len(levels))], g.r.IntN(16), words[g.r.IntN(len(words))], g.r.IntN(1_000_000), g.r.IntN(2000))
	g.uuid()
	g.buf = append(g.buf, ' ')
	return g.pad(TextLineLen, "")
}

// pad fills the line with key=value filler text up to n bytes, then the
// suffix. The shapes above leave room for both; a line that would have to
// be cut (and, for JSON, stop being JSON) is a bug in them.
func (g *Gen) pad(n int, suffix string) []byte {
	room := n - len(suffix)
	if len(g.buf) > room {
		panic(fmt.Sprintf("benchdata: a %d-byte line does not fit in %d bytes: %s", len(g.buf)+len(suffix), n, g.buf))
	}
	for i := g.r.IntN(len(filler)); len(g.buf) < room; i = (i + 1) % len(filler) {
		g.buf = append(g.buf, filler[i])
	}
	g.buf = append(g.buf[:room], suffix...)
	return g.buf
}
