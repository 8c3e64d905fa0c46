package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// dockerAPI talks to dockerd's socket directly: `docker logs --tail 10`
// through the CLI mostly measures the CLI's own start-up.
var dockerAPI = &http.Client{
	Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", "/var/run/docker.sock")
		},
		DisableKeepAlives: true,
	},
	Timeout: 5 * time.Minute,
}

// apiLogs fetches a container's logs (tail "all" or a number) and returns
// how long it took and how many lines came back. Non-TTY logs come
// multiplexed: an 8-byte header (stream, 0, 0, 0, uint32 size) per frame.
func apiLogs(id, tail string) (time.Duration, int, error) {
	start := time.Now()
	resp, err := dockerAPI.Get("http://docker/containers/" + id + "/logs?stdout=1&stderr=1&tail=" + tail)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1000))
		return 0, 0, fmt.Errorf("GET logs: %s: %s", resp.Status, b)
	}
	br := bufio.NewReaderSize(resp.Body, 256<<10)
	var hdr [8]byte
	lines := 0
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err == io.EOF {
			break
		} else if err != nil {
			return 0, 0, err
		}
		n := int(binary.BigEndian.Uint32(hdr[4:]))
		for n > 0 {
			m, err := br.Read(buf[:min(n, len(buf))])
			for _, c := range buf[:m] {
				if c == '\n' {
					lines++
				}
			}
			n -= m
			if err != nil && n > 0 {
				return 0, 0, err
			}
		}
	}
	return time.Since(start), lines, nil
}

// barrier is a FIFO that containers block on (`read x </barrier/NAME`,
// the open waits for a writer) until release opens and closes its write
// end: every reader's open returns at once and its read sees EOF.
type barrier struct{ name, path string }

func newBarrier(dir string) (*barrier, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("go-%d-%d", os.Getpid(), time.Now().UnixNano())
	path := filepath.Join(dir, name)
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		return nil, fmt.Errorf("mkfifo %s: %w", path, err)
	}
	return &barrier{name: name, path: path}, nil
}

func (b *barrier) release() error {
	// O_NONBLOCK: fails with ENXIO rather than blocking if no reader waits.
	fd, err := syscall.Open(b.path, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("release barrier: %w", err)
	}
	return syscall.Close(fd)
}

func (b *barrier) remove() { _ = os.Remove(b.path) }
