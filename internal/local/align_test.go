package local

import (
	"testing"
	"unsafe"
)

func TestAlignedAt(t *testing.T) {
	b := make([]byte, 70000+pageSize-1)
	for _, off := range []int{0, 1, 29, 4095, 4096, 4097, -3} {
		got := AlignedAt(b, off, 70000)
		if len(got) != 70000 || cap(got) != 70000 {
			t.Fatalf("off %d: len %d cap %d", off, len(got), cap(got))
		}
		if at := int(uintptr(unsafe.Pointer(&got[0]))) & (pageSize - 1); at != off&(pageSize-1) {
			t.Fatalf("off %d: starts %d bytes into a page", off, at)
		}
	}
}

// The fragments of a datagram of n bytes start n%4096 bytes into a page of
// it; received at recvShift(n) into a page, they land 0 or 32 to 4095-16
// bytes past their source, never 1 to 31.
func TestRecvShift(t *testing.T) {
	for n := 0; n < 3*pageSize; n++ {
		d := recvShift(n)
		if d != 0 && d != maxShift {
			t.Fatalf("recvShift(%d) = %d", n, d)
		}
		if dist := (d + n) % pageSize; dist >= 1 && dist < 32 {
			t.Fatalf("a datagram of %d bytes lands %d bytes past its source", n, dist)
		}
	}
}
