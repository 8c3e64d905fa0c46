package fluentd

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/sinks"
)

// Record keys. The first five are Docker's fluentd driver's, so dashboards
// built on it keep working; the ids are logship's.
const (
	keyContainerID   = "container_id"
	keyContainerName = "container_name"
	keySource        = "source"
	keyLog           = "log"
	keyPartial       = "partial_message"
	keyRequestID     = "request_id"
	keyTraceID       = "trace_id"
	keySpanID        = "span_id"

	// collisionPrefix is put before the key of a JSON field whose name is
	// already taken in the record (see doc.go).
	collisionPrefix = "json."
)

// encodeOptions are the Config fields that change the bytes of a record.
type encodeOptions struct {
	subSecond bool
}

// encoder turns a batch into the msgpack entries ([time, record] pairs) of
// PackedForward requests. Encoders are pooled; every buffer is reused, so a
// warm encoder allocates nothing per record.
type encoder struct {
	// entries holds every event's encoded entry back to back; ends[i] is
	// the end offset of event i's entry.
	entries []byte
	ends    []int

	// Per batch: the record pairs that are the same for every event
	// (container_id, container_name, attributes), already encoded.
	fixed  []byte
	nFixed int
	// Per batch: attributes that replace a per-event key, as Docker's
	// driver lets them (its attributes overwrite the base keys, and its
	// partial_message overwrites the attributes).
	srcAttr, logAttr, partialAttr string
	hasSrcAttr, hasLogAttr        bool
	hasPartialAttr                bool
	attrKeys                      []string

	// attrNames lists every attribute name when there are few, so that
	// the per-field check scans a short list instead of hashing into the
	// map; nil means use the map.
	attrNames []string

	// Per event: what to do with each JSON field, and the keys of the
	// fields written so far.
	plan  []fieldPlan
	seen  keySet
	arena []byte // renamed keys ("json.<key>")

	// Framing and compression scratch.
	spans      []span
	head, tail []byte
	zbuf       bytes.Buffer
	gz         *gzip.Writer
}

type fieldPlan uint8

const (
	fieldAsIs    fieldPlan = iota // written under its own key
	fieldRenamed                  // written as collisionPrefix + key
	fieldSkip                     // not written: same as the promoted id, or no free key
)

var encoderPool = sync.Pool{New: func() any { return &encoder{seen: keySet{seed: keySeed}} }}

var keySeed = maphash.MakeSeed()

// Buffers above these capacities are not kept in the pool, so that one
// huge batch does not pin its memory for the life of the process.
const (
	maxPooledEntries = 16 << 20
	maxPooledEvents  = 1 << 16
)

// spareEncoder keeps one warm encoder out of the sync.Pool, which the GC
// empties: an encoder grown for a batch (entries of about twice its line
// bytes) that had to be grown again after each collection was most of
// what a shipper still allocated (pprof alloc_space) once the ring's read
// buffers were pooled. One is enough for the usual single shipper at a
// time; concurrent Sends fall back to the pool.
var spareEncoder atomic.Pointer[encoder]

func getEncoder() *encoder {
	if e := spareEncoder.Swap(nil); e != nil {
		return e
	}
	return encoderPool.Get().(*encoder)
}

func putEncoder(e *encoder) {
	if cap(e.entries) > maxPooledEntries || cap(e.ends) > maxPooledEvents || e.zbuf.Cap() > maxPooledEntries {
		return
	}
	e.seen.reset() // it points into the batch's lines
	if cap(e.entries) <= maxSpareEntries && spareEncoder.CompareAndSwap(nil, e) {
		return
	}
	encoderPool.Put(e)
}

// maxSpareEntries bounds what the spare pins for the life of the process
// (a default batch of 1 MiB of lines needs about 2 MiB).
const maxSpareEntries = 4 << 20

