package ring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/klauspost/compress/zstd"

	"github.com/logship/logship/pipeline"
)

// Errors callers can test with errors.Is.
var (
	// ErrClosed is returned by a writer or Store used after Close.
	ErrClosed = errors.New("ring: closed")
	// ErrInvalidID is returned for a container id that is not 64
	// lower-case hex digits; it keeps ids from naming paths outside Dir.
	ErrInvalidID = errors.New("ring: invalid container id")
	// ErrLocked is returned by Open when another process holds Dir.
	ErrLocked = errors.New("ring: directory in use by another process")
	// ErrLineTooLong is returned by Write for a line over MaxLineSize.
	ErrLineTooLong = errors.New("ring: line too long")
	// ErrInvalidRecord is returned by Write for a record with a Source
	// other than stdout or stderr (or unknown).
	ErrInvalidRecord = errors.New("ring: invalid record")
	// ErrFull is returned by Write when sealed blocks cannot be written
	// (for instance, the disk is full) and the open block has reached its
	// memory cap. The record is not stored.
	ErrFull = errors.New("ring: open block full")
)

const (
	dirPerm    = 0o750
	filePerm   = 0o640
	lockName   = ".lock"
	walName    = "wal"
	metaName   = "meta.json"
	tmpSuffix  = ".tmp"
	trashPref  = ".trash-"
	idLen      = 64
	maxMetaLen = 1 << 20
)

// validID reports whether id looks like a Docker container id. Anything
// else could name a path outside Dir ("..", "/", ".lock").
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func checkID(id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: want 64 lower-case hex digits, got %d bytes", ErrInvalidID, len(id))
	}
	return nil
}

// Removal reasons, the values of the reason label of
// logship_ring_removed_total.
const (
	reasonGone     = "container_gone"
	reasonMaxAge   = "max_age"
	reasonMaxTotal = "max_total"
)

type metrics struct {
	recordsWritten *pipeline.Counter
	bytesWritten   *pipeline.Counter
	bytesStored    *pipeline.Counter
	evicted        *pipeline.Counter
	corrupt        *pipeline.Counter
	torn           *pipeline.Counter
	removed        map[string]*pipeline.Counter
}

func newMetrics(m *pipeline.Metrics) metrics {
	help := func(name, text string) *pipeline.Counter {
		m.Help(name, text)
		return m.Counter(name)
	}
	mt := metrics{
		recordsWritten: help("logship_ring_records_written_total", "Records appended to container rings."),
		bytesWritten:   help("logship_ring_bytes_written_total", "Line bytes appended to container rings, before compression."),
		bytesStored:    help("logship_ring_bytes_stored_total", "Bytes of sealed blocks written to segment files, after compression."),
		evicted:        help("logship_ring_evicted_records_total", "Records deleted by segment rotation (max-file)."),
		corrupt:        help("logship_ring_corrupt_blocks_total", "Damaged blocks skipped by readers."),
		torn:           help("logship_ring_torn_tails_total", "Incomplete segment or WAL tails cut off when a ring was opened after a crash."),
		removed:        map[string]*pipeline.Counter{},
	}
	m.Help("logship_ring_removed_total", "Rings of containers removed by cleanup, by reason.")
	for _, reason := range []string{reasonGone, reasonMaxAge, reasonMaxTotal} {
		mt.removed[reason] = m.Counter(`logship_ring_removed_total{reason="` + reason + `"}`)
	}
	return mt
}

// Store holds the rings of all containers under one folder. It is safe
// for concurrent use.
type Store struct {
	cfg  Config
	log  *slog.Logger
	m    metrics
	lock *os.File
	enc  *zstd.Encoder // nil unless Codec is zstd

	decOnce sync.Once
	dec     *zstd.Decoder
	decErr  error

	mu     sync.Mutex
	closed bool
	rings  map[string]*ring // rings with an open writer or an active reader
}

var _ pipeline.LogReader = (*Store)(nil)

// Open opens (creating it if needed) the store in cfg.Dir and takes an
// exclusive lock on it, so two plugin processes cannot write the same
// rings. Rings are opened, and recovered after a crash, on first use.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.Dir, dirPerm); err != nil {
		return nil, fmt.Errorf("ring: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cfg.Dir, lockName), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("ring: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, cfg.Dir)
		}
		return nil, fmt.Errorf("ring: lock %s: %w", cfg.Dir, err)
	}
	s := &Store{
		cfg:   cfg,
		log:   cfg.Logger,
		m:     newMetrics(cfg.Metrics),
		lock:  lock,
		rings: map[string]*ring{},
	}
	if cfg.Codec == CodecZstd {
		s.enc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderCRC(false), // blocks carry their own CRC
			zstd.WithWindowSize(1<<20),
			zstd.WithZeroFrames(true))
		if err != nil {
			lock.Close()
			return nil, fmt.Errorf("ring: zstd: %w", err)
		}
	}
	return s, nil
}

// decoder returns the shared zstd decoder, created on first need: rings
// written with s2 never pay for it. Its memory cap is what keeps a
// corrupt frame from claiming gigabytes.
func (s *Store) decoder() (*zstd.Decoder, error) {
	s.decOnce.Do(func() {
		s.dec, s.decErr = zstd.NewReader(nil,
			zstd.WithDecoderMaxMemory(maxBlockRaw),
			zstd.WithDecoderLowmem(true),
			zstd.IgnoreChecksum(true))
	})
	return s.dec, s.decErr
}

