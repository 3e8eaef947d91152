//go:build !windows

package local

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"
	"testing"
)

// newTestRing returns a ring over ordinary memory with a data area of
// size bytes.
func newTestRing(size int) *ring {
	return newRing(make([]byte, ringHdr+size))
}

// publish stores the writer's tail, as Conn.Write does after put.
func (r *ring) publish(t uint64) { atomic.StoreUint64(r.tail(), t) }

// pattern is the body of record i: n bytes that differ between records.
func pattern(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*7 + j)
	}
	return b
}

// ringPair drives a ring from both ends: a writer with its tail and the
// head it last loaded, a reader with its head and the tail it validated.
type ringPair struct {
	t      *testing.T
	r      *ring
	wTail  uint64
	wHead  uint64
	rHead  uint64
	rTail  uint64
	maxLen int
	queue  [][]byte // written, not yet read
	stamps []int64
	stamp  int64
}

func newRingPair(t *testing.T, size int, start uint64) *ringPair {
	r := newTestRing(size)
	r.publish(start)
	return &ringPair{t: t, r: r, wTail: start, wHead: start, rHead: start, rTail: start, maxLen: size}
}

// put writes body as a and b split at cut (or whole when cut < 0); it
// reports whether it fitted.
func (p *ringPair) put(body []byte, cut int) bool {
	p.t.Helper()
	a, b := []byte(nil), body
	if cut >= 0 {
		a, b = body[:cut], body[cut:]
	}
	p.stamp++
	nt, ok := p.r.put(p.wTail, p.wHead, p.stamp, a, b)
	if !ok {
		if nt != p.wTail {
			p.t.Fatalf("a put that did not fit moved the tail from %d to %d", p.wTail, nt)
		}
		return false
	}
	if nt-p.wTail < uint64(recHdr+len(body)) || (nt-p.wTail)&7 != 0 {
		p.t.Fatalf("put of %d bytes moved the tail by %d", len(body), nt-p.wTail)
	}
	p.wTail = nt
	p.r.publish(nt)
	p.queue = append(p.queue, body)
	p.stamps = append(p.stamps, p.stamp)
	return true
}

// take reads the next record and checks it is the oldest one written.
func (p *ringPair) take() {
	p.t.Helper()
	body, stamp, nh, nt, st := p.r.next(p.rHead, p.rTail, p.maxLen)
	if st != ringRecord {
		p.t.Fatalf("next at head %d (tail %d): status %d, want a record (%d waiting)", p.rHead, nt, st, len(p.queue))
	}
	if len(p.queue) == 0 {
		p.t.Fatalf("next found a record %q that was never written", body)
	}
	if !bytes.Equal(body, p.queue[0]) || stamp != p.stamps[0] {
		p.t.Fatalf("record = %q stamped %d, want %q stamped %d", body, stamp, p.queue[0], p.stamps[0])
	}
	p.queue, p.stamps = p.queue[1:], p.stamps[1:]
	p.rHead, p.rTail = nh, nt
	atomic.StoreUint64(p.r.head(), nh)
	p.wHead = atomic.LoadUint64(p.r.head())
}

// empty checks the reader finds nothing more.
func (p *ringPair) empty() {
	p.t.Helper()
	_, _, nh, nt, st := p.r.next(p.rHead, p.rTail, p.maxLen)
	if st != ringEmpty || len(p.queue) != 0 {
		p.t.Fatalf("at the end: status %d, %d records unread", st, len(p.queue))
	}
	p.rHead, p.rTail = nh, nt
}

