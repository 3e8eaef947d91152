//go:build windows

package cli

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand returns cmd.exe /S /C "command", killed when ctx ends
// (Windows has no process groups to kill at once: a program the command
// started in the background outlives it).
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "cmd.exe")
	// cmd.exe parses its own command line: /S with the command in quotes
	// takes the command as it is.
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd.exe /S /C "` + command + `"`}
	return cmd
}
