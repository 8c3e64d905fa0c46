package httpsink

import (
	"errors"
	"testing"
	"time"

	"github.com/logship/logship/sinks"
)

// FuzzBulkResult: whatever the receiver answers, bulkResult does not
// panic, never marks the whole batch Permanent, and a PartialError holds
// ascending, disjoint indices into the batch.
func FuzzBulkResult(f *testing.F) {
	for _, s := range []string{
		`{"took":1,"errors":false,"items":[{"create":{"status":201}}]}`,
		`{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"x"}}}]}`,
		`{"errors":true,"items":[{"index":{"status":400,"error":"plain"}},{"delete":{}},{}]}`,
		`{"errors":true,"items":[{"create":{"status":"500"}}]}`,
		`{"errors":"yes"}`, `[]`, `null`, ``, `{"errors":true,"items":null}`,
	} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, body []byte, n8 uint8) {
		n := int(n8)
		err := bulkResult(body, n)
		if sinks.IsPermanent(err) {
			t.Fatalf("whole batch permanent: %v", err)
		}
		var pe *sinks.PartialError
		if !errors.As(err, &pe) {
			return
		}
		if len(pe.Failed)+len(pe.Permanent) == 0 {
			t.Fatal("PartialError without failed items")
		}
		seen := map[int]bool{}
		for _, list := range [][]int{pe.Failed, pe.Permanent} {
			for i, x := range list {
				if x < 0 || x >= n || seen[x] || i > 0 && list[i-1] >= x {
					t.Fatalf("bad indices Failed=%v Permanent=%v for n=%d", pe.Failed, pe.Permanent, n)
				}
				seen[x] = true
			}
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{" 120 ", 2 * time.Minute, true},
		{"99999999999999999999", 0, false}, // not a uint64
		{"18446744073709551615", maxRetryAfter, true},
		{"Fri, 27 Nov 2026 08:00:30 GMT", 30 * time.Second, true},
		{"Friday, 27-Nov-26 08:00:30 GMT", 30 * time.Second, true}, // RFC 850
		{"Fri Nov 27 08:00:30 2026", 30 * time.Second, true},       // asctime
		{"Thu, 26 Nov 2026 08:00:00 GMT", 0, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSanitize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"ok", 10, "ok"},
		{"a\x00b\nc\xffd", 20, "a b c\uFFFDd"},
		{"abcdef", 3, "abc…"},
		{"  padded \r\n", 50, "padded"},
	} {
		if got := sanitize([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
