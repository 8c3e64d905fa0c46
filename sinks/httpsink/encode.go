package httpsink

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// objStyle is how one format names the members of the event object.
type objStyle struct {
	timeKey string // "" when the envelope carries the time (splunk-hec)
	msgKey  string
	// noUnderscore drops line fields whose key starts with '_':
	// Elasticsearch refuses a document holding _id, _index, _source, ...
	noUnderscore bool
}

var (
	styleNDJSON = objStyle{timeKey: "time", msgKey: "log"}
	styleES     = objStyle{timeKey: "@timestamp", msgKey: "message", noUnderscore: true}
	styleSplunk = objStyle{msgKey: "log"}
)

// The members logship writes besides the time and message keys. A line
// field or attribute with one of these names is never written at the top
// level (the line keeps it, verbatim, in the message member).
const (
	keySource        = "source"
	keyPartial       = "partial"
	keyRequestID     = "request_id"
	keyTraceID       = "trace_id"
	keySpanID        = "span_id"
	keyContainerID   = "container_id"
	keyContainerName = "container_name"
	keyImage         = "image"
	keyTag           = "tag"
)

func (st *objStyle) reserved(key []byte) bool {
	switch string(key) {
	case keySource, keyPartial, keyRequestID, keyTraceID, keySpanID,
		keyContainerID, keyContainerName, keyImage, keyTag:
		return true
	}
	if string(key) == st.timeKey || string(key) == st.msgKey {
		return true
	}
	return st.noUnderscore && len(key) > 0 && key[0] == '_'
}

// codec is what a Sink precomputes from its Config for encoding.
type codec struct {
	format     Format
	style      objStyle
	esAction   []byte      // {"create":{"_index":"..."}}\n
	lokiLabels []lokiLabel // in option order
	splunk     []byte      // ,"sourcetype":"..","index":".." (may be empty)
	host       string      // Splunk "host"
	hostJSON   []byte      // ,"host":"..." or empty
}

type lokiLabel struct {
	name string // sanitised
	from string // as given: a metadata name or an attribute key
}

func newCodec(c *Config, hostname string) *codec {
	cd := &codec{format: c.Format, host: hostname}
	switch c.Format {
	case FormatElasticsearch:
		cd.style = styleES
		a := []byte(`{"create":{"_index":`)
		a = appendStr(a, c.ESIndex)
		cd.esAction = append(a, "}}\n"...)
	case FormatSplunkHEC:
		cd.style = styleSplunk
		if hostname != "" {
			cd.hostJSON = appendStr(appendKey(nil, "host"), hostname)
		}
		if c.SplunkSourcetype != "" {
			cd.splunk = appendStr(appendKey(cd.splunk, "sourcetype"), c.SplunkSourcetype)
		}
		if c.SplunkIndex != "" {
			cd.splunk = appendStr(appendKey(cd.splunk, "index"), c.SplunkIndex)
		}
	default:
		cd.style = styleNDJSON
	}
	for _, l := range c.LokiLabels {
		cd.lokiLabels = append(cd.lokiLabels, lokiLabel{name: lokiLabelName(l), from: l})
	}
	return cd
}

// contentType is what each format is sent as. Always set it: VictoriaLogs
// answers 200 and stores nothing for a body without it (receivers.md,
// pitfall 1).
func (cd *codec) contentType() string {
	switch cd.format {
	case FormatNDJSON, FormatElasticsearch:
		return "application/x-ndjson"
	}
	return "application/json"
}

// encoder holds the reused buffers of one encoding; encoders are pooled.
type encoder struct {
	body  []byte // the uncompressed request body
	meta  []byte // the batch's container members, pre-encoded
	extra []byte // per-batch envelope parts (splunk)
	attrs []string
	seen  map[string]struct{}
	tc    timeCache
	zbuf  []byte // the compressed body
	zw    appendWriter
}

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

// maxPooledBuffer: an encoder that grew beyond this for one huge batch is
// not pooled, so that memory returns to the steady state.
const maxPooledBuffer = 8 << 20

func getEncoder() *encoder { return encoderPool.Get().(*encoder) }

func putEncoder(e *encoder) {
	if cap(e.body) > maxPooledBuffer || cap(e.zbuf) > maxPooledBuffer {
		return
	}
	encoderPool.Put(e)
}

