//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import "unsafe"

// prefetchWrite asks the CPU to fetch the cache line of p for writing
// (PREFETCHW). Only where canPrefetchWrite.
//
//go:noescape
func prefetchWrite(p unsafe.Pointer)

// cpuid returns EAX and ECX of the CPUID leaf (subleaf 0).
func cpuid(leaf uint32) (eax, ecx uint32)

// canPrefetchWrite says the CPU has PREFETCHW (CPUID 0x80000001, ECX bit
// 8: every AMD64 CPU since 2003, Intel's since Broadwell). Where it has
// not, a writer does without.
var canPrefetchWrite = func() bool {
	if top, _ := cpuid(0x80000000); top < 0x80000001 {
		return false
	}
	_, ecx := cpuid(0x80000001)
	return ecx&(1<<8) != 0
}()
