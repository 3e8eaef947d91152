//go:build !windows

package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/printable"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// The datagram receive path never waits on a slot. A record for a slot
// that mailslotd has open, with nothing queued before it and room in its
// ring, goes in at once (local.Conn.TryWrite, which never waits). Any
// other goes in its slot's queue: every slot has a queue of its own,
// bounded, drained by a goroutine of its own that opens the slot and waits
// for room. Once the queue is empty, records go straight in again while
// the goroutine lingers for more, and it ends after queueLinger. A slot that is full, or
// whose process has stopped answering (a reader under SIGSTOP stalls the
// relay's handshake up to 5 s), fills only its own queue: its records are
// dropped and counted for it, and no other slot's record waits behind
// them.

const (
	// slotQueueLen is the most records one slot's queue holds.
	slotQueueLen = 2048
	// maxLiveQueues bounds the slots with a queue (and a goroutine) at once;
	// records for another slot are dropped while that many are busy.
	maxLiveQueues = maxCachedSlots
	// maxTrackedSlots bounds the slots whose counters are kept.
	maxTrackedSlots = 1024
	// maxQueuedBytes bounds the memory held by every queue together.
	maxQueuedBytes = 8 << 20
	// queueLinger is how long a queue's goroutine waits for records once
	// its queue is empty before it ends (a later record starts another).
	queueLinger = 5 * time.Second
	// maxSpareQueues is how many empty channels of retired queues are kept
	// for new ones (each 2048 records' room, 48 KiB): a record for a slot
	// that no one serves here starts a queue that its failed delivery
	// retires at once, and a group record comes to every member of the
	// workgroup, most of which serve no slot of that name.
	maxSpareQueues = 4
	// absentMemory is how long a slot found not served stays so for the
	// records that follow: they are counted as for no slot at once,
	// without a queue or an attempt to open it. A group record comes to
	// every member of its workgroup, most of which serve no slot of its
	// name, and each attempt costs a goroutine and a connection attempt
	// (22 µs); a slot created meanwhile misses at most this long of them,
	// as datagrams may be missed.
	absentMemory = 10 * time.Millisecond
	// queueWait is how long a queued record waits for room in a full slot.
	queueWait = 250 * time.Millisecond
	// recBufSize is the size of the pooled buffers records are queued in:
	// room for a NetBIOS datagram's record and its origin. Larger ones get
	// a buffer of their own.
	recBufSize = 1024
)

// SlotStats counts what went to one local slot from the network, by its
// path as the first record named it.
type SlotStats struct {
	Path      string `json:"path"`
	Delivered uint64 `json:"delivered"` // records handed to the slot
	// Dropped counts records dropped: the slot's queue or the slot stayed
	// full, it did not answer, or it takes no records from the network.
	Dropped uint64 `json:"dropped"`
	// QueueDepth is the records waiting in its queue now (-1: not known,
	// as for a sum of several slots).
	QueueDepth int `json:"queue_depth"`
}

// slotSink is what the queues hand records to: mailslotd's slot cache, or
// a fake in tests.
type slotSink interface {
	// deliver writes one record to the slot with this key, waiting up to
	// wait for room.
	deliver(key string, data []byte, origin string, wait time.Duration) error
	// tryDeliver writes one record to the slot with this key if that
	// needs no wait (the slot is open and has room), and reports whether
	// it did.
	tryDeliver(key string, data []byte, origin string) bool
	// outcome counts and logs what became of a record of the slot at
	// path; err is nil when it was delivered. The origin is valid only
	// during the call.
	outcome(path, origin string, err error)
}

// queuedRecord is one record waiting in a queue: its origin then its data
// in one buffer.
type queuedRecord struct {
	buf    *[]byte
	olen   int
	pooled bool
}

func (r *queuedRecord) origin() string {
	b := (*r.buf)[:r.olen]
	if len(b) == 0 {
		return ""
	}
	// Valid while the buffer is: the sink copies what it keeps.
	return unsafe.String(&b[0], len(b))
}

func (r *queuedRecord) data() []byte { return (*r.buf)[r.olen:] }

var recBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, recBufSize)
	return &b
}}

// slotQueue is one slot's queue and counters.
type slotQueue struct {
	key, path string
	ch        chan queuedRecord // nil while no goroutine drains it
	parked    bool              // its goroutine waits with the queue empty; guarded by slotQueues.mu
	delivered atomic.Uint64
	dropped   atomic.Uint64
	lastUsed  time.Time // guarded by slotQueues.mu
}

