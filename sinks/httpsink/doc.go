// Package httpsink is logship's HTTP sink: it POSTs batches of a
// container's records to an HTTP endpoint as NDJSON, a JSON array, an
// Elasticsearch bulk request, a Loki push request or Splunk HEC events.
//
// # Guarantees
//
//   - One attempt per Send. Retries, backoff, batching and the ring cursor
//     live in the delivery wrapper (package sinks); Send only classifies
//     the outcome (below). Delivery is at-least-once: a retried request may
//     duplicate records the receiver had already taken.
//   - New does no network IO. Connections are made by Send, under its
//     context, which bounds everything (dial, TLS, request, response). Each
//     attempt is also bounded by http-timeout. A dead receiver blocks only
//     the Send that is trying it.
//   - One Sink is shared by every container with the same Config.Key; Send
//     is safe for concurrent use and shares one http.Client (keep-alive,
//     HTTP/2 over TLS when offered, TLS 1.2 at least; HTTPS_PROXY,
//     HTTP_PROXY and NO_PROXY of the plugin's environment apply).
//   - Close aborts attempts in flight and drops idle connections; a Send
//     cut short by Close, or called after it, returns
//     sinks.Permanent(sinks.ErrClosed).
//   - Credentials never come from log-opts (`docker inspect` shows those):
//     only from a file or the plugin env. They are not in Config.Key, in
//     errors, or in a printed Config. URL userinfo is refused. Errors name
//     the option, never its value, and leave out the URL's query.
//   - Every body is valid JSON and valid UTF-8, whatever the lines hold:
//     control characters are escaped and each byte that is not part of
//     valid UTF-8 becomes U+FFFD (as encoding/json.Marshal does).
//   - What is read of a response is capped (64 KiB drained; an
//     Elasticsearch bulk response at 2 KiB per record, 1 to 32 MiB).
//
// # Options
//
//	http-url                setting it enables the sink. http:// or https://, with path and
//	                        query as the receiver wants them (see "Receivers"); no
//	                        user:password@, no #fragment
//	http-format             ndjson (default), json, elasticsearch, loki, splunk-hec
//	http-compression        gzip (default, fastest level), zstd, none: the Content-Encoding
//	http-timeout            one attempt, default 10s (100ms..10m): Delivery.AttemptTimeout
//	http-batch-size         records per request, default 1000 (1..100000): Delivery.MaxRecords
//	http-batch-bytes        line bytes per request, default 1048576 (1kB..64MB, Docker's
//	                        decimal units: 2m = 2,000,000): Delivery.MaxBytes. The body is
//	                        larger (about 3x for JSON lines with ndjson) before compression
//	http-ca-file            PEM file of CAs trusted in addition to the system roots
//	http-auth-file          file holding the credential (format below)
//	http-headers            extra, non-secret headers: Name=value pairs separated by commas
//	                        (values cannot hold commas), e.g. X-Scope-OrgID=team-a for Loki,
//	                        AccountID=1,ProjectID=2 for VictoriaLogs tenants. Authorization,
//	                        Content-Type, Content-Encoding, Host and hop-by-hop headers are
//	                        refused
//	http-es-index           elasticsearch: _index of every action, default
//	                        logs-logship-default (Elasticsearch's built-in logs-*-* template
//	                        makes it a data stream, which needs the create action and
//	                        @timestamp that this sink uses)
//	http-loki-labels        loki: stream labels, default container_name,source. Each is
//	                        container_name, container_id, image, tag, source, or the key of an
//	                        attribute selected by the labels/env log-opts; names are made valid
//	                        label names (com.docker.compose.service -> com_docker_compose_service)
//	http-splunk-sourcetype  splunk-hec: "sourcetype", default none (the token's)
//	http-splunk-index       splunk-hec: "index", default none (the token's)
//
// Paths (http-ca-file, http-auth-file, HTTP_AUTH_FILE) are read by the
// plugin, so they must exist inside it: put the files below the plugin's
// data mount (by default the host's /var/lib/docker) or add a mount.
//
// # Credentials
//
// The credential comes from, in this order: the file named by
// http-auth-file; the file named by the plugin env HTTP_AUTH_FILE; the
// plugin env HTTP_AUTH_TOKEN (`docker plugin set logship
// HTTP_AUTH_TOKEN=...`). It is one line, surrounding whitespace ignored,
// and becomes the Authorization header (ParseCredential):
//
//	Bearer <token>    Authorization: Bearer <token>
//	Basic <base64>    Authorization: Basic <base64>
//	ApiKey <base64>   Authorization: ApiKey <base64>          (Elasticsearch API keys)
//	Splunk <token>    Authorization: Splunk <token>           (Splunk HEC)
//	user:password     Authorization: Basic base64(user:password)
//	<token>           Splunk <token> with splunk-hec, else Bearer <token>
//
// A file is checked when the container starts (a missing or malformed one
// fails `docker run`) and re-read whenever its size or modification time
// changes, so a token can be rotated in place. If it later becomes
// unreadable or malformed, attempts fail retryably: nothing is sent
// without the credential.
//
// # The event object
//
// ndjson, json, elasticsearch and the "event" of splunk-hec carry each
// record as one JSON object, members in this order:
//
//	time / @timestamp   dockerd's time of the line, RFC 3339 in UTC with up to 9 fractional
//	                    digits ("@timestamp" for elasticsearch; absent in the splunk-hec
//	                    event, whose envelope has "time")
//	log / message       the line, whole ("message" for elasticsearch)
//	source              stdout or stderr
//	partial             true when the record is a piece of a longer line (absent otherwise)
//	request_id, trace_id, span_id
//	                    the ids the pipeline found in the line (absent when none)
//	container_id, container_name (without '/'), image, tag
//	                    the container; empty ones are left out
//	<attributes>        the labels/env selected by the labels, labels-regex, env and
//	                    env-regex log-opts, by key
//	<line fields>       for a JSON line, its top-level members, values copied as they are
//	                    in the line (nested objects and arrays whole, numbers unchanged)
//
// Collision rule: a line field is left out when its key is one of the
// members above (time, @timestamp, log, message, source, partial,
// request_id, trace_id, span_id, container_id, container_name, image,
// tag: whichever the format writes), an attribute key, empty, or repeats
// an earlier key of the same line (the first wins, as in the id search);
// with elasticsearch also when it starts with '_' (Elasticsearch refuses
// documents holding _id, _index, _source, ...). An attribute named like a
// member above is left out too. Nothing is lost: the line is always whole
// in log/message. The output never has duplicate keys, which Elasticsearch
// rejects.
//
// For example, the stdout line {"level":"info","msg":"GET /","time":"x"}
// of container web (labels com.docker.compose.service=api) is, in ndjson:
//
//	{"time":"2026-11-27T05:41:00.123456789Z","log":"{\"level\":\"info\",\"msg\":\"GET /\",\"time\":\"x\"}",
//	 "source":"stdout","container_id":"0123...","container_name":"web","image":"nginx:1.27",
//	 "tag":"0123456789ab","com.docker.compose.service":"api","level":"info","msg":"GET /"}
//
// (one line on the wire). A text line has only the members before the
// line fields.
//
// # Formats
//
// ndjson (Content-Type: application/x-ndjson): one object per line, each
// followed by "\n".
//
// json (application/json): [obj,obj,...]. For generic webhooks;
// VictoriaLogs does not take it.
//
// elasticsearch (application/x-ndjson), the _bulk API:
//
//	{"create":{"_index":"logs-logship-default"}}\n{"@timestamp":...,"message":...}\n ...
//
// The response is parsed (errors, items[].<action>.status): items with
// 2xx were taken; 429, 5xx or no status are retried alone
// (sinks.PartialError.Failed); any other status (400 mapping errors, 409)
// is dropped and counted (PartialError.Permanent). A 2xx response that
// cannot be decoded or matched to the batch makes the whole batch retry.
//
// loki (application/json), the push API, one stream per label set (a
// batch is one container, so only source can split it), values in batch
// order, ids as structured metadata (Loki 3 accepts it by default; older
// Loki needs it enabled):
//
//	{"streams":[{"stream":{"container_name":"web","source":"stdout"},
//	  "values":[["1795758060123456789","GET / request_id=r1",{"request_id":"r1"}],...]}]}
//
// Labels with an empty value are left out; a stream left without labels
// gets job="logship". The line is sent as is (not the event object).
// Success is 204 (any 2xx is).
//
// splunk-hec (application/json), for /services/collector/event:
// concatenated envelopes, no separator, with the header
// X-Splunk-Request-Channel (a random UUID per Sink, so tokens with indexer
// acknowledgement accept the requests; acks are not polled):
//
//	{"time":1795758060.123456,"host":"<plugin host name>","source":"<container_name>",
//	 "sourcetype":"..","index":"..","event":{"log":..,"source":"stdout",...}}
//
// time is seconds with microseconds, as Docker's splunk driver writes it.
//
// # Compression
//
// gzip (klauspost/compress, fastest level, pooled writers) or zstd (one
// shared klauspost encoder, fastest level) compresses the whole body;
// Content-Encoding says which. Content-Type is always set: VictoriaLogs
// answers 200 and stores nothing for a body without it.
//
// # Outcomes
//
//	2xx                          nil (elasticsearch: per item, above)
//	408, 429, 5xx                retryable; with Retry-After (seconds or HTTP-date)
//	                             sinks.RetryAfter, a date in the past meaning now
//	413                          wraps sinks.ErrTooLarge: the wrapper halves the batch
//	3xx                          sinks.Permanent: redirects are not followed (a POST
//	                             redirected by 301/302 would lose its body); set
//	                             http-url to the final address
//	other 4xx                    sinks.Permanent
//	network error, timeout       retryable (TLS verification failures too, so that
//	                             fixing the trust store loses nothing)
//	auth file unreadable         retryable, no request sent
//
// Non-2xx errors carry a *StatusError with the status and the start of
// the response body (256 bytes, control characters and invalid UTF-8
// replaced). Splunk HEC answers {"text":..,"code":N}, which shows there:
// 503 code 9 (server busy) and 500 code 8 are retried; 400 (code 5 no
// data, 6 invalid data format, 7 incorrect index, 10/11 channel) and
// 401/403 (codes 1-4, token) are permanent.
//
// # Receivers
//
// VictoriaLogs (tested against v1.52.1, see victorialogs_test.go) takes
// ingestion parameters in the URL query:
//
//	ndjson         http://vl:9428/insert/jsonline?_stream_fields=container_name,source&_msg_field=log&_time_field=time
//	elasticsearch  http://vl:9428/insert/elasticsearch/_bulk?_stream_fields=container_name,source&_msg_field=message&_time_field=@timestamp
//	loki           http://vl:9428/insert/loki/api/v1/push?_msg_field=msg,message
//	splunk-hec     http://vl:9428/insert/splunk/services/collector/event
//
// Without _msg_field and _time_field, jsonline and bulk rows get
// "missing _msg field" and the ingestion time. _msg_field takes a list,
// first non-empty wins: with _msg_field=msg,message,log a JSON line's own
// msg or message becomes _msg and text lines keep the line. The Loki
// endpoint unpacks JSON lines into fields (so _msg_field must name their
// message member; add disable_message_parsing=1 to keep the line whole),
// and takes labels as stream fields. The Splunk endpoint takes _msg from
// event.log, the stream from host, source and sourcetype, and prefixes
// event members with "event.". Tenants: http-headers
// AccountID=..,ProjectID=.. .
//
// Elasticsearch/OpenSearch: http-url https://es:9200/_bulk, credential
// "ApiKey <key>" or user:password. Loki: http-url
// http://loki:3100/loki/api/v1/push, tenant with http-headers
// X-Scope-OrgID=... Splunk: http-url
// https://splunk:8088/services/collector/event, credential the HEC token.
//
// # Metrics
//
// logship_sink_bytes_sent_total{sink="http"} counts body bytes written to
// the network (compressed; a resend on a stale keep-alive connection
// counts twice). Records delivered, retried and dropped are counted by
// the wrapper.
package httpsink
