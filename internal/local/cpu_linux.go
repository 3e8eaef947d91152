package local

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// curCPU returns the CPU the calling thread runs on (getcpu(2)), or -1.
// It may have moved by the time the caller looks.
func curCPU() int {
	var cpu uint32
	// getcpu neither blocks nor fails with valid pointers: no need to
	// tell the scheduler, as a Syscall would.
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); e != 0 {
		return -1
	}
	return int(cpu)
}
