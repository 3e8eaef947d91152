package local

import "golang.org/x/sys/unix"

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
