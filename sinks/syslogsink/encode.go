package syslogsink

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// The structured-data ids. 32473 is the private enterprise number RFC 5612
// reserves for documentation and examples; logship has no PEN of its own.
const (
	sdIDLogship = "logship@32473"
	sdIDAttrs   = "attrs@32473"
)

// RFC 5424 field limits.
const (
	maxAppNameLen = 48
	maxProcIDLen  = 128
	maxSDNameLen  = 32
	shortIDLen    = 12 // Docker's short container id
)

// Severities (RFC 5424 §6.2.1), as Docker's driver maps the streams.
const (
	severityErr  = 3 // stderr
	severityInfo = 6 // stdout
)

// wire is what a Sink's encoding depends on, fixed at New.
type wire struct {
	facility int
	format   Format
	framing  Framing // stream transports only
	datagram bool
	maxDgram int
	hostname string // already a valid HOSTNAME
}

// encoder turns one batch into wire bytes. Encoders are pooled and hold
// no state between batches except their buffers and the timestamp cache.
type encoder struct {
	buf       []byte   // frames (streams) or datagrams back to back
	dgrams    []dgram  // where each datagram ends
	truncated int      // datagrams cut to maxDgram in this batch
	mid       []byte   // the part of every header that is the same in the batch
	tail      []byte   // "]" and the attrs element (RFC 5424)
	keys      []string // sorted attribute keys
	ts        tsCache
}

type dgram struct {
	end       int
	truncated bool
}

// Buffers larger than this are not kept in the pool, so that one huge
// batch does not pin its memory for the life of the process.
const maxPooledBuf = 4 << 20

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

func getEncoder() *encoder { return encoderPool.Get().(*encoder) }

func putEncoder(e *encoder) {
	if cap(e.buf) > maxPooledBuf {
		e.buf = nil
	}
	if cap(e.dgrams) > 1<<16 {
		e.dgrams = nil
	}
	encoderPool.Put(e)
}

// encode replaces e's contents with b's messages, framed for w.
func (e *encoder) encode(w *wire, b *sinks.Batch) {
	e.buf = e.buf[:0]
	e.dgrams = e.dgrams[:0]
	e.truncated = 0
	if w.format == FormatRFC3164 {
		e.prepare3164(w, b.Meta)
	} else {
		e.prepare5424(w, b.Meta)
	}
	for i := range b.Events {
		ev := &b.Events[i]
		start := len(e.buf)
		if w.format == FormatRFC3164 {
			e.buf = e.append3164(e.buf, w, ev)
		} else {
			e.buf = e.append5424(e.buf, w, ev)
		}
		switch {
		case w.datagram:
			cut := false
			if len(e.buf)-start > w.maxDgram {
				end := start + w.maxDgram
				// Cut before a UTF-8 sequence rather than through it.
				for k := 0; k < utf8.UTFMax-1 && end > start && !utf8.RuneStart(e.buf[end]); k++ {
					end--
				}
				e.buf = e.buf[:end]
				cut = true
				e.truncated++
			}
			e.dgrams = append(e.dgrams, dgram{end: len(e.buf), truncated: cut})
		case w.framing == FramingNewline:
			msg := e.buf[start:]
			for j := indexLF(msg, 0); j >= 0; j = indexLF(msg, j+1) {
				msg[j] = ' '
			}
			e.buf = append(e.buf, '\n')
		default:
			e.buf = frameOctetCounted(e.buf, start)
		}
	}
}

func indexLF(b []byte, from int) int {
	if i := bytes.IndexByte(b[from:], '\n'); i >= 0 {
		return from + i
	}
	return -1
}

// frameOctetCounted turns the message at buf[start:] into "LEN SP MSG"
// (RFC 6587 §3.4.1). The length is only known once the message is
// encoded, so the message moves right by the prefix's size: one memmove
// of a few hundred bytes, cheaper than sizing every field twice.
func frameOctetCounted(buf []byte, start int) []byte {
	n := len(buf) - start
	var pfx [24]byte
	p := strconv.AppendInt(pfx[:0], int64(n), 10)
	p = append(p, ' ')
	buf = append(buf, p...)
	copy(buf[start+len(p):], buf[start:start+n])
	copy(buf[start:], p)
	return buf
}

