//go:build !unix

package syslogsink

import "net"

// peerClosed cannot peek here; the watcher alone notices closed
// connections.
func peerClosed(net.Conn) bool { return false }

// socketError is not available here.
func socketError(net.Conn) error { return nil }