// slotQueues holds a queue per slot.
type slotQueues struct {
	sink   slotSink
	wait   time.Duration // queueWait
	linger time.Duration // queueLinger
	// absentFor is absentMemory.
	absentFor time.Duration

	mu     sync.Mutex
	slots  map[string]*slotQueue // at most maxTrackedSlots
	live   int                   // queues with a goroutine
	spare  []chan queuedRecord   // empty channels of retired queues, for new ones
	absent map[string]time.Time  // slots found not served, until when that holds
	closed bool
	bytes  atomic.Int64 // buffer bytes held by queued records
	done   chan struct{}
	wg     sync.WaitGroup
}

func newSlotQueues(sink slotSink) *slotQueues {
	return &slotQueues{
		sink: sink, wait: queueWait, linger: queueLinger, absentFor: absentMemory,
		slots: map[string]*slotQueue{}, done: make(chan struct{}),
	}
}

// errQueueFull says why a record was dropped before it reached its queue.
var errQueueFull = errors.New("the slot's delivery queue is full")

// errSlotAbsent is the outcome of a record for a slot found not served a
// moment ago (absentMemory).
var errSlotAbsent = fmt.Errorf("%w: no one served the slot a moment ago", errs.NotFound)

// errTooManySlots says a record was dropped because too many slots have
// records waiting.
var errTooManySlots = errors.New("too many slots have records waiting")

// enqueue queues a record for the slot with this key and path (path is
// kept only when the slot is new), from NetBIOS name src at address from.
// It never waits; a record it cannot queue is counted with the sink, and
// false returned.
func (qs *slotQueues) enqueue(key, path string, data []byte, src wire.Name, from netip.AddrPort) bool {
	return qs.enqueueRecord(key, path, qs.newRecord(data, src, from))
}

// enqueueOrigin is enqueue for a record whose origin is told as text (a
// record the NATS bridge brought).
func (qs *slotQueues) enqueueOrigin(key, path string, data []byte, origin string) bool {
	bp := recBufs.Get().(*[]byte)
	b := append((*bp)[:0], origin...)
	return qs.enqueueRecord(key, path, qs.finishRecord(bp, b, data))
}

func (qs *slotQueues) enqueueRecord(key, path string, rec queuedRecord) bool {
	size := int64(cap(*rec.buf))
	qs.mu.Lock()
	if qs.closed {
		qs.mu.Unlock()
		qs.free(rec)
		return false
	}
	q := qs.slots[key]
	if (q == nil || q.ch == nil) && qs.absentLocked(key) {
		// No one served the slot a moment ago, nor has since (a stream
		// record would have ended the mark, and a queue would hold it
		// open): counted as for no slot, with no queue, no attempt to
		// open it, and nothing made for it.
		qs.mu.Unlock()
		qs.sink.outcome(path, rec.origin(), errSlotAbsent)
		qs.free(rec)
		return false
	}
	if q == nil {
		q = qs.track(key, path)
	}
	if q != nil && (q.ch == nil || q.parked) {
		// Nothing queued for the slot: straight in, if it has room.
		qs.mu.Unlock()
		if qs.sink.tryDeliver(key, rec.data(), rec.origin()) {
			q.delivered.Add(1)
			qs.free(rec)
			return true
		}
		qs.mu.Lock()
		if qs.closed {
			qs.mu.Unlock()
			qs.free(rec)
			return false
		}
		if q = qs.slots[key]; q == nil {
			q = qs.track(key, path)
		}
	}
	// An if chain, not a switch: gremlins counts a case's condition as
	// never run (see scripts/mutants.md).
	var err error
	if q == nil || (q.ch == nil && qs.live >= maxLiveQueues) {
		err = errTooManySlots
	} else if qs.bytes.Load()+size > maxQueuedBytes {
		err = errQueueFull
	} else {
		if q.ch == nil {
			q.ch = qs.newChan()
			qs.live++
			qs.wg.Add(1)
			go qs.run(q, q.ch)
		}
		select {
		case q.ch <- rec:
			q.parked = false
			qs.bytes.Add(size)
			q.lastUsed = time.Now()
			qs.mu.Unlock()
			return true
		default:
			err = errQueueFull
		}
	}
	if q != nil {
		q.dropped.Add(1)
	}
	qs.mu.Unlock()
	qs.sink.outcome(path, rec.origin(), err)
	qs.free(rec)
	return false
}