// encode writes b in the codec's format into e.body and returns it.
func (e *encoder) encode(cd *codec, b *sinks.Batch) []byte {
	e.body = e.body[:0]
	meta := b.Meta
	if meta == nil {
		meta = &pipeline.Meta{}
	}
	if cd.format == FormatLoki {
		e.body = e.appendLoki(e.body, cd, meta, b.Events)
		return e.body
	}
	e.prepareMeta(&cd.style, meta)
	dst := e.body
	switch cd.format {
	case FormatNDJSON:
		for i := range b.Events {
			dst = e.appendEvent(dst, &cd.style, meta, &b.Events[i])
			dst = append(dst, '\n')
		}
	case FormatJSON:
		dst = append(dst, '[')
		for i := range b.Events {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendEvent(dst, &cd.style, meta, &b.Events[i])
		}
		dst = append(dst, ']')
	case FormatElasticsearch:
		for i := range b.Events {
			dst = append(dst, cd.esAction...)
			dst = e.appendEvent(dst, &cd.style, meta, &b.Events[i])
			dst = append(dst, '\n')
		}
	case FormatSplunkHEC:
		// The envelope after "time" is the same for the whole batch.
		x := append(e.extra[:0], cd.hostJSON...)
		if meta.ContainerName != "" {
			x = appendStr(appendKey(x, "source"), meta.ContainerName)
		}
		x = append(x, cd.splunk...)
		x = append(x, `,"event":`...)
		e.extra = x
		for i := range b.Events {
			ev := &b.Events[i]
			dst = append(dst, `{"time":`...)
			dst = appendSecondsMicro(dst, ev.Time)
			dst = append(dst, e.extra...)
			dst = e.appendEvent(dst, &cd.style, meta, ev)
			dst = append(dst, '}')
		}
	}
	e.body = dst
	return dst
}

// prepareMeta pre-encodes the members every event of the batch shares:
// ,"container_id":..,"container_name":..,"image":..,"tag":.. and the
// attributes in key order.
func (e *encoder) prepareMeta(st *objStyle, m *pipeline.Meta) {
	d := e.meta[:0]
	for _, kv := range [...][2]string{
		{keyContainerID, m.ContainerID},
		{keyContainerName, m.ContainerName},
		{keyImage, m.ImageName},
		{keyTag, m.Tag},
	} {
		if kv[1] != "" {
			d = appendStr(appendKey(d, kv[0]), kv[1])
		}
	}
	e.attrs = e.attrs[:0]
	for k := range m.Attrs {
		e.attrs = append(e.attrs, k)
	}
	slices.Sort(e.attrs)
	for _, k := range e.attrs {
		if k == "" || st.reserved(unsafe.Slice(unsafe.StringData(k), len(k))) {
			continue
		}
		d = append(d, ',')
		d = appendStr(d, k)
		d = append(d, ':')
		d = appendStr(d, m.Attrs[k])
	}
	e.meta = d
}

// smallObject is the member count up to which duplicate keys are found by
// comparing with every earlier key; beyond it a map is cheaper.
const smallObject = 16

// appendEvent appends one event as a JSON object:
//
//	{"time":..,"log":..,"source":..,["partial":true,]["request_id":..,]
//	 ["trace_id":..,]["span_id":..,]"container_id":..,"container_name":..,
//	 "image":..,"tag":..,<attributes>,<the line's top-level fields>}
//
// A line field is left out when its key is empty, is one of the members
// above, is an attribute, or repeats an earlier key of the line (the first
// wins, as in the id search); the line itself is always whole in the
// message member, so nothing is lost.
func (e *encoder) appendEvent(dst []byte, st *objStyle, m *pipeline.Meta, ev *pipeline.Event) []byte {
	dst = append(dst, '{')
	if st.timeKey != "" {
		dst = append(dst, '"')
		dst = append(dst, st.timeKey...)
		dst = append(dst, '"', ':')
		dst = e.tc.appendRFC3339Nano(dst, ev.Time)
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, st.msgKey...)
	dst = append(dst, '"', ':')
	dst = appendString(dst, ev.Line)
	if src := ev.Source.String(); src != "" {
		dst = appendKey(dst, keySource)
		dst = append(dst, '"')
		dst = append(dst, src...)
		dst = append(dst, '"')
	}
	if ev.Partial {
		dst = append(dst, `,"partial":true`...)
	}
	if ev.RequestID != nil {
		dst = appendString(appendKey(dst, keyRequestID), ev.RequestID)
	}
	if ev.TraceID != nil {
		dst = appendString(appendKey(dst, keyTraceID), ev.TraceID)
	}
	if ev.SpanID != nil {
		dst = appendString(appendKey(dst, keySpanID), ev.SpanID)
	}
	dst = append(dst, e.meta...)
	if ev.IsJSON {
		dst = e.appendFields(dst, st, m, ev.Fields)
	}
	return append(dst, '}')
}

