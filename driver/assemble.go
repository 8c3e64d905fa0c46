package driver

import (
	"bytes"
	"sync"
	"time"

	"github.com/logship/logship/pipeline"
)

const (
	asmDefaultMaxLine = 1 << 20
	asmInitialBuf     = 32 << 10 // two of dockerd's chunks
)

// Metric names of the Assembler. lines_split_total counts every record it
// emits with Partial=true, by the reason the line was split, so that a user
// who sees a line broken in `docker logs` can tell why.
const (
	asmMetricSplit      = "logship_driver_lines_split_total"
	asmMetricGaps       = "logship_driver_partial_gaps_total"
	asmMetricCut        = asmMetricSplit + `{reason="max_line_size"}`
	asmMetricTimeout    = asmMetricSplit + `{reason="timeout"}`
	asmMetricStreamEnd  = asmMetricSplit + `{reason="stream_end"}`
	asmMetricAbandoned  = asmMetricSplit + `{reason="abandoned"}`
	asmMetricUnknownSrc = `logship_driver_dropped_records_total{reason="unknown_source"}`
)

// AssemblerStats are the counters an Assembler updates. Assemblers built
// from the same *pipeline.Metrics share them.
type AssemblerStats struct {
	// Cut counts pieces of lines longer than the maximum line size.
	Cut *pipeline.Counter
	// TimedOut counts groups emitted by FlushOlder before their last chunk.
	TimedOut *pipeline.Counter
	// Unfinished counts groups still open when the stream ended (FlushAll):
	// the container's output ended without a newline.
	Unfinished *pipeline.Counter
	// Abandoned counts groups whose source moved on to another line
	// before their last chunk arrived; dockerd loses chunks only in
	// non-blocking mode, when its ring buffer is full.
	Abandoned *pipeline.Counter
	// Gaps counts breaks in a chunk sequence: an unexpected ordinal, or a
	// group abandoned without its last chunk.
	Gaps *pipeline.Counter
	// UnknownSource counts entries whose source is neither stdout nor
	// stderr; they are dropped.
	UnknownSource *pipeline.Counter
}

func newAsmStats(m *pipeline.Metrics) AssemblerStats {
	m.Help(asmMetricSplit, "Records emitted as a piece of a longer line (Partial), by reason.")
	m.Help(asmMetricGaps, "Breaks in dockerd's partial-chunk sequences (missing, repeated or reordered chunks).")
	return AssemblerStats{
		Cut:           m.Counter(asmMetricCut),
		TimedOut:      m.Counter(asmMetricTimeout),
		Unfinished:    m.Counter(asmMetricStreamEnd),
		Abandoned:     m.Counter(asmMetricAbandoned),
		Gaps:          m.Counter(asmMetricGaps),
		UnknownSource: m.Counter(asmMetricUnknownSrc),
	}
}

// Assembler joins the chunks that dockerd splits long lines into back into
// one Record per line, for one log stream (one FIFO). It is not safe for
// concurrent use.
//
// Each source has its own copier in dockerd, so at most one group per source
// is open at a time, and complete lines of the other source may arrive while
// it is. Records of one source are emitted in the order the container wrote
// them; records of different sources are not ordered relative to each other.
//
// Nothing is ever lost: when a line cannot be completed (too long, timed out,
// stream ended, chunks missing), what has arrived is emitted with
// Partial=true, which `docker logs` prints without a newline, so the output
// stays byte-identical to what the container wrote.
type Assembler struct {
	maxLine int
	stats   AssemblerStats
	groups  [2]asmGroup // indexed by pipeline.Source - 1
	rec     pipeline.Record
}

// asmGroup is the line being assembled for one source.
type asmGroup struct {
	open    bool
	legacy  bool // chunks without metadata (daemons before 19.03)
	id      []byte
	next    int32 // the ordinal expected next
	time    int64 // the first chunk's timestamp, the line's timestamp
	arrived time.Time
	buf     *[]byte // from asmBufPool while open

	// cont is set when a timeout flushed the group: chunks of the same id
	// may still follow, and they continue at ordinal next without a gap.
	cont bool
}