// encodeBatch encodes every event of b into e.entries.
func (e *encoder) encodeBatch(b *sinks.Batch, opt encodeOptions) {
	e.entries = e.entries[:0]
	e.ends = e.ends[:0]
	meta := b.Meta
	if meta == nil {
		meta = &pipeline.Meta{}
	}
	e.prepareMeta(meta)
	for i := range b.Events {
		e.entries = e.appendEntry(e.entries, &b.Events[i], meta, opt)
		e.ends = append(e.ends, len(e.entries))
	}
}

// prepareMeta encodes the pairs every record of the batch shares, applying
// Docker's precedence: an attribute named like a base key replaces it.
func (e *encoder) prepareMeta(m *pipeline.Meta) {
	e.fixed = e.fixed[:0]
	e.nFixed = 2
	e.hasSrcAttr, e.hasLogAttr, e.hasPartialAttr = false, false, false
	e.srcAttr, e.logAttr, e.partialAttr = "", "", ""

	id, name, nameAttr := m.ContainerID, "", false
	e.attrKeys = e.attrKeys[:0]
	e.attrNames = e.attrNames[:0]
	for k, v := range m.Attrs {
		e.attrNames = append(e.attrNames, k)
		switch k {
		case keyContainerID:
			id = v
		case keyContainerName:
			name, nameAttr = v, true
		case keySource:
			e.srcAttr, e.hasSrcAttr = v, true
		case keyLog:
			e.logAttr, e.hasLogAttr = v, true
		case keyPartial:
			e.partialAttr, e.hasPartialAttr = v, true
		default:
			e.attrKeys = append(e.attrKeys, k)
		}
	}
	if len(e.attrNames) > maxScannedAttrs {
		e.attrNames = e.attrNames[:0]
	}
	e.fixed = appendStr(e.fixed, keyContainerID)
	e.fixed = appendStr(e.fixed, id)
	e.fixed = appendStr(e.fixed, keyContainerName)
	if nameAttr {
		e.fixed = appendStr(e.fixed, name)
	} else { // "/" + name, as Docker sends it, without building the string
		e.fixed = appendStrHeader(e.fixed, 1+len(m.ContainerName))
		e.fixed = append(e.fixed, '/')
		e.fixed = append(e.fixed, m.ContainerName...)
	}
	// Sorted, so that equal records encode to equal bytes.
	slices.Sort(e.attrKeys)
	for _, k := range e.attrKeys {
		e.fixed = appendStr(e.fixed, k)
		e.fixed = appendStr(e.fixed, m.Attrs[k])
		e.nFixed++
	}
}

// takenByRecord reports whether key is one of the Docker-compatible keys
// (base keys and attributes) of this record.
func (e *encoder) takenByRecord(key []byte, m *pipeline.Meta, partial bool) bool {
	switch string(key) {
	case keyContainerID, keyContainerName, keySource, keyLog:
		return true
	case keyPartial:
		return partial || e.hasPartialAttr
	}
	if len(m.Attrs) <= maxScannedAttrs {
		for _, a := range e.attrNames {
			if len(a) == len(key) && a == string(key) {
				return true
			}
		}
		return false
	}
	_, ok := m.Attrs[string(key)]
	return ok
}

// maxScannedAttrs is how many attributes takenByRecord compares one by one
// before it uses the map: below it, the scan is cheaper than hashing.
const maxScannedAttrs = 8

func appendTime(dst []byte, ns int64, subSecond bool) []byte {
	t := time.Unix(0, ns)
	if subSecond {
		sec := t.Unix()
		// EventTime holds seconds as uint32: clamp times outside
		// 1970..2106 rather than wrap them.
		switch {
		case sec < 0:
			return appendEventTime(dst, 0, 0)
		case sec > 1<<32-1:
			return appendEventTime(dst, 1<<32-1, 999_999_999)
		}
		return appendEventTime(dst, sec, int64(t.Nanosecond()))
	}
	return appendInt(dst, t.Unix())
}

