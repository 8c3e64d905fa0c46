// Package fluentd is logship's sink for the Fluentd Forward protocol (v1):
// Fluentd, Fluent Bit, the OpenTelemetry Collector's fluentforward receiver
// and anything else that listens where Docker's fluentd log driver sends.
//
// A Sink makes one delivery attempt per Send, as the sinks contract asks:
// retries, backoff, batching and the ring cursor belong to the delivery
// wrapper in package sinks. New does not touch the network; the first Send
// connects, under its context.
//
// # Options
//
// Docker's fluentd driver options keep their names, defaults and meaning
// (so `--log-driver fluentd` can become `--log-driver logship` with the
// same --log-opt flags), except where the ring changes what they are for:
//
//	fluentd-address               tcp://host:port (default port 24224), unix:///path;
//	                              for TLS tls://host:port (Docker's name) or tcp+tls://host:port.
//	                              A value without "://" is tcp. Setting it enables the sink.
//	fluentd-async                 accepted, no effect: delivery is always asynchronous to the
//	                              container, because the ring is the buffer (see below).
//	fluentd-async-reconnect-interval  accepted (0 or 100ms..10s, as Docker checks it), no effect:
//	                              a broken connection is redialled by the next attempt.
//	fluentd-retry-wait            first backoff, Delivery.InitialBackoff (default 1s).
//	fluentd-max-retries           Delivery.MaxRetries (default Docker's MaxInt32 = forever;
//	                              MaxInt32 and above mean forever).
//	fluentd-buffer-limit          Docker: the async queue's length (in messages, though parsed as
//	                              a size). logship: the most bytes of lines in one batch,
//	                              Delivery.MaxBytes, binary units (default 1m = 1 MiB).
//	fluentd-sub-second-precision  EventTime with nanoseconds instead of integer seconds (default false).
//	fluentd-request-ack           ask for an ack per request; Send succeeds only once every
//	                              request of the batch is acked (default false).
//	fluentd-write-timeout         deadline of each write (default 0: only the attempt's context).
//	fluentd-read-timeout          how long to wait for an ack or a handshake message (default 0:
//	                              only the attempt's context).
//	tag                           rendered by the pipeline (Batch.Meta.Tag, default {{.ID}}); the
//	                              forward tag of every request. An empty rendering becomes the
//	                              first 12 characters of the container id.
//
// logship's own:
//
//	fluentd-tls-ca-cert           PEM CA bundle, trusted in addition to the system roots.
//	fluentd-tls-cert, -key        client certificate and key (PEM) for mutual TLS; both or neither.
//	fluentd-tls-skip-verify       true to skip certificate verification (a boolean: unlike
//	                              Docker's syslog-tls-skip-verify, "false" means false).
//	fluentd-tls-server-name       name to verify in the server's certificate (default: the host).
//	fluentd-compress              none (default) or gzip: CompressedPackedForward.
//	fluentd-shared-key-file       file holding the shared key; turns on the secured-forward
//	                              handshake. Without it, plugin env FLUENTD_SHARED_KEY.
//	fluentd-username              user for the handshake's user authentication.
//	fluentd-password-file         file holding that user's password; else plugin env FLUENTD_PASSWORD.
//	fluentd-hostname              our name in the handshake (default os.Hostname()).
//
// TLS options are errors without a TLS address. Secrets are never taken
// from log-opts (anyone who can `docker inspect` reads those), never
// printed (Secret formats as [REDACTED]) and never part of Config.Key,
// which names where they came from instead. A key file's one trailing
// newline is dropped. Delivery.AttemptTimeout is raised to at least 3s
// (dial) + write timeout + read timeout, so that the wrapper does not cut
// the timeouts the user chose.
//
// # What is sent
//
// Each request is PackedForward, the mode Fluentd itself uses between
// nodes: many events per write, and one msgpack value for the whole batch.
//
//	[tag, bin(<<[time, record]>>...), {"size": n, "chunk": id}]
//
// and with fluentd-compress=gzip, CompressedPackedForward:
//
//	[tag, bin(gzip(<<[time, record]>>...)), {"size": n, "chunk": id, "compressed": "gzip"}]
//
// The entries are bin, as the spec says a client SHOULD send them. "chunk"
// is present only with fluentd-request-ack: base64 of 16 bytes (8 random per
// Sink, then a counter), and the server must answer {"ack": id}. For
// example, one event with ack, in hex:
//
//	93                          array(3)
//	  aa 64 6f 63 6b 65 72 2e 77 65 62           "docker.web"
//	  c4 LL <entries>           bin8
//	  82 a4 73 69 7a 65 01      {"size": 1,
//	     a5 63 68 75 6e 6b b8 <24 bytes>          "chunk": "..."}
//	entry:
//	92                          array(2)
//	  d7 00 SSSSSSSS NNNNNNNN   EventTime: ext 0, uint32 seconds, uint32 nanoseconds
//	  8N <record pairs>         map
//
// Without fluentd-sub-second-precision the time is an integer count of
// seconds, as with Docker. EventTime seconds are clamped to 1970..2106.
// A batch whose entries exceed 4 MiB (below Fluent Bit's default 6 MB
// buffer) goes out as several requests on the same connection, in order;
// each is acked before the next is written. If a later one fails after
// earlier ones were acked (or, without acks, written), Send returns a
// *sinks.PartialError listing the events of the failed and unsent requests.
//
// # The record
//
// Docker's fluentd driver sends a map of strings; logship sends the same
// keys with the same values, so dashboards and Fluentd filters built on
// Docker's driver keep working:
//
//	container_id     the full 64-hex id
//	container_name   with the leading '/', as Docker sends it ("/web")
//	source           "stdout" or "stderr"
//	log              the line, without its newline
//	<attributes>     what labels, labels-regex, env and env-regex select
//	partial_message  "true", only for a partial record: a line cut at the maximum
//	                 line size, or an unfinished one flushed at the end of a stream
//	                 (logship has reassembled Docker's 16 KiB chunks already, so
//	                 there is no partial_id/ordinal/last)
//
// As in Docker (a map assignment in that order), an attribute named like
// one of the first four keys replaces its value, and partial_message of a
// partial record replaces an attribute of that name. logship adds:
//
//	request_id, trace_id, span_id   the ids the pipeline found, as strings
//	<JSON fields>                   for a line that is a JSON object, its top-level
//	                                members, typed: strings (unescaped), integers
//	                                (int64, or uint64 above MaxInt64), other numbers as
//	                                float64 (a number float64 cannot hold, such as 1e999,
//	                                as a string of its text), booleans, nil, and nested
//	                                objects and arrays as msgpack maps and arrays
//
// Every key is written once. Who gets a key, in order: Docker's keys and
// the attributes; then the promoted ids; then the JSON fields in line
// order. A JSON field whose key is already taken is written as
// "json.<key>" instead ({"log":"x"} in a JSON line arrives as
// "json.log":"x" next to Docker's "log"), except that it is left out when
// it is a string equal to the promoted id under that key (the id was taken
// from it, so it would only repeat it), or when "json.<key>" is taken as
// well (a third duplicate key in one line, say). The record map's order is
// fixed for a given input, so equal records encode to equal bytes.
//
// # Connections
//
// A Sink keeps one connection, shared by every container whose Config has
// the same Key. Sends encode concurrently and then take turns on the
// connection (a channel used as a mutex, so that waiting honours the
// context), so each ack is read by the Send that wrote its chunk and frames
// never interleave. A reader goroutine per connection decodes what the
// server sends (acks, HELO, PONG), each message capped at 64 KiB, 1024
// items and depth 8, and notices at once when the server hangs up, so an
// idle connection the server closed is redialled before the next write
// instead of swallowing it. Any error closes the connection; the next Send
// dials anew. A HELO with keepalive false makes the Sink close the
// connection after each Send. Cancelling the context interrupts a write
// in progress (the write deadline is moved into the past) and a wait for
// an ack.
//
// With a shared key, each new connection runs the secured-forward
// handshake before any record is sent:
//
//	server  ["HELO", {"nonce": bin, "auth": salt or "", "keepalive": bool}]
//	client  ["PING", hostname, salt, sha512_hex(salt+hostname+nonce+shared_key),
//	         username, sha512_hex(auth+username+password) or ""]
//	server  ["PONG", auth_result, reason, server_hostname,
//	         sha512_hex(salt+server_hostname+nonce+shared_key)]
//
// and the PONG digest is checked, so the server proves it knows the key
// too. (Fluentd also refuses a server whose hostname equals its own, to
// catch forwarding loops; logship does not, since a plugin and a Fluentd in
// host networking share the host's name.)
//
// # Errors
//
// Send classifies failures by wrapping (errors.Is, sinks.IsPermanent):
//
//	retryable                       dial and I/O errors, timeouts, the context's end,
//	                                TLS verification failures (the server side can fix
//	                                them, and the ring keeps the records meanwhile),
//	                                ErrNoAck (no ack in time, or the connection closed
//	                                first, as the OTel receiver does when its pipeline
//	                                refuses the data), ErrAckMismatch, ErrProtocol,
//	                                ErrServerAuth (a PONG digest that proves nothing)
//	Permanent                       ErrAuthRejected (PONG auth_result false: wrong key,
//	                                user or password), ErrHandshakeRequired (the server
//	                                sent HELO and no shared key is configured),
//	                                sinks.ErrClosed (Send after, or during, Close)
//	*sinks.PartialError             some requests of a split batch were taken
//
// Without fluentd-request-ack a nil Send means the bytes were written to
// the socket, which is all the protocol can tell; records a server drops
// after that are lost. With it, delivery is at-least-once: a retry after a
// lost ack sends the batch again.
//
// # Why not fluent-logger-golang
//
// Docker's driver uses github.com/fluent/fluent-logger-golang. Nothing of
// it is imported here; the chunk id (base64 of 16 bytes) and EventTime
// layout follow it so that servers see what they already see from Docker.
// It falls short for a shipper: it sends Message mode only, one event per
// write and, with acks, one round trip per event; it has no handshake
// (shared key, user auth); its async mode drops events after its retries
// and reports that only to stderr (issue #80) and does not match acks to
// chunks (#103); its TLS has only skip-verify (no CA, client certificate
// or server name) and its dial ignores the context; its retries sleep
// inside Post, where logship needs one attempt per call. It also registers
// msgpack extension 0 in init(), which panics in any binary that links the
// OpenTelemetry fluentforward receiver as well, as logship's end-to-end
// tests do (test/ffcheck). The encoding here is hand-written, append-style
// into pooled buffers; a warm encoder allocates nothing per record.
package fluentd
