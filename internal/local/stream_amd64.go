//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import "unsafe"

// canStream: every amd64 CPU has SSE2's MOVNTDQ.
const canStream = true

// streamLead returns how many bytes of dst come before its first 16-byte
// aligned address (MOVNTDQ stores only to those).
func streamLead(dst []byte) int {
	return int(-uintptr(unsafe.Pointer(unsafe.SliceData(dst))) & 15)
}

// streamBlocks copies src to dst, of the same length, a multiple of
// streamBlock, dst 16-byte aligned, with non-temporal stores, and fences
// them (SFENCE).
func streamBlocks(dst, src []byte) {
	if len(dst) > 0 {
		streamBlocksAsm(unsafe.Pointer(unsafe.SliceData(dst)), unsafe.Pointer(unsafe.SliceData(src)), uintptr(len(dst)))
	}
}

//go:noescape
func streamBlocksAsm(dst, src unsafe.Pointer, n uintptr)