// Records written with put come out of next in order, whole, with their
// stamps: records of every size, the area's end crossed with a pad record,
// with a skip too short for one, and exactly at the end, split into two
// parts (a relay's framing and the payload), and with the byte counters
// wrapping around 2^64.
func TestRingRoundTrip(t *testing.T) {
	const size = 4096
	var sizes []int
	for n := 0; n <= 64; n++ {
		sizes = append(sizes, n)
	}
	sizes = append(sizes, 100, 255, 256, 257, 1000, 1500, 2000, size/2-recHdr)
	for _, tc := range []struct {
		name  string
		start uint64
		sizes []int
		cut   int // split each body into two parts here (-1: one part)
		batch int // records written before the reader catches up
	}{
		{"every size", 0, sizes, -1, 3},
		{"two parts", 0, sizes, 1, 5},
		{"one at a time", 0, sizes, -1, 1},
		{"start near the end", size - 40, sizes, -1, 2},
		{"counters wrap", ^uint64(0) - 2*size + 1 + 8, sizes, 0, 4},
		{"large records", 24, []int{2000, 2032, 1, 2032, 2000, 17, 2032}, -1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newRingPair(t, size, tc.start&^7)
			for round := 0; round < 3; round++ {
				for i, n := range tc.sizes {
					cut := min(tc.cut, n)
					if !p.put(pattern(i, n), cut) {
						// Full: read, then it must fit.
						for len(p.queue) > 0 {
							p.take()
						}
						p.empty()
						if !p.put(pattern(i, n), cut) {
							t.Fatalf("record of %d bytes does not fit an empty ring", n)
						}
					}
					if len(p.queue) >= tc.batch {
						for len(p.queue) > 0 {
							p.take()
						}
					}
				}
			}
			for len(p.queue) > 0 {
				p.take()
			}
			p.empty()
		})
	}
}

// The ways a record reaches the end of the data area: a pad record when
// at least a header's room is left, a bare skip when less, none when it
// fits exactly.
func TestRingWrap(t *testing.T) {
	const size = 4096
	for _, tc := range []struct {
		name    string
		left    uint64 // bytes before the end of the area
		n       int    // the record's length
		wantPad bool
		wantAt  uint64 // where the record starts
	}{
		{"pad", 40, 100, true, 0},
		{"pad of a header alone", 16, 100, true, 0},
		{"skip without pad", 8, 100, false, 0},
		{"exact fit", 120, 104, false, size - 120},
		{"fits with room", 200, 104, false, size - 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := uint64(3*size) - tc.left
			p := newRingPair(t, size, start)
			if !p.put(pattern(1, tc.n), -1) {
				t.Fatal("the record did not fit")
			}
			pos := start & p.r.mask
			if tc.wantPad {
				ln := binary.LittleEndian.Uint32(p.r.data[pos:])
				kind := binary.LittleEndian.Uint32(p.r.data[pos+4:])
				if kind != recPad || uint64(ln) != tc.left-recHdr {
					t.Fatalf("at %d: kind %d length %d, want a pad of %d", pos, kind, ln, tc.left-recHdr)
				}
			}
			at := tc.wantAt
			if ln := binary.LittleEndian.Uint32(p.r.data[at:]); int(ln) != tc.n {
				t.Fatalf("record header at %d says %d bytes, want %d", at, ln, tc.n)
			}
			p.take()
			p.empty()
			if want := start + tc.left*boolInt(tc.wantAt == 0) + uint64(align8(recHdr+tc.n)); p.rHead != want {
				t.Fatalf("head after the record = %d, want %d", p.rHead, want)
			}
		})
	}
}

