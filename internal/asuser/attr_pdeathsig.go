//go:build linux || freebsd

package asuser

import "syscall"

// sysProcAttr runs a helper with cred, killed when the thread that
// started it ends.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
