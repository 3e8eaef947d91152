//go:build linux || freebsd

package local

import "syscall"

// helperAttr kills a helper when the thread that started it ends.
func helperAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
