package ring

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
)

// model applies `docker logs` semantics to the records in memory: Tail,
// then Since (skip older), then Until (stop at the first newer).
func model(recs []pipeline.Record, cfg pipeline.ReadConfig) []pipeline.Record {
	start := 0
	if cfg.Tail >= 0 && cfg.Tail < len(recs) {
		start = len(recs) - cfg.Tail
	}
	var out []pipeline.Record
	for _, r := range recs[start:] {
		if !cfg.Since.IsZero() && r.Time < cfg.Since.UnixNano() {
			continue
		}
		if !cfg.Until.IsZero() && r.Time > cfg.Until.UnixNano() {
			break
		}
		out = append(out, r)
	}
	return out
}

func TestReadSemanticsAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 8 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			s := openStore(t, t.TempDir())
			w := openWriter(t, s, cid, func(o *Options) { o.MaxSize = minMaxSize; o.MaxFile = 1000 })
			n := 200 + rng.IntN(3000)
			var recs []pipeline.Record
			tm := int64(1_000_000)
			for i := range n {
				// Mostly increasing, sometimes equal or a little backwards,
				// as with two streams timestamped by two goroutines.
				tm += int64(rng.IntN(1000)) - 100
				r := genRecord(i)
				r.Time = tm
				if err := w.Write(&r); err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
				if rng.IntN(20) == 0 {
					if err := w.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			// Half the rounds read with the last block still open.
			if round%2 == 0 {
				w.Close()
			} else {
				defer w.Close()
			}
			lo, hi := recs[0].Time, recs[len(recs)-1].Time
			randTime := func() time.Time {
				return time.Unix(0, lo-500+rng.Int64N(hi-lo+1000))
			}
			for range 150 {
				var cfg pipeline.ReadConfig
				switch rng.IntN(4) {
				case 0:
					cfg.Tail = -1
				case 1:
					cfg.Tail = 0
				case 2:
					cfg.Tail = rng.IntN(20)
				default:
					cfg.Tail = rng.IntN(n + 50)
				}
				if rng.IntN(2) == 0 {
					cfg.Since = randTime()
				}
				if rng.IntN(2) == 0 {
					cfg.Until = randTime()
				}
				if rng.IntN(5) == 0 {
					cfg.Since = time.Unix(0, recs[rng.IntN(n)].Time) // exact bound
				}
				if rng.IntN(5) == 0 {
					cfg.Until = time.Unix(0, recs[rng.IntN(n)].Time)
				}
				got := readAll(t, s, cid, cfg)
				want := model(recs, cfg)
				if len(got) != len(want) {
					t.Fatalf("cfg %+v: got %d records, want %d", cfg, len(got), len(want))
				}
				checkRecords(t, got, want)
			}
		})
	}
}

func TestSinceSkipsBlocksWithoutDecompressing(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	recs := writeRecords(t, w, 0, 3000, 0)
	w.Close()
	// Corrupt the payload of the first block: a Since after it must not
	// even look at it.
	segs := segFiles(t, s.dir, cid)
	offs, _ := blockOffsets(t, segs[0])
	flipByte(t, segs[0], offs[0]+blockHeaderSize+10)
	cfg := pipeline.ReadConfig{Tail: -1, Since: time.Unix(0, recs[len(recs)/2].Time)}
	checkRecords(t, readAll(t, s, cid, cfg), model(recs, cfg))
	if got := s.counter("logship_ring_corrupt_blocks_total"); got != 0 {
		t.Fatalf("a Since read decompressed a block before Since (corrupt count %d)", got)
	}
}

func TestEviction(t *testing.T) {
	for _, maxFile := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(maxFile), func(t *testing.T) {
			s := openStore(t, t.TempDir())
			w := openWriter(t, s, cid, func(o *Options) { o.MaxSize = minMaxSize; o.MaxFile = maxFile; o.Compress = false })
			recs := writeRecords(t, w, 0, 5000, 100)
			w.Close()

			segs := segFiles(t, s.dir, cid)
			if len(segs) != maxFile {
				t.Fatalf("%d segment files, want %d", len(segs), maxFile)
			}
			got := readAll(t, s, cid, all)
			if len(got) == 0 || len(got) >= len(recs) {
				t.Fatalf("read %d of %d records after eviction", len(got), len(recs))
			}
			oldest := got[0].Seq
			checkRecords(t, got, recs[oldest-1:])
			if ev := s.counter("logship_ring_evicted_records_total"); ev != oldest-1 {
				t.Fatalf("evicted counter %d, oldest stored seq %d", ev, oldest)
			}
			first, _ := parseSegName(segs[0][len(segs[0])-segNameLen:])
			if first != oldest {
				t.Fatalf("oldest segment named %d, oldest record %d", first, oldest)
			}

			// A sink whose cursor was evicted restarts at the oldest record.
			var delivered []pipeline.Record
			next, skipped, err := s.ReadFrom(context.Background(), cid, 1, func(r *pipeline.Record) error {
				delivered = append(delivered, cloneRecord(r))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if next != uint64(len(recs)+1) || skipped != oldest-1 {
				t.Fatalf("ReadFrom(1): next=%d skipped=%d, want %d and %d", next, skipped, len(recs)+1, oldest-1)
			}
			checkRecords(t, delivered, got)
		})
	}
}

