package sinks

import "github.com/logship/logship/pipeline"

// batchBuf gathers records read from the ring. The ring lends each record
// only for the callback, so lines are copied into one arena; slices into it
// are made only once the batch is complete, because the arena may move
// while it grows. Everything is reused from batch to batch.
type batchBuf struct {
	arena  []byte
	recs   []pipeline.Record
	offs   []int
	events []pipeline.Event
	bytes  int
	out    Batch
}

func (b *batchBuf) reset() {
	b.arena = b.arena[:0]
	b.recs = b.recs[:0]
	b.offs = b.offs[:0]
	b.bytes = 0
	// A batch that once held a huge line does not pin it forever.
	if cap(b.arena) > 16<<20 {
		b.arena = nil
	}
}

// release drops the buffers' memory, for a shipper that waits for a
// failed receiver: the next fill allocates them again.
func (b *batchBuf) release() {
	*b = batchBuf{}
}

func (b *batchBuf) len() int { return len(b.recs) }

func (b *batchBuf) add(r *pipeline.Record) {
	b.offs = append(b.offs, len(b.arena))
	b.arena = append(b.arena, r.Line...)
	rec := *r
	rec.Line = nil
	b.recs = append(b.recs, rec)
	b.bytes += len(r.Line)
}

// build parses the records into events that alias the arena.
func (b *batchBuf) build(meta *pipeline.Meta, p *pipeline.Parser) *Batch {
	n := len(b.recs)
	if cap(b.events) < n {
		b.events = append(b.events[:cap(b.events)], make([]pipeline.Event, n-cap(b.events))...)
	}
	b.events = b.events[:n]
	for i := range b.recs {
		end := len(b.arena)
		if i+1 < n {
			end = b.offs[i+1]
		}
		b.recs[i].Line = b.arena[b.offs[i]:end:end]
		p.Parse(&b.recs[i], &b.events[i])
	}
	b.out = Batch{Meta: meta, Events: b.events}
	return &b.out
}
