package local

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// What the system's sockets offer (Linux).
const (
	msgNoSignal = unix.MSG_NOSIGNAL                            // a send to a closed peer raises no SIGPIPE
	recvCloexec = unix.MSG_CMSG_CLOEXEC                        // descriptors received are closed on exec
	pollGone    = unix.POLLHUP | unix.POLLERR | unix.POLLRDHUP // a peer's end of a connection has closed
)

// socketpair makes a connected pair of Unix sockets of type typ, closed
// on exec.
func socketpair(typ int) ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
}

// noPrefault is set once the kernel has refused MADV_POPULATE_* (before
// Linux 5.14): pages are then faulted in one at a time, as they are
// touched.
var noPrefault atomic.Bool

// prefault maps the pages of mem in one system call, for writing or for
// reading, rather than one page fault each as they are first touched
// (costly where faults trap to a hypervisor). It is a hint: a page it
// cannot map (a peer cut the file short) is left to fault, or not, as it
// would have.
func prefault(mem []byte, write bool) {
	if len(mem) == 0 || noPrefault.Load() {
		return
	}
	advice := unix.MADV_POPULATE_READ
	if write {
		advice = unix.MADV_POPULATE_WRITE
	}
	if err := unix.Madvise(mem, advice); err == unix.EINVAL {
		noPrefault.Store(true)
	}
}
