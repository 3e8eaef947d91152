//go:build darwin || freebsd || netbsd || openbsd || dragonfly || (linux && mailslot_portable)

package local

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/sockdir"
	"golang.org/x/sys/unix"
)

// The portable transport, for systems without Linux's abstract sockets,
// memfds, eventfds and robust futexes (macOS and the BSDs; on Linux with
// the build tag mailslot_portable, so that its tests run there too). The
// protocol and the rings are the Linux transport's; what differs:
//
//   - A slot is a pathname SOCK_STREAM socket (macOS has no Unix
//     SOCK_SEQPACKET) in the socket directory, and an flock(2)ed lock
//     file beside it says who holds the name (package sockdir: the
//     directory's rules, stale sockets after kill -9). The protocol's
//     messages have fixed sizes, so the stream needs no framing.
//   - A writer's ring is a file it makes in that directory and removes
//     at once, so that only descriptors reach it. A file cannot be
//     sealed against shrinking: its writer may cut it short under the
//     server's mapping, and the server's next touch of it faults. So
//     every touch runs under guard, which turns the fault (SIGBUS or
//     SIGSEGV) into a broken ring: the writer is dropped and counted as
//     Malformed, the slot serves on. A ring must lie on the directory's
//     file system (not, say, on a FUSE mount whose pages could block
//     the server for good).
//   - The slot's waker is a pipe: writers get its write end.
//   - There is no page that says the server lives: a writer asks its
//     connection (poll) before each record, one system call a record,
//     so that a record written after the server died is refused, not
//     lost.
//   - A hand-over travels in a stream socket pair, its state in a file
//     of the directory, removed at once; the lock file goes with it.

// Portable reports whether this build has the portable transport.
const Portable = true

// SockType is the type of the slots' sockets.
const SockType = unix.SOCK_STREAM

// handoffType is the type of the socket pair a hand-over travels in.
const handoffType = unix.SOCK_STREAM

// handoffMagic starts a hand-over.
const handoffMagic = "MAILSLOT-HANDOFF-P1\n"

// writerBatch is how many writers travel in one message of a hand-over:
// two descriptors each, well within what a control message may carry on
// macOS and the BSDs (2 KiB).
const writerBatch = 32

// faultGuard is true: see guard.
const faultGuard = true

// guard runs f, which touches the ring's mapping, with memory faults
// turned into panics (debug.SetPanicOnFault), and reports whether f ran
// to its end. A fault in the ring's mapping marks the ring broken; any
// other panic goes on. A broken ring is never touched again.
func (r *ring) guard(f func()) (ok bool) {
	if r.broken {
		return false
	}
	defer func() {
		if ok {
			return
		}
		e := recover()
		if e == nil {
			return
		}
		if fe, isFault := e.(interface{ Addr() uintptr }); isFault && r.holds(fe.Addr()) {
			r.broken = true
			return
		}
		panic(e)
	}()
	prev := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(prev)
	f()
	return true
}

// holds reports whether addr lies in the ring's mapping.
func (r *ring) holds(addr uintptr) bool {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(r.mem)))
	return addr >= base && addr < base+uintptr(len(r.mem))
}

// Addr returns the path of the socket of the slot with the given
// canonical key.
func Addr(key string) string { return sockdir.Path(keyHash(key)) }

// claim holds a slot's name: the lock file and the socket's path.
type claim struct {
	c   *sockdir.Claim
	dev uint64 // the directory's file system, where rings must lie
}

func newClaim(c *sockdir.Claim) *claim {
	cl := &claim{c: c}
	var st unix.Stat_t
	if f := c.LockFile(); f != nil && unix.Fstat(int(f.Fd()), &st) == nil {
		cl.dev = uint64(st.Dev)
	}
	return cl
}

func (c *claim) release() { c.c.Release() }
func (c *claim) drop()    { c.c.Drop() }

func (c *claim) fds() []int {
	if f := c.c.LockFile(); f != nil {
		return []int{int(f.Fd())}
	}
	return nil
}

// encode records the socket's path and identity for a hand-over.
func (c *claim) encode() string {
	_, path, dev, ino := c.c.Handoff()
	return strconv.FormatUint(dev, 10) + " " + strconv.FormatUint(ino, 10) + " " + path
}

func adoptClaim(data string, fds []int) (*claim, error) {
	if len(fds) != 1 {
		closeAll(fds)
		return nil, errors.New("a claim needs its lock file")
	}
	lock := os.NewFile(uintptr(fds[0]), "mailslot-lock")
	f := strings.SplitN(data, " ", 3)
	if len(f) != 3 {
		lock.Close()
		return nil, errors.New("bad claim")
	}
	dev, err1 := strconv.ParseUint(f[0], 10, 64)
	ino, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		lock.Close()
		return nil, errors.New("bad claim")
	}
	return newClaim(sockdir.Adopt(lock, f[2], dev, ino)), nil
}

// listenSlot takes the slot's name (package sockdir) and binds its socket.
func listenSlot(key string) (*net.UnixListener, *claim, error) {
	ln, c, err := sockdir.Listen(keyHash(key), unix.SOCK_STREAM)
	switch {
	case err == nil:
		return ln, newClaim(c), nil
	case err == sockdir.ErrHeld:
		return nil, nil, errs.AlreadyExists
	case errors.Is(err, sockdir.ErrHeld), errors.Is(err, sockdir.ErrStale):
		return nil, nil, fmt.Errorf("%w: %w", errs.AlreadyExists, err)
	case errors.Is(err, sockdir.ErrBadDir):
		return nil, nil, fmt.Errorf("%w: %w", errs.Permission, err)
	}
	return nil, nil, fmt.Errorf("bind the slot's socket: %w", err)
}

