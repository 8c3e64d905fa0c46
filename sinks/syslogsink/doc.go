// Package syslogsink is logship's syslog Sink: it writes batches of
// container log records to a syslog receiver over UDP, TCP, TLS or a unix
// socket, as RFC 5424 (default) or RFC 3164 messages.
//
// # Options
//
// The option names are those of Docker's syslog driver, with its meaning,
// so a service can switch `driver: syslog` to `driver: logship` and keep
// them. logship adds three options of its own.
//
//	syslog-address            udp://host[:port], tcp://host[:port], tcp+tls://host[:port]
//	                          (default port 514, for TLS too, as Docker), unix:///path (stream),
//	                          unixgram:///path. The sink is on when it is set.
//	syslog-facility           kern ... local7, or 0-23; default daemon
//	syslog-format             rfc5424micro (default, also when empty), rfc5424, rfc3164
//	syslog-tls-ca-cert        PEM CA file, added to the system roots (tcp+tls only)
//	syslog-tls-cert/-key      PEM client certificate and key, together (tcp+tls only)
//	syslog-tls-skip-verify    true/false: skip server verification (tcp+tls only)
//	syslog-framing            octet-counted (default on tcp and tcp+tls) or newline
//	                          (default on unix); streams only
//	syslog-hostname           the HOSTNAME field; default os.Hostname()
//	syslog-max-datagram-size  cap of a udp/unixgram message, 480 to 65507; default 8192
//	tag                       (pipeline) the APP-NAME / TAG; Docker's default {{.ID}}
//	labels, env, ...          (pipeline) become the attrs@32473 structured data
//
// Where logship differs from Docker's driver, on purpose:
//   - No syslog-address means no syslog sink, not the local /dev/log; say
//     unixgram:///dev/log for that. The other syslog options are still
//     checked, so a typo is reported.
//   - An empty syslog-format means RFC 5424 with microsecond timestamps and
//     structured data, not Docker's BSD "unix" format without a host name,
//     which carries no metadata and which remote receivers misparse. The
//     named formats keep Docker's meaning (rfc5424: whole seconds;
//     rfc5424micro: microseconds; rfc3164: BSD with a host name).
//   - syslog-tls-skip-verify is parsed as a boolean. Docker skips
//     verification whenever the key is present, so that "false" skips it
//     too; here it means what it says.
//   - TLS options with an address that is not tcp+tls are refused rather
//     than ignored: whoever set them expects TLS, and would send plain text.
//   - A unix:// path is not required to exist when the container starts:
//     the receiver may come up later, and the ring holds the records until
//     it does. A host is required in network addresses.
//   - Unix paths and TLS files are not checked by ParseConfig; New reads the
//     TLS files (once: renewed certificates take effect with the next Sink).
//
// # Wire format
//
// RFC 5424, one message per record:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [logship@32473 ...][attrs@32473 ...] MSG
//
//	<134>1 2026-11-27T05:41:00.123456Z host1 web 3f2a1b9c8d7e - [logship@32473
//	container_id="3f2a...5f4a" container_name="web" image="nginx:1.25" source="stdout"
//	request_id="req-1" trace_id="4bf9...4736"][attrs@32473 com.example.team="core"]
//	{"level":"info","msg":"GET /health","request_id":"req-1"}
//
// (one line on the wire; testdata/*.golden hold exact bytes for every format
// and framing).
//   - PRI is facility×8 + severity: stdout is info (6), stderr err (3), as
//     Docker's driver.
//   - TIMESTAMP is the record's own time (dockerd's, when it read the line),
//     not the time of sending as with Docker's driver, in UTC ("Z"): the
//     plugin's local zone means nothing. rfc5424 has whole seconds,
//     rfc5424micro (the default) six fractional digits.
//   - APP-NAME is the rendered tag. PROCID is the container's short id (12
//     characters), which a traditional rsyslog file shows as
//     "web[3f2a1b9c8d7e]:" and which changes, as RFC 5424 wants, when the
//     container does; Docker sends dockerd's pid, which tells nothing.
//     MSGID is "-" (Docker repeats the tag; RFC 5424 means it to be a
//     message type). Header fields keep only printable ASCII (anything
//     else becomes '_'), are cut to RFC 5424's lengths (APP-NAME 48), and
//     an empty one is "-".
//   - Structured data: logship@32473 carries container_id (full),
//     container_name, image, source, partial="true" for a record that did
//     not end in a newline, request_id, trace_id and span_id when the
//     pipeline found them; empty values are left out. attrs@32473 carries
//     the labels and env selected by labels, labels-regex, env and
//     env-regex, sorted by key. Values escape '"', '\' and ']' with a
//     backslash. Keys are made SD-NAMEs: at most 32 bytes of printable ASCII
//     without '=', ']', '"' or space (others become '_'); keys that
//     collide that way are repeated, as RFC 5424 allows. 32473 is the
//     enterprise number RFC 5612 reserves for documentation: logship has
//     none of its own.
//   - MSG is the record's line as the ring holds it (masked), byte for byte:
//     no BOM, no re-encoding of JSON. An empty line is sent (a header
//     without MSG): logship loses no lines, where Docker's driver drops
//     empty ones.
//
// RFC 3164 (syslog-format=rfc3164), with no structured data, so no metadata
// but the tag:
//
//	<134>Nov 27 05:41:00 host1 web[3f2a1b9c8d7e]: message
//
// The day is space-padded ("Jan  2"), the time UTC. ':', '[' and ']' in the
// tag become '_' so that receivers find where it ends.
//
// # Framing and transports
//
// On streams (tcp, tcp+tls, unix) the default on tcp and tcp+tls is octet
// counting, "LEN SP MSG" (RFC 6587 §3.4.1, which RFC 5425 requires for
// TLS): a message may then hold newlines and stays one message. rsyslog's
// imtcp and imptcp detect it by themselves. syslog-framing=newline ends each
// message with LF instead (RFC 6587 §3.4.2) for receivers that want that
// (syslog-ng's network(), Docker's driver on plain tcp); an LF inside a
// message then becomes a space, since it would split it. unix:// defaults
// to newline framing, which is what local daemons' stream sockets read.
//
// On udp and unixgram each message is one datagram, without framing. A
// message longer than syslog-max-datagram-size is cut to it (before a
// UTF-8 sequence, never through one) and counted in
// logship_sink_truncated_records_total{sink="syslog"}. The default, 8192,
// is rsyslog's default maximum message size; RFC 5426 only promises 480
// bytes (and recommends 2048) across networks, so lower it for receivers
// beyond the host.
//
// A batch is encoded into one buffer (a pooled encoder, no allocation per
// record) and written with one Write on streams, one per message on
// datagram sockets.
//
// # Delivery guarantees
//
// Syslog has no acknowledgement. Send returns nil when every byte of the
// batch has been written to the socket, that is, handed to the kernel.
// That is at-least-once with these limits:
//   - Any write error fails the whole batch, which the wrapper sends again
//     on a new connection; the part the receiver had read before arrives
//     twice.
//   - Bytes in the kernel's buffers when the connection later breaks are
//     lost without an error. To narrow that window, before each batch the
//     sink checks that the receiver has not closed the connection (a
//     goroutine per connection reads it, and a non-blocking MSG_PEEK covers
//     the instant before that goroutine notices) and reconnects if it has.
//     A close that crosses the batch on the wire still loses it.
//   - With TLS 1.3 a server checks the client's certificate after the
//     client considers the handshake done. When the server asked for a
//     certificate, the sink waits after the handshake for a session ticket
//     (proof of acceptance from OpenSSL, GnuTLS and Go servers) or an alert,
//     at most a few round trips (50 ms to 1 s) for servers that send no
//     tickets. Without that, a refused client would see every batch
//     "delivered" and lost.
//   - UDP gives no guarantee. On a connected UDP socket an ICMP port
//     unreachable becomes an error of a later write or of the check after
//     the batch, so a batch sent to a port nobody listens on fails and is
//     retried at least on the same host; elsewhere the error may come late
//     or never.
//   - On unixgram a datagram the kernel took is in the receiver's queue; if
//     the queue stays full until the deadline, Send returns a
//     *sinks.PartialError naming the records not sent, and only those are
//     retried.
//
// # Errors
//
// Send makes one attempt and never retries or sleeps. Every failure is
// retryable (a plain error): connection refused, DNS, TLS verification or
// a refused client certificate (fixing a certificate must not cost the
// records), write errors and timeouts (wrapping context.DeadlineExceeded
// when the attempt's deadline ran out). Send after Close returns
// sinks.Permanent(sinks.ErrClosed); a Send that Close interrupted returns a
// retryable error wrapping sinks.ErrClosed. Nothing a record holds can make
// the receiver refuse it, so no error is Permanent.
//
// # Connections and concurrency
//
// One Sink serves every container with the same Config.Key. New does not
// touch the network. Sends share one connection (or one connected datagram
// socket) and take turns on it, each waiting for its turn no longer than
// its ctx; encoding happens before the turn, in parallel. The first Send
// connects, with ctx; a Send that finds the connection broken or closed
// reconnects. A receiver that stops reading blocks the Send that is
// writing, and those waiting for their turn, each until its own deadline,
// and nothing else. Close closes the connection (TLS with close_notify,
// within ctx) and is idempotent.
//
// Metrics: logship_sink_bytes_sent_total{sink="syslog"} (bytes written to
// sockets, TLS payload before encryption) and
// logship_sink_truncated_records_total{sink="syslog"}.
package syslogsink
