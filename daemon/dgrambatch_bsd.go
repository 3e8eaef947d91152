//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package daemon

import (
	"net"
	"net/netip"
	"syscall"
)

// dgramBufSize is each datagram's room: a NetBIOS datagram is at most
// 576 bytes, and 2 KiB takes any frame of the LAN. A larger datagram
// arrives cut short and is dropped as malformed.
const dgramBufSize = 2048

// dgramBatch receives one datagram at a time where the system has no
// recvmmsg(2) that golang.org/x/sys offers (see dgrambatch_linux.go for
// Linux), into one buffer allocated once: still no allocation per
// datagram.
type dgramBatch struct {
	c     *net.UDPConn
	buf   []byte
	n     int
	from  netip.AddrPort
	flags int
}

func newDgramBatch(c *net.UDPConn) (*dgramBatch, error) {
	return &dgramBatch{c: c, buf: make([]byte, dgramBufSize)}, nil
}

// read waits for a datagram; it returns 1.
func (b *dgramBatch) read() (int, error) {
	n, _, flags, from, err := b.c.ReadMsgUDPAddrPort(b.buf, nil)
	if err != nil {
		return 0, err
	}
	b.n, b.from, b.flags = n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), flags
	return 1, nil
}

// msg returns the datagram of the last read, its sender, and whether it
// was cut short (larger than dgramBufSize).
func (b *dgramBatch) msg(int) ([]byte, netip.AddrPort, bool) {
	return b.buf[:b.n], b.from, b.flags&syscall.MSG_TRUNC != 0
}
