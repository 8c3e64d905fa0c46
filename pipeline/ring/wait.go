package ring

import (
	"context"
	"errors"
	"os"

	"github.com/logship/logship/pipeline"
)

// Wait blocks until a record with Seq >= seq is durable (readable), and
// returns the Seq one past the last durable record. It returns
// pipeline.ErrIdle when the container has no open writer and nothing at or
// after seq (also when it has no ring), and ctx.Err() when ctx is done.
// Sinks use it to sleep until there is something to ship, without polling.
func (s *Store) Wait(ctx context.Context, containerID string, seq uint64) (uint64, error) {
	seq = max(seq, 1)
	r, err := s.acquire(containerID, false)
	if err != nil {
		if errors.Is(err, errNoRing) {
			return seq, pipeline.ErrIdle
		}
		return seq, err
	}
	defer s.release(r)
	for {
		r.mu.Lock()
		switch {
		case r.closed:
			r.mu.Unlock()
			return seq, ErrClosed
		case r.durable > seq:
			end := r.durable
			r.mu.Unlock()
			return end, nil
		case r.writers == 0:
			r.mu.Unlock()
			return seq, pipeline.ErrIdle
		}
		ch := r.waitChan()
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return seq, ctx.Err()
		}
	}
}

// Containers lists the ids of the containers that have a ring.
func (s *Store) Containers() ([]string, error) {
	des, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, de := range des {
		if de.IsDir() && validID(de.Name()) {
			ids = append(ids, de.Name())
		}
	}
	return ids, nil
}
