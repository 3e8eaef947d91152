package local

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
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
	data  *net.UnixConn
	raw   syscall.RawConn
	max   int
	relay bool          // records carry an origin
	ctl   *net.UnixConn // kept open: the server forgets us when it closes
}

// Dial opens the slot with the given key for writing. It fails with
// errs.NotFound when nothing serves the name and errs.Permission when the
// server's policy refuses this process's user. A relay's records each
// carry an origin (see Write).
func Dial(key string, relay bool) (*Conn, error) {
	dataAddr, ctlAddr := Addrs(key)
	ctl, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: ctlAddr, Net: "unixpacket"})
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, errs.NotFound
		}
		return nil, fmt.Errorf("connect to the server: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			ctl.Close()
		}
	}()
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
	data, err := dialData(dataAddr)
	if err != nil {
		return nil, err
	}
	if err := register(ctl, data, relay); err != nil {
		data.Close()
		return nil, err
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
	ok = true
	return &Conn{data: data, raw: raw, max: max, relay: relay, ctl: ctl}, nil
}

// dialData makes the client's data socket: bound to an address the kernel
// picks, so that the server can tell its datagrams apart, and connected to
// the slot.
func dialData(dataAddr string) (*net.UnixConn, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("data socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "mailslot-client")
	defer f.Close()
	if err := unix.Bind(fd, &unix.SockaddrUnix{}); err != nil { // autobind
		return nil, fmt.Errorf("bind data socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: dataAddr}); err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, errs.NotFound
		}
		return nil, fmt.Errorf("connect to the slot: %w", err)
	}
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("data socket: %w", err)
	}
	return c.(*net.UnixConn), nil
}

// register proves to the server that this client owns its data socket's
// address (see writers.go).
func register(ctl, data *net.UnixConn, relay bool) error {
	la, ok := data.LocalAddr().(*net.UnixAddr)
	if !ok || len(la.Name) < 2 || la.Name[0] != '@' {
		return fmt.Errorf("data socket has no abstract address (%v)", data.LocalAddr())
	}
	kind := byte(msgRegister)
	if relay {
		kind = msgRelay
	}
	msg := append([]byte{kind, 0}, la.Name[1:]...)
	if _, err := ctl.Write(msg); err != nil {
		return fmt.Errorf("register with the server: %w", err)
	}
	_ = data.SetReadDeadline(time.Now().Add(handshakeTimeout))
	defer data.SetReadDeadline(time.Time{})
	buf := make([]byte, 1+nonceLen+1)
	n, err := data.Read(buf[1:])
	if err != nil || n != nonceLen {
		return fmt.Errorf("%w (the server did not confirm the writer: %v)", errs.NotFound, err)
	}
	buf[0] = msgNonce
	if _, err := ctl.Write(buf[:1+nonceLen]); err != nil {
		return fmt.Errorf("register with the server: %w", err)
	}
	n, err = ctl.Read(buf[:1])
	if err != nil || n != 1 || buf[0] != msgOK {
		return fmt.Errorf("%w (the server refused the registration: %v)", errs.NotFound, err)
	}
	_ = ctl.SetReadDeadline(time.Time{})
	return nil
}

// MaxMessageSize returns the largest record the slot accepts.
func (c *Conn) MaxMessageSize() int { return c.max }

// Write sends one record, waiting while the slot's queue is full: forever
// when timeout is negative, not at all when it is 0 (errs.Timeout at once),
// else up to timeout. A relay's origin says where the record came from;
// a plain writer's origin must be empty.
func (c *Conn) Write(p []byte, origin string, timeout time.Duration) error {
	if len(p) > c.max {
		return errs.MessageTooLarge
	}
	if !c.relay && origin != "" {
		return errors.New("an origin needs a relay connection")
	}
	w := writeOps.Get().(*writeOp)
	defer w.release()
	if c.relay {
		w.setOrigin(origin)
	}
	w.p = p
	w.block = timeout != 0
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if err := c.data.SetWriteDeadline(deadline); err != nil {
		return mapWriteErr(err)
	}
	err := c.raw.Write(w.fn)
	if err != nil {
		return mapWriteErr(err)
	}
	if w.err != 0 {
		return mapWriteErr(w.err)
	}
	return nil
}

// writeOp is one record's write(2) or writev(2). They are pooled, each
// with its method value bound once, so that a write allocates nothing: at
// a few hundred nanoseconds a record, two small allocations cost a tenth
// of the throughput.
type writeOp struct {
	iov   []unix.Iovec // a relay's header, with room for the payload
	p     []byte
	block bool // wait for room rather than return EAGAIN
	err   syscall.Errno
	fn    func(fd uintptr) bool // w.do
	vec   [2]unix.Iovec         // iov's array
	hdr   [1 + MaxOrigin]byte   // a relay's header: origin length, origin
}

var writeOps = sync.Pool{New: func() any {
	w := new(writeOp)
	w.fn = w.do
	return w
}}

func (w *writeOp) release() {
	w.iov, w.p, w.block, w.err = nil, nil, false, 0
	w.vec = [2]unix.Iovec{}
	writeOps.Put(w)
}

// setOrigin frames a relay's origin: its length, then its bytes (see
// RelayPrefixLen).
func (w *writeOp) setOrigin(origin string) {
	if len(origin) > MaxOrigin {
		origin = origin[:MaxOrigin]
	}
	w.hdr[0] = byte(len(origin))
	copy(w.hdr[1:], origin)
	w.vec[0].Base = &w.hdr[0]
	w.vec[0].SetLen(1 + len(origin))
	w.iov = w.vec[:]
}

// RelayPrefixLen returns how many bytes come before the payload in a
// relay's datagram whose origin is n bytes long. A relay that places a
// large payload in its memory at this offset modulo 4096 (AlignedAt)
// has the kernel copy it into the datagram at full speed.
func RelayPrefixLen(n int) int { return 1 + min(n, MaxOrigin) }

func (w *writeOp) do(fd uintptr) bool {
	var e syscall.Errno
	switch {
	case w.iov != nil:
		if len(w.p) > 0 {
			w.iov[1].Base = &w.p[0]
			w.iov[1].SetLen(len(w.p))
		}
		n := 1 + min(len(w.p), 1)
		_, _, e = unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(n))
	case len(w.p) == 0: // a zero-length record
		_, _, e = unix.Syscall(unix.SYS_WRITE, fd, 0, 0)
	default: // write(2) costs measurably less than writev(2)
		_, _, e = unix.Syscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&w.p[0])), uintptr(len(w.p)))
	}
	if e == unix.EAGAIN && w.block {
		return false
	}
	w.err = e
	return true
}

// Close closes the connection.
func (c *Conn) Close() error {
	err := c.data.Close()
	c.ctl.Close()
	return err
}

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
