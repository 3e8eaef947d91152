//go:build !windows

package local

import (
	"strings"
	"testing"
)

// RingSize: 64 of the largest records, rounded up to a power of two
// between 64 KiB and 2 MiB, and never less than two of the largest with a
// relay's framing. validRingSize takes exactly the powers of two from
// MinRing to MaxRing.
func TestRingSizeTable(t *testing.T) {
	for _, c := range []struct{ max, want int }{
		{0, 64 << 10},
		{100, 64 << 10},
		// 64 records of 1008+16 bytes: exactly 64 KiB.
		{1008, 64 << 10},
		// One byte more: 64*1032 > 64 KiB.
		{1009, 128 << 10},
		{4080, 256 << 10},
		{4081, 512 << 10},
		// 64 of the largest would need 4 MiB + 1 KiB: capped at 2 MiB.
		{65536, 2 << 20},
		// Two of the largest with framing: exactly 2 MiB (2*(16+1+255+
		// 1048304)), then one byte more.
		{1048304, 2 << 20},
		{1048305, 4 << 20},
	} {
		if got := RingSize(c.max); got != c.want {
			t.Errorf("RingSize(%d) = %d, want %d", c.max, got, c.want)
		}
	}
	for _, c := range []struct {
		n  int
		ok bool
	}{
		{MinRing, true}, {MinRing / 2, false}, {MinRing - 1, false}, {MinRing + 8, false},
		{MaxRing, true}, {MaxRing * 2, false}, {MaxRing - 1, false}, {1 << 20, true},
		{3 << 12, false}, {0, false},
	} {
		if got := validRingSize(c.n); got != c.ok {
			t.Errorf("validRingSize(%d) = %v, want %v", c.n, got, c.ok)
		}
	}
	// SmallRingSize: the smallest power of two from MinRing that takes
	// two of the largest with framing (16+1+255 bytes each, aligned).
	for _, c := range []struct{ max, want int }{
		{0, MinRing},
		// 2*align8(16+1+255+1776) = 2*2048 = 4096: exactly MinRing.
		{1776, MinRing},
		{1777, 2 * MinRing},
	} {
		if got := SmallRingSize(c.max); got != c.want {
			t.Errorf("SmallRingSize(%d) = %d, want %d", c.max, got, c.want)
		}
	}
}

// RecordSpace is what a record of a writer that is not a relay takes of
// its ring.
func TestRecordSpace(t *testing.T) {
	listenT(t, Config{Policy: owner})
	c := dialT(t, DialConfig{})
	for _, n := range []int{0, 1, 7, 8, 100, 4096} {
		before := c.tail
		mustWrite(t, c, strings.Repeat("x", n))
		if got := c.tail - before; got != uint64(RecordSpace(n)) {
			t.Fatalf("a %d-byte record took %d bytes of the ring, RecordSpace says %d", n, got, RecordSpace(n))
		}
	}
}