// Close flushes every open writer's records to its WAL and releases the
// store. Writers and readers still open get ErrClosed. Open blocks are not
// sealed: the WAL keeps them, and a restarted plugin continues them.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rings := make([]*ring, 0, len(s.rings))
	for _, r := range s.rings {
		rings = append(rings, r)
	}
	s.mu.Unlock()

	var errs []error
	for _, r := range rings {
		r.mu.Lock()
		if r.loaded && !r.closed {
			errs = append(errs, r.flushLocked())
		}
		r.closed = true
		r.closeFiles()
		r.broadcast()
		r.mu.Unlock()
	}
	// The zstd coders are not closed: used through EncodeAll and DecodeAll
	// they hold no goroutine or descriptor, and closing the decoder while
	// a read is inside DecodeAll would race with it.
	errs = append(errs, s.lock.Close()) // closing the fd drops the flock
	return errors.Join(errs...)
}

// errNoRing reports a read of a container that has no ring folder.
var errNoRing = fmt.Errorf("ring: no ring for container: %w", fs.ErrNotExist)

// acquire returns the container's ring, loading (and, after a crash,
// recovering) it on first use. create makes the folder if it is missing.
// Each acquire must be paired with a release.
func (s *Store) acquire(id string, create bool) (*ring, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	r := s.rings[id]
	if r == nil {
		r = &ring{s: s, id: id, dir: filepath.Join(s.cfg.Dir, id)}
		s.rings[id] = r
	}
	r.refs++
	s.mu.Unlock()

	// Loading reads files, so it runs under the ring's lock only: other
	// containers are not held up.
	r.mu.Lock()
	var err error
	switch {
	case r.closed:
		err = ErrClosed
	case !r.loaded:
		err = r.load(create)
	}
	r.mu.Unlock()
	if err != nil {
		s.release(r)
		return nil, err
	}
	return r, nil
}

// release drops a reference; the last one closes the ring's files and
// forgets it, so that idle containers cost no memory or descriptors.
func (s *Store) release(r *ring) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.refs--
	if r.refs > 0 {
		return
	}
	if s.rings[r.id] == r {
		delete(s.rings, r.id)
	}
	r.mu.Lock()
	r.closeFiles()
	r.loaded = false
	r.mu.Unlock()
}

// OpenWriter opens a writer on the container's ring, creating the ring if
// needed. Several writers may be open on one container (dockerd
// re-attaches, restarts containers, and opens throw-away loggers); they
// append to the same ring under its lock, and the latest opts apply. The
// open block is sealed when the last writer closes.
//
// meta is an opaque blob describing the container (for instance JSON with
// its name and image); when non-nil and different from the stored one it
// replaces the ring's meta file atomically. See ReadMeta.
func (s *Store) OpenWriter(containerID string, opts Options, meta []byte) (pipeline.StreamWriter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if len(meta) > maxMetaLen {
		return nil, fmt.Errorf("ring: meta is %d bytes, the limit is %d", len(meta), maxMetaLen)
	}
	r, err := s.acquire(containerID, true)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if meta != nil && !bytes.Equal(meta, r.meta) {
		if err := r.writeMeta(meta); err != nil {
			r.mu.Unlock()
			s.release(r)
			return nil, err
		}
	}
	r.writers++
	r.opts = opts
	r.mu.Unlock()
	return &writer{r: r}, nil
}

// ReadMeta returns the container's meta blob as last stored by
// OpenWriter. A ring without one gives an error wrapping fs.ErrNotExist.
func (s *Store) ReadMeta(containerID string) ([]byte, error) {
	if err := checkID(containerID); err != nil {
		return nil, err
	}
	return readCapped(filepath.Join(s.cfg.Dir, containerID, metaName), maxMetaLen)
}

// readCapped reads a whole file that must not exceed limit bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorrupt, path, limit)
	}
	return b, nil
}

// writer is one stream's handle on a shared ring.
type writer struct {
	r      *ring
	closed bool // guarded by r.mu
}

// Write appends rec to the open block in memory and sets rec.Seq. It makes
// no system call unless the block fills up and is sealed (compressed and
// appended to the current segment).
func (w *writer) Write(rec *pipeline.Record) error {
	if len(rec.Line) > MaxLineSize {
		return ErrLineTooLong
	}
	if rec.Source > pipeline.SourceStderr {
		return ErrInvalidRecord
	}
	r := w.r
	r.mu.Lock()
	if w.closed || r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	err := r.appendLocked(rec)
	r.mu.Unlock()
	return err
}

// Flush writes every record not yet on disk to the WAL in one write(2)
// and wakes followers. It does not fsync: it protects against a crash of
// the process, not of the machine.
func (w *writer) Flush() error {
	r := w.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if w.closed || r.closed {
		return ErrClosed
	}
	return r.flushLocked()
}

// Close flushes; the last writer of a ring seals its open block, which also
// ends the ring's followers once they have read everything. Close is
// idempotent.
func (w *writer) Close() error {
	r := w.r
	r.mu.Lock()
	if w.closed {
		r.mu.Unlock()
		return nil
	}
	w.closed = true
	var err error
	if !r.closed {
		r.writers--
		if r.writers == 0 {
			if err = r.sealLocked(); err != nil {
				// The WAL still makes the records durable.
				err = errors.Join(err, r.flushLocked())
			}
			r.broadcast()
		} else {
			err = r.flushLocked()
		}
	}
	r.mu.Unlock()
	r.s.release(r)
	return err
}
