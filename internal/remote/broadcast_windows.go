//go:build windows

package remote

import "golang.org/x/sys/windows"

// setBroadcast lets the UDP socket fd send broadcasts.
func setBroadcast(fd uintptr) error {
	return windows.SetsockoptInt(windows.Handle(fd), windows.SOL_SOCKET, windows.SO_BROADCAST, 1)
}
