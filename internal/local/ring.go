//go:build !windows

package local

import (
	"encoding/binary"
	"os"
	"sync/atomic"
	"unsafe"
)

// A writer's ring: a single-producer, single-consumer queue of records in
// shared memory (a sealed memfd the writer makes and hands to the server
// over its connection). The writer owns the tail, the server the head;
// each side keeps its own copy of its index and only publishes it, so a
// hostile peer that scribbles over the shared words can spoil only its
// own records, never make the other side read or write out of bounds.
//
// Layout of the mapping: a header page, then the data area of a power of
// two bytes.
//
//	header  +0    u64 tail          bytes ever published (writer)
//	        +256  u64 head          bytes ever consumed (server)
//	        +512  u32 readerWants   the server sleeps: wake it (see below)
//	        +768  u32 writerWaits   the writer waits for room: wake it
//	        +1024 u32 closed        the server has stopped serving
//	        +1280 u32 stamps        the slot has other writers: stamp records
//	        +1536 u64 wokeAt        when the writer last woke the server (CLOCK_MONOTONIC)
//	        +1792 u32 wokeCPU       the CPU it woke it from, plus one (0: unknown)
//
// (each word on its own pair of cache lines, which x86 prefetches
// together, so that the two sides never share one)
//
//	data    +4096 records, each 8-byte aligned:
//	        u32 length | u32 kind | i64 stamp | length bytes | padding
//
// kind is recData (a record) or recPad (nothing up to the end of the area;
// a record never wraps). When fewer than recHdr bytes are left before the
// end, both sides skip them without a pad record. The stamp is the
// writer's CLOCK_MONOTONIC time: records of different writers are read in
// stamp order, so a record written after another writer's Write returned
// is read after that one. Reading the clock costs more than the rest of a
// write, so a writer stamps only once the server has set the stamps flag,
// which it does for every ring as soon as a slot has two writers; records
// written before a writer saw the flag cannot have been written after
// another writer's record returned, and are read as if stamped with the
// writer's previous stamp.
//
// Wake-ups: a side that sleeps sets the other side's flag, then looks once
// more; the other side, after moving its index, swaps the flag to zero and
// if it was set sends one byte over the connection ('W' to the server,
// 'S' to the writer). Both use sequentially consistent atomics, so one of
// them always sees the other.
const (
	ringHdr        = 4096
	offTail        = 0
	offHead        = 256
	offReaderWants = 512
	offWriterWaits = 768
	offClosed      = 1024
	offStamps      = 1280
	offWokeAt      = 1536
	offWokeCPU     = 1792

	recHdr  = 16
	recData = 0
	recPad  = 1

	// MinRing and MaxRing bound a ring's data area.
	MinRing = 4096
	MaxRing = 16 << 20
)

// ring is a mapped ring, seen from either side.
type ring struct {
	mem  []byte // the whole mapping
	data []byte // mem[ringHdr:]
	size uint64
	mask uint64

	// broken says the mapping faulted: the peer cut the ring's file
	// short (portable transport only: see ringio.go). Each side's
	// mutex guards it.
	broken bool
}

// newRing wraps a mapping of ringHdr plus a power-of-two data area.
func newRing(mem []byte) *ring {
	size := uint64(len(mem) - ringHdr)
	return &ring{mem: mem, data: mem[ringHdr:], size: size, mask: size - 1}
}

// validRingSize reports whether n is a data area size both sides accept.
func validRingSize(n int) bool {
	return n >= MinRing && n <= MaxRing && n&(n-1) == 0
}

// RingSize returns the data area a writer makes for records of up to max
// payload bytes: room for ringRecords of the largest, at least 64 KiB and
// at most maxAutoRing, and in any case two of the largest with a relay's
// framing (so the largest always fits, whatever the ring's position).
//
// A writer that fills its ring waits for the reader to free half of it:
// a message to the server and one back, two kernel wake-ups, a few system
// calls on each side. The larger the ring, the rarer that is while a
// reader keeps up: to a slot of 64 KiB records, four writer processes on
// two CPUs moved 1.3 to 1.9 times as many 64 KiB records through 2 MiB
// rings as through 1 MiB ones. 4 MiB rings moved more still of those, but
// a quarter fewer small ones (four writers of 100 B records; likely the
// cache, which four 4 MiB rings overflow), so 2 MiB it is. Its pages cost
// memory only once records have passed through them.
func RingSize(max int) int {
	need := ringRecords * align8(recHdr+max)
	n := 64 << 10
	for n < need && n < maxAutoRing {
		n <<= 1
	}
	for n < 2*align8(recHdr+1+MaxOrigin+max) {
		n <<= 1
	}
	return n
}

// ringRecords and maxAutoRing size RingSize's rings.
const (
	ringRecords = 64
	maxAutoRing = 2 << 20
)

// SmallRingSize returns the smallest data area that takes two of the
// largest records of up to max payload bytes with a relay's framing,
// and at least MinRing.
func SmallRingSize(max int) int {
	n := MinRing
	for n < 2*align8(recHdr+1+MaxOrigin+max) {
		n <<= 1
	}
	return n
}

func align8(n int) int { return (n + 7) &^ 7 }

// RecordSpace is the room a record of n payload bytes takes in the ring
// of a writer that is not a relay (a relay's records carry their origin
// too).
func RecordSpace(n int) int { return align8(recHdr + n) }

