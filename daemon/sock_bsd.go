//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package daemon

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// perInterface is false: these systems cannot tie a socket to an
// interface so that sockets of several interfaces share a port (Linux's
// SO_BINDTODEVICE; macOS's IP_BOUND_IF limits a socket to an interface,
// but a second socket on the port still conflicts). mailslotd serves
// one interface there, and its socket hears datagrams from every
// interface.
const perInterface = false

// setRecvBuf asks for a receive buffer of n bytes (kern.ipc.maxsockbuf
// caps it).
func setRecvBuf(fd, n int) { _ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n) }

// recvBufHint says how to let the datagram receive buffer grow.
const recvBufHint = "raise kern.ipc.maxsockbuf (sysctl kern.ipc.maxsockbuf=8388608)"

// recvBufSize returns the receive buffer the kernel gave c, in bytes.
func recvBufSize(c syscall.Conn) int { return rcvBufOpt(c) }
