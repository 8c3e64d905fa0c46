package driver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/logship/logship/pipeline"
)

// Backend receives the streams the driver reads and serves `docker logs`.
// cmd/logship builds it from the pipeline stages, the masker and the ring.
type Backend interface {
	// OpenStream validates info.Config (the container's log-opts) and
	// returns the writer for one new stream. Its error is shown to the user
	// by `docker run`, so it must name the bad option. It must not block on
	// the network.
	OpenStream(ctx context.Context, info *pipeline.Info) (pipeline.StreamWriter, error)
	pipeline.LogReader
}

// InfoSanitizer is implemented by a Backend that wants the Info the driver
// persists for re-attaching (see doc.go) stripped of secrets: dockerd's Info
// carries the container's whole environment, and the state folder must not
// become a copy of it. The result must still be accepted by OpenStream.
type InfoSanitizer interface {
	SanitizeInfo(info pipeline.Info) pipeline.Info
}

// Config is the driver's plugin-wide configuration.
type Config struct {
	// StateDir holds one file per open stream, so that a restarted plugin
	// re-opens the FIFOs it was reading. Required.
	StateDir string
	// MaxFrameSize caps one FIFO frame; a larger size header means the
	// stream is corrupt (default 1 MiB, as Docker's local driver).
	MaxFrameSize int
	// MaxLineSize caps one reassembled line; longer lines are split into
	// several records, counted (default 1 MiB).
	MaxLineSize int
	// PartialTimeout is how long an unfinished long line waits for its last
	// chunk before what arrived is written as a partial record (default 2s).
	PartialTimeout time.Duration
	// ReadBufferSize is the FIFO read buffer per stream (default 64 KiB).
	ReadBufferSize int
	// PipeSize asks the kernel for a bigger FIFO buffer (F_SETPIPE_SZ), so a
	// container does not stall while the plugin is briefly busy. 0 keeps
	// the kernel's 64 KiB. Best effort (default 1 MiB).
	PipeSize int
	// OpenTimeout bounds opening a FIFO. dockerd holds its end open before
	// StartLogging, so opening is instant; it only times out when a
	// re-attached stream's writer is gone (default 5s).
	OpenTimeout time.Duration
	// DrainTimeout bounds how long a stream keeps reading after StopLogging
	// while waiting for EOF. dockerd closes its end right after a
	// successful StopLogging, so EOF normally follows at once (default 2m).
	DrainTimeout time.Duration
	// ReadCoalesce is how long a stream waits, after a read that found its
	// FIFO nearly empty, before it reads again (0 reads at once; at most
	// MaxReadCoalesce). dockerd writes one frame per line, each with its
	// own write(2); a reader that returns to the FIFO as soon as it caught
	// up is woken every few lines, and on 2 cores those context switches
	// (and the pipe lock dockerd contends on) are most of both processes'
	// CPU. A short pause lets a few hundred frames pile up in the 1 MiB
	// pipe for one read. Nothing waits longer than the pause: what was read
	// is flushed to the writer before it, so a lone line is never held
	// back; the pipe is far from full during it (200 µs is about 40 KB at
	// full speed); and after StopLogging it is skipped, so EOF is seen at
	// once (default 200µs).
	ReadCoalesce time.Duration
	// FollowKeepAlive is the idle interval after which a following ReadLogs
	// sends a keep-alive frame, so a reader whose client went away is
	// noticed (default 30s; negative disables).
	FollowKeepAlive time.Duration

	Logger  *slog.Logger
	Metrics *pipeline.Metrics

	pauseHook func() // tests: replaces the coalescing pause
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{
		MaxFrameSize:    DefaultMaxFrameSize,
		MaxLineSize:     1 << 20,
		PartialTimeout:  2 * time.Second,
		ReadBufferSize:  64 << 10,
		PipeSize:        1 << 20,
		OpenTimeout:     5 * time.Second,
		DrainTimeout:    2 * time.Minute,
		ReadCoalesce:    200 * time.Microsecond,
		FollowKeepAlive: 30 * time.Second,
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.StateDir == "" || !filepath.IsAbs(c.StateDir) {
		errs = append(errs, errors.New("driver: StateDir must be an absolute path"))
	}
	if c.MaxFrameSize < 1<<10 || c.MaxFrameSize > 64<<20 {
		errs = append(errs, fmt.Errorf("driver: MaxFrameSize %d out of range [1KiB, 64MiB]", c.MaxFrameSize))
	}
	if c.MaxLineSize < 1<<10 || c.MaxLineSize > 8<<20 {
		errs = append(errs, fmt.Errorf("driver: MaxLineSize %d out of range [1KiB, 8MiB] (the ring stores lines up to 8 MiB)", c.MaxLineSize))
	}
	if c.PartialTimeout <= 0 {
		errs = append(errs, errors.New("driver: PartialTimeout must be positive"))
	}
	if c.ReadBufferSize < 4<<10 {
		errs = append(errs, errors.New("driver: ReadBufferSize must be at least 4 KiB"))
	}
	if c.PipeSize < 0 {
		errs = append(errs, errors.New("driver: PipeSize must not be negative"))
	}
	if c.ReadCoalesce < 0 || c.ReadCoalesce > MaxReadCoalesce {
		errs = append(errs, fmt.Errorf("driver: ReadCoalesce must be from 0 to %v", MaxReadCoalesce))
	}
	if c.OpenTimeout <= 0 || c.DrainTimeout <= 0 {
		errs = append(errs, errors.New("driver: OpenTimeout and DrainTimeout must be positive"))
	}
	return errors.Join(errs...)
}

// Driver implements dockerd's log-driver plugin protocol: it reads one FIFO
// per stream and hands records to the Backend, and it serves ReadLogs from
// the Backend. Streams are keyed by FIFO path, never by container id:
// dockerd opens several streams for one container (re-attach, restarts,
// throw-away loggers for `docker logs` of a stopped container).
type Driver struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	state   *stateStore
	m       driverMetrics

	mu       sync.Mutex
	streams  map[string]*stream
	shutdown bool
	wg       sync.WaitGroup
}