// faultChunk is how much of a ring's data area faultAhead maps at once.
const faultChunk = 256 << 10

// sysPage is the system's page size: madvise takes whole pages.
var sysPage = os.Getpagesize()

// faultAhead maps, during the ring's first pass, the pages that records
// will reach next: a chunk at a time, once pos (a writer's tail, or the
// reader's head) comes within half a chunk of *done, the end of what is
// mapped so far. A fresh 2 MiB ring would otherwise cost each side a
// page fault every 4 KiB. Pages are mapped at most a chunk and a half
// ahead of pos: a ring costs memory only as records pass through it.
func (r *ring) faultAhead(pos uint64, done *uint64, write bool) {
	if *done >= r.size || pos+faultChunk/2 < *done {
		return
	}
	start := max(*done, pos&^uint64(sysPage-1))
	if start >= r.size {
		*done = r.size
		return
	}
	end := min(start+faultChunk, r.size)
	// From the page of start in the whole mapping, which begins on a
	// page: the data area need not (ringHdr is 4 KiB, a page may be more).
	from := (ringHdr + int(start)) &^ (sysPage - 1)
	prefault(r.mem[from:ringHdr+int(end)], write)
	*done = end
}

func (r *ring) u64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&r.mem[off])) }
func (r *ring) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&r.mem[off])) }

func (r *ring) tail() *uint64        { return r.u64(offTail) }
func (r *ring) head() *uint64        { return r.u64(offHead) }
func (r *ring) readerWants() *uint32 { return r.u32(offReaderWants) }
func (r *ring) writerWaits() *uint32 { return r.u32(offWriterWaits) }
func (r *ring) closed() *uint32      { return r.u32(offClosed) }
func (r *ring) stamps() *uint32      { return r.u32(offStamps) }

// put writes a record at the writer's tail when there is room, given the
// head it last loaded. It returns the new tail and ok; it does not
// publish it. body is the record's bytes in up to two parts (a relay's
// framing and the payload).
func (r *ring) put(tail, head uint64, stamp int64, a, b []byte) (uint64, bool) {
	n := len(a) + len(b)
	need := uint64(align8(recHdr + n))
	pos := tail & r.mask
	rem := r.size - pos
	skip := uint64(0)
	if rem < need {
		skip = rem // pad to the end, start again at 0
	}
	if tail+skip+need-head > r.size {
		return tail, false
	}
	if skip >= recHdr {
		binary.LittleEndian.PutUint32(r.data[pos:], uint32(rem-recHdr))
		binary.LittleEndian.PutUint32(r.data[pos+4:], recPad)
	}
	pos = (tail + skip) & r.mask
	h := r.data[pos : pos+recHdr]
	binary.LittleEndian.PutUint32(h[0:], uint32(n))
	binary.LittleEndian.PutUint32(h[4:], recData)
	binary.LittleEndian.PutUint64(h[8:], uint64(stamp))
	copy(r.data[pos+recHdr:], a)
	streamCopy(r.data[pos+recHdr+uint64(len(a)):], b)
	return tail + skip + need, true
}

// ringStatus is what the server found at its head.
type ringStatus int

const (
	ringEmpty   ringStatus = iota
	ringRecord             // a record is at the head
	ringCorrupt            // the writer broke the format: drop it
)

// next finds the record at the server's head h, given the tail t it last
// validated (a stale t is fine: next reloads it when it has nothing). It
// returns the record's bytes (a slice of the shared area: the writer may
// still change them, spoiling only its own record), its stamp, the head
// behind it, and the tail now known. maxLen bounds a record's length.
// Nothing the writer puts in the area or the tail makes it read outside
// the data area.
func (r *ring) next(h, t uint64, maxLen int) (body []byte, stamp int64, nh, nt uint64, st ringStatus) {
	for {
		if h == t {
			t = atomic.LoadUint64(r.tail())
			if t-h > r.size || (t-h)&7 != 0 {
				return nil, 0, h, t, ringCorrupt
			}
			if h == t {
				return nil, 0, h, t, ringEmpty
			}
		}
		pos := h & r.mask
		rem := r.size - pos
		avail := t - h
		if rem < recHdr {
			if avail < rem {
				return nil, 0, h, t, ringCorrupt
			}
			h += rem
			continue
		}
		if avail < recHdr {
			return nil, 0, h, t, ringCorrupt
		}
		// Each header word is loaded once: the writer may change it
		// under us, and every check below must see the value used.
		ln := uint64(atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[pos]))))
		kind := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[pos+4])))
		switch kind {
		case recPad:
			if ln != rem-recHdr || avail < rem {
				return nil, 0, h, t, ringCorrupt
			}
			h += rem
			continue
		case recData:
		default:
			return nil, 0, h, t, ringCorrupt
		}
		need := (recHdr + ln + 7) &^ 7
		if ln > uint64(maxLen) || need > rem || need > avail {
			return nil, 0, h, t, ringCorrupt
		}
		stamp = int64(atomic.LoadUint64((*uint64)(unsafe.Pointer(&r.data[pos+8]))))
		return r.data[pos+recHdr : pos+recHdr+ln : pos+recHdr+ln], stamp, h + need, t, ringRecord
	}
}
