//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import "unsafe"

// prefetchWrite asks the CPU to fetch the cache line of p for writing
// (PRFM PSTL1KEEP, a hint every ARMv8 CPU takes).
//
//go:noescape
func prefetchWrite(p unsafe.Pointer)

// canPrefetchWrite: always, on ARMv8.
const canPrefetchWrite = true