type driverMetrics struct {
	started, reattached, ended, reattachGone *pipeline.Counter
	active                                   *pipeline.Gauge
	frames, bytes                            *pipeline.Counter
	dropStore, dropBadFrame, dropFrameSize   *pipeline.Counter
	dropTruncated                            *pipeline.Counter
	discardedBytes                           *pipeline.Counter
	stopDrainTimeout                         *pipeline.Counter
}

func newDriverMetrics(m *pipeline.Metrics) driverMetrics {
	m.Help("logship_driver_dropped_records_total", "records lost by the driver, by reason")
	return driverMetrics{
		started:          m.Counter("logship_driver_streams_started_total"),
		reattached:       m.Counter("logship_driver_streams_reattached_total"),
		reattachGone:     m.Counter("logship_driver_streams_reattach_gone_total"),
		ended:            m.Counter("logship_driver_streams_ended_total"),
		active:           m.Gauge("logship_driver_streams_active"),
		frames:           m.Counter("logship_driver_frames_total"),
		bytes:            m.Counter("logship_driver_line_bytes_total"),
		dropStore:        m.Counter(`logship_driver_dropped_records_total{reason="store_error"}`),
		dropBadFrame:     m.Counter(`logship_driver_dropped_records_total{reason="bad_frame"}`),
		dropFrameSize:    m.Counter(`logship_driver_dropped_records_total{reason="frame_too_large"}`),
		dropTruncated:    m.Counter(`logship_driver_dropped_records_total{reason="truncated_frame"}`),
		discardedBytes:   m.Counter(`logship_driver_discarded_bytes_total{reason="unrecoverable_stream"}`),
		stopDrainTimeout: m.Counter("logship_driver_stop_drain_timeouts_total"),
	}
}

