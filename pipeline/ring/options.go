package ring

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/logship/logship/pipeline"
)

// Limits of the per-container log-opts. max-size is parsed with Docker's
// units.FromHumanSize, which is decimal, so the bounds are decimal too: the
// error message then reads "from 64kB to 1TB" rather than "65.54kB".
const (
	minMaxSize = 64 * 1000
	maxMaxSize = 1000 * 1000 * 1000 * 1000
	minMaxFile = 1
	maxMaxFile = 1000
)

// OptionKeys are the log-opts this package reads. They have the names,
// meanings and defaults of Docker's `local` driver.
var OptionKeys = []string{"max-size", "max-file", "compress"}

// Options are the per-container settings of a ring, from log-opts.
type Options struct {
	// MaxSize is the size in bytes of stored (compressed) data after which
	// a segment file is closed and a new one started ("max-size"). A
	// segment exceeds it by at most one block.
	MaxSize int64
	// MaxFile is how many segment files are kept ("max-file"). With 1, a
	// rotation deletes everything but the block that caused it, as Docker
	// does.
	MaxFile int
	// Compress stores blocks compressed ("compress"). When false, blocks are
	// stored as written, which costs disk but no CPU.
	Compress bool
}

// DefaultOptions returns the defaults of Docker's `local` driver: 20 MiB per
// file, 5 files, compressed.
func DefaultOptions() Options {
	return Options{MaxSize: 20 * 1024 * 1024, MaxFile: 5, Compress: true}
}

// ParseOptions reads the ring's log-opts from opts and reports every bad
// value at once. Keys it does not know are ignored: checking for unknown
// keys is the caller's job (pipeline.CheckKnown with OptionKeys).
//
// Unlike Docker's `local` driver, compress=true is accepted with
// max-file=1: the ring compresses each block as it is sealed, not a rotated
// file afterwards, so the combination is meaningful here.
func ParseOptions(opts map[string]string) (Options, error) {
	def := DefaultOptions()
	p := pipeline.NewOptionParser(opts)
	o := Options{
		MaxSize:  p.Size("max-size", def.MaxSize, minMaxSize, maxMaxSize),
		MaxFile:  p.Int("max-file", def.MaxFile, minMaxFile, maxMaxFile),
		Compress: p.Bool("compress", def.Compress),
	}
	if err := p.Err(); err != nil {
		return Options{}, err
	}
	return o, nil
}

// Validate reports every field out of range, with the same errors as
// ParseOptions: it runs the values through it, so that options built in
// code are held to exactly the rules and messages of log-opts.
func (o Options) Validate() error {
	_, err := ParseOptions(map[string]string{
		"max-size": strconv.FormatInt(o.MaxSize, 10),
		"max-file": strconv.Itoa(o.MaxFile),
	})
	return err
}

// Codec names for Config.Codec.
const (
	CodecS2   = "s2"
	CodecZstd = "zstd"
)

// Bounds of Config.BlockSize. The upper bound keeps a block, plus the
// largest line, under the decoders' size cap (maxBlockRaw).
const (
	minBlockSize = 4 << 10
	maxBlockSize = 4 << 20
)

// Config is the plugin-wide configuration of a Store. Zero values of the
// fields documented with a default mean that default; Validate checks the
// result.
type Config struct {
	// Dir is the root folder. Each container gets a sub-folder named by its
	// id. Required.
	Dir string
	// BlockSize is how many uncompressed bytes of records are collected
	// before they are compressed and appended to a segment as one block.
	// Larger blocks compress better and make --tail decompress more.
	// Default 128 KiB; 4 KiB to 4 MiB.
	BlockSize int
	// Codec compresses blocks of containers with compress=true: CodecS2
	// (default) or CodecZstd. Readers decode both, so it can be changed at
	// any time. See doc.go for the measurements behind the default.
	Codec string
	// Metrics receives the ring's counters; nil discards them.
	Metrics *pipeline.Metrics
	// Logger receives structured logs about corruption, recovery and
	// cleanup. Line contents are never logged. Nil discards.
	Logger *slog.Logger

	// ContainersDir is Docker's containers folder as the plugin sees it
	// (usually /var/lib/docker/containers), used to tell whether a
	// container still exists. "" means unknown.
	ContainersDir string
	// OrphanGrace is how long a ring whose container is gone is kept after
	// its last write. Default 5m.
	OrphanGrace time.Duration
	// MaxAge is how long a ring with no open writer is kept after its last
	// write when ContainersDir cannot be used. Default 168h.
	MaxAge time.Duration
	// MaxTotal caps the bytes of all rings without an open writer; the
	// least recently written are removed first. 0 (default) means no cap.
	MaxTotal int64
}

// DefaultConfig returns the defaults; Dir still has to be set.
func DefaultConfig() Config {
	return Config{
		BlockSize:   128 << 10,
		Codec:       CodecS2,
		OrphanGrace: 5 * time.Minute,
		MaxAge:      168 * time.Hour,
	}
}

// withDefaults fills the zero fields that have a default.
func (c Config) withDefaults() Config {
	def := DefaultConfig()
	if c.BlockSize == 0 {
		c.BlockSize = def.BlockSize
	}
	if c.Codec == "" {
		c.Codec = def.Codec
	}
	if c.OrphanGrace == 0 {
		c.OrphanGrace = def.OrphanGrace
	}
	if c.MaxAge == 0 {
		c.MaxAge = def.MaxAge
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of the configuration (after defaults) at
// once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("ring: Dir is required"))
	}
	if c.BlockSize < minBlockSize || c.BlockSize > maxBlockSize {
		errs = append(errs, fmt.Errorf("ring: BlockSize %d out of range [%d, %d]", c.BlockSize, minBlockSize, maxBlockSize))
	}
	if c.Codec != CodecS2 && c.Codec != CodecZstd {
		errs = append(errs, fmt.Errorf("ring: Codec %q unknown, want %q or %q", c.Codec, CodecS2, CodecZstd))
	}
	if c.OrphanGrace < 0 {
		errs = append(errs, errors.New("ring: OrphanGrace must not be negative"))
	}
	if c.MaxAge < 0 {
		errs = append(errs, errors.New("ring: MaxAge must not be negative"))
	}
	if c.MaxTotal < 0 {
		errs = append(errs, errors.New("ring: MaxTotal must not be negative"))
	}
	return errors.Join(errs...)
}
