package driver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
)

// asmOut is an emitted record, copied out of the borrowed one.
type asmOut struct {
	src     pipeline.Source
	time    int64
	partial bool
	line    string
}

func (o asmOut) String() string {
	return fmt.Sprintf("{%v t=%d partial=%v line(%d)=%.30q}", o.src, o.time, o.partial, len(o.line), o.line)
}

type asmCollector struct{ out []asmOut }

func (c *asmCollector) emit(r *pipeline.Record) error {
	if r.Seq != 0 {
		return errors.New("Seq set by the assembler")
	}
	c.out = append(c.out, asmOut{r.Source, r.Time, r.Partial, string(r.Line)})
	return nil
}

func (c *asmCollector) take() []asmOut {
	out := c.out
	c.out = nil
	return out
}

var asmT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const asmChunk = 16384 // dockerd's copier buffer

func asmLine(src string, ts int64, line string) *Entry {
	return &Entry{Source: []byte(src), TimeNano: ts, Line: []byte(line)}
}

func asmPart(src string, ts int64, id string, ord int32, last bool, line string) *Entry {
	return &Entry{Source: []byte(src), TimeNano: ts, Line: []byte(line), Partial: true,
		HasPartialMeta: true, PartialID: []byte(id), PartialOrdinal: ord, PartialLast: last}
}

func asmLegacy(src string, ts int64, line string) *Entry {
	return &Entry{Source: []byte(src), TimeNano: ts, Line: []byte(line), Partial: true}
}

// asmChunks splits line as dockerd does: 16 KiB chunks, then the rest
// (possibly empty) in a last chunk, or, without a newline, an unterminated
// remainder.
func asmChunks(src string, ts int64, id, line string, newline bool) []*Entry {
	var out []*Entry
	ord := int32(1)
	for len(line) >= asmChunk {
		out = append(out, asmPart(src, ts, id, ord, false, line[:asmChunk]))
		line = line[asmChunk:]
		ord++
	}
	if newline {
		out = append(out, asmPart(src, ts, id, ord, true, line))
	} else if line != "" {
		out = append(out, asmPart(src, ts, id, ord, false, line))
	}
	return out
}

func asmText(n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(rng.IntN(26))
	}
	return string(b)
}

func asmAdd(t *testing.T, a *Assembler, c *asmCollector, now time.Time, es ...*Entry) {
	t.Helper()
	for _, e := range es {
		if err := a.Add(e, now, c.emit); err != nil {
			t.Fatal(err)
		}
	}
}

func asmExpect(t *testing.T, got []asmOut, want ...asmOut) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func asmMetric(t *testing.T, m *pipeline.Metrics, name string) uint64 {
	t.Helper()
	v, ok := m.Value(name)
	if !ok {
		t.Fatalf("metric %s not registered", name)
	}
	return uint64(v)
}

// asmCounts checks every counter at once, so that a test also proves that
// nothing else was counted.
func asmCounts(t *testing.T, m *pipeline.Metrics, cut, timeout, streamEnd, abandoned, gaps, unknown uint64) {
	t.Helper()
	got := [6]uint64{
		asmMetric(t, m, asmMetricCut), asmMetric(t, m, asmMetricTimeout), asmMetric(t, m, asmMetricStreamEnd),
		asmMetric(t, m, asmMetricAbandoned), asmMetric(t, m, asmMetricGaps), asmMetric(t, m, asmMetricUnknownSrc),
	}
	if want := [6]uint64{cut, timeout, streamEnd, abandoned, gaps, unknown}; got != want {
		t.Fatalf("counters cut,timeout,stream_end,abandoned,gaps,unknown_source = %v, want %v", got, want)
	}
}

func TestAssembleMetricsRegistered(t *testing.T) {
	m := pipeline.NewMetrics()
	NewAssembler(0, m)
	asmCounts(t, m, 0, 0, 0, 0, 0, 0)
	var b strings.Builder
	if err := m.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`logship_driver_lines_split_total{reason="max_line_size"} 0`,
		`logship_driver_lines_split_total{reason="timeout"} 0`,
		`logship_driver_lines_split_total{reason="stream_end"} 0`,
		`logship_driver_partial_gaps_total 0`,
		`logship_driver_dropped_records_total{reason="unknown_source"} 0`,
	} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("exposition lacks %s:\n%s", s, b.String())
		}
	}
	NewAssembler(0, nil) // a nil registry is allowed
}

