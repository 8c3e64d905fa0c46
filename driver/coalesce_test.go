package driver

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/pipeline"
)

func streamOf(d *Driver, path string) *stream {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.streams[path]
}

// The order that makes coalescing harmless, checked without timing: the
// reader hands a line to the writer (and flushes it) before it pauses, so
// a lone line is never held back; lines that come during the pause wait in
// the pipe and are taken by one read when it ends.
func TestCoalesceFlushesBeforePausing(t *testing.T) {
	release := make(chan struct{})
	paused := make(chan struct{}, 16)
	hook := func() {
		paused <- struct{}{}
		<-release
	}
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	t.Cleanup(open) // runs before the driver's Shutdown if the test fails early

	be := newMemBackend()
	d := testDriver(t, be, func(c *Config) { c.ReadCoalesce = MaxReadCoalesce; c.pauseHook = hook })
	path, w := dockerdFIFO(t)
	if err := d.StartLogging(context.Background(), path, info()); err != nil {
		t.Fatal(err)
	}
	writeFrame(t, w, line("stdout", 1, "one"))
	// Seen by the backend (written and flushed) while the reader is, or is
	// about to be, in its pause, which the test holds open.
	be.wait(t, "first line", func() bool { return len(be.recs[testID]) == 1 })
	select {
	case <-paused:
	case <-time.After(10 * time.Second):
		t.Fatal("reader never paused after a short read")
	}
	writeFrame(t, w, line("stdout", 2, "two"))
	writeFrame(t, w, line("stdout", 3, "three"))
	be.mu.Lock()
	n := len(be.recs[testID])
	be.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d records while the reader pauses, want 1", n)
	}
	open()
	be.wait(t, "three lines", func() bool { return len(be.recs[testID]) == 3 })
	w.Close()
	be.wait(t, "stream end", func() bool { return be.closed == 1 })
	if got := be.lines(testID); len(got) != 3 || got[2] != "three" {
		t.Fatalf("lines = %q", got)
	}
}

// With the real pause: a lone line after an idle spell, and a line written
// while the reader pauses, arrive within the pause plus a margin that is
// wide on purpose (CI machines are loaded; the exact order is asserted by
// TestCoalesceFlushesBeforePausing, the pause's length by
// TestCoalescePauseLength).
func TestCoalesceBoundsALineDelay(t *testing.T) {
	const pause = MaxReadCoalesce
	be := newMemBackend()
	m := pipeline.NewMetrics()
	d := testDriver(t, be, func(c *Config) { c.Metrics = m; c.ReadCoalesce = pause })
	path, w := dockerdFIFO(t)
	if err := d.StartLogging(context.Background(), path, info()); err != nil {
		t.Fatal(err)
	}
	if s := streamOf(d, path); s == nil || s.nap == nil || s.nap.wait != pause {
		t.Fatal("stream does not coalesce reads")
	}
	var lat []time.Duration
	for i := 1; i <= 5; i++ {
		t0 := time.Now()
		writeFrame(t, w, line("stdout", int64(i), fmt.Sprint("line-", i)))
		be.wait(t, fmt.Sprintf("line %d", i), func() bool { return len(be.recs[testID]) >= i })
		lat = append(lat, time.Since(t0))
		if i%2 == 1 {
			time.Sleep(3 * pause) // idle: the next one finds the reader in read(2)
		}
	}
	t.Logf("latencies with a %v pause: %v", pause, lat)
	for i, l := range lat {
		if l > pause+2*time.Second {
			t.Errorf("line %d took %v with a %v pause", i+1, l, pause)
		}
	}
	if v, _ := m.Value("logship_driver_read_coalesce_waits_total"); v == 0 {
		t.Error("no pause counted")
	}
	w.Close()
	be.wait(t, "stream end", func() bool { return be.closed == 1 })
}

// StopLogging must still drain to EOF with coalescing on.
func TestCoalesceStopLoggingDrainsToEOF(t *testing.T) {
	be := newMemBackend()
	d := testDriver(t, be, func(c *Config) { c.ReadCoalesce = MaxReadCoalesce })
	path, w := dockerdFIFO(t)
	if err := d.StartLogging(context.Background(), path, info()); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		writeFrame(t, w, line("stdout", int64(i+1), fmt.Sprint("before-", i)))
	}
	d.StopLogging(path)
	for i := range 1000 {
		writeFrame(t, w, line("stderr", int64(i+1001), fmt.Sprint("after-", i)))
	}
	w.Close()
	be.wait(t, "stream end", func() bool { return be.closed == 1 })
	got := be.lines(testID)
	if len(got) != 2000 || got[0] != "before-0" || got[1999] != "after-999" {
		t.Fatalf("got %d lines, first %q last %q", len(got), got[0], got[len(got)-1])
	}
}

// The pause is a timerfd, not time.Sleep, because Go's timers cannot wait
// less than about 1 ms in an idle process. A pause never ends early; how
// late it may end is the machine's business, so that bound is loose.
func TestCoalescePauseLength(t *testing.T) {
	c := &coalescer{wait: 200 * time.Microsecond, waits: new(pipeline.Counter)}
	defer c.close()
	var dur []time.Duration
	for range 20 {
		t0 := time.Now()
		c.pause()
		dur = append(dur, time.Since(t0))
	}
	if c.tfdErr {
		t.Log("no timerfd: time.Sleep fallback")
	}
	for _, d := range dur {
		if d < c.wait || d > c.wait+2*time.Second {
			t.Fatalf("pause of %v took %v", c.wait, d)
		}
	}
	t.Logf("pauses of %v: %v", c.wait, dur)
}

func TestCoalesceOffWhenZero(t *testing.T) {
	d := testDriver(t, newMemBackend(), func(c *Config) { c.ReadCoalesce = 0 })
	path, w := dockerdFIFO(t)
	if err := d.StartLogging(context.Background(), path, info()); err != nil {
		t.Fatal(err)
	}
	if s := streamOf(d, path); s == nil || s.nap != nil {
		t.Error("reads coalesced with ReadCoalesce = 0")
	}
	w.Close()
}
