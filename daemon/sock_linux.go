package daemon

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// perInterface says each datagram socket can be tied to its interface
// (SO_BINDTODEVICE), so that one per interface may share a port.
const perInterface = true

// bindToDevice ties a socket to an interface.
func bindToDevice(fd int, ifc Iface) error { return unix.BindToDevice(fd, ifc.Name) }

// setRecvBuf asks for a receive buffer of n bytes: as root the system's
// rmem_max does not cap it (SO_RCVBUFFORCE); otherwise it does.
func setRecvBuf(fd, n int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
	}
}

// recvBufHint says how to let the datagram receive buffer grow.
const recvBufHint = "raise net.core.rmem_max (sysctl -w net.core.rmem_max=4194304) or run as root"

// recvBufSize returns the receive buffer the kernel gave c, in bytes of
// payload it may hold (Linux reports twice that, for its overhead).
func recvBufSize(c syscall.Conn) int { return rcvBufOpt(c) / 2 }