// track adds a slot to those counted, forgetting one without a queue if
// there are too many; nil when every one has a queue.
func (qs *slotQueues) track(key, path string) *slotQueue {
	if len(qs.slots) >= maxTrackedSlots {
		var oldest *slotQueue
		for _, q := range qs.slots {
			if q.ch == nil && (oldest == nil || q.lastUsed.Before(oldest.lastUsed)) {
				oldest = q
			}
		}
		if oldest == nil {
			return nil
		}
		delete(qs.slots, oldest.key)
	}
	q := &slotQueue{key: key, path: path, lastUsed: time.Now()}
	qs.slots[key] = q
	return q
}

func (qs *slotQueues) newRecord(data []byte, src wire.Name, from netip.AddrPort) queuedRecord {
	bp := recBufs.Get().(*[]byte)
	b := appendDgramOrigin((*bp)[:0], src, from)
	return qs.finishRecord(bp, b, data)
}

// finishRecord puts data behind the origin b in the pooled buffer bp (or
// in one of its own when too large).
func (qs *slotQueues) finishRecord(bp *[]byte, b, data []byte) queuedRecord {
	olen := len(b)
	pooled := true
	if olen+len(data) > cap(*bp) {
		// Too large for a pooled buffer (a record over the NetBIOS
		// datagram limit): one of its own.
		nb := make([]byte, olen, olen+len(data))
		copy(nb, b)
		recBufs.Put(bp)
		bp, b, pooled = &nb, nb, false
	}
	*bp = append(b, data...)
	return queuedRecord{buf: bp, olen: olen, pooled: pooled}
}

func (qs *slotQueues) free(r queuedRecord) {
	if r.pooled {
		*r.buf = (*r.buf)[:0]
		recBufs.Put(r.buf)
	}
}

// run drains one slot's queue until it has stayed empty for qs.linger,
// the slot is found gone, or the queues close.
func (qs *slotQueues) run(q *slotQueue, ch chan queuedRecord) {
	defer qs.wg.Done()
	linger := time.NewTimer(qs.linger)
	defer linger.Stop()
	linger.Stop()
	for {
		select {
		case r := <-ch:
			qs.bytes.Add(-int64(cap(*r.buf)))
			err := qs.sink.deliver(q.key, r.data(), r.origin(), qs.wait)
			if err == nil {
				q.delivered.Add(1)
			} else if !errors.Is(err, errs.NotFound) {
				q.dropped.Add(1) // full, stalled, or takes nothing from the network
			}
			qs.sink.outcome(q.path, r.origin(), err)
			qs.free(r)
			if errors.Is(err, errs.NotFound) || errors.Is(err, errs.Permission) {
				// Nothing serves the slot, or it takes nothing from the
				// network: what waits behind goes the same way.
				qs.retire(q, ch, err)
				return
			}
			qs.mu.Lock()
			if len(ch) == 0 {
				// Records may go straight in again meanwhile.
				q.parked = true
				linger.Reset(qs.linger)
			}
			qs.mu.Unlock()
		case <-linger.C:
			qs.mu.Lock()
			if q.parked && len(ch) == 0 {
				qs.retireLocked(q)
				qs.recycleLocked(ch)
				qs.mu.Unlock()
				return
			}
			qs.mu.Unlock()
		case <-qs.done:
			qs.mu.Lock()
			qs.retireLocked(q)
			qs.mu.Unlock()
			qs.drain(q, ch, errs.Closed)
			return
		}
	}
}

// retire ends a queue whose slot refused a record with err: the records
// waiting in it are refused alike. A slot that never took a record is
// forgotten.
func (qs *slotQueues) retire(q *slotQueue, ch chan queuedRecord, err error) {
	qs.mu.Lock()
	qs.retireLocked(q)
	if errors.Is(err, errs.NotFound) {
		qs.markAbsentLocked(q.key)
	}
	if q.delivered.Load() == 0 && q.dropped.Load() == 0 && qs.slots[q.key] == q {
		delete(qs.slots, q.key)
	}
	qs.mu.Unlock()
	qs.drain(q, ch, err)
}

// retireLocked takes the queue's channel away, so that the next record
// for the slot starts a new one; qs.mu is held.
func (qs *slotQueues) retireLocked(q *slotQueue) {
	if q.ch != nil {
		q.ch, q.parked = nil, false
		qs.live--
	}
}