func TestAssembleCompleteLineAliases(t *testing.T) {
	a := NewAssembler(0, nil)
	e := asmLine("stderr", 42, "hello")
	var got *pipeline.Record
	err := a.Add(e, time.Time{}, func(r *pipeline.Record) error {
		if &r.Line[0] != &e.Line[0] {
			t.Error("a complete line was copied")
		}
		c := *r
		got = &c
		return nil
	})
	if err != nil || got == nil {
		t.Fatalf("no record, err %v", err)
	}
	if got.Source != pipeline.SourceStderr || got.Time != 42 || got.Partial || string(got.Line) != "hello" {
		t.Fatalf("record %+v", got)
	}
	if _, ok := a.Oldest(); ok {
		t.Fatal("a complete line left a group open")
	}
	// A blank line is a record too.
	c := &asmCollector{}
	asmAdd(t, a, c, asmT0, asmLine("stdout", 1, ""))
	asmExpect(t, c.take(), asmOut{pipeline.SourceStdout, 1, false, ""})
}

func TestAssemble100KLine(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	line := asmText(100<<10, 1)
	chunks := asmChunks("stdout", 77, "id1", line, true)
	if len(chunks) != 7 || len(chunks[6].Line) != 100<<10-6*asmChunk {
		t.Fatalf("test setup: %d chunks", len(chunks))
	}
	for i, e := range chunks[:6] {
		asmAdd(t, a, c, asmT0.Add(time.Duration(i)), e)
		if len(c.out) != 0 {
			t.Fatalf("emitted before the last chunk: %v", c.out)
		}
	}
	if old, ok := a.Oldest(); !ok || !old.Equal(asmT0) {
		t.Fatalf("Oldest() = %v %v, want the first chunk's arrival", old, ok)
	}
	asmAdd(t, a, c, asmT0, chunks[6])
	asmExpect(t, c.take(), asmOut{pipeline.SourceStdout, 77, false, line})
	if _, ok := a.Oldest(); ok {
		t.Fatal("group still open after its last chunk")
	}
	asmCounts(t, m, 0, 0, 0, 0, 0, 0)
}

func TestAssembleLastChunkEmpty(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	line := asmText(2*asmChunk, 2)
	chunks := asmChunks("stderr", 5, "id", line, true)
	if len(chunks) != 3 || len(chunks[2].Line) != 0 {
		t.Fatalf("test setup: %d chunks", len(chunks))
	}
	asmAdd(t, a, c, asmT0, chunks...)
	asmExpect(t, c.take(), asmOut{pipeline.SourceStderr, 5, false, line})
	asmCounts(t, m, 0, 0, 0, 0, 0, 0)
}

// stdout and stderr have separate copiers: complete stderr lines arrive
// while a stdout line is being assembled, and go out at once.
func TestAssembleInterleaved(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	long := asmText(40000, 3)
	ch := asmChunks("stdout", 10, "out", long, true)
	asmAdd(t, a, c, asmT0, asmLine("stdout", 9, "before"), ch[0], asmLine("stderr", 11, "e1"), ch[1],
		asmLine("stderr", 12, "e2"), ch[2], asmLine("stdout", 13, "after"))
	asmExpect(t, c.take(),
		asmOut{pipeline.SourceStdout, 9, false, "before"},
		asmOut{pipeline.SourceStderr, 11, false, "e1"},
		asmOut{pipeline.SourceStderr, 12, false, "e2"},
		asmOut{pipeline.SourceStdout, 10, false, long},
		asmOut{pipeline.SourceStdout, 13, false, "after"})
	asmCounts(t, m, 0, 0, 0, 0, 0, 0)
}

