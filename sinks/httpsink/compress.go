package httpsink

import (
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// gzipLevel trades ratio for speed: whole batches of similar JSON objects
// compress well even at the fastest level, and the pipeline's CPU budget
// per line is small (see BenchmarkEncode).
const gzipLevel = gzip.BestSpeed

var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzipLevel)
	return w
}}

// appendWriter is an io.Writer that appends to a reused slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// gzip sets e.zbuf to one gzip member holding src, and returns it.
func (e *encoder) gzip(src []byte) []byte {
	zw := gzipPool.Get().(*gzip.Writer)
	e.zw.b = e.zbuf[:0]
	zw.Reset(&e.zw)
	_, _ = zw.Write(src) // appendWriter does not fail
	_ = zw.Close()
	zw.Reset(io.Discard) // do not keep the encoder alive through the pool
	gzipPool.Put(zw)
	e.zbuf, e.zw.b = e.zw.b, nil
	return e.zbuf
}

// zstd sets e.zbuf to a zstd frame holding src, and returns it.
func (e *encoder) zstd(src []byte) []byte {
	e.zbuf = zstdEncoder().EncodeAll(src, e.zbuf[:0])
	return e.zbuf
}

// zstdEncoder is shared by every Sink: EncodeAll is safe for concurrent
// use and runs up to GOMAXPROCS encodes at once, each on its caller's
// goroutine.
var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithZeroFrames(true),
	)
	if err != nil {
		panic(err) // only for invalid options, which are constants here
	}
	return e
})
