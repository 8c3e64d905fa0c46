package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/fifo"
	"golang.org/x/sys/unix"

	"github.com/logship/logship/pipeline"
)

// errStreamGone means a re-attached stream ended while the plugin was down.
var errStreamGone = errors.New("stream is gone")

// flushEvery bounds how much the driver reads before it flushes the backend
// even though the FIFO still has data, so readers and crash safety never
// lag far behind a container that logs without pause.
const flushEvery = 256 << 10

// MaxReadCoalesce caps Config.ReadCoalesce: a longer pause would make `docker
// logs -f` and the sinks lag visibly and let a fast container fill the pipe.
const MaxReadCoalesce = 10 * time.Millisecond

// stream is one FIFO and the goroutine that drains it.
//
// Its goroutine is the only reader of the FIFO. mu serialises the
// assembler and the writer between that goroutine and the partial-line
// timer; it is held for one frame at a time, never across a read.
type stream struct {
	d    *Driver
	file string
	info pipeline.Info

	f io.ReadCloser
	w pipeline.StreamWriter

	mu         sync.Mutex
	asm        *Assembler
	fr         *FrameReader
	timer      *time.Timer // partial-line timeout, armed while a group is open
	unflushed  int
	writeFails uint64
	ended      bool // writer closed; a late timer callback must not touch it

	nap *coalescer // nil when reads are not coalesced

	stopping   atomic.Bool
	detached   atomic.Bool
	drainTimer atomic.Pointer[time.Timer]
	closeOnce  sync.Once
}

func newStream(d *Driver, file string, info pipeline.Info) *stream {
	return &stream{d: d, file: file, info: info}
}

// open validates the options (through the backend), opens the FIFO and
// records the stream in the state folder.
func (s *stream) open(ctx context.Context, reattach bool) error {
	st, err := os.Stat(s.file)
	switch {
	case reattach && errors.Is(err, os.ErrNotExist):
		return errStreamGone
	case err != nil:
		return fmt.Errorf("FIFO %s: %w", s.file, err)
	case st.Mode()&os.ModeNamedPipe == 0:
		// Only dockerd's FIFOs are read, never an arbitrary file.
		return fmt.Errorf("%s is not a FIFO", s.file)
	}
	w, err := s.d.backend.OpenStream(ctx, &s.info)
	if err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, s.d.cfg.OpenTimeout)
	defer cancel()
	// O_RDONLY, not O_RDWR: dockerd already holds a read-write end, so the
	// open returns at once, and being a pure reader is what lets us see EOF
	// when dockerd closes its end after StopLogging.
	f, err := fifo.OpenFifo(octx, s.file, syscall.O_RDONLY, 0)
	if err != nil {
		w.Close()
		if reattach && (errors.Is(err, os.ErrNotExist) || octx.Err() != nil) {
			return errStreamGone
		}
		return fmt.Errorf("open FIFO %s: %w", s.file, err)
	}
	if !reattach {
		stored := s.info
		if san, ok := s.d.backend.(InfoSanitizer); ok {
			stored = san.SanitizeInfo(stored)
		}
		if err := s.d.state.save(s.file, &stored); err != nil {
			f.Close()
			w.Close()
			return fmt.Errorf("record stream state: %w", err)
		}
	}
	s.f, s.w = f, w
	s.asm = NewAssembler(s.d.cfg.MaxLineSize, s.d.cfg.Metrics)
	s.setPipeSize()
	if wait := s.d.cfg.ReadCoalesce; wait > 0 {
		s.nap = &coalescer{s: s, wait: wait, waits: s.d.cfg.Metrics.Counter("logship_driver_read_coalesce_waits_total"),
			hook: s.d.cfg.pauseHook}
	}
	return nil
}

func (s *stream) setPipeSize() {
	if s.d.cfg.PipeSize <= 0 {
		return
	}
	sc, ok := s.f.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		// EPERM above /proc/sys/fs/pipe-max-size: keep the default.
		_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, s.d.cfg.PipeSize)
	})
}

