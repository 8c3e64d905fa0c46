package fluentd

import (
	"encoding/base64"
	"encoding/binary"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
)

// maxRequestBytes caps the uncompressed entries of one PackedForward
// request. A larger batch goes out as several requests on the same
// connection. Fluent Bit's in_forward refuses messages above its
// Buffer_Max_Size (6,144,000 bytes by default), so stay below that.
const maxRequestBytes = 4 << 20

// span is a run of events [from, to) sent as one request.
type span struct{ from, to int }

// split cuts the encoded batch into requests of at most max entry bytes
// each; an entry larger than max goes alone.
func (e *encoder) split(max int, out []span) []span {
	out = out[:0]
	from, start := 0, 0
	for i, end := range e.ends {
		if i > from && end-start > max {
			out = append(out, span{from, i})
			from, start = i, e.ends[i-1]
		}
	}
	if from < len(e.ends) {
		out = append(out, span{from, len(e.ends)})
	}
	return out
}

// frame returns the parts of the request for events [sp.from, sp.to):
//
//	PackedForward:           [tag, bin(entries), {"size": n, "chunk": id}]
//	CompressedPackedForward: [tag, bin(gzip(entries)), {"size": n, "chunk": id, "compressed": "gzip"}]
//
// The entries are not copied: the parts are written with writev. chunk is
// "" when no ack is wanted. The parts are valid until the next call.
func (e *encoder) frame(sp span, tag, chunk string, compress bool) ([3][]byte, error) {
	start := 0
	if sp.from > 0 {
		start = e.ends[sp.from-1]
	}
	payload := e.entries[start:e.ends[sp.to-1]]
	if compress {
		e.zbuf.Reset()
		if e.gz == nil {
			e.gz, _ = gzip.NewWriterLevel(&e.zbuf, gzip.BestSpeed) // the level is valid
		} else {
			e.gz.Reset(&e.zbuf)
		}
		if _, err := e.gz.Write(payload); err != nil {
			return [3][]byte{}, err
		}
		if err := e.gz.Close(); err != nil {
			return [3][]byte{}, err
		}
		payload = e.zbuf.Bytes()
	}
	e.head = append(e.head[:0], 0x93)
	e.head = appendStr(e.head, tag)
	e.head = appendBinHeader(e.head, len(payload))

	n := 1
	if chunk != "" {
		n++
	}
	if compress {
		n++
	}
	e.tail = appendMapHeader(e.tail[:0], n)
	e.tail = appendStr(e.tail, "size")
	e.tail = appendUint(e.tail, uint64(sp.to-sp.from))
	if chunk != "" {
		e.tail = appendStr(e.tail, "chunk")
		e.tail = appendStr(e.tail, chunk)
	}
	if compress {
		e.tail = appendStr(e.tail, "compressed")
		e.tail = appendStr(e.tail, "gzip")
	}
	return [3][]byte{e.head, payload, e.tail}, nil
}

// chunkIDs makes the ids of the `chunk` option: base64 of 16 bytes, as the
// spec asks and as fluent-logger-golang sends. Uniqueness is all that
// matters, so 8 random bytes per Sink and an 8-byte counter do, without
// reading the random source per request.
type chunkIDs struct {
	prefix [8]byte
	n      atomic.Uint64
}

func (c *chunkIDs) next() string {
	var b [16]byte
	copy(b[:8], c.prefix[:])
	binary.BigEndian.PutUint64(b[8:], c.n.Add(1))
	return base64.StdEncoding.EncodeToString(b[:])
}
