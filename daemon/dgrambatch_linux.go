//go:build !windows

package daemon

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// dgramBatchLen is the most datagrams one receive takes from the kernel.
	dgramBatchLen = 64
	// dgramBufSize is each datagram's room: a NetBIOS datagram is at most
	// 576 bytes, and 2 KiB takes any frame of the LAN. A larger datagram
	// arrives cut short and is dropped as malformed.
	dgramBufSize = 2048
)

// dgramBatch receives datagrams with recvmmsg(2): all that wait, up to
// dgramBatchLen, in one system call, into buffers and headers allocated
// once, so that receiving allocates nothing per datagram.
type dgramBatch struct {
	rc    syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	buf   []byte // dgramBatchLen buffers of dgramBufSize
	recv  func(fd uintptr) bool
	n     int
	errno syscall.Errno
}

func newDgramBatch(c *net.UDPConn) (*dgramBatch, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("datagram socket: %w", err)
	}
	b := &dgramBatch{
		rc:    rc,
		hdrs:  make([]unix.Mmsghdr, dgramBatchLen),
		iovs:  make([]unix.Iovec, dgramBatchLen),
		names: make([]unix.RawSockaddrInet4, dgramBatchLen),
		buf:   make([]byte, dgramBatchLen*dgramBufSize),
	}
	for i := range b.hdrs {
		b.iovs[i].Base = &b.buf[i*dgramBufSize]
		b.iovs[i].SetLen(dgramBufSize)
		h := &b.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
	}
	b.recv = b.recvmmsg // made once: a method value allocates
	return b, nil
}

// recvmmsg is the RawConn.Read callback: false asks the poller to wait.
func (b *dgramBatch) recvmmsg(fd uintptr) bool {
	for i := range b.hdrs {
		b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
		b.hdrs[i].Hdr.Flags = 0
		b.hdrs[i].Len = 0
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)),
			unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		b.n, b.errno = int(n), e
		return true
	}
}

// read waits for datagrams and returns how many arrived.
func (b *dgramBatch) read() (int, error) {
	b.n, b.errno = 0, 0
	if err := b.rc.Read(b.recv); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, fmt.Errorf("recvmmsg: %w", b.errno)
	}
	return b.n, nil
}

// msg returns datagram i of the last read, its sender, and whether it was
// cut short (larger than dgramBufSize).
func (b *dgramBatch) msg(i int) ([]byte, netip.AddrPort, bool) {
	h := &b.hdrs[i]
	data := b.buf[i*dgramBufSize : i*dgramBufSize+int(h.Len)]
	sa := &b.names[i]
	var from netip.AddrPort
	if sa.Family == unix.AF_INET {
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
		from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
	}
	return data, from, h.Hdr.Flags&unix.MSG_TRUNC != 0
}
