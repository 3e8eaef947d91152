//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package local

// curCPU returns -1: these systems give a thread's CPU no cheap way.
func curCPU() int { return -1 }