func TestAssembleTwoGroups(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	out, errs := asmText(50000, 4), asmText(20000, 5)
	o, e := asmChunks("stdout", 1, "o", out, true), asmChunks("stderr", 2, "e", errs, true)
	asmAdd(t, a, c, asmT0, o[0])
	asmAdd(t, a, c, asmT0.Add(-time.Second), e[0]) // the stderr group is older
	if old, _ := a.Oldest(); !old.Equal(asmT0.Add(-time.Second)) {
		t.Fatalf("Oldest() = %v", old)
	}
	asmAdd(t, a, c, asmT0, o[1], o[2])
	asmAdd(t, a, c, asmT0, e[1])
	if len(c.out) != 1 || c.out[0].line != errs {
		t.Fatalf("after the stderr last chunk: %v", c.out)
	}
	if old, _ := a.Oldest(); !old.Equal(asmT0) {
		t.Fatalf("Oldest() = %v, want the stdout group's arrival", old)
	}
	asmAdd(t, a, c, asmT0, o[3])
	asmExpect(t, c.take(),
		asmOut{pipeline.SourceStderr, 2, false, errs},
		asmOut{pipeline.SourceStdout, 1, false, out})
	asmCounts(t, m, 0, 0, 0, 0, 0, 0)
}

// `printf foo` and exit: dockerd sends "foo" as an unfinished chunk and
// nothing after it; only the end of the stream can release it.
func TestAssembleEOFWithoutNewline(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	asmAdd(t, a, c, asmT0, asmChunks("stdout", 3, "p", "foo", false)...)
	long := asmText(asmChunk+100, 6)
	asmAdd(t, a, c, asmT0.Add(time.Second), asmChunks("stderr", 4, "q", long, false)...)
	if len(c.out) != 0 {
		t.Fatalf("emitted %v before the stream ended", c.out)
	}
	if old, ok := a.Oldest(); !ok || !old.Equal(asmT0) {
		t.Fatalf("Oldest() = %v %v", old, ok)
	}
	if err := a.FlushAll(c.emit); err != nil {
		t.Fatal(err)
	}
	asmExpect(t, c.take(),
		asmOut{pipeline.SourceStdout, 3, true, "foo"},
		asmOut{pipeline.SourceStderr, 4, true, long})
	if _, ok := a.Oldest(); ok {
		t.Fatal("groups still open after FlushAll")
	}
	if err := a.FlushAll(c.emit); err != nil || len(c.out) != 0 {
		t.Fatalf("second FlushAll emitted %v, %v", c.out, err)
	}
	asmCounts(t, m, 0, 0, 2, 0, 0, 0)

	// An open group with no bytes yet has nothing to print: no record.
	asmAdd(t, a, c, asmT0, asmPart("stdout", 5, "e", 1, false, ""))
	if err := a.FlushAll(c.emit); err != nil || len(c.out) != 0 {
		t.Fatalf("FlushAll of an empty group emitted %v, %v", c.out, err)
	}
	asmCounts(t, m, 0, 0, 2, 0, 0, 0)
}

// A line stalled mid-way is flushed by the timeout; the rest of it, which
// still carries the same id, continues in a new record without a gap.
func TestAssembleTimeoutContinuation(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	line := asmText(4*asmChunk+10, 7)
	ch := asmChunks("stdout", 8, "slow", line, true)
	asmAdd(t, a, c, asmT0, ch[0])
	asmAdd(t, a, c, asmT0.Add(time.Second), ch[1])
	asmAdd(t, a, c, asmT0.Add(time.Second), asmPart("stderr", 9, "other", 1, false, "young"))

	if err := a.FlushOlder(asmT0, c.emit); err != nil || len(c.out) != 0 {
		t.Fatalf("FlushOlder at the arrival time emitted %v, %v", c.out, err)
	}
	if err := a.FlushOlder(asmT0.Add(time.Millisecond), c.emit); err != nil {
		t.Fatal(err)
	}
	asmExpect(t, c.take(), asmOut{pipeline.SourceStdout, 8, true, line[:2*asmChunk]})
	if old, _ := a.Oldest(); !old.Equal(asmT0.Add(time.Second)) {
		t.Fatalf("Oldest() = %v, want the stderr group", old)
	}

	asmAdd(t, a, c, asmT0.Add(time.Minute), ch[2], ch[3])
	if err := a.FlushOlder(asmT0.Add(time.Minute), c.emit); err != nil {
		t.Fatal(err)
	}
	asmExpect(t, c.take(), asmOut{pipeline.SourceStderr, 9, true, "young"})
	asmAdd(t, a, c, asmT0.Add(time.Minute), ch[4])
	asmExpect(t, c.take(), asmOut{pipeline.SourceStdout, 8, false, line[2*asmChunk:]})
	asmCounts(t, m, 0, 2, 0, 0, 0, 0)

	// A timed-out group whose only remaining chunk is the last one: emitted
	// straight away, still without a gap.
	ch = asmChunks("stdout", 10, "slow2", asmText(asmChunk+5, 8), true)
	asmAdd(t, a, c, asmT0, ch[0])
	if err := a.FlushOlder(asmT0.Add(time.Hour), c.emit); err != nil {
		t.Fatal(err)
	}
	asmAdd(t, a, c, asmT0, ch[1])
	got := c.take()
	if len(got) != 2 || !got[0].partial || got[1].partial || got[0].line+got[1].line != string(ch[0].Line)+string(ch[1].Line) {
		t.Fatalf("records %v", got)
	}
	asmCounts(t, m, 0, 3, 0, 0, 0, 0)
}

