//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package local

import "golang.org/x/sys/unix"

// The calls nbsys_linux.go makes raw, made through x/sys here: on macOS
// and OpenBSD system calls go through the C library.

func nbSend(fd uintptr, b []byte, flags int) (int, error) {
	return unix.SendmsgN(int(fd), b, nil, nil, flags)
}

func nbRecv(fd uintptr, b []byte, flags int) (int, error) {
	n, _, err := unix.Recvfrom(int(fd), b, flags)
	return n, err
}

func nbRead(fd uintptr, b []byte) (int, error)  { return unix.Read(int(fd), b) }
func nbWrite(fd uintptr, b []byte) (int, error) { return unix.Write(int(fd), b) }
