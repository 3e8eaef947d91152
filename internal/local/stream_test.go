//go:build !windows

package local

import (
	"bytes"
	"fmt"
	"testing"
	"unsafe"
)

// streamCopy copies exactly as copy does, whatever the alignment of
// either side and the length, around streamMin and a block's edges, and
// touches nothing past the copy.
func TestStreamCopy(t *testing.T) {
	src := make([]byte, 1<<17+64)
	for i := range src {
		src[i] = byte(i*7 + i>>8)
	}
	lens := []int{0, 1, 63, streamMin - 1, streamMin, streamMin + 1, streamMin + streamBlock - 1,
		streamMin + streamBlock + 15, 1 << 16, 1<<16 + 7}
	for _, n := range lens {
		for doff := range 18 {
			for soff := range 3 {
				dst := bytes.Repeat([]byte{0xEE}, n+doff+32)
				streamCopy(dst[doff:doff+n+16], src[soff:soff+n])
				if !bytes.Equal(dst[doff:doff+n], src[soff:soff+n]) {
					t.Fatalf("n %d, dst offset %d, src offset %d: copy differs", n, doff, soff)
				}
				for i, b := range dst {
					if (i < doff || i >= doff+n) && b != 0xEE {
						t.Fatalf("n %d, dst offset %d, src offset %d: byte %d outside the copy changed", n, doff, soff, i)
					}
				}
			}
		}
	}
}

// streamLead finds the first 16-byte aligned address, and the streamed
// blocks copy on their own.
func TestStreamParts(t *testing.T) {
	buf := make([]byte, 4*streamBlock+16)
	for off := range 17 {
		lead := streamLead(buf[off:])
		if canStream && (lead < 0 || lead > 15 || (uintptr(unsafe.Pointer(&buf[off+lead])))%16 != 0) {
			t.Fatalf("offset %d: lead %d", off, lead)
		}
	}
	lead := streamLead(buf)
	src := make([]byte, 3*streamBlock)
	for i := range src {
		src[i] = byte(i + 1)
	}
	for _, n := range []int{0, streamBlock, 3 * streamBlock} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dst := buf[lead : lead+3*streamBlock]
			clear(dst)
			streamBlocks(dst[:n], src[:n])
			if !bytes.Equal(dst[:n], src[:n]) || bytes.ContainsFunc(dst[n:], func(r rune) bool { return r != 0 }) {
				t.Fatalf("streamBlocks of %d bytes: %v", n, dst)
			}
		})
	}
}