func TestReadFromCursor(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	defer w.Close()
	recs := writeRecords(t, w, 0, 2000, 33)
	var cursor uint64 = 1
	var got []pipeline.Record
	// A sink that fails every 150th record and resumes from the cursor.
	calls := 0
	for range 100 {
		next, skipped, err := s.ReadFrom(context.Background(), cid, cursor, func(r *pipeline.Record) error {
			calls++
			if calls%150 == 0 {
				return errSinkDown
			}
			got = append(got, cloneRecord(r))
			return nil
		})
		if skipped != 0 {
			t.Fatalf("skipped %d", skipped)
		}
		cursor = next
		if err == nil {
			break
		}
		if !errors.Is(err, errSinkDown) {
			t.Fatal(err)
		}
	}
	checkRecords(t, got, recs)
	// Caught up: nothing more, cursor unchanged; ahead of the ring: same.
	for _, c := range []uint64{cursor, cursor + 100} {
		next, skipped, err := s.ReadFrom(context.Background(), cid, c, func(*pipeline.Record) error {
			t.Fatal("record delivered past the end")
			return nil
		})
		if err != nil || next != c || skipped != 0 {
			t.Fatalf("ReadFrom(%d) = %d, %d, %v", c, next, skipped, err)
		}
	}
	// Starting in the middle of a block.
	var mid []pipeline.Record
	if _, _, err := s.ReadFrom(context.Background(), cid, 1234, func(r *pipeline.Record) error {
		mid = append(mid, cloneRecord(r))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, mid, recs[1233:])
}

var errSinkDown = errors.New("sink down")

func TestFnErrorStopsRead(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	writeRecords(t, w, 0, 100, 0)
	w.Close()
	n := 0
	err := s.ReadLogs(context.Background(), cid, all, func(*pipeline.Record) error {
		n++
		if n == 10 {
			return errSinkDown
		}
		return nil
	})
	if !errors.Is(err, errSinkDown) || n != 10 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

// follower runs ReadLogs with Follow in a goroutine and reports each
// record on a channel.
type follower struct {
	recs chan pipeline.Record
	done chan error
}

func follow(ctx context.Context, s *testStore, id string, cfg pipeline.ReadConfig) *follower {
	f := &follower{recs: make(chan pipeline.Record, 1<<16), done: make(chan error, 1)}
	cfg.Follow = true
	go func() {
		f.done <- s.ReadLogs(ctx, id, cfg, func(r *pipeline.Record) error {
			f.recs <- cloneRecord(r)
			return nil
		})
		close(f.recs)
	}()
	return f
}

// take waits for n records.
func (f *follower) take(t *testing.T, n int) []pipeline.Record {
	t.Helper()
	out := make([]pipeline.Record, 0, n)
	for len(out) < n {
		select {
		case r, ok := <-f.recs:
			if !ok {
				t.Fatalf("follow ended after %d of %d records: %v", len(out), n, <-f.done)
			}
			out = append(out, r)
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for record %d of %d", len(out)+1, n)
		}
	}
	return out
}

func (f *follower) end(t *testing.T) error {
	t.Helper()
	for r := range f.recs {
		t.Fatalf("unexpected record seq %d", r.Seq)
	}
	select {
	case err := <-f.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end")
	}
	return nil
}

func TestFollow(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid, func(o *Options) { o.MaxSize = minMaxSize })
	history := writeRecords(t, w, 0, 500, 0)
	f := follow(context.Background(), s, cid, pipeline.ReadConfig{Tail: 10})
	checkRecords(t, f.take(t, 10), history[490:])

	// Batches of various sizes, some crossing block seals and segment
	// rotations; each is seen exactly once before the next is written.
	rng := rand.New(rand.NewPCG(3, 4))
	next := 500
	for range 60 {
		n := 1 + rng.IntN(200)
		batch := writeRecords(t, w, next, next+n, 1+rng.IntN(50))
		next += n
		checkRecords(t, f.take(t, n), batch)
	}
	// A write without Flush is not delivered; Close flushes, delivers it
	// and ends the follow.
	last := writeRecords(t, w, next, next+3, 0)
	r := genRecord(next + 3)
	if err := w.Write(&r); err != nil {
		t.Fatal(err)
	}
	last = append(last, r)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, f.take(t, 4), last)
	if err := f.end(t); err != nil {
		t.Fatalf("follow ended with %v", err)
	}
}

