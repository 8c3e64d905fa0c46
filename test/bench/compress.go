package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logship/logship/pipeline"
	"github.com/logship/logship/pipeline/ring"
	"github.com/logship/logship/test/benchdata"
)

type compRow struct {
	Input     string  `json:"input"`
	Codec     string  `json:"codec"`
	Lines     int     `json:"lines"`
	BytesIn   int64   `json:"bytes_in"`   // line bytes, without newlines
	BytesDisk int64   `json:"bytes_disk"` // files in the ring's folder after Close
	Ratio     float64 `json:"ratio"`
	NsPerLine float64 `json:"ns_per_line"` // Write + Flush every 256 KiB + sealing, one goroutine
	Err       string  `json:"error,omitempty"`
}

// corpusPath finds benign-dev.jsonl: BENCH_CORPUS, the copy in
// redact/testdata, or the shared corpus beside the repository.
func (b *bench) corpusPath() string {
	for _, p := range []string{
		b.cfg.Corpus,
		filepath.Join(b.repo, "redact", "testdata", "benign-dev.jsonl"),
		filepath.Join(b.repo, "..", "shared", "corpus", "benign-dev.jsonl"),
	} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func readCorpus(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row struct {
			Line string `json:"line"`
		}
		if json.Unmarshal(sc.Bytes(), &row) == nil && row.Line != "" {
			lines = append(lines, []byte(row.Line))
		}
	}
	return lines, sc.Err()
}

func genLines(shape string, totalBytes int, seed uint64) [][]byte {
	g := benchdata.New(seed)
	var lines [][]byte
	for n := 0; n < totalBytes; {
		l := line(g, shape)
		lines = append(lines, append([]byte(nil), l...))
		n += len(l)
	}
	return lines
}

func (b *bench) runCompress() error {
	type input struct {
		name  string
		lines [][]byte
	}
	var inputs []input
	if p := b.corpusPath(); p != "" {
		lines, err := readCorpus(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.repo, p)
		inputs = append(inputs, input{fmt.Sprintf("corpus %s (%d lines, once)", rel, len(lines)), lines})
		b.res.CorpusPath = p
	} else {
		b.note("benign-dev.jsonl not found (BENCH_CORPUS, redact/testdata, ../shared/corpus): corpus row skipped")
	}
	inputs = append(inputs,
		input{"bench JSON lines (300 B, 16 MB)", genLines(shapeJSON, 16<<20, 1)},
		input{"bench text lines (130 B, 16 MB)", genLines(shapeText, 16<<20, 2)},
	)
	tmp, err := os.MkdirTemp(b.out, "ring-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, in := range inputs {
		for _, codec := range []string{ring.CodecS2, ring.CodecZstd} {
			r := compRow{Input: in.name, Codec: codec, Lines: len(in.lines)}
			if err := ringWrite(filepath.Join(tmp, codec+fmt.Sprint(len(b.res.Compression))), codec, in.lines, &r); err != nil {
				r.Err = err.Error()
			}
			b.logf("ring %-4s %-45s %10d B → %10d B  ratio %.2f  %.0f ns/line %s", codec, in.name, r.BytesIn, r.BytesDisk, r.Ratio, r.NsPerLine, r.Err)
			b.res.Compression = append(b.res.Compression, r)
		}
	}
	return nil
}

func ringWrite(dir, codec string, lines [][]byte, r *compRow) error {
	store, err := ring.Open(ring.Config{Dir: dir, Codec: codec})
	if err != nil {
		return err
	}
	defer store.Close()
	id := strings.Repeat("ab", 32)
	w, err := store.OpenWriter(id, ring.DefaultOptions(), nil)
	if err != nil {
		return err
	}
	t := time.Now()
	ts := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC).UnixNano()
	unflushed := 0
	for _, l := range lines {
		ts += 12_345
		rec := pipeline.Record{Time: ts, Source: pipeline.SourceStdout, Line: l}
		if err := w.Write(&rec); err != nil {
			return err
		}
		r.BytesIn += int64(len(l))
		if unflushed += len(l); unflushed >= 256<<10 {
			if err := w.Flush(); err != nil {
				return err
			}
			unflushed = 0
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	r.NsPerLine = float64(time.Since(t).Nanoseconds()) / float64(len(lines))
	r.BytesDisk = dirBytes(filepath.Join(dir, id))
	if r.BytesDisk > 0 {
		r.Ratio = float64(r.BytesIn) / float64(r.BytesDisk)
	}
	return nil
}
