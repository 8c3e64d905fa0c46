package pipeline

import (
	"context"
	"errors"
	"time"
)

// Source is the container stream a line came from.
type Source uint8

// The two streams dockerd forwards. SourceUnknown is never stored: frames with
// another source string are counted and dropped by the driver.
const (
	SourceUnknown Source = 0
	SourceStdout  Source = 1
	SourceStderr  Source = 2
)

// String returns the name dockerd uses on the wire ("stdout", "stderr").
func (s Source) String() string {
	switch s {
	case SourceStdout:
		return "stdout"
	case SourceStderr:
		return "stderr"
	}
	return ""
}

// ParseSource maps dockerd's source strings; anything else is SourceUnknown.
func ParseSource(b []byte) Source {
	switch string(b) { // no allocation: the compiler optimises string(b) in a switch
	case "stdout":
		return SourceStdout
	case "stderr":
		return SourceStderr
	}
	return SourceUnknown
}

// Record is one log line of one container, or one piece of a line.
//
// Ownership: a Record passed to a method is borrowed for the duration of the
// call. Line usually points into a reused read buffer; a callee that keeps the
// bytes must copy them.
type Record struct {
	// Seq is the record's position in its container's ring, assigned when it
	// is stored (first record = 1). Zero before that.
	Seq uint64
	// Time is dockerd's timestamp of the line, in Unix nanoseconds. For a line
	// dockerd split into 16 KiB chunks it is the first chunk's time.
	Time int64
	// Source is stdout or stderr.
	Source Source
	// Partial is true when the line did not end in a newline: the end of a
	// stream without a final newline, an unfinished line flushed after a
	// timeout, or a piece of a line longer than the maximum line size. The
	// next record of the same source continues it. `docker logs` prints a
	// partial record without a newline, so the output is exactly what the
	// container wrote.
	Partial bool
	// Line is the line without its trailing newline.
	Line []byte
}

// Timestamp returns Time as a time.Time.
func (r *Record) Timestamp() time.Time { return time.Unix(0, r.Time) }

// StreamWriter receives the records of one log stream (one FIFO), in order.
// Implementations never wait on the network: a slow or dead sink must not
// block a container's output.
type StreamWriter interface {
	// Write stores rec. It must not retain rec.Line after it returns.
	Write(rec *Record) error
	// Flush makes every record written so far visible to readers and
	// durable against a crash of this process (not of the machine). The
	// driver calls it whenever its input runs dry, so it runs at most once
	// per read from the FIFO.
	Flush() error
	// Close flushes and releases the stream. It is idempotent.
	Close() error
}

// ReadConfig selects records for `docker logs`. It has dockerd's semantics:
// Tail < 0 means all records, Tail == 0 none of the history, Tail = N the last
// N records; then records before Since are skipped and reading stops at the
// first record after Until (zero times mean no bound); with Follow, new
// records are delivered as they arrive until the container's last stream
// ends or the context is cancelled.
type ReadConfig struct {
	Since  time.Time
	Until  time.Time
	Tail   int
	Follow bool
}

// LogReader serves `docker logs`.
type LogReader interface {
	// ReadLogs calls fn for each selected record of the container, in the
	// order they were written. fn must not retain the record. An error from
	// fn stops the read and is returned.
	ReadLogs(ctx context.Context, containerID string, cfg ReadConfig, fn func(*Record) error) error
}

// ErrIdle is returned by a spool's Wait when the container has no open
// stream and nothing at or after the asked sequence number: nothing more
// will arrive until dockerd opens a new stream for it.
var ErrIdle = errors.New("no open stream and nothing new")
