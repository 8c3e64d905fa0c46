// Package pipeline holds logship's shared vocabulary and its per-record
// stages.
//
// Data flows one way: driver → pipeline → redact → ring → sinks. The driver
// turns dockerd's FIFO frames into Records; the ring (pipeline/ring) stores
// them per container; sinks read them back. Those packages import pipeline
// and not each other; only cmd/logship wires them together.
//
// This package owns:
//   - Record, Source, StreamWriter, LogReader and ReadConfig: the types that
//     cross package boundaries, with their ownership rules.
//   - Option parsing helpers (OptionParser, CheckKnown, ErrInvalidOption):
//     every package parses its own log-opts with them, so a bad option is
//     reported with its name and what it accepts, never with its value.
//   - Metrics: counters and gauges rendered as Prometheus text. Every drop is
//     a counter with a reason label.
//   - The per-record stages (Parser, Event) and the per-stream metadata
//     (Meta), with their log-opts (Config, OptionKeys). They are described
//     below.
//
// # JSON parsing
//
// Parser.Parse turns a Record into an Event. A line is JSON when, after
// optional JSON whitespace (space, tab, CR, LF), it is exactly one object
// followed by optional JSON whitespace; Event.Fields then holds the object's
// top-level members in line order. Values are not decoded: Field.Value is
// the raw JSON text (strings with quotes, nested objects and arrays whole),
// aliasing the line, because the redactor and the sinks re-emit it verbatim
// and decoding would cost time and allocations for nothing. Keys are
// unescaped only when they contain an escape.
//
// The tokenizer is hand-written and single-pass, with no reflection, regexp
// or encoding/json; with a reused Event it does not allocate. It accepts
// what encoding/json.Valid accepts (FuzzParse checks this both ways, and
// that the fields mean what encoding/json decodes), with these choices:
//   - Duplicate keys are allowed and all kept, in order. encoding/json keeps
//     the last; we keep every one so that nothing in the line is hidden from
//     the redactor.
//   - Bytes that are not valid UTF-8 are accepted and kept as they are (as
//     encoding/json.Valid does); the line is never rewritten.
//   - A line nested deeper than MaxJSONDepth (64, counting the line's own
//     object) is text, which bounds the tokenizer's recursion.
//   - A line longer than Config.MaxParseSize (log-opt parse-max-size,
//     default 1 MiB) is text and is not searched for ids either.
//
// Anything else (truncated, trailing bytes, invalid escapes, raw control
// characters or NUL bytes in strings, arrays or scalars at the top level)
// makes the line text. Parse never fails and never panics. SkipJSON
// exposes the same validator for one value; the redactor steps over values
// it masks whole with it, so both packages agree on what is JSON.
//
// # Request and trace ids
//
// Parse promotes a request id, a trace id and a span id into the Event.
// Keys are compared after normalisation: ASCII letters folded
// to lower case and '_', '-' and '.' removed, so "request_id" also matches
// requestId, RequestID, request-id, request.id and REQUEST_ID. The keys are
// normalised once, in NewParser; a line costs no allocation.
//
// Request-id keys come from the log-opt request-id-keys (comma-separated,
// best first), by default DefaultRequestIDKeys: request_id, x-request-id,
// req_id, correlation_id, x-correlation-id, rid. Trace ids come from
// trace_id, span_id (so also traceId, trace.id, spanId, ...) and from a W3C
// traceparent value (ParseTraceparent: strictly validated, lowercase hex,
// version ff and all-zero ids rejected).
//
// In a JSON line the search covers:
//  1. the top-level members, then
//  2. for ids the top level lacks, the members of top-level objects named
//     http, request, req, context, ctx or meta (normalised too), one level
//     deep only.
//
// Only string values (decoded) and number values (their text) count, and
// only when non-empty and at most MaxIDLen (256) bytes. The text inside
// string values is not searched. In a text line, or a line that is not
// valid JSON, the search finds key=value, key: value, and "key":"value" or
// 'key': 'value'; the key must be a whole word (not preceded by a letter,
// digit, '_', '-', '.' or a non-ASCII byte, so prerequest_id= does not
// match), and an unquoted value ends at whitespace , ; & " ' ) ] } or the
// end of the line. The text scan visits each '=' and ':' once and looks back
// at the key; it is linear in the line, whatever the line.
//
// When several keys match, an earlier key of the list wins over a later one
// and, for the same key, the first in the line wins; top-level members win
// over nested ones. trace_id and span_id keys win over a traceparent, whose
// span id is used only together with its own trace id.
//
// # Container metadata
//
// NewMeta computes, once per stream, what every record of a container is
// enriched with: ids, name (without the leading '/'), image, the rendered
// tag log-opt and the attributes selected by labels, labels-regex, env and
// env-regex. It uses Docker's own code (daemon/logger/templates and
// Info.ExtraAttributes), so these options behave exactly as with Docker's
// fluentd and syslog drivers, default tag {{.ID}} included. Ids shorter
// than 12 characters, which make Docker's Info.ID panic, are handled.
package pipeline
