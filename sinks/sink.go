package sinks

import (
	"context"

	"github.com/logship/logship/pipeline"
)

// Batch is a run of consecutive records of one container, parsed and ready
// to encode. The delivery wrapper owns it: a Sink may read it during Send
// and must not keep any of it after Send returns (a retry passes the same,
// possibly shrunk, batch again).
type Batch struct {
	// Meta describes the container: id, name (without the leading '/'),
	// image, the rendered `tag`, and the attributes selected by labels,
	// labels-regex, env and env-regex (already masked).
	Meta *pipeline.Meta
	// Events are the records in ring order, each parsed: Fields for JSON
	// lines, RequestID/TraceID/SpanID when found. Their Line and field
	// slices stay valid until Send returns.
	Events []pipeline.Event
}

// Len returns the number of records in the batch.
func (b *Batch) Len() int { return len(b.Events) }

// Sink delivers batches to one receiver (one address with one set of
// options). It is shared by every container that ships to the same
// receiver, so Send is called concurrently.
//
// Send makes exactly one delivery attempt. Retries, backoff, timeouts,
// batching and the ring cursor live in the shared wrapper (Shipper), once.
// Send returns nil only when the receiver has taken the whole batch (as far
// as the protocol can tell: with acknowledgements, once acknowledged). It
// classifies failures by wrapping:
//
//   - Permanent(err): the same batch will fail again (a 400, a record the
//     receiver refuses); it is dropped and counted, not retried.
//   - RetryAfter(err, d): the receiver asked to wait d (HTTP Retry-After).
//   - *PartialError: some events were taken and some were not; only the
//     failed ones (by index into Events) are retried.
//   - ErrTooLarge (wrapped): the receiver refused the size (HTTP 413); the
//     wrapper splits the batch in halves and sends each.
//   - anything else: retryable (network errors, timeouts, 5xx, 429).
//
// Send must honour ctx's deadline and cancellation.
type Sink interface {
	Send(ctx context.Context, b *Batch) error
	// Close releases connections. It is idempotent; Send after Close
	// returns a Permanent error.
	Close(ctx context.Context) error
}