// drain empties a retired queue's channel (nothing else sends to it),
// and keeps it for a later queue.
func (qs *slotQueues) drain(q *slotQueue, ch chan queuedRecord, err error) {
	for {
		select {
		case r := <-ch:
			qs.bytes.Add(-int64(cap(*r.buf)))
			if !errors.Is(err, errs.NotFound) {
				q.dropped.Add(1)
			}
			qs.sink.outcome(q.path, r.origin(), err)
			qs.free(r)
		default:
			qs.mu.Lock()
			qs.recycleLocked(ch)
			qs.mu.Unlock()
			return
		}
	}
}

// markAbsentLocked notes that no one serves the slot with this key now;
// qs.mu is held.
func (qs *slotQueues) markAbsentLocked(key string) {
	if qs.absent == nil || len(qs.absent) >= maxTrackedSlots {
		qs.absent = map[string]time.Time{} // a cache: forgetting costs a dial
	}
	qs.absent[key] = time.Now().Add(qs.absentFor)
}

// absentLocked reports whether the slot with this key was found not
// served less than qs.absentFor ago; qs.mu is held.
func (qs *slotQueues) absentLocked(key string) bool {
	until, ok := qs.absent[key]
	if !ok {
		return false
	}
	if time.Now().Before(until) {
		return true
	}
	delete(qs.absent, key)
	return false
}

// newChan returns a channel for a new queue: a spare one, or a new one.
// qs.mu is held.
func (qs *slotQueues) newChan() chan queuedRecord {
	if n := len(qs.spare); n > 0 {
		ch := qs.spare[n-1]
		qs.spare[n-1] = nil
		qs.spare = qs.spare[:n-1]
		return ch
	}
	return make(chan queuedRecord, slotQueueLen)
}

// recycleLocked keeps the empty channel of a retired queue, which no one
// sends to any more, for the next queue, if fewer than maxSpareQueues
// are kept; qs.mu is held.
func (qs *slotQueues) recycleLocked(ch chan queuedRecord) {
	if len(qs.spare) < maxSpareQueues && !qs.closed {
		qs.spare = append(qs.spare, ch)
	}
}

// count records what became of a record delivered without the queues (a
// stream record, which its writer waits for).
func (qs *slotQueues) count(key, path string, err error) {
	if errors.Is(err, errs.NotFound) {
		return // no slot: counted by the caller, not per slot
	}
	qs.mu.Lock()
	defer qs.mu.Unlock()
	// The slot answered: it is served, whatever was found before.
	delete(qs.absent, key)
	q := qs.slots[key]
	if q == nil {
		if q = qs.track(key, path); q == nil {
			return
		}
	}
	q.lastUsed = time.Now()
	if err == nil {
		q.delivered.Add(1)
	} else {
		q.dropped.Add(1)
	}
}

// stats returns the counters of every slot tracked, by path.
func (qs *slotQueues) stats() []SlotStats {
	qs.mu.Lock()
	out := make([]SlotStats, 0, len(qs.slots))
	for _, q := range qs.slots {
		s := SlotStats{Path: q.path, Delivered: q.delivered.Load(), Dropped: q.dropped.Load()}
		if q.ch != nil {
			s.QueueDepth = len(q.ch)
		}
		out = append(out, s)
	}
	qs.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// depth returns how many records wait in a slot's queue.
func (qs *slotQueues) depth(key string) int {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if q := qs.slots[key]; q != nil && q.ch != nil {
		return len(q.ch)
	}
	return 0
}

// liveQueues returns how many queues have a goroutine.
func (qs *slotQueues) liveQueues() int {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	return qs.live
}

// close stops every queue's goroutine, dropping what waits, and waits for
// them. A goroutine in the middle of a delivery ends with it.
func (qs *slotQueues) close() {
	qs.mu.Lock()
	if qs.closed {
		qs.mu.Unlock()
		return
	}
	qs.closed = true
	qs.spare = nil
	close(qs.done)
	qs.mu.Unlock()
	qs.wg.Wait()
}

// appendDgramOrigin appends where a datagram's record came from:
// `\\NAME (ip:port)`, the name made printable (printable.Origin).
func appendDgramOrigin(b []byte, src wire.Name, from netip.AddrPort) []byte {
	var addr [len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%zone]:65535") + 16]byte
	return printable.AppendOrigin(b, src.Name(), from.AppendTo(addr[:0]), local.MaxOrigin)
}
