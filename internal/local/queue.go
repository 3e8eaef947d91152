//go:build !windows

package local

import (
	"encoding/binary"
	"sync"
)

// Meta is what the slot knows about a record besides its bytes.
type Meta struct {
	PID    int32  // writer's process id (0 when unknown)
	UID    uint32 // writer's user id
	Time   int64  // arrival, Unix nanoseconds
	Origin string // set by a relaying writer such as mailslotd: "\\NAME <ip:port>"
}

// recHeader is the fixed part stored in front of every queued record:
//
//	u32 payload length | u16 origin length | u16 gap |
//	i32 pid | u32 uid | i64 time
//
// followed by gap unused bytes (always 0 today), the origin bytes and the
// payload. 24 bytes a
// record, plus the origin when a relay set one; this is the queue's whole
// per-record overhead apart from the unused tail of a chunk.
const recHeader = 24

// chunkSize is the size of the arena blocks records are packed into. A record
// larger than a chunk gets a block of its own.
const chunkSize = 256 << 10

// queue is a FIFO of records packed back to back in large byte blocks, so
// that a million small queued records cost a few dozen bytes each beyond
// their payload, and the garbage collector sees a handful of pointers.
// It is not safe for concurrent use; the slot's mutex guards it.
type queue struct {
	chunks [][]byte // chunks[0][head:] holds the oldest records
	head   int      // read offset in chunks[0]
	count  int      // records queued
	bytes  int      // bytes held by queued records, headers included
}

// chunkPool recycles emptied chunks. A queue that a reader drains as fast
// as writers fill it takes a new chunk every few large records, often
// several per batch received; allocating each (zeroed, and soon given back
// to the kernel) cost more than copying the records into it.
var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// Len returns the number of queued records.
func (q *queue) Len() int { return q.count }

// Bytes returns the bytes the queued records occupy, headers included.
func (q *queue) Bytes() int { return q.bytes }

// Cost returns the bytes a record of n payload bytes and the given origin
// takes in the queue.
func Cost(n int, origin string) int { return recHeader + len(origin) + n }

// Push appends a record. It copies data and m.Origin.
func (q *queue) Push(data []byte, m Meta) {
	copy(q.put(data, len(m.Origin), m), m.Origin)
}

// pushBytes appends a record whose origin is in bytes (m.Origin is not
// used). It copies data and origin.
func (q *queue) pushBytes(data, origin []byte, m Meta) {
	copy(q.put(data, len(origin), m), origin)
}

// put appends a record, copying data, and returns where its origin of on
// bytes goes.
func (q *queue) put(data []byte, on int, m Meta) (origin []byte) {
	need := recHeader + on + len(data)
	var c []byte
	if n := len(q.chunks); n > 0 {
		c = q.chunks[n-1]
		if cap(c)-len(c) < need {
			c = nil
		}
	}
	if c == nil {
		size := max(chunkSize, need)
		if size == chunkSize {
			c = chunkPool.Get().(*[chunkSize]byte)[:0]
		} else {
			c = make([]byte, 0, size)
		}
		q.chunks = append(q.chunks, c)
	}
	off := len(c)
	c = c[:off+need]
	putHeader(c[off:], len(data), on, 0, m)
	copy(c[off+recHeader+on:], data)
	q.chunks[len(q.chunks)-1] = c
	q.count++
	q.bytes += need
	return c[off+recHeader : off+recHeader+on]
}

func putHeader(h []byte, n, on, gap int, m Meta) {
	binary.LittleEndian.PutUint32(h[0:], uint32(n))
	binary.LittleEndian.PutUint16(h[4:], uint16(on))
	binary.LittleEndian.PutUint16(h[6:], uint16(gap))
	binary.LittleEndian.PutUint32(h[8:], uint32(m.PID))
	binary.LittleEndian.PutUint32(h[12:], m.UID)
	binary.LittleEndian.PutUint64(h[16:], uint64(m.Time))
}

// record returns the header, origin and payload of the record at c[off:]
// and the offset of the next one.
func record(c []byte, off int) (h, origin, payload []byte, next int) {
	h = c[off : off+recHeader]
	n := int(binary.LittleEndian.Uint32(h[0:]))
	on := int(binary.LittleEndian.Uint16(h[4:]))
	start := off + recHeader + int(binary.LittleEndian.Uint16(h[6:]))
	return h, c[start : start+on], c[start+on : start+on+n], start + on + n
}

func meta(h []byte) Meta {
	return Meta{
		PID:  int32(binary.LittleEndian.Uint32(h[8:])),
		UID:  binary.LittleEndian.Uint32(h[12:]),
		Time: int64(binary.LittleEndian.Uint64(h[16:])),
	}
}

// peek returns the oldest record's header, origin and payload as slices
// into the arena, and the offset behind it. ok is false when the queue is
// empty.
func (q *queue) peek() (h, origin, payload []byte, next int, ok bool) {
	if q.count == 0 {
		return nil, nil, nil, 0, false
	}
	if q.head >= len(q.chunks[0]) {
		// The writer moved to a new chunk; this one is spent.
		q.dropHead()
	}
	h, origin, payload, next = record(q.chunks[0], q.head)
	return h, origin, payload, next, true
}

// NextSize returns the payload size of the oldest record, or -1.
func (q *queue) NextSize() int {
	_, _, p, _, ok := q.peek()
	if !ok {
		return -1
	}
	return len(p)
}

// Pop removes the oldest record, copying its payload into p, or into a new
// slice of its exact size when alloc is set. When p is too small, nothing is
// removed, fit is false, and n is the size p would need.
func (q *queue) Pop(p []byte, alloc bool) (out []byte, n int, m Meta, fit bool) {
	h, origin, payload, next, ok := q.peek()
	if !ok {
		return nil, 0, Meta{}, false
	}
	if alloc {
		p = make([]byte, len(payload))
	} else if len(payload) > len(p) {
		return nil, len(payload), Meta{}, false
	}
	copy(p, payload)
	m = meta(h)
	if alloc {
		m.Origin = string(origin)
	}
	q.bytes -= next - q.head
	q.head = next
	q.count--
	if q.head >= len(q.chunks[0]) {
		q.dropHead()
	}
	return p[:len(payload)], len(payload), m, true
}

func (q *queue) dropHead() {
	c := q.chunks[0]
	q.chunks[0] = nil
	q.chunks = q.chunks[1:]
	q.head = 0
	if cap(c) == chunkSize {
		chunkPool.Put((*[chunkSize]byte)(c[:chunkSize]))
	}
	if len(q.chunks) == 0 {
		q.chunks = q.chunks[:0:0]
	}
}

// Reset discards every record.
func (q *queue) Reset() {
	*q = queue{}
}

// Each calls f for every queued record, oldest first, without removing any.
// The slices are only valid during the call.
func (q *queue) Each(f func(payload []byte, m Meta)) {
	left := q.count
	for i := 0; i < len(q.chunks) && left > 0; i++ {
		c := q.chunks[i]
		off := 0
		if i == 0 {
			off = q.head
		}
		for off < len(c) && left > 0 {
			h, origin, payload, next := record(c, off)
			m := meta(h)
			m.Origin = string(origin)
			f(payload, m)
			off = next
			left--
		}
	}
}