func TestFollowConcurrentWriter(t *testing.T) {
	// Writer and follower run freely; the follower must see every record
	// once, in order, and end after the writer closes.
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid, func(o *Options) { o.MaxSize = minMaxSize; o.MaxFile = 1000 })
	f := follow(context.Background(), s, cid, pipeline.ReadConfig{Tail: -1})
	const n = 20000
	var want []pipeline.Record
	var wg sync.WaitGroup
	wg.Go(func() {
		want = writeRecords(t, w, 0, n, 13)
		w.Close()
	})
	got := f.take(t, n)
	wg.Wait()
	checkRecords(t, got, want)
	if err := f.end(t); err != nil {
		t.Fatal(err)
	}
}

func TestFollowCancel(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	defer w.Close()
	writeRecords(t, w, 0, 5, 0)
	ctx, cancel := context.WithCancel(context.Background())
	f := follow(ctx, s, cid, pipeline.ReadConfig{Tail: -1})
	f.take(t, 5)
	cancel()
	if err := f.end(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("follow ended with %v, want context.Canceled", err)
	}
}

func TestFollowWithoutWriter(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	recs := writeRecords(t, w, 0, 20, 0)
	w.Close()
	f := follow(context.Background(), s, cid, pipeline.ReadConfig{Tail: -1})
	checkRecords(t, f.take(t, 20), recs)
	if err := f.end(t); err != nil {
		t.Fatal(err)
	}
}

func TestFollowEndsOnStoreClose(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	defer w.Close()
	writeRecords(t, w, 0, 3, 0)
	f := follow(context.Background(), s, cid, pipeline.ReadConfig{Tail: -1})
	f.take(t, 3)
	s.Close()
	if err := f.end(t); !errors.Is(err, ErrClosed) {
		t.Fatalf("follow ended with %v, want ErrClosed", err)
	}
}

func TestFollowUntilStops(t *testing.T) {
	s := openStore(t, t.TempDir())
	w := openWriter(t, s, cid)
	defer w.Close()
	recs := writeRecords(t, w, 0, 10, 0)
	f := follow(context.Background(), s, cid, pipeline.ReadConfig{Tail: -1, Until: time.Unix(0, recs[9].Time+1)})
	checkRecords(t, f.take(t, 10), recs)
	r := genRecord(1000) // later than Until
	if err := w.Write(&r); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.end(t); err != nil {
		t.Fatal(err)
	}
}

func TestTwoWriters(t *testing.T) {
	s := openStore(t, t.TempDir())
	w1 := openWriter(t, s, cid)
	w2 := openWriter(t, s, cid)
	f := follow(context.Background(), s, cid, pipeline.ReadConfig{Tail: -1})

	var want []pipeline.Record
	for i := range 1000 {
		w := w1
		if i%3 == 0 {
			w = w2
		}
		r := genRecord(i)
		if err := w.Write(&r); err != nil {
			t.Fatal(err)
		}
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d got Seq %d", i, r.Seq)
		}
		want = append(want, r)
		if i%10 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w1.Flush(); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, f.take(t, 1000), want)

	// The first writer closing neither ends the follow nor stops the
	// second writer.
	w1.Close()
	more := writeRecords(t, w2, 1000, 1010, 0)
	checkRecords(t, f.take(t, 10), more)
	w2.Close()
	if err := f.end(t); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, readAll(t, s, cid, all), append(want, more...))
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	// Under the race detector this is the check that readers and writers
	// share no unsynchronised state.
	s := openStore(t, t.TempDir())
	opts := func(o *Options) { o.MaxSize = minMaxSize; o.MaxFile = 2 }
	w1 := openWriter(t, s, cid, opts)
	w2 := openWriter(t, s, cid, opts)
	var wg sync.WaitGroup
	for _, w := range []pipeline.StreamWriter{w1, w2} {
		wg.Go(func() {
			for i := range 3000 {
				r := genRecord(i)
				if err := w.Write(&r); err != nil {
					t.Error(err)
					return
				}
				if i%7 == 0 {
					if err := w.Flush(); err != nil {
						t.Error(err)
						return
					}
				}
			}
			w.Close()
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 20 {
				var last uint64
				err := s.ReadLogs(context.Background(), cid, pipeline.ReadConfig{Tail: 500}, func(r *pipeline.Record) error {
					if r.Seq <= last {
						return fmt.Errorf("seq %d after %d", r.Seq, last)
					}
					last = r.Seq
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		var cursor uint64 = 1
		for range 50 {
			next, _, err := s.ReadFrom(context.Background(), cid, cursor, func(r *pipeline.Record) error {
				if r.Seq < cursor {
					return fmt.Errorf("seq %d before cursor %d", r.Seq, cursor)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			cursor = next
		}
	})
	wg.Wait()
}
