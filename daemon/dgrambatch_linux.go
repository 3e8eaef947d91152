package daemon

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"time"
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
	// floodBatch is the batch from which the loop pauses before its next
	// receive (floodPause): datagrams that come faster than the loop takes
	// them one at a time. After a full batch (dgramBatchLen) it does not:
	// more wait already.
	floodBatch = 2
	// floodPause lets the datagrams of a flood gather in the socket, so
	// that the next receive takes a batch of them. A loop that waits in
	// recvmmsg instead is woken for each datagram, and the sender pays
	// for each wake-up (on a LAN of veths it runs the receive path, and
	// the woken thread takes its CPU). The thread's timer slack (50 µs
	// by default) may lengthen it; the socket holds 4 MiB of datagrams
	// meanwhile. It is short beside the latency of a datagram's path (the
	// writer's send alone takes 20 µs and more), and a loop that took one
	// datagram, as at any rate but a flood's, waits for the next without
	// it.
	floodPause = 20 * time.Microsecond
)

// dgramBatch receives datagrams with recvmmsg(2): all that wait, up to
// dgramBatchLen, in one system call, into buffers and headers allocated
// once, so that receiving allocates nothing per datagram.
type dgramBatch struct {
	s     *dgramSock
	rc    syscall.RawConn
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	buf   []byte // dgramBatchLen buffers of dgramBufSize
	try   func(fd uintptr) bool
	wait  func(fd uintptr) bool
	n     int
	errno syscall.Errno
}

func newDgramBatch(s *dgramSock) (*dgramBatch, error) {
	b := &dgramBatch{
		s:     s,
		rc:    s.rc,
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
	// Made once: a method value allocates.
	b.try = func(fd uintptr) bool { b.recvmmsg(fd, unix.MSG_DONTWAIT); return true }
	b.wait = func(fd uintptr) bool { b.recvmmsg(fd, unix.MSG_WAITFORONE); return true }
	return b, nil
}

// floodSleep pauses floodPause (a variable: tests count its calls). A
// nanosleep, as time.Sleep waits in the runtime's poller, in whole
// milliseconds when the process has nothing else to do.
var floodSleep = func() {
	ts := unix.NsecToTimespec(floodPause.Nanoseconds())
	_ = unix.Nanosleep(&ts, nil)
}

// yieldBeforeWait runs the goroutines that the loop made ready before it
// waits in the kernel (a variable: tests count its calls). A goroutine
// in a system call keeps its P until the runtime's monitor takes it back
// (from 20 µs to 10 ms later), so the goroutines it readied (the NATS
// client's flusher, a slot's queue) would wait that long: without the
// yield, a bridged record's median latency grew by 60-130 µs in the NATS
// bench.
var yieldBeforeWait = runtime.Gosched

// recvmmsg takes the datagrams waiting on fd into the batch: with
// MSG_DONTWAIT, those there now; with MSG_WAITFORONE, it waits for one in
// the system call (the socket blocks), then takes those behind it.
func (b *dgramBatch) recvmmsg(fd uintptr, flags int) {
	for i := range b.hdrs {
		b.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
		b.hdrs[i].Hdr.Flags = 0
		b.hdrs[i].Len = 0
	}
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)),
			uintptr(flags), 0, 0)
		if e == unix.EINTR {
			continue
		}
		b.n, b.errno = int(n), e
		if e != 0 {
			b.n = 0
		}
		return
	}
}

// read waits for datagrams and returns how many arrived; net.ErrClosed
// once the socket is closed. After a batch of floodBatch or more, but
// not a full one, it first pauses floodPause.
func (b *dgramBatch) read() (int, error) {
	if b.n >= floodBatch && b.n < len(b.hdrs) {
		floodSleep()
	}
	err := b.rc.Read(b.try)
	if err == nil && b.errno == unix.EAGAIN {
		yieldBeforeWait()
		err = b.rc.Read(b.wait)
	}
	if b.s.closed.Load() {
		// A receive that Close woke returns nothing.
		return 0, net.ErrClosed
	}
	if err != nil {
		return 0, fmt.Errorf("receive datagrams: %w", err)
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
