//go:build linux && !mailslot_portable

package local

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/unix"
)

// The Linux transport: a slot is an abstract SOCK_SEQPACKET socket, a
// writer's ring a sealed memfd, the slot's wake-up an eventfd, and each
// serving process has a page the kernel marks when it dies (alive.go).
// The portable transport (sys_portable.go) is built instead with the tag
// mailslot_portable.

// Portable reports whether this build has the portable transport.
const Portable = false

// SockType is the type of the slots' sockets.
const SockType = unix.SOCK_SEQPACKET

// handoffType is the type of the socket pair a hand-over travels in.
const handoffType = unix.SOCK_SEQPACKET

// handoffMagic starts a hand-over.
const handoffMagic = "MAILSLOT-HANDOFF-4\n"

// faultGuard is false: a sealed memfd cannot shrink under a mapping, so
// the rings' memory never faults.
const faultGuard = false

func (r *ring) guard(f func()) bool { f(); return true }

// addrPrefix starts every abstract address of ours. The version lets
// another transport live beside this one.
const addrPrefix = "@mailslot/v2/"

// Addr returns the abstract socket address (Go spelling, with a leading
// '@') of the slot with the given canonical key.
func Addr(key string) string { return addrPrefix + keyHash(key) }

// claim is what holds a slot's name besides its socket: nothing, an
// abstract name is the socket's alone.
type claim struct{}

func (*claim) release()       {}
func (*claim) drop()          {}
func (*claim) fds() []int     { return nil }
func (*claim) encode() string { return "" }

func adoptClaim(data string, fds []int) (*claim, error) {
	if len(fds) != 0 || data != "" {
		return nil, errors.New("descriptors for a claim")
	}
	return &claim{}, nil
}

// listenSlot binds the slot's socket: binding an abstract name is
// exclusive, and the kernel frees it with the last descriptor.
func listenSlot(key string) (*net.UnixListener, *claim, error) {
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: Addr(key), Net: "unixpacket"})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, errs.AlreadyExists
		}
		return nil, nil, fmt.Errorf("bind the slot's socket: %w", err)
	}
	return ln, &claim{}, nil
}

// dialSlot connects a non-blocking socket to the slot. A Unix socket
// connects at once or not at all; while the server's backlog is full
// (EAGAIN) it tries again for up to handshakeTimeout, so a flood of
// connections delays an Open but never blocks it for good.
func dialSlot(key string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	sa := &unix.SockaddrUnix{Name: Addr(key)}
	deadline := time.Now().Add(handshakeTimeout)
	pause := 100 * time.Microsecond
	for {
		err := unix.Connect(fd, sa)
		if err == unix.EINTR {
			continue
		} else if err == unix.EAGAIN && time.Now().Before(deadline) {
			time.Sleep(pause)
			pause = min(2*pause, 10*time.Millisecond)
			continue
		} else if err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	}
}

// makeRing creates a sealed memfd of ringHdr+size bytes and maps it. The
// seals keep its size fixed for good, so that the server's mapping can
// never lose its pages under it (SIGBUS).
func makeRing(size int) ([]byte, *os.File, error) {
	if !validRingSize(size) {
		return nil, nil, fmt.Errorf("ring size %d is not a power of two in %d..%d", size, MinRing, MaxRing)
	}
	fd, err := unix.MemfdCreate("mailslot-ring", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "mailslot-ring")
	if err := unix.Ftruncate(fd, int64(ringHdr+size)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("size the ring: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seal the ring: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, ringHdr+size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("map the ring: %w", err)
	}
	return mem, f, nil
}

// checkRingFd checks that a writer's ring is one the server may map: a
// memfd sealed against shrinking and growing, of exactly ringHdr+size
// bytes.
func (s *Server) checkRingFd(fd, size int) error {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil || seals&(unix.F_SEAL_SHRINK|unix.F_SEAL_GROW) != unix.F_SEAL_SHRINK|unix.F_SEAL_GROW {
		return errors.New("the ring is not a sealed memfd")
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size != int64(ringHdr+size) || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("the ring's size is not the one announced")
	}
	return nil
}

// newWaker makes the slot's eventfd: writers write to it, and a sleeping
// Read waits on it in the runtime's poller.
func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return wakerOf(os.NewFile(uintptr(fd), "mailslot-wake"), nil)
}

// adoptWaker makes a waker of the descriptors a hand-over carried.
func adoptWaker(fds []int) (*waker, error) {
	if len(fds) != 1 {
		closeAll(fds)
		return nil, errors.New("a wake-up needs one descriptor")
	}
	return wakerOf(os.NewFile(uintptr(fds[0]), "mailslot-wake"), nil)
}

// newStateFile makes the file a hand-over's state travels in.
func newStateFile() (*os.File, error) {
	fd, err := unix.MemfdCreate("mailslot-state", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	return os.NewFile(uintptr(fd), "mailslot-state"), nil
}

// writerBatch is how many writers travel in one message of a hand-over:
// two descriptors each, and the kernel takes at most 253 in one message.
const writerBatch = 100

// setPairBuffers leaves a hand-over's socket pair as the kernel made it:
// its default buffers hold the messages of thousands of writers.
func setPairBuffers(int) {}

// readRest completes a message readMsg began: a SOCK_SEQPACKET message
// comes whole in one read, so there is nothing more to read.
func readRest(_ *net.UnixConn, _ []byte, n, flags int, err error) (int, int, error) {
	return n, flags, err
}

// recvRest completes a hand-over message recvFds began with n bytes:
// on a SOCK_SEQPACKET pair it came whole.
func recvRest(_ int, _ []byte, n int) int { return n }

// pushRing queues a record whose payload and origin lie in r, and reports
// true: a sealed memfd's pages cannot go while they are copied.
func (q *queue) pushRing(_ *ring, data, origin []byte, m Meta) bool {
	q.pushBytes(data, origin, m)
	return true
}

// yieldCPU lets another thread that waits for this CPU run first.
func yieldCPU() { _, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
