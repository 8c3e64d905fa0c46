//go:build unix

package syslogsink

import (
	"errors"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerClosed reports whether the peer of a stream socket has closed or
// reset it, without blocking and without consuming anything. It uses
// RawConn.Control rather than Read: the watcher goroutine holds the
// socket's read lock while it waits.
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case n > 0: // data waiting: not closed (yet); the watcher will read it
		case err == nil: // a read of 0 bytes: end of stream
			closed = true
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		default: // ECONNRESET and the like
			closed = true
		}
	})
	return closed || err != nil
}

// socketError returns and clears a socket's pending error (SO_ERROR), such
// as the ECONNREFUSED an ICMP port unreachable leaves on a connected UDP
// socket.
func socketError(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var soErr int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		soErr, gerr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
	}); err != nil {
		return err
	}
	if gerr != nil {
		return gerr
	}
	if soErr != 0 {
		return syscall.Errno(soErr)
	}
	return nil
}
