//go:build !windows

package local

import (
	"testing"
	"unsafe"
)

func TestAlignedAt(t *testing.T) {
	buf := make([]byte, 70000+2*pageSize)
	// Buffers that start anywhere in a page.
	for _, shift := range []int{0, 1, 7, 2048, 4095} {
		b := buf[shift : shift+70000+pageSize-1]
		for _, off := range []int{0, 1, 29, 4095, 4096, 4097, -3} {
			got := AlignedAt(b, off, 70000)
			if len(got) != 70000 || cap(got) != 70000 {
				t.Fatalf("shift %d, off %d: len %d cap %d", shift, off, len(got), cap(got))
			}
			if at := int(uintptr(unsafe.Pointer(&got[0]))) & (pageSize - 1); at != off&(pageSize-1) {
				t.Fatalf("shift %d, off %d: starts %d bytes into a page", shift, off, at)
			}
		}
	}
}