// appendEntry appends [time, record] for ev.
func (e *encoder) appendEntry(dst []byte, ev *pipeline.Event, m *pipeline.Meta, opt encodeOptions) []byte {
	dst = append(dst, 0x92)
	dst = appendTime(dst, ev.Time, opt.subSecond)

	n := e.nFixed + 2 // + source, log
	partial := ev.Partial || e.hasPartialAttr
	if partial {
		n++
	}
	// The promoted ids, unless the record already has that key.
	var ids [3][]byte
	for i, id := range [3][]byte{ev.RequestID, ev.TraceID, ev.SpanID} {
		if id != nil && !e.takenByRecord(idKeys[i], m, ev.Partial) {
			ids[i] = id
			n++
		}
	}
	n += e.planFields(ev, m, &ids)

	dst = appendMapHeader(dst, n)
	dst = append(dst, e.fixed...)
	dst = appendStr(dst, keySource)
	if e.hasSrcAttr {
		dst = appendStr(dst, e.srcAttr)
	} else {
		dst = appendStr(dst, ev.Source.String())
	}
	dst = appendStr(dst, keyLog)
	if e.hasLogAttr {
		dst = appendStr(dst, e.logAttr)
	} else {
		dst = appendStrBytes(dst, ev.Line)
	}
	if partial {
		dst = appendStr(dst, keyPartial)
		if ev.Partial {
			dst = appendStr(dst, "true")
		} else {
			dst = appendStr(dst, e.partialAttr)
		}
	}
	for i, id := range ids {
		if id != nil {
			dst = appendStrBytes(dst, idKeys[i])
			dst = appendStrBytes(dst, id)
		}
	}
	for i := range ev.Fields {
		f := &ev.Fields[i]
		switch e.plan[i] {
		case fieldAsIs:
			dst = appendStrBytes(dst, f.Key)
		case fieldRenamed:
			dst = appendStrHeader(dst, len(collisionPrefix)+len(f.Key))
			dst = append(dst, collisionPrefix...)
			dst = append(dst, f.Key...)
		default:
			continue
		}
		dst = appendJSONField(dst, f)
	}
	return dst
}

var idKeys = [3][]byte{[]byte(keyRequestID), []byte(keyTraceID), []byte(keySpanID)}

// planFields decides, for each JSON field of ev, the key it is written
// under, and returns how many are written. The rule (doc.go): Docker's keys
// and attributes first, then the promoted ids, then the fields in line
// order; a field whose key is taken is written as "json.<key>", unless it
// is a string equal to the promoted id written under that key (the id was
// taken from it), or "json.<key>" is taken too; then it is left out.
func (e *encoder) planFields(ev *pipeline.Event, m *pipeline.Meta, ids *[3][]byte) int {
	e.plan = slices.Grow(e.plan[:0], len(ev.Fields))[:len(ev.Fields)]
	if len(ev.Fields) == 0 {
		return 0
	}
	e.seen.reset()
	e.arena = e.arena[:0]
	for i, id := range ids {
		if id != nil {
			e.seen.add(idKeys[i])
		}
	}
	n := 0
	for i := range ev.Fields {
		f := &ev.Fields[i]
		key := f.Key
		if !e.takenByRecord(key, m, ev.Partial) && !e.seen.has(key) {
			e.seen.add(key)
			e.plan[i] = fieldAsIs
			n++
			continue
		}
		if f.Kind == pipeline.KindString && sameAsID(key, f.Value, ids) {
			e.plan[i] = fieldSkip
			continue
		}
		start := len(e.arena)
		e.arena = append(e.arena, collisionPrefix...)
		e.arena = append(e.arena, key...)
		renamed := e.arena[start:len(e.arena):len(e.arena)]
		if e.takenByRecord(renamed, m, ev.Partial) || e.seen.has(renamed) {
			e.plan[i] = fieldSkip
			continue
		}
		e.seen.add(renamed)
		e.plan[i] = fieldRenamed
		n++
	}
	return n
}