func TestAssembleMaxLineCut(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(40000, m)
	c := &asmCollector{}
	line := asmText(100<<10, 9)
	asmAdd(t, a, c, asmT0, asmChunks("stdout", 6, "big", line, true)...)
	asmExpect(t, c.take(),
		asmOut{pipeline.SourceStdout, 6, true, line[:40000]},
		asmOut{pipeline.SourceStdout, 6, true, line[40000:80000]},
		asmOut{pipeline.SourceStdout, 6, false, line[80000:]})
	asmCounts(t, m, 2, 0, 0, 0, 0, 0)

	// Exactly maxLine is not cut, even with the empty last chunk after it.
	line = asmText(40000, 10)
	asmAdd(t, a, c, asmT0, asmPart("stdout", 1, "x", 1, false, line), asmPart("stdout", 1, "x", 2, true, ""))
	asmExpect(t, c.take(), asmOut{pipeline.SourceStdout, 1, false, line})
	asmCounts(t, m, 2, 0, 0, 0, 0, 0)
}

// With maxLine below dockerd's 16 KiB, complete lines and single chunks are
// cut too, without copying.
func TestAssembleMaxLineSmall(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(10, m)
	c := &asmCollector{}
	asmAdd(t, a, c, asmT0, asmLine("stderr", 1, "0123456789abcdefghijKLMNO"), asmLine("stderr", 2, "0123456789"),
		asmLine("stderr", 3, "0123456789a"))
	asmExpect(t, c.take(),
		asmOut{pipeline.SourceStderr, 1, true, "0123456789"},
		asmOut{pipeline.SourceStderr, 1, true, "abcdefghij"},
		asmOut{pipeline.SourceStderr, 1, false, "KLMNO"},
		asmOut{pipeline.SourceStderr, 2, false, "0123456789"},
		asmOut{pipeline.SourceStderr, 3, true, "0123456789"},
		asmOut{pipeline.SourceStderr, 3, false, "a"})
	asmCounts(t, m, 3, 0, 0, 0, 0, 0)

	asmAdd(t, a, c, asmT0, asmPart("stdout", 3, "g", 1, false, "abcdefgh"), asmPart("stdout", 3, "g", 2, false, "0123456789ABCDEFGHIJ"),
		asmPart("stdout", 3, "g", 3, true, "xyz"))
	asmExpect(t, c.take(),
		asmOut{pipeline.SourceStdout, 3, true, "abcdefgh01"},
		asmOut{pipeline.SourceStdout, 3, true, "23456789AB"},
		asmOut{pipeline.SourceStdout, 3, true, "CDEFGHIJxy"},
		asmOut{pipeline.SourceStdout, 3, false, "z"})
	asmCounts(t, m, 6, 0, 0, 0, 0, 0)
}

