package driver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/logship/logship/pipeline"
)

// maxRequestBody caps a request from dockerd. StartLogging carries the
// container's env and labels; 4 MiB is far above any real container.
const maxRequestBody = 4 << 20

// The request and response shapes are those of moby's daemon/logger/proxy.go
// and plugin.go, not those of the published docs (see doc.go).
type startLoggingRequest struct {
	File string
	Info pipeline.Info
}

type stopLoggingRequest struct {
	File string
}

type readLogsRequest struct {
	Info   pipeline.Info
	Config readConfig
}

// readConfig is moby's logger.ReadConfig as it goes over the wire.
type readConfig struct {
	Since  time.Time
	Until  time.Time
	Tail   int
	Follow bool
}

type errResponse struct {
	Err string
}

type capabilitiesResponse struct {
	Cap struct{ ReadLogs bool }
	Err string
}

// Handler returns the plugin's HTTP API, to be served on the unix socket
// named in config.json.
func (d *Driver) Handler() http.Handler {
	// A switch, not http.ServeMux: the mux answers odd paths with
	// redirects that have no JSON body.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/LogDriver.StartLogging":
			d.handleStart(w, r)
		case "/LogDriver.StopLogging":
			d.handleStop(w, r)
		case "/LogDriver.ReadLogs":
			d.handleReadLogs(w, r)
		case "/LogDriver.Capabilities":
			var resp capabilitiesResponse
			resp.Cap.ReadLogs = true
			reply(w, http.StatusOK, resp)
		case "/Plugin.Activate":
			// Only legacy (v1) plugins are activated; managed plugins
			// never get this call. It costs nothing to answer.
			reply(w, http.StatusOK, map[string][]string{"Implements": {"LogDriver"}})
		default:
			reply(w, http.StatusNotFound, errResponse{Err: "logship: unknown endpoint " + r.URL.Path})
		}
	})
}

// decode reads a JSON request body with a size cap. dockerd sends no
// Content-Type, so none is checked.
func decode(r *http.Request, v any) error {
	body := http.MaxBytesReader(nil, r.Body, maxRequestBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
}

// reply writes a JSON body; dockerd treats an empty 200 body as an error,
// so every reply has one.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (d *Driver) handleStart(w http.ResponseWriter, r *http.Request) {
	var req startLoggingRequest
	if err := decode(r, &req); err != nil {
		reply(w, http.StatusOK, errResponse{Err: "logship: " + err.Error()})
		return
	}
	if err := d.StartLogging(r.Context(), req.File, req.Info); err != nil {
		d.log.Warn("StartLogging refused", "container_id", req.Info.ContainerID, "error", err)
		// HTTP 200 with Err set: dockerd then shows the message as is
		// ("failed to initialize logging driver: <Err>").
		reply(w, http.StatusOK, errResponse{Err: "logship: " + err.Error()})
		return
	}
	d.log.Debug("StartLogging", "container_id", req.Info.ContainerID, "fifo", req.File)
	reply(w, http.StatusOK, errResponse{})
}

func (d *Driver) handleStop(w http.ResponseWriter, r *http.Request) {
	var req stopLoggingRequest
	if err := decode(r, &req); err == nil {
		d.StopLogging(req.File)
		d.log.Debug("StopLogging", "fifo", req.File)
	}
	// Always success: on an error dockerd would leak the FIFO and keep the
	// plugin "in use" until it restarts.
	reply(w, http.StatusOK, errResponse{})
}

func (d *Driver) handleReadLogs(w http.ResponseWriter, r *http.Request) {
	var req readLogsRequest
	if err := decode(r, &req); err != nil {
		reply(w, http.StatusBadRequest, errResponse{Err: "logship: " + err.Error()})
		return
	}
	if !validContainerID(req.Info.ContainerID) {
		reply(w, http.StatusBadRequest, errResponse{Err: "logship: invalid container id"})
		return
	}
	cfg := pipeline.ReadConfig{
		Since: req.Config.Since, Until: req.Config.Until,
		Tail: req.Config.Tail, Follow: req.Config.Follow,
	}
	w.Header().Set("Content-Type", "application/x-json-stream")
	w.WriteHeader(http.StatusOK)
	fw := newFrameWriter(w, d.cfg.FollowKeepAlive, cfg.Follow)
	defer fw.close()
	err := d.backend.ReadLogs(r.Context(), req.Info.ContainerID, cfg, fw.write)
	if err == nil {
		err = fw.flush()
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errClientGone) {
		d.log.Warn("ReadLogs ended with an error", "container_id", req.Info.ContainerID, "error", err)
	}
}