// sameAsID reports whether key names a promoted id that was written and
// raw (a JSON string literal) decodes to the same bytes.
func sameAsID(key, raw []byte, ids *[3][]byte) bool {
	for i, id := range ids {
		if id == nil || !bytes.Equal(key, idKeys[i]) {
			continue
		}
		if len(raw) < 2 {
			return false
		}
		body := raw[1 : len(raw)-1]
		if bytes.IndexByte(body, '\\') < 0 {
			return bytes.Equal(body, id)
		}
		var buf [256]byte // ids are at most pipeline.MaxIDLen bytes
		dec, err := pipeline.AppendString(buf[:0], raw)
		return err == nil && bytes.Equal(dec, id)
	}
	return false
}

// keySet is a set of byte-string keys for one record, reset per record.
// The keys alias the line or the arena; they are not copied. Small records
// (most) use a linear scan; past linearMax keys, a hash index is built, so
// that a line with thousands of fields stays linear.
type keySet struct {
	keys  [][]byte
	index []int32 // open addressing; 0 is empty, else 1+index into keys
	seed  maphash.Seed
	// bloom has bit quick(k) set for every key; a key whose bit is clear
	// is absent without a scan, which is the common case.
	bloom uint64
}

// quick is a cheap 6-bit digest of a key for keySet.bloom.
func quick(k []byte) uint64 {
	if len(k) == 0 {
		return 1
	}
	return 1 << ((uint(len(k))*7 + uint(k[0])*3 + uint(k[len(k)-1])) & 63)
}

const linearMax = 16

func (s *keySet) reset() {
	clear(s.keys) // drop references to the previous line
	s.keys = s.keys[:0]
	s.index = s.index[:0]
	s.bloom = 0
}

func (s *keySet) has(k []byte) bool {
	if s.bloom&quick(k) == 0 {
		return false
	}
	if len(s.index) == 0 {
		for _, x := range s.keys {
			if bytes.Equal(x, k) {
				return true
			}
		}
		return false
	}
	mask := len(s.index) - 1
	for i := int(maphash.Bytes(s.seed, k)) & mask; ; i = (i + 1) & mask {
		j := s.index[i]
		if j == 0 {
			return false
		}
		if bytes.Equal(s.keys[j-1], k) {
			return true
		}
	}
}

// add inserts k, which must not be in the set.
func (s *keySet) add(k []byte) {
	s.keys = append(s.keys, k)
	s.bloom |= quick(k)
	switch {
	case len(s.keys) <= linearMax:
		return
	case len(s.index) == 0 || 2*len(s.keys) > len(s.index):
		size := 64
		for size < 4*len(s.keys) {
			size *= 2
		}
		if cap(s.index) >= size {
			s.index = s.index[:size]
			clear(s.index)
		} else {
			s.index = make([]int32, size)
		}
		for i, x := range s.keys {
			s.insert(x, int32(i+1))
		}
	default:
		s.insert(k, int32(len(s.keys)))
	}
}

func (s *keySet) insert(k []byte, v int32) {
	mask := len(s.index) - 1
	i := int(maphash.Bytes(s.seed, k)) & mask
	for s.index[i] != 0 {
		i = (i + 1) & mask
	}
	s.index[i] = v
}

// AppendRequests appends to dst the PackedForward requests that Send would
// write for b (without chunk ids, uncompressed), tagged with b.Meta.Tag. It
// is for measuring the whole pipeline in one process and for tools; Send is
// the way to deliver.
func AppendRequests(dst []byte, b *sinks.Batch, subSecond bool) []byte {
	e := getEncoder()
	defer putEncoder(e)
	e.encodeBatch(b, encodeOptions{subSecond: subSecond})
	e.spans = e.split(maxRequestBytes, e.spans)
	tag := ""
	if b.Meta != nil {
		tag = b.Meta.Tag
	}
	for _, sp := range e.spans {
		parts, err := e.frame(sp, tag, "", false)
		if err != nil {
			continue // only compression can fail, and it is off
		}
		for _, p := range parts {
			dst = append(dst, p...)
		}
	}
	return dst
}