func TestAssembleOrdinalGap(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	asmAdd(t, a, c, asmT0, asmPart("stdout", 1, "g", 1, false, "a"), asmPart("stdout", 1, "g", 2, false, "b"),
		asmPart("stdout", 1, "g", 4, true, "d"))
	asmExpect(t, c.take(), asmOut{pipeline.SourceStdout, 1, false, "abd"})
	asmCounts(t, m, 0, 0, 0, 0, 1, 0)

	// Out of order: 1, 3, 2 is two breaks; the bytes are kept in arrival order.
	asmAdd(t, a, c, asmT0, asmPart("stderr", 2, "h", 1, false, "a"), asmPart("stderr", 2, "h", 3, false, "c"),
		asmPart("stderr", 2, "h", 2, true, "b"))
	asmExpect(t, c.take(), asmOut{pipeline.SourceStderr, 2, false, "acb"})
	asmCounts(t, m, 0, 0, 0, 0, 3, 0)

	// A group whose first chunks were lost starts at a later ordinal.
	asmAdd(t, a, c, asmT0, asmPart("stderr", 3, "k", 5, false, "e"), asmPart("stderr", 3, "k", 6, true, "f"))
	asmExpect(t, c.take(), asmOut{pipeline.SourceStderr, 3, false, "ef"})
	asmCounts(t, m, 0, 0, 0, 0, 4, 0)
}

// When a source moves on without finishing its group (its last chunk was
// lost, e.g. in non-blocking mode), the group goes out as partial first.
func TestAssembleAbandonedGroup(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	asmAdd(t, a, c, asmT0, asmPart("stdout", 1, "A", 1, false, "aaa"), asmPart("stdout", 2, "B", 1, false, "bbb"),
		asmPart("stdout", 2, "B", 2, true, "BBB"), asmPart("stdout", 3, "C", 1, false, "ccc"), asmLine("stdout", 4, "line"))
	asmExpect(t, c.take(),
		asmOut{pipeline.SourceStdout, 1, true, "aaa"},
		asmOut{pipeline.SourceStdout, 2, false, "bbbBBB"},
		asmOut{pipeline.SourceStdout, 3, true, "ccc"},
		asmOut{pipeline.SourceStdout, 4, false, "line"})
	asmCounts(t, m, 0, 0, 0, 2, 2, 0)
}

// Daemons before 19.03 send partial chunks without metadata; the entry that
// ends the line is an ordinary one.
func TestAssembleLegacy(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	p1, p2 := asmText(asmChunk, 11), asmText(asmChunk, 12)
	asmAdd(t, a, c, asmT0, asmLegacy("stdout", 1, p1), asmLine("stderr", 5, "err"), asmLegacy("stdout", 2, p2),
		asmLine("stdout", 3, "end"), asmLine("stdout", 4, "next"))
	asmExpect(t, c.take(),
		asmOut{pipeline.SourceStderr, 5, false, "err"},
		asmOut{pipeline.SourceStdout, 1, false, p1 + p2 + "end"},
		asmOut{pipeline.SourceStdout, 4, false, "next"})

	// The stream ends inside a legacy group.
	asmAdd(t, a, c, asmT0, asmLegacy("stderr", 6, "tail"))
	if err := a.FlushAll(c.emit); err != nil {
		t.Fatal(err)
	}
	asmExpect(t, c.take(), asmOut{pipeline.SourceStderr, 6, true, "tail"})

	// A legacy group timed out: the rest starts a new record.
	asmAdd(t, a, c, asmT0, asmLegacy("stderr", 7, "x"))
	if err := a.FlushOlder(asmT0.Add(time.Second), c.emit); err != nil {
		t.Fatal(err)
	}
	asmAdd(t, a, c, asmT0, asmLine("stderr", 8, "y"))
	asmExpect(t, c.take(), asmOut{pipeline.SourceStderr, 7, true, "x"}, asmOut{pipeline.SourceStderr, 8, false, "y"})

	// Metadata chunks after a legacy group: the legacy one is abandoned.
	asmAdd(t, a, c, asmT0, asmLegacy("stdout", 9, "old"), asmPart("stdout", 10, "n", 1, true, "new"))
	asmExpect(t, c.take(), asmOut{pipeline.SourceStdout, 9, true, "old"}, asmOut{pipeline.SourceStdout, 10, false, "new"})
	asmCounts(t, m, 0, 1, 1, 1, 1, 0)
}

