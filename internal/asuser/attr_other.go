//go:build !linux && !freebsd && !windows

package asuser

import "syscall"

// sysProcAttr runs a helper with cred. This system cannot kill it when
// its parent ends (no Pdeathsig): Start's cleanup kills it instead.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
