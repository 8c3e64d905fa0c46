package ring

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/logship/logship/pipeline"
)

func TestWaitWakesOnFlushAndEndsWhenIdle(t *testing.T) {
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.Wait(ctx, cid, 1); !errors.Is(err, pipeline.ErrIdle) {
		t.Fatalf("Wait on a missing ring = %v, want ErrIdle", err)
	}
	w := openWriter(t, s, cid)
	type res struct {
		end uint64
		err error
	}
	done := make(chan res, 1)
	go func() {
		end, err := s.Wait(ctx, cid, 1)
		done <- res{end, err}
	}()
	writeRecords(t, w, 0, 3, 0)
	r := <-done
	if r.err != nil || r.end != 4 {
		t.Fatalf("Wait = %d, %v; want 4, nil", r.end, r.err)
	}
	// Caught up: blocks until the writer closes, then reports idle.
	go func() {
		end, err := s.Wait(ctx, cid, 4)
		done <- res{end, err}
	}()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-done; !errors.Is(r.err, pipeline.ErrIdle) {
		t.Fatalf("Wait after last writer closed = %v, want ErrIdle", r.err)
	}
	// Records still undelivered are reported even without a writer.
	if end, err := s.Wait(ctx, cid, 2); err != nil || end != 4 {
		t.Fatalf("Wait(2) without writer = %d, %v", end, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	w2 := openWriter(t, s, cid)
	defer w2.Close()
	go func() {
		end, err := s.Wait(cctx, cid, 4)
		done <- res{end, err}
	}()
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v", r.err)
	}
	ids, err := s.Containers()
	if err != nil || !slices.Equal(ids, []string{cid}) {
		t.Fatalf("Containers = %v, %v", ids, err)
	}
}
