package sinks

import (
	"errors"
	"fmt"
	"time"
)

// ErrTooLarge is wrapped by a Send error that means "this batch is too big
// for the receiver" (HTTP 413). The wrapper splits the batch and retries
// the halves; a single record that is still too large is dropped, counted.
var ErrTooLarge = errors.New("batch too large for the receiver")

// ErrClosed is returned (as a Permanent error) by Send after Close.
var ErrClosed = errors.New("sink closed")

type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: sending the same batch again
// fails the same way. A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, is Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfterError is a retryable error with the delay the receiver asked
// for.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %v)", e.Err, e.After)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err with a requested delay.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Err: err, After: d}
}

// PartialError reports that only some events of a batch failed, e.g. the
// items an Elasticsearch bulk response marks as 429 or 5xx. Failed holds
// indices into Batch.Events, ascending; Permanent holds indices of events
// that failed for good (dropped and counted, not retried).
type PartialError struct {
	Err       error
	Failed    []int
	Permanent []int
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d events failed (%d for good): %v", len(e.Failed), len(e.Permanent), e.Err)
}
func (e *PartialError) Unwrap() error { return e.Err }
