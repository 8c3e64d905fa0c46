// Package sinks delivers what the ring holds to network receivers.
//
// One Sink per protocol lives in a sub-package (sinks/fluentd,
// sinks/syslogsink, sinks/httpsink); each makes a single delivery attempt
// per call. Everything else about delivery is here, once: reading new
// records from the ring through a persisted per-sink cursor (the ring is the
// spool, so memory stays bounded however long a receiver is down), batching
// by count, bytes and age, retries with exponential backoff and jitter,
// Retry-After, a timeout per attempt, and advancing the cursor only after
// the receiver acknowledged. Errors are classified by wrapping (Permanent,
// RetryAfter, PartialError, ErrTooLarge), never by their text.
package sinks
