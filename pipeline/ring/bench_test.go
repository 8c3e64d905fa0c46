package ring

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/logship/logship/pipeline"
)

// corpusPath holds realistic log lines (JSON and text, with the ids and
// hashes real logs carry); the benchmarks fall back to generated lines
// without it.
const corpusPath = "../../../shared/corpus/benign-dev.jsonl"

var benchLinesOnce = sync.OnceValue(func() [][]byte {
	var lines [][]byte
	if f, err := os.Open(corpusPath); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var row struct{ Line string }
			if json.Unmarshal(sc.Bytes(), &row) == nil && row.Line != "" {
				lines = append(lines, []byte(row.Line))
			}
		}
	}
	if len(lines) == 0 {
		for i := range 4000 {
			r := genRecord(i)
			lines = append(lines, r.Line)
		}
	}
	return lines
})

// bench300 returns records with 300-byte lines made of consecutive corpus
// lines, so that the content compresses like real logs.
func bench300() []pipeline.Record {
	src := benchLinesOnce()
	var recs []pipeline.Record
	var cur []byte
	t := int64(1_700_000_000_000_000_000)
	for i := 0; len(recs) < 4000; i++ {
		cur = append(cur, src[i%len(src)]...)
		if len(cur) < 300 {
			cur = append(cur, ' ')
			continue
		}
		t += 12_345
		recs = append(recs, pipeline.Record{Time: t, Source: pipeline.Source(1 + i%2), Line: cur[:300:300]})
		cur = nil
	}
	return recs
}

func benchStore(b *testing.B, codec string) *testStore {
	return openStore(b, b.TempDir(), func(c *Config) {
		c.BlockSize = DefaultConfig().BlockSize
		c.Codec = codec
	})
}