// stop is StopLogging: keep draining to EOF, but not forever.
func (s *stream) stop() {
	if s.stopping.Swap(true) {
		return
	}
	t := time.AfterFunc(s.d.cfg.DrainTimeout, func() {
		s.d.m.stopDrainTimeout.Inc()
		s.d.log.Warn("no EOF after StopLogging; closing FIFO", "container_id", s.info.ContainerID,
			"fifo", s.file, "after", s.d.cfg.DrainTimeout.String())
		s.closeFIFO()
	})
	s.drainTimer.Store(t)
}

// detach stops reading without ending the stream (plugin shutdown).
func (s *stream) detach() {
	s.detached.Store(true)
	s.closeFIFO()
}

func (s *stream) closeFIFO() {
	s.closeOnce.Do(func() { s.f.Close() })
}

func (s *stream) run() {
	ended := s.readLoop()
	if t := s.drainTimer.Load(); t != nil {
		t.Stop()
	}
	s.mu.Lock()
	if s.timer != nil {
		s.timer.Stop()
	}
	// Whatever is still unfinished is written as partial records: on EOF
	// no last chunk can come any more, and on detach the next process of
	// the plugin continues the line in a new record; the bytes are the same.
	_ = s.asm.FlushAll(s.emit)
	s.ended = true
	if ended && !s.detached.Load() {
		// Before the writer closes, so that whoever sees the stream's end
		// in the backend also sees it will not be re-attached.
		if err := s.d.state.remove(s.file); err != nil {
			s.d.log.Warn("cannot remove stream state", "container_id", s.info.ContainerID, "error", err)
		}
	}
	if err := s.w.Close(); err != nil {
		s.d.log.Error("closing stream writer", "container_id", s.info.ContainerID, "error", err)
	}
	s.mu.Unlock()
	s.closeFIFO()
	if s.nap != nil {
		s.nap.close()
	}
	s.d.streamDone(s)
}

// readLoop decodes frames until the stream ends. It reports whether the
// stream really ended (EOF, corruption) rather than being detached.
func (s *stream) readLoop() bool {
	var src io.Reader = s.f
	if s.nap != nil {
		s.nap.r = s.f
		src = s.nap
	}
	fr := NewFrameReader(src, s.d.cfg.ReadBufferSize, s.d.cfg.MaxFrameSize)
	s.fr = fr
	var e Entry
	for {
		err := fr.Next(&e)
		if err != nil {
			if errors.Is(err, ErrBadFrame) {
				// The length prefix was sound, so framing is intact.
				s.d.m.dropBadFrame.Inc()
				s.d.log.Warn("skipping malformed frame", "container_id", s.info.ContainerID, "error", err)
				continue
			}
			return s.endOfInput(err)
		}
		s.d.m.frames.Inc()
		s.d.m.bytes.Add(uint64(len(e.Line)))
		s.mu.Lock()
		var now time.Time
		if e.Partial {
			now = time.Now()
		}
		_ = s.asm.Add(&e, now, s.emit)
		s.unflushed += len(e.Line) + 32
		if fr.Buffered() == 0 || s.unflushed >= flushEvery {
			// About to block on the FIFO (or read a lot): publish.
			s.flushLocked()
		}
		s.armPartialTimerLocked()
		s.mu.Unlock()
	}
}

func (s *stream) endOfInput(err error) bool {
	switch {
	case s.detached.Load():
		return false
	case errors.Is(err, io.EOF):
		return true
	case errors.Is(err, ErrFrameTooLarge):
		// A 4-byte length prefix cannot be resynchronised. Keep draining so
		// the container never blocks, and count what is thrown away.
		s.d.m.dropFrameSize.Inc()
		s.d.log.Error("corrupt FIFO stream: frame over the size cap; discarding the rest of the stream",
			"container_id", s.info.ContainerID, "fifo", s.file, "error", err)
		n, _ := io.Copy(io.Discard, s.f)
		s.d.m.discardedBytes.Add(uint64(n) + uint64(s.fr.Buffered()))
		return !s.detached.Load()
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.d.m.dropTruncated.Inc()
		s.d.log.Warn("FIFO ended inside a frame", "container_id", s.info.ContainerID, "fifo", s.file)
		return true
	default:
		// Closed by the drain timeout, or a read error on the FIFO.
		if !s.stopping.Load() {
			s.d.log.Error("reading FIFO", "container_id", s.info.ContainerID, "fifo", s.file, "error", err)
		}
		return true
	}
}