func TestAssembleUnknownSource(t *testing.T) {
	m := pipeline.NewMetrics()
	a := NewAssembler(0, m)
	c := &asmCollector{}
	asmAdd(t, a, c, asmT0, asmLine("", 0, ""), asmLine("stdin", 1, "x"), asmPart("STDOUT", 2, "i", 1, false, "y"),
		asmLegacy("foo", 3, "z"))
	if len(c.out) != 0 {
		t.Fatalf("emitted %v", c.out)
	}
	if _, ok := a.Oldest(); ok {
		t.Fatal("a group was opened for an unknown source")
	}
	asmCounts(t, m, 0, 0, 0, 0, 0, 4)
}

// An emit error is returned as is, and the Assembler keeps working.
func TestAssembleEmitError(t *testing.T) {
	a := NewAssembler(10, nil)
	errFull := errors.New("full")
	fail := func(*pipeline.Record) error { return errFull }
	for i, e := range []*Entry{asmLine("stdout", 1, "x"), asmLine("stdout", 1, strings.Repeat("x", 25)),
		asmPart("stdout", 1, "g", 1, false, "12345"), asmPart("stdout", 1, "g", 2, false, "1234567890")} {
		err := a.Add(e, asmT0, fail)
		if buffered := i == 2; buffered != (err == nil) || err != nil && !errors.Is(err, errFull) {
			t.Fatalf("Add %d: err = %v", i, err)
		}
	}
	asmAdd(t, a, &asmCollector{}, asmT0, asmPart("stderr", 1, "h", 1, false, "x"))
	if err := a.FlushAll(fail); !errors.Is(err, errFull) {
		t.Fatalf("FlushAll: err = %v", err)
	}
	asmAdd(t, a, &asmCollector{}, asmT0, asmPart("stderr", 1, "h", 2, false, "x"))
	if err := a.FlushOlder(asmT0.Add(time.Second), fail); !errors.Is(err, errFull) {
		t.Fatalf("FlushOlder: err = %v", err)
	}
	c := &asmCollector{}
	asmAdd(t, a, c, asmT0, asmPart("stdout", 2, "k", 1, false, "ab"), asmPart("stdout", 2, "k", 2, true, "cd"))
	asmExpect(t, c.take(), asmOut{pipeline.SourceStdout, 2, false, "abcd"})
}

// asmCopier turns a container's output into the entries dockerd's copier
// sends for it (see moby daemon/logger/copier.go): lines up to 16 KiB - 1 as
// complete entries, longer ones in 16 KiB chunks, and the unterminated end
// of the output as a chunk that is never finished. legacy mimics daemons
// before 18.05: chunks without metadata, ending with a non-partial entry.
func asmCopier(src string, out string, ts int64, legacy bool) []*Entry {
	var es []*Entry
	for n := 0; out != ""; n++ {
		line, rest, newline := strings.Cut(out, "\n")
		out = rest
		id := fmt.Sprintf("%s-%d", src, n)
		if len(line) < asmChunk && newline {
			es = append(es, asmLine(src, ts, line))
			continue
		}
		chunks := asmChunks(src, ts, id, line, newline)
		if legacy {
			for i, c := range chunks {
				c.HasPartialMeta, c.PartialID, c.PartialOrdinal, c.PartialLast = false, nil, 0, false
				if newline && i == len(chunks)-1 {
					c.Partial = false
				}
			}
		}
		es = append(es, chunks...)
	}
	return es
}

