//go:build darwin || netbsd || openbsd || dragonfly

package local

import "syscall"

// helperAttr: no Pdeathsig on this system; the tests kill their helpers.
func helperAttr() *syscall.SysProcAttr { return nil }