// Open groups are rare and short-lived, while streams are many and long-lived,
// so group buffers (up to maxLine each) are shared through a pool instead of
// being held by every Assembler.
var asmBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, asmInitialBuf)
	return &b
}}

// NewAssembler returns an Assembler that emits lines of at most maxLine bytes
// (1 MiB when <= 0), registering its counters in m (which may be nil).
func NewAssembler(maxLine int, m *pipeline.Metrics) *Assembler {
	if maxLine <= 0 {
		maxLine = asmDefaultMaxLine
	}
	return &Assembler{maxLine: maxLine, stats: newAsmStats(m)}
}

// Add processes one decoded frame, received at now, calling emit for each
// record it completes. A complete line is emitted straight from e.Line
// without a copy; chunks of a split line are copied into the group's buffer.
// The record is borrowed by emit for the duration of the call.
//
// now only matters for partial chunks, where it dates a new group for
// FlushOlder and Oldest; a caller may pass the zero time for complete lines
// and save the clock read.
//
// An error from emit is returned at once; the Assembler stays usable, and the
// bytes of e that were not yet emitted are dropped.
func (a *Assembler) Add(e *Entry, now time.Time, emit func(*pipeline.Record) error) error {
	src := pipeline.ParseSource(e.Source)
	if src == pipeline.SourceUnknown {
		a.stats.UnknownSource.Inc()
		return nil
	}
	g := &a.groups[src-1]

	if !e.Partial {
		if g.open {
			if g.legacy {
				// Before 18.05 the chunk that ended a split line was
				// sent as an ordinary, non-partial entry.
				if err := a.appendChunk(g, src, e.Line, emit); err != nil {
					return err
				}
				return a.finish(g, src, false, nil, emit)
			}
			if err := a.abandon(g, src, emit); err != nil {
				return err
			}
		}
		g.cont = false
		return a.emitLine(src, e.TimeNano, e.Line, emit)
	}

	if !e.HasPartialMeta {
		if g.open && !g.legacy {
			if err := a.abandon(g, src, emit); err != nil {
				return err
			}
		}
		if !g.open {
			a.openGroup(g, e, now, true)
		}
		return a.appendChunk(g, src, e.Line, emit)
	}

	if g.open && (g.legacy || !bytes.Equal(g.id, e.PartialID)) {
		if err := a.abandon(g, src, emit); err != nil {
			return err
		}
	}
	if g.open {
		if e.PartialOrdinal != g.next {
			a.stats.Gaps.Inc()
		}
	} else {
		want := int32(1)
		if g.cont && bytes.Equal(g.id, e.PartialID) {
			want = g.next
		}
		if e.PartialOrdinal != want {
			a.stats.Gaps.Inc()
		}
		if e.PartialLast {
			// The whole rest of the line is in this chunk (the usual
			// end of a group flushed by a timeout): no copy needed.
			g.cont = false
			return a.emitLine(src, e.TimeNano, e.Line, emit)
		}
		a.openGroup(g, e, now, false)
	}
	g.next = e.PartialOrdinal + 1
	if err := a.appendChunk(g, src, e.Line, emit); err != nil {
		return err
	}
	if e.PartialLast {
		return a.finish(g, src, false, nil, emit)
	}
	return nil
}

// FlushOlder emits, with Partial=true, every group whose first chunk arrived
// before deadline, so that the start of a line being written slowly, or of
// one whose end was lost, becomes visible. Chunks of the same line that
// arrive later start a new record.
func (a *Assembler) FlushOlder(deadline time.Time, emit func(*pipeline.Record) error) error {
	for _, i := range a.byArrival() {
		g := &a.groups[i]
		if !g.open || !g.arrived.Before(deadline) {
			continue
		}
		cont := !g.legacy
		if err := a.finish(g, pipeline.Source(i+1), true, a.stats.TimedOut, emit); err != nil {
			return err
		}
		g.cont = cont
	}
	return nil
}

