//go:build linux || freebsd || netbsd || openbsd || dragonfly

package sockdir

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Socket makes a Unix socket of type typ, non-blocking and closed on exec.
func Socket(typ int) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	return fd, nil
}
