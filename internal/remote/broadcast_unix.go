//go:build !windows

package remote

import "golang.org/x/sys/unix"

// setBroadcast lets the UDP socket fd send broadcasts.
func setBroadcast(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
}
