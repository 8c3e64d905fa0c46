package redact

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// benchJSONLines makes n lines of the JSON shape of `make bench`: the
// generator of test/bench/data.go (same seed, same random sequence, so the
// lines with secrets are the very lines the benchmark's containers write).
// Without secrets, the JWT becomes ordinary message text, the password
// field a user field and the AWS key id an account id of the same length:
// the line keeps its shape and length and needs no change.
func benchJSONLines(n int, secrets bool) [][]byte {
	g := &benchGen{
		r: rand.New(rand.NewPCG(1, 0x10657a1b)),
		t: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC),
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = append([]byte(nil), g.jsonLine(secrets)...)
	}
	return out
}

type benchGen struct {
	r   *rand.Rand
	t   time.Time
	buf []byte
}

const (
	benchHex    = "0123456789abcdef"
	benchUpper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	benchB64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	benchLower  = "abcdefghijklmnopqrstuvwxyz"
	benchFiller = " upstream=orders-v2 region=eu-west-1 retries=0 cache=miss pool=primary shard=7 tls=1.3 agent=curl/8.5 "
)

var (
	benchMethods = []string{"GET", "POST", "PUT", "DELETE"}
	benchLevels  = []string{"info", "info", "info", "warn", "error", "debug"}
	benchPaths   = []string{"/api/v1/orders", "/api/v1/users", "/api/v2/payments", "/login", "/api/v1/cart"}
)

func (g *benchGen) alnum(n int, alphabet string) {
	for range n {
		g.buf = append(g.buf, alphabet[g.r.IntN(len(alphabet))])
	}
}

func (g *benchGen) uuid() {
	for k, n := range []int{8, 4, 4, 4, 12} {
		if k > 0 {
			g.buf = append(g.buf, '-')
		}
		g.alnum(n, benchHex)
	}
}

func (g *benchGen) jsonLine(secrets bool) []byte {
	g.t = g.t.Add(time.Duration(200+g.r.IntN(5000)) * time.Microsecond)
	g.buf = g.buf[:0]
	g.buf = append(g.buf, `{"ts":"`...)
	g.buf = g.t.AppendFormat(g.buf, "2006-01-02T15:04:05.000Z")
	g.buf = append(g.buf, `","level":"`...)
	g.buf = append(g.buf, benchLevels[g.r.IntN(len(benchLevels))]...)
	g.buf = append(g.buf, `","msg":"`...)
	g.buf = append(g.buf, benchMethods[g.r.IntN(len(benchMethods))]...)
	g.buf = append(g.buf, ' ')
	g.buf = append(g.buf, benchPaths[g.r.IntN(len(benchPaths))]...)
	if secrets {
		g.buf = append(g.buf, ` Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1`...)
		g.alnum(8, benchB64URL)
		g.buf = append(g.buf, "In0."...)
		g.alnum(16, benchB64URL)
		g.buf = append(g.buf, `","request_id":"`...)
		g.uuid()
		g.buf = append(g.buf, `","password":"hunter2`...)
		g.alnum(6, benchHex)
		g.buf = append(g.buf, `","aws_key":"AKIA`...)
		g.alnum(16, benchUpper)
	} else {
		// Same lengths, same random sequence.
		g.buf = append(g.buf, ` handled for the caller with the user's session cookie `...)
		g.alnum(8, benchLower)
		g.buf = append(g.buf, " ok "...)
		g.alnum(16, benchLower)
		g.buf = append(g.buf, `","request_id":"`...)
		g.uuid()
		g.buf = append(g.buf, `","username":"hunter`...)
		g.alnum(6, benchHex)
		g.buf = append(g.buf, `","account":"ACCT`...)
		g.alnum(16, benchUpper)
	}
	g.buf = fmt.Appendf(g.buf, `","status":%d,"note":"`, 200+g.r.IntN(4)*100)
	room := 300 - 2
	if len(g.buf) > room {
		panic(fmt.Sprintf("bench line too long: %s", g.buf))
	}
	for i := g.r.IntN(len(benchFiller)); len(g.buf) < room; i = (i + 1) % len(benchFiller) {
		g.buf = append(g.buf, benchFiller[i])
	}
	g.buf = append(g.buf[:room], `"}`...)
	return g.buf
}
