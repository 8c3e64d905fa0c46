package driver

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/fifo"

	"github.com/logship/logship/pipeline"
)

// memBackend records what the driver hands it.
type memBackend struct {
	mu      sync.Mutex
	recs    map[string][]pipeline.Record // by container id
	open    int
	closed  int
	openErr error
	changed chan struct{} // signalled (non-blocking) on every write, flush and close
	stored  []pipeline.Record
}

func newMemBackend() *memBackend {
	return &memBackend{recs: map[string][]pipeline.Record{}, changed: make(chan struct{}, 1)}
}

func (b *memBackend) signal() {
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

func (b *memBackend) OpenStream(ctx context.Context, info *pipeline.Info) (pipeline.StreamWriter, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openErr != nil {
		return nil, b.openErr
	}
	b.open++
	return &memWriter{b: b, id: info.ContainerID}, nil
}

func (b *memBackend) ReadLogs(ctx context.Context, id string, cfg pipeline.ReadConfig, fn func(*pipeline.Record) error) error {
	b.mu.Lock()
	recs := slices.Clone(b.stored)
	b.mu.Unlock()
	for i := range recs {
		if err := fn(&recs[i]); err != nil {
			return err
		}
	}
	return nil
}

// wait blocks until cond holds (checked after every backend event).
func (b *memBackend) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		ok := cond()
		b.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-b.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (b *memBackend) lines(id string) []string {
	var out []string
	for _, r := range b.recs[id] {
		s := string(r.Line)
		if r.Partial {
			s += "<partial>"
		}
		out = append(out, s)
	}
	return out
}

type memWriter struct {
	b      *memBackend
	id     string
	closed bool
}

func (w *memWriter) Write(rec *pipeline.Record) error {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	if w.closed {
		return errors.New("write after close")
	}
	r := *rec
	r.Line = slices.Clone(rec.Line)
	w.b.recs[w.id] = append(w.b.recs[w.id], r)
	w.b.signal()
	return nil
}

func (w *memWriter) Flush() error { w.b.signal(); return nil }

func (w *memWriter) Close() error {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	if !w.closed {
		w.closed = true
		w.b.closed++
	}
	w.b.signal()
	return nil
}

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func testDriver(t *testing.T, be Backend, mod func(*Config)) *Driver {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StateDir = filepath.Join(t.TempDir(), "streams")
	cfg.Metrics = pipeline.NewMetrics()
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg, be)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.Shutdown(ctx)
	})
	return d
}

// dockerdFIFO creates and opens a FIFO the way dockerd does
// (daemon/logger/plugin_unix.go): O_RDWR|O_CREAT|O_NONBLOCK, mode 0700.
func dockerdFIFO(t *testing.T) (string, io.WriteCloser) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo-"+strings.ReplaceAll(t.Name(), "/", "_"))
	f, err := fifo.OpenFifo(context.Background(), path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_NONBLOCK, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return path, f
}

func writeFrame(t *testing.T, w io.Writer, e *Entry) {
	t.Helper()
	if _, err := w.Write(AppendFrame(nil, e)); err != nil {
		t.Fatal(err)
	}
}

func line(src string, ts int64, s string) *Entry {
	return &Entry{Source: []byte(src), TimeNano: ts, Line: []byte(s)}
}

func info() pipeline.Info {
	return pipeline.Info{ContainerID: testID, ContainerName: "/web", Config: map[string]string{}}
}

func TestStopLoggingDrainsToEOF(t *testing.T) {
	be := newMemBackend()
	d := testDriver(t, be, nil)
	path, w := dockerdFIFO(t)
	if err := d.StartLogging(context.Background(), path, info()); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		writeFrame(t, w, line("stdout", int64(i+1), fmt.Sprint("before-", i)))
	}
	// StopLogging answers at once; lines still in the pipe, and lines
	// dockerd writes before it closes its end, must all arrive.
	d.StopLogging(path)
	for i := range 100 {
		writeFrame(t, w, line("stderr", int64(i+101), fmt.Sprint("after-", i)))
	}
	w.Close()
	be.wait(t, "stream end", func() bool { return be.closed == 1 })
	got := be.lines(testID)
	if len(got) != 200 || got[0] != "before-0" || got[199] != "after-99" {
		t.Fatalf("got %d lines, first %q last %q", len(got), got[0], got[len(got)-1])
	}
	if _, err := os.Stat(d.state.path(path)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state file of an ended stream still there: %v", err)
	}
}

