package local

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// What the system's sockets offer (macOS): no MSG_CMSG_CLOEXEC (received
// descriptors are marked close-on-exec at once) and no POLLRDHUP (a
// closed peer shows as POLLHUP). Go's runtime ignores SIGPIPE raised by
// sockets, and ours are made with SO_NOSIGPIPE where this package makes
// them.
const (
	msgNoSignal = 0
	recvCloexec = 0
	pollGone    = unix.POLLHUP | unix.POLLERR
)

// socketpair makes a connected pair of Unix sockets of type typ, closed
// on exec (under the fork lock: macOS has no SOCK_CLOEXEC).
func socketpair(typ int) ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	p, err := unix.Socketpair(unix.AF_UNIX, typ, 0)
	if err != nil {
		return p, err
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	return p, nil
}

// prefault does nothing here: pages fault in as they are first touched.
func prefault(mem []byte, write bool) {}
