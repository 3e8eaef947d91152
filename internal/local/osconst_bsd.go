//go:build freebsd || netbsd || openbsd || dragonfly

package local

import "golang.org/x/sys/unix"

// What the system's sockets offer (the BSDs): no POLLRDHUP (a closed
// peer shows as POLLHUP).
const (
	msgNoSignal = unix.MSG_NOSIGNAL
	recvCloexec = unix.MSG_CMSG_CLOEXEC
	pollGone    = unix.POLLHUP | unix.POLLERR
)

// socketpair makes a connected pair of Unix sockets of type typ, closed
// on exec.
func socketpair(typ int) ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
}

// prefault does nothing here: pages fault in as they are first touched.
func prefault(mem []byte, write bool) {}