var errClientGone = errors.New("reader went away")

// frameWriter encodes records as dockerd's length-prefixed LogEntry frames
// into a buffer that is flushed shortly after the last write, so a full
// read goes out in large writes and a follow is still real-time.
type frameWriter struct {
	mu        sync.Mutex
	w         io.Writer
	fl        http.Flusher
	bw        *bufio.Writer
	buf       []byte // frame scratch
	line      []byte // line + '\n' scratch
	err       error
	pending   *time.Timer
	keepAlive *time.Timer
	interval  time.Duration
	closed    bool
}

// flushDelay is how long a written frame may wait for more before it is
// sent: short enough for `docker logs -f`, long enough to batch a burst.
const flushDelay = 10 * time.Millisecond

func newFrameWriter(w io.Writer, keepAlive time.Duration, follow bool) *frameWriter {
	fw := &frameWriter{w: w, bw: bufio.NewWriterSize(w, 64<<10), interval: keepAlive}
	fw.fl, _ = w.(http.Flusher)
	if follow && keepAlive > 0 {
		fw.keepAlive = time.AfterFunc(keepAlive, fw.sendKeepAlive)
	}
	return fw
}

func (fw *frameWriter) write(rec *pipeline.Record) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.err != nil {
		return fw.err
	}
	e := Entry{Source: sourceBytes(rec.Source), TimeNano: rec.Time, Line: rec.Line}
	if !rec.Partial {
		// dockerd prints Line as is; complete lines need their newline back.
		fw.line = append(append(fw.line[:0], rec.Line...), '\n')
		e.Line = fw.line
	}
	fw.buf = AppendFrame(fw.buf[:0], &e)
	if _, err := fw.bw.Write(fw.buf); err != nil {
		fw.err = fmt.Errorf("%w: %v", errClientGone, err)
		return fw.err
	}
	if fw.pending == nil {
		fw.pending = time.AfterFunc(flushDelay, fw.timedFlush)
	}
	if fw.keepAlive != nil {
		fw.keepAlive.Reset(fw.interval)
	}
	return nil
}

var (
	stdoutBytes = []byte("stdout")
	stderrBytes = []byte("stderr")
)

func sourceBytes(s pipeline.Source) []byte {
	if s == pipeline.SourceStderr {
		return stderrBytes
	}
	return stdoutBytes
}

func (fw *frameWriter) timedFlush() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.pending = nil
	fw.flushLocked()
}

func (fw *frameWriter) flush() error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.flushLocked()
	return fw.err
}

func (fw *frameWriter) flushLocked() {
	if fw.err != nil || fw.closed {
		return
	}
	if err := fw.bw.Flush(); err != nil {
		fw.err = fmt.Errorf("%w: %v", errClientGone, err)
		return
	}
	if fw.fl != nil {
		fw.fl.Flush()
	}
}

// sendKeepAlive writes a frame with an empty source and time 0. dockerd
// only checks whether its client is gone between frames, so without it a
// follow whose client left would hang until the container logs again. The
// frame itself is dropped by dockerd: time 0 is before any Since and the
// API writers print only stdout and stderr.
func (fw *frameWriter) sendKeepAlive() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.closed || fw.err != nil {
		return
	}
	fw.buf = AppendFrame(fw.buf[:0], &Entry{})
	if _, err := fw.bw.Write(fw.buf); err != nil {
		fw.err = fmt.Errorf("%w: %v", errClientGone, err)
		return
	}
	fw.flushLocked()
	fw.keepAlive.Reset(fw.interval)
}

func (fw *frameWriter) close() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.flushLocked()
	fw.closed = true
	if fw.pending != nil {
		fw.pending.Stop()
	}
	if fw.keepAlive != nil {
		fw.keepAlive.Stop()
	}
}
