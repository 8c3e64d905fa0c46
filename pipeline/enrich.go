package pipeline

// Event is a record plus what the per-record stages derived from it. Reuse
// one Event per goroutine: Parse overwrites it and keeps its buffers, so
// that steady-state parsing does not allocate.
//
// The slices of an Event alias the record's Line or the Event's own scratch
// buffer. They are valid until the next Parse into the same Event or until
// the bytes of Line change, whichever comes first; copy what must outlive
// that.
type Event struct {
	// Record is a copy of the parsed record; its Line aliases the
	// caller's bytes.
	Record
	// IsJSON is true when Line is one valid JSON object (see doc.go), and
	// then Fields holds its top-level members in line order, duplicates
	// included.
	IsJSON bool
	Fields []Field
	// RequestID, TraceID and SpanID are the promoted ids, nil when none was
	// found. They are the decoded value of a JSON string, the text of a
	// JSON number, or a value from a text line.
	RequestID []byte
	TraceID   []byte
	SpanID    []byte

	scratch []byte // unescaped keys and ids
}

// An Event keeps buffers sized for the largest line it has seen; beyond
// these capacities they are dropped before the next line, so that one huge
// line does not pin megabytes for the life of a stream.
const (
	maxKeptFields  = 1024
	maxKeptScratch = 64 << 10
)

// Parser runs the per-record stages: JSON parsing and the id search. It is
// read-only after NewParser, so one Parser may serve many goroutines, each
// with its own Event.
type Parser struct {
	parseJSON bool
	maxSize   int
	keys      keyMatcher
}

// NewParser returns a Parser for cfg, which should have passed Validate.
// NewParser does not fail: it skips request-id keys Validate would reject
// and uses DefaultMaxParseSize for a MaxParseSize that is not positive.
func NewParser(cfg Config) *Parser {
	p := &Parser{parseJSON: cfg.ParseJSON, maxSize: cfg.MaxParseSize, keys: newKeyMatcher(cfg.RequestIDKeys)}
	if p.maxSize <= 0 {
		p.maxSize = DefaultMaxParseSize
	}
	return p
}

// Parse fills ev from rec. It never fails: a line that is not a valid JSON
// object within the caps is text. It does not allocate once ev's buffers
// have grown to the size of the lines.
func (p *Parser) Parse(rec *Record, ev *Event) {
	ev.Record = *rec
	ev.IsJSON = false
	ev.RequestID, ev.TraceID, ev.SpanID = nil, nil, nil
	if cap(ev.Fields) > maxKeptFields {
		ev.Fields = nil
	}
	if cap(ev.scratch) > maxKeptScratch {
		ev.scratch = nil
	}
	ev.Fields = ev.Fields[:0]
	ev.scratch = ev.scratch[:0]

	line := rec.Line
	if len(line) > p.maxSize {
		return
	}
	var s idSearch
	s.reset()
	if p.parseJSON {
		var ok bool
		ev.Fields, ok = parseObject(line, ev.Fields, &ev.scratch)
		if ok {
			ev.IsJSON = true
			p.keys.searchFields(ev.Fields, &s, &ev.scratch)
		} else {
			ev.Fields = ev.Fields[:0]
			ev.scratch = ev.scratch[:0]
		}
	}
	if !ev.IsJSON {
		p.keys.scanText(line, &s)
	}
	ev.RequestID, ev.TraceID, ev.SpanID = s.result()
}