func boolInt(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// A full ring refuses a record without touching the tail, and takes it
// once the reader has made room.
func TestRingFull(t *testing.T) {
	const size = 4096
	p := newRingPair(t, size, 0)
	n := 0
	for p.put(pattern(n, 100), -1) {
		n++
	}
	if want := size / align8(recHdr+100); n != want {
		t.Fatalf("%d records of 100 bytes fit, want %d", n, want)
	}
	if p.wTail-p.wHead > size {
		t.Fatalf("tail %d is more than a ring past head %d", p.wTail, p.wHead)
	}
	if p.put(nil, -1) && p.wTail-p.wHead > size {
		t.Fatal("an empty record overfilled the ring")
	}
	p.take()
	if !p.put(pattern(n, 100), -1) {
		t.Fatal("no room after a read")
	}
	for len(p.queue) > 0 {
		p.take()
	}
	p.empty()

	// A record that needs a pad to the end: it waits for room for both.
	p = newRingPair(t, size, size-40)
	if !p.put(pattern(0, 4000), -1) {
		t.Fatal("a large record did not fit a new ring")
	}
	if p.put(pattern(1, 100), -1) {
		t.Fatal("a record fitted a ring without room")
	}
	p.take()
	p.empty()
}

// Whatever the writer puts in the header words or the data area, next
// reports the ring as broken rather than read a bad record.
func TestRingCorrupt(t *testing.T) {
	const size = 4096
	// base: two 100-byte records at h (120 bytes each).
	type setup struct {
		h      uint64
		maxLen int
	}
	base := func(r *ring, h uint64) uint64 {
		t1, _ := r.put(h, h, 1, nil, pattern(0, 100))
		t2, _ := r.put(t1, h, 2, nil, pattern(1, 100))
		r.publish(t2)
		return t2
	}
	put32at := func(r *ring, pos uint64, v uint32) { binary.LittleEndian.PutUint32(r.data[pos&r.mask:], v) }
	for _, tc := range []struct {
		name  string
		build func(r *ring) setup
		want  ringStatus
	}{
		{"control", func(r *ring) setup { base(r, 0); return setup{0, 1000} }, ringRecord},
		{"length over the maximum", func(r *ring) setup {
			base(r, 0)
			return setup{0, 99}
		}, ringCorrupt},
		{"length past the tail", func(r *ring) setup {
			base(r, 0)
			put32at(r, 0, 300)
			return setup{0, 1000}
		}, ringCorrupt},
		{"length past the end of the area", func(r *ring) setup {
			h := uint64(size - 120)
			base(r, h)
			put32at(r, h, 200)
			return setup{h, 1000}
		}, ringCorrupt},
		{"huge length", func(r *ring) setup {
			base(r, 0)
			put32at(r, 0, ^uint32(0))
			return setup{0, 1 << 30}
		}, ringCorrupt},
		{"unknown kind", func(r *ring) setup {
			base(r, 0)
			put32at(r, 4, 2)
			return setup{0, 1000}
		}, ringCorrupt},
		{"kind all ones", func(r *ring) setup {
			base(r, 0)
			put32at(r, 4, ^uint32(0))
			return setup{0, 1000}
		}, ringCorrupt},
		{"pad of the wrong length", func(r *ring) setup {
			h := uint64(size - 40)
			base(r, h) // pads the last 40 bytes
			put32at(r, h, 40)
			return setup{h, 1000}
		}, ringCorrupt},
		{"pad past the tail", func(r *ring) setup {
			h := uint64(size - 40)
			base(r, h)
			r.publish(h + 16)
			return setup{h, 1000}
		}, ringCorrupt},
		{"pad at the start of a record", func(r *ring) setup {
			base(r, 0)
			put32at(r, 4, recPad)
			return setup{0, 1000}
		}, ringCorrupt},
		{"tail more than a ring ahead", func(r *ring) setup {
			base(r, 0)
			r.publish(size + 8)
			return setup{0, 1000}
		}, ringCorrupt},
		{"tail not aligned", func(r *ring) setup {
			base(r, 0)
			r.publish(121)
			return setup{0, 1000}
		}, ringCorrupt},
		{"tail behind the head", func(r *ring) setup {
			base(r, 800)
			r.publish(792)
			return setup{800, 1000}
		}, ringCorrupt},
		{"tail inside a header", func(r *ring) setup {
			base(r, 0)
			r.publish(8)
			return setup{0, 1000}
		}, ringCorrupt},
		{"tail inside a body", func(r *ring) setup {
			base(r, 0)
			r.publish(64)
			return setup{0, 1000}
		}, ringCorrupt},
		// Not broken: a tail that stops at the end of the area, past
		// bytes too few for a header or past a pad, with nothing after.
		{"tail at the end past the last bytes", func(r *ring) setup {
			r.publish(size)
			return setup{size - 8, 1000}
		}, ringEmpty},
		{"tail at the end past a pad", func(r *ring) setup {
			h := uint64(size - 40)
			base(r, h) // pads the last 40 bytes
			r.publish(size)
			return setup{h, 1000}
		}, ringEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestRing(size)
			su := tc.build(r)
			// A stale tail equal to the head makes next load the
			// writer's tail, as the server does when it has nothing.
			body, _, nh, _, st := r.next(su.h, su.h, su.maxLen)
			if st != tc.want {
				t.Fatalf("status %d, want %d (body %d bytes, head %d -> %d)", st, tc.want, len(body), su.h, nh)
			}
			if st == ringCorrupt && (body != nil || nh != su.h) {
				t.Fatalf("a broken ring returned a body of %d bytes and moved the head %d -> %d", len(body), su.h, nh)
			}
		})
	}
}