// prepare5424 encodes the header fields and structured data that all of
// the batch's messages share:
//
//	mid:  " HOSTNAME APP-NAME PROCID - [logship@32473 container_id=".." container_name=".." image=".."
//	tail: "]" [attrs@32473 k="v" ...]
func (e *encoder) prepare5424(w *wire, m *pipeline.Meta) {
	var tag, id, name, image string
	var attrs map[string]string
	if m != nil {
		tag, id, name, image, attrs = m.Tag, m.ContainerID, m.ContainerName, m.ImageName, m.Attrs
	}
	d := append(e.mid[:0], ' ')
	d = append(d, w.hostname...)
	d = append(d, ' ')
	d = appendHeaderField(d, tag, maxAppNameLen, false)
	d = append(d, ' ')
	d = appendHeaderField(d, shortID(id), maxProcIDLen, false)
	d = append(d, " - ["+sdIDLogship...)
	d = appendParam(d, "container_id", id)
	d = appendParam(d, "container_name", name)
	d = appendParam(d, "image", image)
	e.mid = d

	t := append(e.tail[:0], ']')
	if len(attrs) > 0 {
		t = append(t, "["+sdIDAttrs...)
		e.keys = e.keys[:0]
		for k := range attrs {
			e.keys = append(e.keys, k)
		}
		slices.Sort(e.keys)
		for _, k := range e.keys {
			t = append(t, ' ')
			t = appendSDName(t, k)
			t = append(t, '=', '"')
			t = appendSDValue(t, attrs[k])
			t = append(t, '"')
		}
		t = append(t, ']')
		clear(e.keys) // do not pin the batch's strings in the pool
	}
	e.tail = t
}

// appendParam appends ` name="value"` unless value is empty.
func appendParam[T string | []byte](dst []byte, name string, value T) []byte {
	if len(value) == 0 {
		return dst
	}
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, '=', '"')
	dst = appendSDValue(dst, value)
	return append(dst, '"')
}

// append5424 appends one RFC 5424 message:
//
//	<PRI>1 TIMESTAMP mid [source="stdout"] [partial="true"] [request_id=".."] [trace_id=".."] [span_id=".."] tail [SP MSG]
func (e *encoder) append5424(dst []byte, w *wire, ev *pipeline.Event) []byte {
	dst = appendPRI(dst, w.facility, ev.Source)
	dst = append(dst, '1', ' ')
	dst = e.ts.append5424(dst, ev.Time, w.format == FormatRFC5424Micro)
	dst = append(dst, e.mid...)
	if src := ev.Source.String(); src != "" {
		dst = append(dst, " source=\""...)
		dst = append(dst, src...)
		dst = append(dst, '"')
	}
	if ev.Partial {
		dst = append(dst, " partial=\"true\""...)
	}
	dst = appendParam(dst, "request_id", ev.RequestID)
	dst = appendParam(dst, "trace_id", ev.TraceID)
	dst = appendParam(dst, "span_id", ev.SpanID)
	dst = append(dst, e.tail...)
	// MSG is optional (RFC 5424 §6): an empty line is a header alone.
	if len(ev.Line) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, ev.Line...)
	}
	return dst
}

// prepare3164 encodes " HOSTNAME TAG[PROCID]:".
func (e *encoder) prepare3164(w *wire, m *pipeline.Meta) {
	var tag, id string
	if m != nil {
		tag, id = m.Tag, shortID(m.ContainerID)
	}
	d := append(e.mid[:0], ' ')
	d = append(d, w.hostname...)
	d = append(d, ' ')
	d = appendHeaderField(d, tag, maxAppNameLen, true)
	if id != "" {
		d = append(d, '[')
		d = appendHeaderField(d, id, shortIDLen, true)
		d = append(d, ']')
	}
	e.mid = append(d, ':')
	e.tail = e.tail[:0]
}

// append3164 appends "<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PROCID]: MSG".
func (e *encoder) append3164(dst []byte, w *wire, ev *pipeline.Event) []byte {
	dst = appendPRI(dst, w.facility, ev.Source)
	dst = e.ts.append3164(dst, ev.Time)
	dst = append(dst, e.mid...)
	if len(ev.Line) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, ev.Line...)
	}
	return dst
}

func appendPRI(dst []byte, facility int, src pipeline.Source) []byte {
	sev := severityInfo
	if src == pipeline.SourceStderr {
		sev = severityErr
	}
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(facility<<3|sev), 10)
	return append(dst, '>')
}

