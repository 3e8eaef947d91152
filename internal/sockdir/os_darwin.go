package sockdir

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Socket makes a Unix socket of type typ, non-blocking and closed on
// exec (macOS has no SOCK_CLOEXEC: the fork lock keeps a concurrent
// exec from inheriting it), that raises no SIGPIPE.
func Socket(typ int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(unix.AF_UNIX, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
	return fd, nil
}

// PeerCred returns the credentials of fd's peer: LOCAL_PEERCRED, fixed
// when the connection was made (or the server's socket began listening),
// and LOCAL_PEERPID, the process that last used the peer's socket (the
// one that connected, unless it handed its socket to another process).
func PeerCred(fd int) (Cred, error) {
	x, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return Cred{}, fmt.Errorf("LOCAL_PEERCRED: %w", err)
	}
	if x.Ngroups < 1 {
		return Cred{}, fmt.Errorf("LOCAL_PEERCRED: no group")
	}
	c := Cred{UID: x.Uid, GID: x.Groups[0]}
	if pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
		c.Pid = int32(pid)
	}
	return c, nil
}
