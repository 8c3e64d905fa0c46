// Command nopplugin is a do-nothing Docker log-driver plugin: the ceiling
// that `make bench` measures logship and Docker's own drivers against. It
// answers the plugin protocol, reads every FIFO dockerd hands it and throws
// the bytes away. It is test code: it keeps no state, decodes no frame and
// cannot serve `docker logs` (ReadLogs is false, so run it with
// --log-opt cache-disabled=true, or dockerd adds a local-driver copy of
// every line).
//
// By default it reads the way logship's driver does (64 KiB reads, the FIFO
// grown to 1 MiB with F_SETPIPE_SZ), so that the gap to logship is the
// pipeline's cost and not a difference in I/O pattern. NOP_READ_BUF=0
// makes it a plain io.Copy to io.Discard (8 KiB reads), NOP_PIPE_SIZE=0
// leaves the kernel's 64 KiB pipe. NOP_NAP_US=N sleeps N µs after a read
// that returned less than half the buffer, so that dockerd's writes pile
// up in the pipe instead of waking the reader once per frame (an
// experiment on read coalescing; the 1 MiB pipe absorbs the pause).
package main

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const socketPath = "/run/docker/plugins/nop.sock"

var (
	readBuf  = envInt("NOP_READ_BUF", 64<<10)
	pipeSize = envInt("NOP_PIPE_SIZE", 1<<20)
	nap      = time.Duration(envInt("NOP_NAP_US", 0)) * time.Microsecond

	mu      sync.Mutex
	streams = map[string]bool{} // FIFO path → being read
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1+json")
	_ = json.NewEncoder(w).Encode(v)
}

type errReply struct {
	Err string
}

func main() {
	log.SetFlags(0)
	mux := http.NewServeMux()
	mux.HandleFunc("/Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string][]string{"Implements": {"LogDriver"}})
	})
	mux.HandleFunc("/LogDriver.Capabilities", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"Cap": map[string]bool{"ReadLogs": false}})
	})
	mux.HandleFunc("/LogDriver.StartLogging", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ File string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.File == "" {
			reply(w, errReply{Err: "nopplugin: bad StartLogging request"})
			return
		}
		if err := start(req.File); err != nil {
			reply(w, errReply{Err: err.Error()})
			return
		}
		reply(w, errReply{})
	})
	mux.HandleFunc("/LogDriver.StopLogging", func(w http.ResponseWriter, r *http.Request) {
		// Nothing to do: the reader goes on until EOF, which comes when
		// dockerd closes its end right after this reply.
		reply(w, errReply{})
	})
	mux.HandleFunc("/LogDriver.ReadLogs", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"Err":"nopplugin cannot read logs"}`, http.StatusNotImplemented)
	})

	_ = os.MkdirAll("/run/docker/plugins", 0o755)
	_ = os.Remove(socketPath)
	ln, err := net.Listen("unix", socketPath)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// start opens the FIFO O_RDONLY (dockerd already holds a read-write end, so
// this returns at once) and drains it in a goroutine until EOF.
func start(file string) error {
	mu.Lock()
	if streams[file] {
		mu.Unlock()
		return nil
	}
	streams[file] = true
	mu.Unlock()

	opened := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(file, os.O_RDONLY, 0)
		opened <- err
		if err == nil {
			drain(f)
			f.Close()
		}
		mu.Lock()
		delete(streams, file)
		mu.Unlock()
	}()
	select {
	case err := <-opened:
		return err
	case <-time.After(10 * time.Second):
		// Keep waiting in the background; never fail a container for it.
		return nil
	}
}

func drain(f *os.File) {
	if pipeSize > 0 {
		if rc, err := f.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize)
			})
		}
	}
	if readBuf == 0 {
		_, _ = io.Copy(io.Discard, f)
		return
	}
	// io.Copy to io.Discard would use Discard's ReadFrom and its 8 KiB
	// buffer whatever buffer is offered, so read by hand.
	buf := make([]byte, readBuf)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				log.Printf("read %s: %v", f.Name(), err)
			}
			return
		}
		if nap > 0 && n < len(buf)/2 {
			time.Sleep(nap)
		}
	}
}
