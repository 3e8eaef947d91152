//go:build !windows

package local

import (
	"testing"
	"unsafe"
)

// fuzzRingSizes are the data areas FuzzRingNext builds rings of.
var fuzzRingSizes = []int{MinRing, 2 * MinRing, 4 * MinRing}

// fuzzRing builds the ring a fuzz input describes: a data area of one of
// fuzzRingSizes, holding data from the server's head on (wrapping at the
// end of the area; zeros elsewhere), and the writer's tail at delta bytes
// from the head (any distance, behind it too).
func fuzzRing(sizeSel uint8, head uint64, delta int64, data []byte) (*ring, uint64) {
	size := fuzzRingSizes[int(sizeSel)%len(fuzzRingSizes)]
	r := newTestRing(size)
	h := head &^ 7 // the server's head only ever moves by multiples of 8
	for i, b := range data[:min(len(data), size)] {
		r.data[(h+uint64(i))&r.mask] = b
	}
	r.publish(h + uint64(delta))
	return r, h
}

// FuzzRingNext gives the server's reader a ring whose every byte the
// writer chose: the data area, the tail, where the server's head stands
// and the longest record it takes. Reading from there, next must never
// return bytes outside the data area or past the tail, must move the head
// forward on every record, and must come to an end: the writer shares the
// ring, and nothing it writes may make the server read out of bounds,
// loop or crash.
func FuzzRingNext(f *testing.F) {
	// Seeds: rings a well-behaved writer leaves, with records of several
	// sizes, a pad to the end of the area, a skip too short for a pad,
	// records that fill the area, and byte counters about to wrap around.
	for _, seed := range []struct {
		sizeSel uint8
		start   uint64
		lens    []int
	}{
		{0, 0, []int{0, 1, 7, 8, 9, 100}},
		{0, 4096 - 40, []int{100, 3, 200}},
		{0, 4096 - 8, []int{50, 60}},
		{0, 4096 - 16, []int{20, 0}},
		{1, 3 * 8192, []int{4000, 4000, 100}},
		{2, ^uint64(0) - 16384 + 1 + 512, []int{1000, 2000, 3000, 17, 0, 5000}},
		{0, 0, nil},
	} {
		size := fuzzRingSizes[int(seed.sizeSel)%len(fuzzRingSizes)]
		r := newTestRing(size)
		r.publish(seed.start)
		tail := seed.start
		for i, n := range seed.lens {
			nt, ok := r.put(tail, seed.start, int64(i+1), pattern(i, 1)[:min(n, 1)], pattern(i, max(n-1, 0)))
			if !ok {
				f.Fatalf("seed %+v: record %d does not fit", seed, i)
			}
			tail = nt
		}
		r.publish(tail)
		// Each seed reads back whole.
		h, t, got := seed.start, seed.start, 0
		for {
			_, _, nh, nt, st := r.next(h, t, size/2)
			if st != ringRecord {
				if st != ringEmpty || got != len(seed.lens) {
					f.Fatalf("seed %+v: status %d after %d records", seed, st, got)
				}
				break
			}
			h, t, got = nh, nt, got+1
		}
		// The input holds the bytes from the head to the tail.
		var data []byte
		for p := seed.start; p != tail; p++ {
			data = append(data, r.data[p&r.mask])
		}
		f.Add(seed.sizeSel, uint32(size/2), seed.start, int64(tail-seed.start), data)
	}
	f.Fuzz(func(t *testing.T, sizeSel uint8, maxLen uint32, head uint64, delta int64, data []byte) {
		r, h := fuzzRing(sizeSel, head, delta, data)
		size := int(r.size)
		t0 := h // as the server starts: nothing validated yet
		limit := int(maxLen % uint32(2*size+1))
		base := uintptr(unsafe.Pointer(unsafe.SliceData(r.data)))
		for i := 0; ; i++ {
			if i > size/recHdr+1 {
				t.Fatalf("more than %d records in a ring of %d bytes", i, size)
			}
			body, _, nh, nt, st := r.next(h, t0, limit)
			switch st {
			case ringEmpty:
				if nh-h > uint64(size) || nh-h > nt-h {
					t.Fatalf("empty: head moved %d -> %d (tail %d)", h, nh, nt)
				}
				return
			case ringCorrupt:
				if body != nil {
					t.Fatalf("a broken ring returned %d bytes", len(body))
				}
				return
			case ringRecord:
			default:
				t.Fatalf("status %d", st)
			}
			if nh-h == 0 || nh-h > uint64(size) || nh-h > nt-h {
				t.Fatalf("record: head %d -> %d, tail %d, size %d", h, nh, nt, size)
			}
			if len(body) > limit || cap(body) != len(body) {
				t.Fatalf("body of %d bytes (cap %d), the limit is %d", len(body), cap(body), limit)
			}
			if len(body) > 0 {
				off := uintptr(unsafe.Pointer(unsafe.SliceData(body))) - base
				if off < recHdr || off+uintptr(len(body)) > uintptr(size) || off&7 != 0 {
					t.Fatalf("body of %d bytes at offset %d, outside the data area of %d bytes", len(body), off, size)
				}
			}
			h, t0 = nh, nt
		}
	})
}
