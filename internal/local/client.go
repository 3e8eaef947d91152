package local

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/unix"
)

// handshakeTimeout bounds how long Dial waits for the server's verdict. A
// live server answers at once from its own goroutine, whatever its queue.
const handshakeTimeout = 5 * time.Second

// Conn is the writing end of a local slot.
type Conn struct {
	data *net.UnixConn
	raw  syscall.RawConn
	max  int
}

// Dial opens the slot with the given key for writing. It fails with
// errs.NotFound when nothing serves the name and errs.Permission when the
// server's policy refuses this process's user.
func Dial(key string) (*Conn, error) {
	dataAddr, ctlAddr := Addrs(key)
	ctl, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: ctlAddr, Net: "unixpacket"})
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, errs.NotFound
		}
		return nil, fmt.Errorf("connect to the server: %w", err)
	}
	defer ctl.Close()
	_ = ctl.SetReadDeadline(time.Now().Add(handshakeTimeout))
	var msg [ctlLen]byte
	n, err := ctl.Read(msg[:])
	if err != nil {
		if errors.Is(err, syscall.ECONNRESET) || n == 0 {
			// The server closed between our connect and its answer.
			return nil, errs.NotFound
		}
		return nil, fmt.Errorf("read the server's answer: %w", err)
	}
	if n != ctlLen || msg[0] != ctlVersion {
		return nil, fmt.Errorf("server speaks an unknown local protocol (version %d)", msg[0])
	}
	if msg[1] != verdictAllowed {
		return nil, errs.Permission
	}
	max := int(uint32(msg[4]) | uint32(msg[5])<<8 | uint32(msg[6])<<16 | uint32(msg[7])<<24)
	data, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: dataAddr, Net: "unixgram"})
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, errs.NotFound
		}
		return nil, fmt.Errorf("connect to the slot: %w", err)
	}
	raw, err := data.SyscallConn()
	if err != nil {
		data.Close()
		return nil, err
	}
	// Room in our send buffer for the largest record and its framing.
	_ = raw.Control(func(fd uintptr) {
		if v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF); err == nil && v < 4*MaxRecord {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 4*MaxRecord)
		}
	})
	return &Conn{data: data, raw: raw, max: max}, nil
}

// MaxMessageSize returns the largest record the slot accepts.
func (c *Conn) MaxMessageSize() int { return c.max }

// Write sends one record, waiting while the slot's queue is full: forever
// when timeout is negative, not at all when it is 0 (errs.Timeout at once),
// else up to timeout. origin, when not empty, tells the server where a
// relayed record came from.
func (c *Conn) Write(p []byte, origin string, timeout time.Duration) error {
	if len(p) > c.max {
		return errs.MessageTooLarge
	}
	if len(origin) > MaxOrigin {
		origin = origin[:MaxOrigin]
	}
	var hdr [2 + MaxOrigin]byte
	h := hdr[:1]
	if origin != "" {
		hdr[0] = kindOrigin
		hdr[1] = byte(len(origin))
		copy(hdr[2:], origin)
		h = hdr[:2+len(origin)]
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := c.data.SetWriteDeadline(deadline); err != nil {
		return mapWriteErr(err)
	}
	var iov [2]unix.Iovec
	iov[0].Base = &h[0]
	iov[0].SetLen(len(h))
	niov := 1
	if len(p) > 0 {
		iov[1].Base = &p[0]
		iov[1].SetLen(len(p))
		niov = 2
	}
	var serr syscall.Errno
	err := c.raw.Write(func(fd uintptr) bool {
		_, _, e := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(niov))
		if e == unix.EAGAIN && timeout != 0 {
			return false
		}
		serr = e
		return true
	})
	if err != nil {
		return mapWriteErr(err)
	}
	if serr != 0 {
		return mapWriteErr(serr)
	}
	return nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.data.Close() }

func mapWriteErr(err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOTCONN), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%w (the server has closed the slot)", errs.NotFound)
	case errors.Is(err, syscall.EMSGSIZE):
		return errs.MessageTooLarge
	case errors.Is(err, net.ErrClosed):
		return errs.Closed
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.EAGAIN):
		return errs.Timeout
	}
	return err
}