// emit hands one record to the writer. It never fails the stream: a store
// that cannot take a record costs that record (counted), never a blocked
// container.
func (s *stream) emit(rec *pipeline.Record) error {
	if err := s.w.Write(rec); err != nil {
		s.d.m.dropStore.Inc()
		s.writeFails++
		if s.writeFails == 1 || s.writeFails%10000 == 0 {
			s.d.log.Error("cannot store record", "container_id", s.info.ContainerID,
				"failures", s.writeFails, "error", err)
		}
	}
	return nil
}

func (s *stream) flushLocked() {
	s.unflushed = 0
	if err := s.w.Flush(); err != nil {
		s.writeFails++
		if s.writeFails == 1 || s.writeFails%10000 == 0 {
			s.d.log.Error("cannot flush stream", "container_id", s.info.ContainerID, "error", err)
		}
	}
}

// armPartialTimerLocked makes sure an unfinished long line is written
// after PartialTimeout even if the FIFO goes quiet: dockerd sends the rest
// of a line only when the container writes its newline.
func (s *stream) armPartialTimerLocked() {
	oldest, ok := s.asm.Oldest()
	if !ok || s.timer != nil {
		return
	}
	wait := time.Until(oldest.Add(s.d.cfg.PartialTimeout))
	s.timer = time.AfterFunc(max(wait, 0), s.partialTimeout)
}

func (s *stream) partialTimeout() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timer = nil
	if s.ended {
		return
	}
	_ = s.asm.FlushOlder(time.Now().Add(-s.d.cfg.PartialTimeout), s.emit)
	s.flushLocked()
	s.armPartialTimerLocked()
}

// coalescer is the FIFO as the stream's FrameReader sees it: after a read
// that returned less than half of what was asked (the pipe was drained), it
// pauses for wait before the next read (see Config.ReadCoalesce). The
// FrameReader reads only when it has decoded every complete frame it holds,
// and the stream flushes its writer when nothing is buffered, so the pause
// always comes after what was read has been handed on.
type coalescer struct {
	s     *stream
	r     io.Reader
	wait  time.Duration
	short bool // the last read drained the pipe
	waits *pipeline.Counter
	hook  func() // replaces the pause in tests

	// A timerfd read through Go's netpoller: time.Sleep cannot pause for
	// less than about 1 ms when the process is otherwise idle (the runtime
	// then blocks in epoll_wait, whose timeout is in milliseconds), while a
	// timerfd wakes the poller on time, without tying up an OS thread as
	// nanosleep(2) would. nil until first used; time.Sleep if unavailable.
	tfd     *os.File
	tfdNum  int // tfd's descriptor; tfd.Fd() would switch it to blocking mode
	tfdErr  bool
	tfdSpec unix.ItimerSpec
	tbuf    [8]byte
}

func (c *coalescer) Read(p []byte) (int, error) {
	if c.short && !c.s.stopping.Load() && !c.s.detached.Load() {
		c.pause()
	}
	n, err := c.r.Read(p)
	c.short = n < len(p)/2
	return n, err
}

func (c *coalescer) pause() {
	c.waits.Inc()
	if c.hook != nil {
		c.hook()
		return
	}
	if c.tfd == nil && !c.tfdErr {
		fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
		if err != nil {
			c.tfdErr = true
		} else {
			// Non-blocking, so os.NewFile registers it with the poller.
			c.tfd, c.tfdNum = os.NewFile(uintptr(fd), "read-coalesce-timer"), fd
			c.tfdSpec.Value = unix.NsecToTimespec(c.wait.Nanoseconds())
		}
	}
	if c.tfd != nil {
		// One-shot (Interval zero); Settime re-arms it. A failure to arm
		// would leave the read waiting forever, so it falls back.
		if err := unix.TimerfdSettime(c.tfdNum, 0, &c.tfdSpec, nil); err == nil {
			if _, err := c.tfd.Read(c.tbuf[:]); err == nil {
				return
			}
		}
		c.tfd.Close()
		c.tfd, c.tfdErr = nil, true
	}
	time.Sleep(c.wait)
}

func (c *coalescer) close() {
	if c.tfd != nil {
		c.tfd.Close()
		c.tfd = nil
	}
}