// dialSlot connects a non-blocking socket to the slot, waiting up to
// handshakeTimeout while the server's queue of connections is full.
func dialSlot(key string) (int, error) {
	return sockdir.Dial(keyHash(key), unix.SOCK_STREAM, handshakeTimeout)
}

// tempFile makes a file of the socket directory that only descriptors
// reach: made with a random name, mode 0600, and removed at once.
func tempFile(what string) (*os.File, error) {
	dir, err := sockdir.Dir(false)
	if err != nil {
		return nil, err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	path := dir + "/." + what + "-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("make %s: %w", path, err)
	}
	unix.Unlink(path)
	return os.NewFile(uintptr(fd), "mailslot-"+what), nil
}

// makeRing makes a ring of ringHdr+size bytes in a file of the socket
// directory, and maps it.
func makeRing(size int) ([]byte, *os.File, error) {
	if !validRingSize(size) {
		return nil, nil, fmt.Errorf("ring size %d is not a power of two in %d..%d", size, MinRing, MaxRing)
	}
	f, err := tempFile("ring")
	if err != nil {
		return nil, nil, err
	}
	fd := int(f.Fd())
	if err := unix.Ftruncate(fd, int64(ringHdr+size)); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("size the ring: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, ringHdr+size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("map the ring: %w", err)
	}
	return mem, f, nil
}

// checkRingFd checks that a writer's ring is one the server may map: a
// regular file of exactly ringHdr+size bytes on the socket directory's
// file system.
func (s *Server) checkRingFd(fd, size int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("the ring is not a regular file")
	}
	if st.Size != int64(ringHdr+size) {
		return errors.New("the ring's size is not the one announced")
	}
	if s.claim.dev != 0 && uint64(st.Dev) != s.claim.dev {
		return errors.New("the ring is not on the socket directory's file system")
	}
	return nil
}

// newWaker makes the slot's pipe: both ends non-blocking (writers share
// the write end's open file, so none of them ever blocks on it).
func newWaker() (*waker, error) {
	var p [2]int
	syscall.ForkLock.RLock()
	err := unix.Pipe(p[:])
	if err == nil {
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		closeAll(p[:])
		return nil, err
	}
	if err := unix.SetNonblock(p[1], true); err != nil {
		closeAll(p[:])
		return nil, err
	}
	return wakerOf(os.NewFile(uintptr(p[0]), "mailslot-wake"), os.NewFile(uintptr(p[1]), "mailslot-wake-w"))
}

// adoptWaker makes a waker of the descriptors a hand-over carried.
func adoptWaker(fds []int) (*waker, error) {
	if len(fds) != 2 {
		closeAll(fds)
		return nil, errors.New("a wake-up needs two descriptors")
	}
	return wakerOf(os.NewFile(uintptr(fds[0]), "mailslot-wake"), os.NewFile(uintptr(fds[1]), "mailslot-wake-w"))
}

// newStateFile makes the file a hand-over's state travels in.
func newStateFile() (*os.File, error) { return tempFile("state") }

// setPairBuffers gives a hand-over's socket pair room for its messages,
// which all wait there until the new holder reads them (the default
// stream buffers of macOS hold 8 KiB).
func setPairBuffers(fd int) {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
}

// No page says the server lives (see alive_linux.go): writers ask their
// connection at every record.
func aliveFile() *os.File       { return nil }
func mapAlive(int) []byte       { return nil }
func ownerDied(mem []byte) bool { return false }

// readRest completes a message readMsg began on the stream: it reads
// until b is full or the stream ends. Descriptors sent with a later part
// are refused (MSG_CTRUNC in flags).
func readRest(c *net.UnixConn, b []byte, n, flags int, err error) (int, int, error) {
	for err == nil && n > 0 && n < len(b) {
		k, _, fl, _, e := c.ReadMsgUnix(b[n:], nil)
		flags |= fl
		if k == 0 && e == nil {
			break // the end of the stream
		}
		n += k
		err = e
	}
	return n, flags, err
}

// recvRest completes a hand-over message recvFds began with n bytes of
// buf: it reads the rest of it from the stream, without waiting (the
// whole message is in the pair already).
func recvRest(fd int, buf []byte, n int) int {
	for n > 0 && n < len(buf) {
		k, _, _, _, err := unix.Recvmsg(fd, buf[n:], nil, unix.MSG_DONTWAIT)
		if err != nil || k == 0 {
			break
		}
		n += k
	}
	return n
}

// pushRing queues a record whose payload and origin lie in r; when the
// ring breaks while they are copied, the queue stays as it was and
// pushRing reports false.
func (q *queue) pushRing(r *ring, data, origin []byte, m Meta) bool {
	n, count, bytes := len(q.chunks), q.count, q.bytes
	last := -1
	if n > 0 {
		last = len(q.chunks[n-1])
	}
	if r.guard(func() { q.pushBytes(data, origin, m) }) {
		return true
	}
	q.chunks = q.chunks[:n]
	if n > 0 {
		q.chunks[n-1] = q.chunks[n-1][:last]
	}
	q.count, q.bytes = count, bytes
	return false
}

// yieldCPU does nothing on the portable transport, whose systems have no
// common system call for it: the spin yields to goroutines alone, and to
// them only under GOMAXPROCS 1 (see spinLocked).
func yieldCPU() {}
