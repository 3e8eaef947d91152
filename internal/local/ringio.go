//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import "sync/atomic"

// The ring's shared memory as the transport touches it: every load and
// store of a header word, every record found or written, every byte of
// a record copied out goes through these. On Linux a ring is a sealed
// memfd, which cannot shrink under a mapping, and they are plain
// accesses. On the portable transport a ring is a file, which the peer
// (it holds a writable descriptor) may cut short under our mapping, so
// that touching it faults: there each access runs under guard
// (fault_portable.go), which turns the fault into a broken ring (the
// ring's broken flag) instead of killing the process; so does pushRing
// (sys_*.go), which copies a record out of the ring into the queue. A
// broken ring's writer is dropped (server) or told the server broke the
// ring (client).

func (r *ring) load64(off int) uint64 {
	if faultGuard {
		var v uint64
		r.guard(func() { v = atomic.LoadUint64(r.u64(off)) })
		return v
	}
	return atomic.LoadUint64(r.u64(off))
}

func (r *ring) store64(off int, v uint64) {
	if faultGuard {
		r.guard(func() { atomic.StoreUint64(r.u64(off), v) })
		return
	}
	atomic.StoreUint64(r.u64(off), v)
}

func (r *ring) load32(off int) uint32 {
	if faultGuard {
		var v uint32
		r.guard(func() { v = atomic.LoadUint32(r.u32(off)) })
		return v
	}
	return atomic.LoadUint32(r.u32(off))
}

func (r *ring) store32(off int, v uint32) {
	if faultGuard {
		r.guard(func() { atomic.StoreUint32(r.u32(off), v) })
		return
	}
	atomic.StoreUint32(r.u32(off), v)
}

// take32 clears the flag at off and reports whether it was set: one load
// first, so that the common case (not set) writes nothing.
func (r *ring) take32(off int) bool {
	if faultGuard {
		var v bool
		r.guard(func() {
			v = atomic.LoadUint32(r.u32(off)) != 0 && atomic.SwapUint32(r.u32(off), 0) != 0
		})
		return v
	}
	return atomic.LoadUint32(r.u32(off)) != 0 && atomic.SwapUint32(r.u32(off), 0) != 0
}

// nextSafe is next; a fault is a corrupt ring.
func (r *ring) nextSafe(h, t uint64, maxLen int) (body []byte, stamp int64, nh, nt uint64, st ringStatus) {
	if faultGuard {
		nh, nt, st = h, t, ringCorrupt
		r.guard(func() { body, stamp, nh, nt, st = r.next(h, t, maxLen) })
		if r.broken {
			return nil, 0, h, t, ringCorrupt
		}
		return body, stamp, nh, nt, st
	}
	return r.next(h, t, maxLen)
}

// putSafe is put; a fault leaves the tail where it was, and the ring
// broken.
func (r *ring) putSafe(tail, head uint64, stamp int64, a, b []byte) (uint64, bool) {
	if faultGuard {
		nt, ok := tail, false
		r.guard(func() { nt, ok = r.put(tail, head, stamp, a, b) })
		if r.broken {
			return tail, false
		}
		return nt, ok
	}
	return r.put(tail, head, stamp, a, b)
}

// copyOut copies src, a record in the ring, to dst; false when the ring
// broke meanwhile.
func (r *ring) copyOut(dst, src []byte) bool {
	if faultGuard {
		return r.guard(func() { copy(dst, src) })
	}
	copy(dst, src)
	return true
}

// byteAt loads b[i], a byte of a record in the ring.
func (r *ring) byteAt(b []byte, i int) (byte, bool) {
	if faultGuard {
		var v byte
		ok := r.guard(func() { v = b[i] })
		return v, ok
	}
	return b[i], true
}
