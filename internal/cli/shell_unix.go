//go:build !windows

package cli

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand returns sh -c command, in a process group of its own that
// is killed, whole, when ctx ends.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}