// New returns a driver. It does not re-attach; call Reattach.
func New(cfg Config, backend Backend) (*Driver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if backend == nil {
		return nil, errors.New("driver: nil backend")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := newStateStore(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	return &Driver{
		cfg:     cfg,
		backend: backend,
		log:     log,
		state:   st,
		m:       newDriverMetrics(cfg.Metrics),
		streams: map[string]*stream{},
	}, nil
}

// ErrShutdown is returned by StartLogging after Shutdown.
var ErrShutdown = errors.New("logship is shutting down")

// StartLogging opens the FIFO at file and starts reading it. It does only
// fast work: with no timeout on dockerd's side, a slow reply would make
// `docker run` hang.
func (d *Driver) StartLogging(ctx context.Context, file string, info pipeline.Info) error {
	if !filepath.IsAbs(file) {
		return fmt.Errorf("StartLogging: FIFO path %q is not absolute", file)
	}
	file = filepath.Clean(file)
	if !validContainerID(info.ContainerID) {
		return fmt.Errorf("StartLogging: invalid container id %q", info.ContainerID)
	}
	if err := d.start(ctx, file, info, false); err != nil {
		return err
	}
	d.m.started.Inc()
	return nil
}

// start reserves file in the registry, then does the slow work outside the
// lock, so that one lock section decides who owns the path.
func (d *Driver) start(ctx context.Context, file string, info pipeline.Info, reattach bool) error {
	d.mu.Lock()
	if d.shutdown {
		d.mu.Unlock()
		return ErrShutdown
	}
	if _, ok := d.streams[file]; ok {
		d.mu.Unlock()
		return fmt.Errorf("StartLogging: already logging to %s", file)
	}
	s := newStream(d, file, info)
	d.streams[file] = s
	d.wg.Add(1)
	d.mu.Unlock()

	err := s.open(ctx, reattach)
	if err != nil {
		d.mu.Lock()
		delete(d.streams, file)
		d.mu.Unlock()
		d.wg.Done()
		return err
	}
	d.m.active.Set(float64(d.activeCount()))
	go s.run()
	return nil
}

func (d *Driver) activeCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.streams)
}

// StopLogging marks the stream as ending and returns at once. It always
// succeeds, also for unknown files: an error would make dockerd leak the
// FIFO and the plugin's reference count. The stream keeps reading until
// EOF, which comes when dockerd closes its end right after this reply; that
// is how no line still in the pipe is lost.
func (d *Driver) StopLogging(file string) {
	d.mu.Lock()
	s := d.streams[filepath.Clean(file)]
	d.mu.Unlock()
	if s != nil {
		s.stop()
	}
}

// streamDone is called by a stream's goroutine when it has ended.
func (d *Driver) streamDone(s *stream) {
	d.mu.Lock()
	if d.streams[s.file] == s {
		delete(d.streams, s.file)
	}
	n := len(d.streams)
	d.mu.Unlock()
	d.m.active.Set(float64(n))
	d.m.ended.Inc()
	d.wg.Done()
}

// Reattach re-opens the streams recorded in the state folder by an earlier
// process of the plugin (killed, crashed, disabled and re-enabled, or
// upgraded). dockerd does not send StartLogging again after a plugin
// restart, and the containers block once their 64 KiB pipe is full, so this
// is what keeps them running. A stream whose FIFO is gone, or has no writer
// any more, ended while the plugin was down; its state is dropped.
func (d *Driver) Reattach(ctx context.Context) (int, error) {
	entries, err := d.state.list()
	if err != nil {
		return 0, err
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		n  int
	)
	// In parallel: a dead FIFO costs OpenTimeout, and dockerd gives a
	// restarted plugin only a few seconds before it gives up on it.
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := d.start(ctx, e.File, e.Info, true)
			switch {
			case err == nil:
				d.m.reattached.Inc()
				mu.Lock()
				n++
				mu.Unlock()
				d.log.Info("re-attached stream", "container_id", e.Info.ContainerID, "fifo", e.File)
			case errors.Is(err, errStreamGone):
				d.m.reattachGone.Inc()
				d.log.Info("stream ended while logship was down", "container_id", e.Info.ContainerID, "fifo", e.File)
				if rerr := d.state.remove(e.File); rerr != nil {
					d.log.Warn("cannot remove stream state", "error", rerr)
				}
			default:
				d.log.Error("cannot re-attach stream", "container_id", e.Info.ContainerID, "fifo", e.File, "error", err)
			}
		}()
	}
	wg.Wait()
	return n, nil
}

// Shutdown stops reading every stream without ending it: what was read is
// flushed to the backend, what is still in the FIFOs stays there, and the
// state files stay, so the next process of the plugin re-attaches. It
// returns when every stream goroutine has finished or ctx is done.
func (d *Driver) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	d.shutdown = true
	all := make([]*stream, 0, len(d.streams))
	for _, s := range d.streams {
		all = append(all, s)
	}
	d.mu.Unlock()
	for _, s := range all {
		s.detach()
	}
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("driver shutdown: %w", ctx.Err())
	}
}

// validContainerID accepts what dockerd sends: 64 lowercase hex characters.
// Anything else is refused before it can name a file.
func validContainerID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
