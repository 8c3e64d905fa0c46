package httpsink

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logship/logship/sinks"
)

// Caps on what is read of a response. The receiver is not trusted to keep
// its answers small.
const (
	maxDrain   = 64 << 10 // read to keep a connection reusable, then give up on it
	maxSnippet = 256      // of an error body, in the error message
	// A bulk response is about 100 bytes per item, several hundred with an
	// error reason; the cap scales with the batch within bounds.
	bulkBytesPerItem = 2 << 10
	minBulkResponse  = 1 << 20
	maxBulkResponse  = 32 << 20
	// maxRetryAfter bounds a Retry-After before the wrapper's own cap, so
	// that the conversion to a Duration cannot overflow.
	maxRetryAfter = 24 * time.Hour
)

// StatusError is a response outside 2xx. Send wraps it: in
// sinks.Permanent for most 4xx, in sinks.RetryAfter when the receiver
// sent Retry-After, alongside sinks.ErrTooLarge for 413.
type StatusError struct {
	StatusCode int
	// Body is the start of the response body with control characters and
	// invalid UTF-8 replaced, for the log. Never a request header.
	Body string
}

func (e *StatusError) Error() string {
	msg := "receiver answered " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		msg += " " + t
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// result turns a response into Send's error, reading and closing its body.
func (s *sink) result(resp *http.Response, b *sinks.Batch) error {
	defer resp.Body.Close()
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		if s.cd.format == FormatElasticsearch {
			limit := min(max(minBulkResponse, b.Len()*bulkBytesPerItem), maxBulkResponse)
			body, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
			if err != nil {
				return fmt.Errorf("httpsink: reading the bulk response: %w", err)
			}
			if len(body) > limit {
				return fmt.Errorf("httpsink: bulk response larger than %d bytes", limit)
			}
			return bulkResult(body, b.Len())
		}
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
		return nil
	}
	var buf [1024]byte
	n, _ := io.ReadFull(resp.Body, buf[:])
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	serr := &StatusError{StatusCode: code, Body: sanitize(buf[:n], maxSnippet)}
	err := fmt.Errorf("httpsink: POST %s: %w", s.safeURL, serr)
	return classify(code, resp.Header.Get("Retry-After"), time.Now(), err)
}

// classify maps a status outside 2xx to the wrapper's error classes. It is
// the one place that decides what is retried.
func classify(code int, retryAfter string, now time.Time, err error) error {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		if d, ok := parseRetryAfter(retryAfter, now); ok {
			return sinks.RetryAfter(err, d)
		}
		return err
	case code == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%w: %w", sinks.ErrTooLarge, err)
	case code >= 300 && code < 400:
		return sinks.Permanent(fmt.Errorf("%w (redirects are not followed: set %s to the final address)", err, OptURL))
	default:
		return sinks.Permanent(err)
	}
}

// parseRetryAfter reads delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
// A date in the past means now.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return min(time.Duration(min(n, uint64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}

// sanitize returns at most max bytes of b as printable, valid UTF-8 text
// on one line.
func sanitize(b []byte, max int) string {
	var sb strings.Builder
	for len(b) > 0 && sb.Len() < max {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r == utf8.RuneError && n <= 1:
			sb.WriteString("\uFFFD")
		case r < 0x20 || r == 0x7f:
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	s := strings.TrimSpace(sb.String())
	if len(b) > 0 {
		s += "…"
	}
	return s
}

// bulk response shapes; only what classification needs is decoded.
type bulkHead struct {
	Errors bool `json:"errors"`
}

type bulkResponse struct {
	Errors bool       `json:"errors"`
	Items  []bulkItem `json:"items"`
}

// bulkItem is keyed by the action; logship sends only create, but a
// receiver may answer as if it were index.
type bulkItem struct {
	Create *bulkItemResult `json:"create"`
	Index  *bulkItemResult `json:"index"`
	Update *bulkItemResult `json:"update"`
	Delete *bulkItemResult `json:"delete"`
}

type bulkItemResult struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

var errBulkDecode = errors.New("undecodable bulk response")

// bulkResult classifies an Elasticsearch _bulk response to n actions:
// items with 2xx were taken; 429 and 5xx (and items without a status) are
// retried (PartialError.Failed); any other status fails for good
// (PartialError.Permanent), such as a 400 mapper_parsing_exception. A
// response that cannot be matched to the batch is retryable as a whole.
func bulkResult(body []byte, n int) error {
	var head bulkHead
	if err := json.Unmarshal(body, &head); err != nil {
		return fmt.Errorf("httpsink: %w: %v", errBulkDecode, err)
	}
	if !head.Errors {
		return nil
	}
	var r bulkResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("httpsink: %w: %v", errBulkDecode, err)
	}
	if len(r.Items) != n {
		return fmt.Errorf("httpsink: %w: %d items for %d actions", errBulkDecode, len(r.Items), n)
	}
	var failed, permanent []int
	first := -1
	for i := range r.Items {
		res := r.Items[i].result()
		status := 0
		if res != nil {
			status = res.Status
		}
		switch {
		case status >= 200 && status < 300:
			continue
		case status == 0 || status == http.StatusTooManyRequests || status >= 500:
			failed = append(failed, i)
		default:
			permanent = append(permanent, i)
		}
		if first < 0 {
			first = i
		}
	}
	if first < 0 {
		return nil
	}
	return &sinks.PartialError{
		Err:       fmt.Errorf("httpsink: elasticsearch bulk: %d of %d items failed; item %d: %s", len(failed)+len(permanent), n, first, r.Items[first].describe()),
		Failed:    failed,
		Permanent: permanent,
	}
}

func (it *bulkItem) result() *bulkItemResult {
	for _, r := range [...]*bulkItemResult{it.Create, it.Index, it.Update, it.Delete} {
		if r != nil {
			return r
		}
	}
	return nil
}

// describe says why an item failed: its status and the error's type and
// reason, capped.
func (it *bulkItem) describe() string {
	r := it.result()
	if r == nil {
		return "no result"
	}
	msg := "status " + strconv.Itoa(r.Status)
	var e struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(r.Error, &e) == nil && (e.Type != "" || e.Reason != "") {
		msg += ": " + sanitize([]byte(e.Type+": "+e.Reason), maxSnippet)
	}
	return msg
}
