//go:build !windows

package local

import "unsafe"

// Where large records lie in memory matters to the kernel's copies. On AMD
// Zen processors the kernel's copy between user space and a socket buffer
// (rep movsb) runs up to six times slower when the destination lies 1 to
// 31 bytes past the source modulo the page size (4K aliasing). Measured on
// this transport, a 64 KiB record with a relay's 29-byte origin: 45 µs to
// receive into a page-aligned buffer, 7 µs 32 bytes further on; 16 µs to
// send from a buffer where the payload starts 18 bytes into a page, 8.5 µs
// from one where it starts at the offset it has in the datagram.
//
// A datagram's buffer in the kernel is a head that starts on a page
// boundary (or at least on a 64-byte one) and, past about 16 KB, page
// fragments holding the rest, which start at byte len%4096 of the
// datagram. So a program that sends a large payload should place it at
// the offset it has in the datagram or stream, modulo the page size
// (AlignedAt); mailslotd does so with the records of its stream port.

// pageSize is the period of the kernel's buffer layout.
const pageSize = 4096

// AlignedAt returns the n bytes of b that start at an address whose
// offset in its page is off (modulo the page size). b must hold n+4095
// bytes.
func AlignedAt(b []byte, off, n int) []byte {
	start := AlignIndex(b, off)
	return b[start : start+n : start+n]
}

// AlignIndex returns the first index of b (below 4096) whose address is off
// bytes into a page (modulo the page size).
func AlignIndex(b []byte, off int) int {
	return (off - int(uintptr(unsafe.Pointer(unsafe.SliceData(b))))) & (pageSize - 1)
}
