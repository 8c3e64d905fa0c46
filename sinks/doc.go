// Package sinks delivers what the ring holds to network receivers.
//
// One Sink per protocol lives in a sub-package (sinks/fluentd,
// sinks/syslogsink, sinks/httpsink); each makes a single delivery attempt
// per call. Everything else about delivery is here, once, in Delivery:
//
//	ring ──Wait/ReadFrom(cursor)──► shipper (one per container × target) ──Send──► shared Sink ──► receiver
//	                                   │ batch: MaxRecords / MaxBytes / MaxAge
//	                                   │ retry: backoff ×2 with ±20% jitter, Retry-After, MaxRetries
//	                                   │ timeout per attempt
//	                                   └─ cursor file advanced only after the receiver took the batch
//
// # Guarantees
//
//   - Nothing here is on the FIFO path. The driver writes the ring; a
//     shipper reads it later. A receiver that is down costs lag, never a
//     blocked container or a slow `docker stop`.
//   - The ring is the spool: memory is one batch per shipper whatever the
//     outage. Records the ring evicts before they were delivered are
//     counted as dropped{reason="evicted"}.
//   - At least once: the cursor advances only after Send returned nil, and
//     is persisted after every batch, so a crash or kill -9 re-sends at most
//     the batch in flight. Records sent again after a failed or
//     unacknowledged attempt are counted in records_retried_total: each may
//     be a duplicate at the receiver. How strong "Send returned nil" is
//     depends on the protocol (an acknowledgement with fluentd-request-ack,
//     a 2xx for HTTP, bytes written to the socket for syslog); each
//     sub-package says so in its doc.
//   - Delivery of a container that stopped while its receiver was down
//     resumes after a plugin restart: Ship stores the container's plan (its
//     log-opts) next to the cursors, and Plans lists them at start.
//   - Errors are classified by wrapping, never by their text: Permanent
//     (dropped, counted), RetryAfter, PartialError (only the failed events
//     are retried), ErrTooLarge (the batch is split in halves; a single
//     record still too large is dropped, counted), anything else retried.
//   - Containers whose Target Keys are equal share one Sink, and with it
//     the connection; a Sink stays open SinkLinger after its last shipper
//     retired, so short-lived containers do not reconnect every time.
//   - When a container's ring is removed, Forget stops its shippers (even
//     one retrying against a dead receiver) and removes its files.
//
// # On disk (below Config.Dir)
//
//	<container id>/plan.json        the delivery plan (the container's log-opts; no credentials: those come from files or env)
//	<container id>/<hash>.cursor    8-byte big-endian Seq of the next record to send + CRC-32C (Castagnoli) of those 8 bytes
//
// <hash> is the first 16 bytes of SHA-256(Name + "\x00" + Key) in hex. A
// missing or damaged cursor starts at the oldest record the ring holds:
// a fault can cause re-sending, never skipping.
//
// # Metrics (per protocol: sink="fluentd", "syslog", "http"; all start at 0)
//
//	logship_sink_records_delivered_total
//	logship_sink_records_retried_total
//	logship_sink_records_dropped_total{reason="permanent"|"too_large"|"retries_exhausted"|"evicted"}
//	logship_sink_attempts_failed_total
//	logship_sink_lag_seconds            age of the oldest record not yet acknowledged, worst over the protocol's shippers
//	logship_sink_bytes_sent_total       (counted by the protocol packages)
package sinks