// Whatever the lines, the interleaving, the maximum line size and the
// timeouts, the records of each source, printed as `docker logs` prints them
// (a newline after complete records only), are exactly the container's
// output.
func TestAssembleReproducesOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for iter := range 300 {
		legacy := iter%4 == 3
		outputs := map[string]string{}
		var streams [][]*Entry
		for _, src := range []string{"stdout", "stderr"} {
			var b strings.Builder
			for range rng.IntN(12) {
				switch rng.IntN(6) {
				case 0:
					b.WriteString(asmText(asmChunk*(1+rng.IntN(4))+rng.IntN(3)-1, rng.Uint64()))
				case 1:
					b.WriteString(asmText(asmChunk-1+rng.IntN(3), rng.Uint64()))
				default:
					b.WriteString(asmText(rng.IntN(200), rng.Uint64()))
				}
				if rng.IntN(8) > 0 {
					b.WriteByte('\n')
				}
			}
			outputs[src] = b.String()
			streams = append(streams, asmCopier(src, b.String(), int64(iter), legacy))
		}
		maxLine := []int{0, 1000, asmChunk, 40000, 100}[rng.IntN(5)]
		a := NewAssembler(maxLine, nil)
		got := map[pipeline.Source]*strings.Builder{pipeline.SourceStdout: {}, pipeline.SourceStderr: {}}
		emit := func(r *pipeline.Record) error {
			if maxLine > 0 && len(r.Line) > maxLine || maxLine == 0 && len(r.Line) > asmDefaultMaxLine {
				t.Fatalf("record of %d bytes, maxLine %d", len(r.Line), maxLine)
			}
			got[r.Source].Write(r.Line)
			if !r.Partial {
				got[r.Source].WriteByte('\n')
			}
			return nil
		}
		now := asmT0
		for len(streams[0])+len(streams[1]) > 0 {
			i := rng.IntN(2)
			if len(streams[i]) == 0 {
				i = 1 - i
			}
			if err := a.Add(streams[i][0], now, emit); err != nil {
				t.Fatal(err)
			}
			streams[i] = streams[i][1:]
			now = now.Add(time.Millisecond)
			if rng.IntN(10) == 0 {
				if err := a.FlushOlder(now.Add(-time.Duration(rng.IntN(5))*time.Millisecond), emit); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := a.FlushAll(emit); err != nil {
			t.Fatal(err)
		}
		for src, want := range outputs {
			if g := got[pipeline.ParseSource([]byte(src))].String(); g != want {
				t.Fatalf("iteration %d (legacy %v, maxLine %d): %s output differs: %d bytes, want %d",
					iter, legacy, maxLine, src, len(g), len(want))
			}
		}
	}
}

func TestAssembleNoAllocs(t *testing.T) {
	a := NewAssembler(0, nil)
	e := asmLine("stdout", 1, strings.Repeat("x", 130))
	emit := func(*pipeline.Record) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { _ = a.Add(e, asmT0, emit) }); n != 0 {
		t.Fatalf("%v allocations per complete line", n)
	}
	chunks := asmChunks("stderr", 1, strings.Repeat("f", 64), asmText(100<<10, 15), true)
	add := func() {
		for _, c := range chunks {
			_ = a.Add(c, asmT0, emit)
		}
	}
	add() // warm the buffer pool
	if !asmPoolKeeps() {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	// The pool may be emptied by a GC during the run, so allow a little.
	if n := testing.AllocsPerRun(100, add); n > 0.1 {
		t.Fatalf("%v allocations per 100 KiB line", n)
	}
}

// asmPoolKeeps reports whether sync.Pool hands back what was put in it; the
// race detector makes it drop a quarter of the items on purpose.
func asmPoolKeeps() bool {
	var p sync.Pool
	x := new(int)
	for range 200 {
		p.Put(x)
		if p.Get() != x {
			return false
		}
	}
	return true
}

func BenchmarkAssembleComplete(b *testing.B) {
	a := NewAssembler(0, nil)
	e := asmLine("stdout", 1, strings.Repeat("x", 130))
	emit := func(*pipeline.Record) error { return nil }
	b.SetBytes(int64(len(e.Line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Add(e, asmT0, emit); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAssemble100K(b *testing.B) {
	a := NewAssembler(0, nil)
	line := asmText(100<<10, 16)
	chunks := asmChunks("stdout", 1, strings.Repeat("f", 64), line, true)
	n := 0
	emit := func(r *pipeline.Record) error { n += len(r.Line); return nil }
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range chunks {
			if err := a.Add(c, asmT0, emit); err != nil {
				b.Fatal(err)
			}
		}
	}
	if n%len(line) != 0 {
		b.Fatalf("emitted %d bytes, not a multiple of the line", n)
	}
}
