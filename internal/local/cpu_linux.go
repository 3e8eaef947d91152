package local

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// curCPU returns the CPU the calling thread runs on, or -1. It may have
// moved by the time the caller looks.
//
// A system call costs a microsecond on some virtual machines, and a
// writer asks this on every wake-up, the reader after every sleep: both
// on the path a wake-up's latency is measured on. Where the segment
// Linux keeps for the vDSO's getcpu can be read (amd64), that costs some
// 20 ns instead; it is used once it has agreed with getcpu(2).
func curCPU() int {
	if segmentCPUWorks() {
		if v, ok := lslCPU(); ok {
			return segmentCPU(v)
		}
	}
	return getcpu()
}

// getcpu asks the kernel for the calling thread's CPU (getcpu(2)), or -1.
func getcpu() int {
	var cpu uint32
	// getcpu neither blocks nor fails with valid pointers: no need to
	// tell the scheduler, as a Syscall would.
	if _, _, e := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); e != 0 {
		return -1
	}
	return int(cpu)
}

// segmentCPU is the CPU number in the per-CPU segment's limit: its low 12
// bits (the NUMA node is above them).
func segmentCPU(limit uint32) int { return int(limit & 0xfff) }

// segmentCPUWorks reports whether lslCPU reads what getcpu(2) says.
var segmentCPUWorks = sync.OnceValue(func() bool { return segmentAgrees(lslCPU, getcpu) })

// segmentAgrees checks a fast source of the CPU number (the segment's
// limit) against the kernel's: each of a few tries reads the fast one,
// the kernel's, the fast one again; a try whose two fast reads differ saw
// the thread move and says nothing. It agrees when three tries agree and
// none disagrees.
func segmentAgrees(fast func() (uint32, bool), kernel func() int) bool {
	agree := 0
	for range 8 {
		a, ok := fast()
		k := kernel()
		b, ok2 := fast()
		if !ok || !ok2 || k < 0 {
			return false
		}
		if a != b {
			continue
		}
		if segmentCPU(a) != k {
			return false
		}
		if agree++; agree == 3 {
			return true
		}
	}
	return false
}