// BenchmarkWrite measures Write of 300-byte lines. "open-block" is the
// per-record cost alone (the block is never sealed); the others include
// sealing (compression, the segment write, rotation) amortised over the
// records of a block, and report the compression ratio.
func BenchmarkWrite(b *testing.B) {
	recs := bench300()
	b.Run("open-block", func(b *testing.B) {
		s := benchStore(b, CodecS2)
		w := openWriter(b, s, cid)
		r := w.(*writer).r
		r.sealRetryAt = math.MaxInt
		b.SetBytes(300)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if len(r.raw) > 8<<20 {
				b.StopTimer()
				r.mu.Lock()
				r.raw, r.count, r.flushedLen, r.prevTime = r.raw[:0], 0, 0, 0
				r.openFirst, r.durable = r.nextSeq, r.nextSeq
				r.mu.Unlock()
				b.StartTimer()
			}
			if err := w.Write(&recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, tc := range []struct {
		name, codec string
		compress    bool
	}{
		{"s2", CodecS2, true},
		{"zstd", CodecZstd, true},
		{"uncompressed", CodecS2, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := benchStore(b, tc.codec)
			w := openWriter(b, s, cid, func(o *Options) { o.Compress = tc.compress })
			defer w.Close()
			b.SetBytes(300)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := w.Write(&recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if stored := s.counter("logship_ring_bytes_stored_total"); stored > 0 {
				// Raw record bytes per stored byte, over sealed blocks.
				sealed := float64(s.counter("logship_ring_bytes_written_total")) - float64(len(r(w).raw))
				b.ReportMetric(sealed/float64(stored), "ratio")
			}
		})
	}
}

func r(w pipeline.StreamWriter) *ring { return w.(*writer).r }

// BenchmarkFlush measures Flush as the driver calls it: after every line
// when idle, after a large read when busy.
func BenchmarkFlush(b *testing.B) {
	recs := bench300()
	for _, n := range []int{1, 100} {
		b.Run(map[int]string{1: "1-record", 100: "100-records"}[n], func(b *testing.B) {
			s := benchStore(b, CodecS2)
			w := openWriter(b, s, cid)
			defer w.Close()
			b.SetBytes(int64(300 * n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range n {
					if err := w.Write(&recs[(i*n+j)%len(recs)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bigRing is a ring of about 100 MB of 300-byte lines, built once per
// test binary run.
var bigRing = struct {
	once sync.Once
	dir  string
	raw  int64
	n    int
}{}

func getBigRing(b *testing.B) (string, int64, int) {
	bigRing.once.Do(func() {
		dir, err := os.MkdirTemp("", "ring-bench-")
		if err != nil {
			b.Fatal(err)
		}
		s, err := Open(Config{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		w, err := s.OpenWriter(cid, DefaultOptions(), nil)
		if err != nil {
			b.Fatal(err)
		}
		recs := bench300()
		const n = 100 << 20 / 300
		for i := range n {
			if err := w.Write(&recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
		}
		w.Close()
		s.Close()
		bigRing.dir, bigRing.raw, bigRing.n = dir, int64(n)*300, n
	})
	return bigRing.dir, bigRing.raw, bigRing.n
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigRing.dir != "" {
		os.RemoveAll(bigRing.dir)
	}
	os.Exit(code)
}

// BenchmarkTail10 is `docker logs --tail 10` on a stopped container with
// 100 MB of logs: it includes opening the ring.
func BenchmarkTail10(b *testing.B) {
	dir, _, _ := getBigRing(b)
	s, err := Open(Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		err := s.ReadLogs(context.Background(), cid, pipeline.ReadConfig{Tail: 10}, func(*pipeline.Record) error { n++; return nil })
		if err != nil || n != 10 {
			b.Fatalf("%d records, %v", n, err)
		}
	}
}

// BenchmarkReadAll reads the whole 100 MB ring; MB/s is of line bytes.
func BenchmarkReadAll(b *testing.B) {
	dir, raw, n := getBigRing(b)
	s, err := Open(Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(raw)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got := 0
		err := s.ReadLogs(context.Background(), cid, pipeline.ReadConfig{Tail: -1}, func(*pipeline.Record) error { got++; return nil })
		if err != nil || got != n {
			b.Fatalf("%d of %d records, %v", got, n, err)
		}
	}
}

// BenchmarkCodec compresses and decompresses 128 KiB blocks of the corpus
// lines as the ring stores them (one record per line), to compare the
// codecs on speed and ratio. MB/s is of uncompressed block bytes.
func BenchmarkCodec(b *testing.B) {
	lines := benchLinesOnce()
	var blocks [][]byte
	var cur []byte
	prev := int64(0)
	for rep := 0; rep < 3; rep++ {
		for i, l := range lines {
			rec := pipeline.Record{Time: 1_700_000_000_000_000_000 + int64(rep*len(lines)+i)*12_345, Source: pipeline.SourceStdout, Line: l}
			cur = appendRecord(cur, prev, &rec)
			prev = rec.Time
			if len(cur) >= 128<<10 {
				blocks = append(blocks, cur)
				cur, prev = nil, 0
			}
		}
	}
	var raw int64
	for _, blk := range blocks {
		raw += int64(len(blk))
	}
	for _, codec := range []string{CodecS2, CodecZstd} {
		s := benchStore(b, codec)
		encoded := make([][]byte, len(blocks))
		var stored int64
		for i, blk := range blocks {
			encoded[i] = s.encodeBlock(nil, blk, true, &blockHeader{count: 1, first: 1})
			stored += int64(len(encoded[i]))
		}
		b.Run(codec+"/compress", func(b *testing.B) {
			var dst []byte
			b.SetBytes(raw / int64(len(blocks)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				dst = s.encodeBlock(dst, blocks[i%len(blocks)], true, &blockHeader{count: 1, first: 1})
			}
			b.ReportMetric(float64(raw)/float64(stored), "ratio")
		})
		b.Run(codec+"/decompress", func(b *testing.B) {
			rd := reader{s: s.Store}
			b.SetBytes(raw / int64(len(blocks)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				e := encoded[i%len(encoded)]
				h, err := parseBlockHeader(e)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rd.decompress(&h, e[blockHeaderSize:blockHeaderSize+h.stored]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