// FlushAll emits every open group with Partial=true. Call it when the stream
// ends: a container whose output does not end with a newline leaves its last
// line open, and dockerd never sends a last chunk for it.
func (a *Assembler) FlushAll(emit func(*pipeline.Record) error) error {
	for _, i := range a.byArrival() {
		g := &a.groups[i]
		if !g.open {
			continue
		}
		if err := a.finish(g, pipeline.Source(i+1), true, a.stats.Unfinished, emit); err != nil {
			return err
		}
	}
	return nil
}

// Oldest returns the arrival time of the oldest open group, and false when
// no group is open.
func (a *Assembler) Oldest() (time.Time, bool) {
	var t time.Time
	found := false
	for i := range a.groups {
		g := &a.groups[i]
		if g.open && (!found || g.arrived.Before(t)) {
			t, found = g.arrived, true
		}
	}
	return t, found
}

// byArrival orders the two groups oldest first, so that flushes are
// deterministic.
func (a *Assembler) byArrival() [2]int {
	if a.groups[1].open && (!a.groups[0].open || a.groups[1].arrived.Before(a.groups[0].arrived)) {
		return [2]int{1, 0}
	}
	return [2]int{0, 1}
}

func (a *Assembler) openGroup(g *asmGroup, e *Entry, now time.Time, legacy bool) {
	g.open = true
	g.legacy = legacy
	g.cont = false
	g.id = append(g.id[:0], e.PartialID...)
	g.time = e.TimeNano
	g.arrived = now
	g.buf = asmBufPool.Get().(*[]byte)
	*g.buf = (*g.buf)[:0]
}

// abandon emits an open group whose last chunk will never come because its
// source has moved on.
func (a *Assembler) abandon(g *asmGroup, src pipeline.Source, emit func(*pipeline.Record) error) error {
	a.stats.Gaps.Inc()
	return a.finish(g, src, true, a.stats.Abandoned, emit)
}

// appendChunk adds data to the group, emitting maxLine-sized pieces with
// Partial=true whenever the line would grow beyond maxLine.
func (a *Assembler) appendChunk(g *asmGroup, src pipeline.Source, data []byte, emit func(*pipeline.Record) error) error {
	buf := *g.buf
	for len(buf)+len(data) > a.maxLine {
		k := a.maxLine - len(buf)
		piece := data[:k] // nothing buffered: emit without copying
		if len(buf) > 0 {
			buf = append(buf, piece...)
			piece = buf
		}
		data = data[k:]
		buf = buf[:0]
		*g.buf = buf // keeps the grown capacity even if emit fails
		a.stats.Cut.Inc()
		if err := a.emitRec(src, g.time, piece, true, emit); err != nil {
			return err
		}
	}
	*g.buf = append(buf, data...)
	return nil
}

// finish closes the group and emits its line. An empty Partial record would
// print nothing, so it is not emitted; an empty complete line is a blank
// line and is.
func (a *Assembler) finish(g *asmGroup, src pipeline.Source, partial bool, reason *pipeline.Counter, emit func(*pipeline.Record) error) error {
	bp := g.buf
	g.open, g.buf, g.cont = false, nil, false
	line := *bp
	var err error
	if !partial || len(line) > 0 {
		if reason != nil {
			reason.Inc()
		}
		err = a.emitRec(src, g.time, line, partial, emit)
	}
	*bp = line[:0]
	asmBufPool.Put(bp)
	return err
}

// emitLine emits a line that needs no joining, in maxLine pieces.
func (a *Assembler) emitLine(src pipeline.Source, t int64, line []byte, emit func(*pipeline.Record) error) error {
	for len(line) > a.maxLine {
		a.stats.Cut.Inc()
		if err := a.emitRec(src, t, line[:a.maxLine], true, emit); err != nil {
			return err
		}
		line = line[a.maxLine:]
	}
	return a.emitRec(src, t, line, false, emit)
}

func (a *Assembler) emitRec(src pipeline.Source, t int64, line []byte, partial bool, emit func(*pipeline.Record) error) error {
	a.rec = pipeline.Record{Time: t, Source: src, Partial: partial, Line: line}
	return emit(&a.rec)
}