func (e *encoder) appendFields(dst []byte, st *objStyle, m *pipeline.Meta, fields []pipeline.Field) []byte {
	big := len(fields) > smallObject
	if big {
		if e.seen == nil {
			e.seen = make(map[string]struct{}, len(fields))
		}
		clear(e.seen)
	}
	for i := range fields {
		f := &fields[i]
		k := f.Key
		if len(k) == 0 || st.reserved(k) {
			continue
		}
		if e.isAttr(m, k) {
			continue
		}
		if big {
			if _, dup := e.seen[string(k)]; dup {
				continue
			}
			e.seen[string(k)] = struct{}{}
		} else if dupKey(fields[:i], k) {
			continue
		}
		dst = append(dst, ',')
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendRaw(dst, f.Value)
	}
	if big && len(e.seen) > 4*maxKeptSeen {
		e.seen = nil // one huge object does not pin a huge map
	}
	return dst
}

const maxKeptSeen = 1024

// isAttr reports whether k is an attribute key of the batch; e.attrs holds
// them (prepareMeta). A few string compares beat hashing every field key.
func (e *encoder) isAttr(m *pipeline.Meta, k []byte) bool {
	if len(e.attrs) > 8 {
		_, ok := m.Attrs[string(k)]
		return ok
	}
	for _, a := range e.attrs {
		if len(a) == len(k) && a == string(k) {
			return true
		}
	}
	return false
}

func dupKey(earlier []pipeline.Field, k []byte) bool {
	for j := range earlier {
		if bytes.Equal(earlier[j].Key, k) {
			return true
		}
	}
	return false
}

// appendLoki writes a Loki push request:
//
//	{"streams":[{"stream":{<labels>},"values":[["<ns>","<line>",{<ids>}],...]},...]}
//
// Events are grouped by label set. Only source varies within a batch (a
// batch is one container), so there are at most three streams, each
// written in one pass over the events; values keep the batch's order.
func (e *encoder) appendLoki(dst []byte, cd *codec, m *pipeline.Meta, events []pipeline.Event) []byte {
	bySource := false
	for _, l := range cd.lokiLabels {
		if l.from == keySource {
			bySource = true
		}
	}
	// group is the index of an event's stream: its source when source is
	// a label, else 0 for all.
	group := func(ev *pipeline.Event) int {
		if !bySource || int(ev.Source) > int(pipeline.SourceStderr) {
			return 0
		}
		return int(ev.Source)
	}
	dst = append(dst, `{"streams":[`...)
	var done [3]bool
	first := true
	for i := range events {
		g := group(&events[i])
		if done[g] {
			continue
		}
		done[g] = true
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendLokiLabels(dst, cd, m, events[i].Source)
		dst = append(dst, `,"values":[`...)
		n := 0
		for j := i; j < len(events); j++ {
			ev := &events[j]
			if group(ev) != g {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, '[', '"')
			dst = strconv.AppendInt(dst, ev.Time, 10)
			dst = append(dst, '"', ',')
			dst = appendString(dst, ev.Line)
			if ev.RequestID != nil || ev.TraceID != nil || ev.SpanID != nil {
				// Structured metadata: high-cardinality ids do not belong in
				// labels. Loki 3 accepts them by default.
				dst = append(dst, ',', '{')
				sep := false
				for _, id := range [...]struct {
					k string
					v []byte
				}{{keyRequestID, ev.RequestID}, {keyTraceID, ev.TraceID}, {keySpanID, ev.SpanID}} {
					if id.v == nil {
						continue
					}
					if sep {
						dst = append(dst, ',')
					}
					sep = true
					dst = append(dst, '"')
					dst = append(dst, id.k...)
					dst = append(dst, '"', ':')
					dst = appendString(dst, id.v)
				}
				dst = append(dst, '}')
			}
			dst = append(dst, ']')
		}
		dst = append(dst, ']', '}')
	}
	return append(dst, ']', '}')
}

// appendLokiLabels writes {"stream":{...}. Labels with an empty value are
// left out (Loki drops them anyway); a stream needs at least one label, so
// job="logship" stands in when none is left.
func appendLokiLabels(dst []byte, cd *codec, m *pipeline.Meta, src pipeline.Source) []byte {
	dst = append(dst, `{"stream":{`...)
	n := 0
	for _, l := range cd.lokiLabels {
		var v string
		switch l.from {
		case keyContainerName:
			v = m.ContainerName
		case keyContainerID:
			v = m.ContainerID
		case keyImage:
			v = m.ImageName
		case keyTag:
			v = m.Tag
		case keySource:
			v = src.String()
		default:
			v = m.Attrs[l.from]
		}
		if v == "" {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = appendStr(dst, l.name)
		dst = append(dst, ':')
		dst = appendStr(dst, v)
	}
	if n == 0 {
		dst = append(dst, `"job":"logship"`...)
	}
	return append(dst, '}')
}

func unixTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