func TestStartLoggingRejectsBadOptionsWithoutState(t *testing.T) {
	be := newMemBackend()
	be.openErr = fmt.Errorf("%w: log-opt max-size: invalid value", pipeline.ErrInvalidOption)
	d := testDriver(t, be, nil)
	path, _ := dockerdFIFO(t)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	body, _ := json.Marshal(startLoggingRequest{File: path, Info: info()})
	resp := post(t, srv.URL+"/LogDriver.StartLogging", body)
	var r errResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatalf("reply %q is not JSON: %v", resp, err)
	}
	if !strings.Contains(r.Err, "max-size") {
		t.Fatalf("Err %q does not name the option", r.Err)
	}
	entries, _ := d.state.list()
	if len(entries) != 0 || d.activeCount() != 0 {
		t.Fatalf("refused stream left state: %d files, %d active", len(entries), d.activeCount())
	}
}

func post(t *testing.T, url string, body []byte) []byte {
	t.Helper()
	resp, err := http.Post(url, "", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d: %s", url, resp.StatusCode, b)
	}
	return b
}

func TestHandlerShapes(t *testing.T) {
	d := testDriver(t, newMemBackend(), nil)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	// dockerd sends Capabilities with an empty body and decodes {"Cap":{...}}.
	if got := strings.TrimSpace(string(post(t, srv.URL+"/LogDriver.Capabilities", nil))); got != `{"Cap":{"ReadLogs":true},"Err":""}` {
		t.Fatalf("Capabilities = %s", got)
	}
	// StopLogging for a file nobody knows must still succeed.
	if got := strings.TrimSpace(string(post(t, srv.URL+"/LogDriver.StopLogging", []byte(`{"File":"/run/docker/logging/nope"}`)))); got != `{"Err":""}` {
		t.Fatalf("StopLogging = %s", got)
	}
	if got := strings.TrimSpace(string(post(t, srv.URL+"/Plugin.Activate", nil))); got != `{"Implements":["LogDriver"]}` {
		t.Fatalf("Activate = %s", got)
	}
}