// tsCache keeps the formatted seconds of the last timestamp: a batch's
// records mostly share their second, so the calendar arithmetic runs about
// once per second of logs.
type tsCache struct {
	valid  bool
	format Format
	sec    int64
	n      int
	b      [32]byte
}

const (
	layout5424 = "2006-01-02T15:04:05"
	layout3164 = time.Stamp // "Jan _2 15:04:05", as Docker's driver
)

func (c *tsCache) seconds(dst []byte, sec int64, f Format, layout string) []byte {
	if !c.valid || c.sec != sec || c.format != f {
		c.n = len(time.Unix(sec, 0).UTC().AppendFormat(c.b[:0], layout))
		c.valid, c.sec, c.format = true, sec, f
	}
	return append(dst, c.b[:c.n]...)
}

func splitNanos(ns int64) (sec, frac int64) {
	sec, frac = ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	return sec, frac
}

// append5424 appends an RFC 3339 UTC timestamp, in whole seconds or with
// six fractional digits.
func (c *tsCache) append5424(dst []byte, ns int64, micro bool) []byte {
	sec, frac := splitNanos(ns)
	f := FormatRFC5424
	if micro {
		f = FormatRFC5424Micro
	}
	dst = c.seconds(dst, sec, f, layout5424)
	if micro {
		us := frac / 1e3
		dst = append(dst, '.',
			byte('0'+us/100000), byte('0'+us/10000%10), byte('0'+us/1000%10),
			byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10))
	}
	return append(dst, 'Z')
}

// append3164 appends "Mmm _d hh:mm:ss" in UTC (RFC 3164 has no zone).
func (c *tsCache) append3164(dst []byte, ns int64) []byte {
	sec, _ := splitNanos(ns)
	return c.seconds(dst, sec, FormatRFC3164, layout3164)
}

// shortID is Docker's Info.ID(): the id without an "algo:" prefix, cut to
// 12 characters.
func shortID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > shortIDLen {
		id = id[:shortIDLen]
	}
	return id
}

// Byte classes.
var (
	// headerOK: PRINTUSASCII (RFC 5424 HOSTNAME, APP-NAME, PROCID, MSGID).
	headerOK [256]bool
	// tag3164OK: also without the bytes that end an RFC 3164 TAG.
	tag3164OK [256]bool
	// sdNameOK: SD-NAME, PRINTUSASCII except '=', SP, ']' and '"'.
	sdNameOK [256]bool
	// sdEscape: the bytes a PARAM-VALUE escapes with a backslash.
	sdEscape [256]bool
)

func init() {
	for c := 33; c <= 126; c++ {
		headerOK[c] = true
		tag3164OK[c] = c != ':' && c != '[' && c != ']'
		sdNameOK[c] = c != '=' && c != ']' && c != '"'
	}
	sdEscape['"'], sdEscape['\\'], sdEscape[']'] = true, true, true
}

// appendHeaderField appends s as a header field: bytes outside
// PRINTUSASCII become '_', the field is cut to max bytes, and an empty one
// is the NILVALUE "-".
func appendHeaderField(dst []byte, s string, max int, tag3164 bool) []byte {
	if s == "" {
		return append(dst, '-')
	}
	ok := &headerOK
	if tag3164 {
		ok = &tag3164OK
	}
	for i := 0; i < len(s) && i < max; i++ {
		c := s[i]
		if !ok[c] {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// sanitizeHostname makes os.Hostname() a valid HOSTNAME.
func sanitizeHostname(h string) string {
	return string(appendHeaderField(nil, h, maxHostnameLen, false))
}

// appendSDName appends an attribute key as an SD-NAME: forbidden bytes
// become '_', the name is cut to 32 bytes, and an empty one is "_".
// Distinct keys may collide; RFC 5424 allows a PARAM-NAME to repeat.
func appendSDName(dst []byte, k string) []byte {
	if k == "" {
		return append(dst, '_')
	}
	for i := 0; i < len(k) && i < maxSDNameLen; i++ {
		c := k[i]
		if !sdNameOK[c] {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendSDValue appends a PARAM-VALUE, escaping '"', '\' and ']'.
func appendSDValue[T string | []byte](dst []byte, v T) []byte {
	i := 0
	for j := 0; j < len(v); j++ {
		if sdEscape[v[j]] {
			dst = append(dst, v[i:j]...)
			dst = append(dst, '\\', v[j])
			i = j + 1
		}
	}
	return append(dst, v[i:]...)
}
