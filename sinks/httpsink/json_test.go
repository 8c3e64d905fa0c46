package httpsink

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
)

// checkString checks appendString(s): valid JSON and valid UTF-8 whose
// decoded text is s with each invalid byte replaced by U+FFFD, which is
// what encoding/json.Marshal does too (TestAppendStringMatchesStdlib).
func checkString(t *testing.T, s []byte) {
	t.Helper()
	got := appendString([]byte("x"), s)
	if got[0] != 'x' {
		t.Fatalf("prefix overwritten")
	}
	got = got[1:]
	var dec string
	if !utf8.Valid(got) || json.Unmarshal(got, &dec) != nil {
		t.Fatalf("appendString(%q) = %q: not valid JSON/UTF-8", s, got)
	}
	want := make([]rune, 0, len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		want = append(want, r) // RuneError for an invalid byte, n == 1
		i += n
	}
	if dec != string(want) {
		t.Fatalf("appendString(%q) decodes to %q, want %q", s, dec, string(want))
	}
}

func TestAppendStringMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		ref, _ := json.Marshal(string(b))
		var a, want string
		_ = json.Unmarshal(appendString(nil, b), &a)
		_ = json.Unmarshal(ref, &want)
		if a != want {
			t.Fatalf("appendString(%q) decodes to %q, encoding/json to %q", b, a, want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{
		"", "plain ascii that is longer than eight bytes", "\"\\", "\x00\x01\x1f\x7f\n\r\t\b\f",
		"é ü 日本 \U0001F600", "\xff", "a\xffb", "\xe2\x82", "\xe2\x82\xac", "\xed\xa0\x80", "\xed\x9f\xbf",
		"\xc0\xaf", "\xc2\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf0\x8f\xbf\xbf", "\xf0\x90\x80\x80",
		"\xe0\x9f\xbf", "\xe0\xa0\x80", "12345678\"12345678\\123456\x80", "1234567\xc3", "<>&\u2028\u2029",
	} {
		checkString(t, []byte(s))
	}
	// Every two-byte sequence, and random bytes of every length up to 40.
	for i := range 1 << 16 {
		checkString(t, []byte{byte(i >> 8), byte(i)})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(3) == 0 {
				b[i] = byte(r.IntN(256))
			} else {
				b[i] = byte(' ' + r.IntN(95))
			}
		}
		checkString(t, b)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "abc", "\xff", "\"\\\x00", "日本\xe2\x82", "12345678\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) { checkString(t, s) })
}

func TestAppendRaw(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"abc"`, `"abc"`},
		{`{"a":[1,2]}`, `{"a":[1,2]}`},
		{"\"a\xffb\"", "\"a\uFFFDb\""},
		{"{\"a\":1\r\n}", `{"a":1  }`},
		{"\"\xe2\x82\"", "\"\uFFFD\uFFFD\""},
		{`"é"`, `"é"`},
	} {
		got := string(appendRaw(nil, []byte(tc.in)))
		if got != tc.want {
			t.Errorf("appendRaw(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("appendRaw(%q) = %q: not JSON", tc.in, got)
		}
	}
}

func TestAppendTime(t *testing.T) {
	var tc timeCache
	r := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	cases := []int64{0, 1, -1, base, base + 1, base + 100, base + 999_999_999, -1_500_000_000}
	for range 2000 {
		cases = append(cases, base+r.Int64N(int64(400*24*time.Hour)))
	}
	for _, ns := range cases {
		want := strconv.Quote(time.Unix(0, ns).UTC().Format(time.RFC3339Nano))
		if got := string(tc.appendRFC3339Nano(nil, ns)); got != want {
			t.Fatalf("appendRFC3339Nano(%d) = %s, want %s", ns, got, want)
		}
	}
	for _, c := range []struct {
		ns   int64
		want string
	}{
		{0, "0.000000"}, {1_500_000_000, "1.500000"}, {1_764_223_121_447_123_999, "1764223121.447123"}, {-1_500_000_000, "-1.500000"},
	} {
		if got := string(appendSecondsMicro(nil, c.ns)); got != c.want {
			t.Errorf("appendSecondsMicro(%d) = %s, want %s", c.ns, got, c.want)
		}
	}
}