func TestReadLogsFramesAddNewlineToCompleteLines(t *testing.T) {
	be := newMemBackend()
	be.stored = []pipeline.Record{
		{Time: 1, Source: pipeline.SourceStdout, Line: []byte("complete")},
		{Time: 2, Source: pipeline.SourceStderr, Line: []byte("no newline"), Partial: true},
		{Time: 3, Source: pipeline.SourceStdout, Line: nil},
	}
	d := testDriver(t, be, nil)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	req, _ := json.Marshal(readLogsRequest{Info: info(), Config: readConfig{Tail: -1}})
	out := post(t, srv.URL+"/LogDriver.ReadLogs", req)
	fr := NewFrameReader(bytes.NewReader(out), 0, 0)
	var got []string
	var e Entry
	for {
		err := fr.Next(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s|%d|%q", e.Source, e.TimeNano, e.Line))
	}
	want := []string{`stdout|1|"complete\n"`, `stderr|2|"no newline"`, `stdout|3|"\n"`}
	if !slices.Equal(got, want) {
		t.Fatalf("frames\n got %q\nwant %q", got, want)
	}
}

func TestReattachAfterShutdownLosesNothing(t *testing.T) {
	be := newMemBackend()
	stateDir := filepath.Join(t.TempDir(), "streams")
	d1 := testDriver(t, be, func(c *Config) { c.StateDir = stateDir })
	path, w := dockerdFIFO(t)
	if err := d1.StartLogging(context.Background(), path, info()); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		writeFrame(t, w, line("stdout", int64(i+1), fmt.Sprint("l", i)))
	}
	be.wait(t, "first 50", func() bool { return len(be.recs[testID]) == 50 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// While no plugin reads, dockerd keeps writing into the pipe.
	for i := 50; i < 100; i++ {
		writeFrame(t, w, line("stdout", int64(i+1), fmt.Sprint("l", i)))
	}
	d2 := testDriver(t, be, func(c *Config) { c.StateDir = stateDir })
	n, err := d2.Reattach(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Reattach = %d, %v", n, err)
	}
	be.wait(t, "100 lines", func() bool { return len(be.recs[testID]) == 100 })
	got := be.lines(testID)
	for i, l := range got {
		if l != fmt.Sprint("l", i) {
			t.Fatalf("line %d = %q", i, l)
		}
	}
	w.Close()
	be.wait(t, "stream end", func() bool { return be.closed == 2 })
}

func TestReattachDropsEndedStreams(t *testing.T) {
	be := newMemBackend()
	stateDir := filepath.Join(t.TempDir(), "streams")
	st, err := newStateStore(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	inf := info()
	gone := filepath.Join(t.TempDir(), "gone")
	if err := st.save(gone, &inf); err != nil {
		t.Fatal(err)
	}
	// A FIFO that exists but whose writer (dockerd) is gone.
	orphan := filepath.Join(t.TempDir(), "orphan")
	if err := syscall.Mkfifo(orphan, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := st.save(orphan, &inf); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, be, func(c *Config) { c.StateDir = stateDir; c.OpenTimeout = 200 * time.Millisecond })
	n, err := d.Reattach(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("Reattach = %d, %v", n, err)
	}
	if entries, _ := st.list(); len(entries) != 0 {
		t.Fatalf("state of ended streams kept: %v", entries)
	}
}

func TestPartialLineFlushedAfterTimeout(t *testing.T) {
	be := newMemBackend()
	d := testDriver(t, be, func(c *Config) { c.PartialTimeout = 50 * time.Millisecond })
	path, w := dockerdFIFO(t)
	if err := d.StartLogging(context.Background(), path, info()); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("x"), 16384)
	writeFrame(t, w, &Entry{Source: []byte("stdout"), TimeNano: 7, Line: chunk, Partial: true,
		HasPartialMeta: true, PartialID: []byte("abc"), PartialOrdinal: 1})
	// No last chunk comes (the container has not written its newline yet):
	// the piece must still become visible.
	be.wait(t, "timed-out partial", func() bool { return len(be.recs[testID]) == 1 })
	r := be.recs[testID][0]
	if !r.Partial || len(r.Line) != 16384 || r.Time != 7 {
		t.Fatalf("got partial=%v len=%d time=%d", r.Partial, len(r.Line), r.Time)
	}
	// The rest of the line continues in a new record.
	writeFrame(t, w, &Entry{Source: []byte("stdout"), TimeNano: 7, Line: []byte("end"), Partial: true,
		HasPartialMeta: true, PartialID: []byte("abc"), PartialOrdinal: 2, PartialLast: true})
	be.wait(t, "rest", func() bool { return len(be.recs[testID]) == 2 })
	if r := be.recs[testID][1]; r.Partial || string(r.Line) != "end" {
		t.Fatalf("continuation = %q partial=%v", r.Line, r.Partial)
	}
}

func TestOversizedFrameNeverBlocksTheWriter(t *testing.T) {
	be := newMemBackend()
	m := pipeline.NewMetrics()
	d := testDriver(t, be, func(c *Config) { c.Metrics = m })
	path, w := dockerdFIFO(t)
	if err := d.StartLogging(context.Background(), path, info()); err != nil {
		t.Fatal(err)
	}
	writeFrame(t, w, line("stdout", 1, "good"))
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], 0xFFFFFFF0)
	if _, err := w.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	// 4 MiB more: far above the 64 KiB pipe, so these writes only finish if
	// the driver keeps draining.
	junk := bytes.Repeat([]byte{0xAB}, 64<<10)
	for range 64 {
		if _, err := w.Write(junk); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	be.wait(t, "stream end", func() bool { return be.closed == 1 })
	if got := be.lines(testID); !slices.Equal(got, []string{"good"}) {
		t.Fatalf("lines = %q", got)
	}
	if v, _ := m.Value(`logship_driver_dropped_records_total{reason="frame_too_large"}`); v != 1 {
		t.Fatalf("frame_too_large = %v", v)
	}
}

func TestStartLoggingValidatesInput(t *testing.T) {
	d := testDriver(t, newMemBackend(), nil)
	inf := info()
	if err := d.StartLogging(context.Background(), "relative/path", inf); err == nil {
		t.Fatal("relative FIFO path accepted")
	}
	inf.ContainerID = "../../etc"
	if err := d.StartLogging(context.Background(), "/run/docker/logging/x", inf); err == nil {
		t.Fatal("bad container id accepted")
	}
}

func FuzzHandler(f *testing.F) {
	f.Add("/LogDriver.StartLogging", []byte(`{"File":"/x","Info":{"ContainerID":"abc"}}`))
	f.Add("/LogDriver.StopLogging", []byte(`{"File":"/x"}`))
	f.Add("/LogDriver.ReadLogs", []byte(`{"Info":{"ContainerID":"`+testID+`"},"Config":{"Tail":-1}}`))
	f.Add("/LogDriver.Capabilities", []byte(``))
	f.Add("/LogDriver.StartLogging", []byte(`{"File":`))
	dir := f.TempDir()
	cfg := DefaultConfig()
	cfg.StateDir = filepath.Join(dir, "streams")
	cfg.OpenTimeout = 10 * time.Millisecond
	d, err := New(cfg, newMemBackend())
	if err != nil {
		f.Fatal(err)
	}
	h := d.Handler()
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req := httptest.NewRequest(http.MethodPost, "http://plugin"+strings.Map(func(r rune) rune {
			if r <= ' ' || r == '#' || r == '?' || r == '%' || r > '~' {
				return '_'
			}
			return r
		}, path), bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK && strings.HasSuffix(path, "ReadLogs") {
			return // a frame stream, not JSON
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s: reply %q is not JSON", path, rec.Body.Bytes())
		}
	})
}
