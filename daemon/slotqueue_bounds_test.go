//go:build !windows

package daemon

import (
	"bytes"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The queues' bounds: at most maxLiveQueues slots have records waiting
// (a record for one more is dropped and counted for it), and every queue
// together holds at most maxQueuedBytes (a record past that is dropped,
// even for a slot whose queue is empty).
func TestSlotQueuesBounds(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	qs := newSlotQueues(f)
	for i := 0; i < maxLiveQueues; i++ {
		f.setStalled(fmt.Sprint("S", i))
		if !put(qs, fmt.Sprint("s", i), "x") {
			t.Fatalf("record for slot %d of %d refused", i, maxLiveQueues)
		}
	}
	f.setStalled("ONEMORE")
	if put(qs, "onemore", "x") {
		t.Fatalf("a record for slot %d taken", maxLiveQueues+1)
	}
	if st := statsOf(qs, "onemore"); st.Dropped != 1 || st.QueueDepth != 0 {
		t.Errorf("the slot past the bound: %+v", st)
	}
	if f.outcomeCount("onemore dropped") != 1 {
		t.Errorf("the dropped record's outcome: %v", f.outcomes)
	}
	// Each live slot's first record is taken out of its queue by its
	// delivery, which then waits: once they all do, the queues hold
	// nothing yet.
	for deadline := time.Now().Add(10 * time.Second); ; {
		f.mu.Lock()
		entered := f.entered
		f.mu.Unlock()
		if entered == maxLiveQueues {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d stalled deliveries began", entered, maxLiveQueues)
		}
		time.Sleep(time.Millisecond)
	}
	// A live slot still takes records while the bytes allow.
	accepted := 0
	for i := 0; ; i++ {
		path := fmt.Sprint("s", i/slotQueueLen)
		if !put(qs, path, "y") {
			st := statsOf(qs, path)
			if st.QueueDepth >= slotQueueLen {
				t.Fatalf("refused only when %s's queue was full: %+v", path, st)
			}
			break
		}
		accepted++
	}
	held := maxQueuedBytes / recBufSize
	// The bytes count what waits in the queues: each live slot's first
	// record, in its (stalled) delivery, is out of its queue already, so
	// memory is bounded by maxQueuedBytes and one record a live slot.
	if accepted != held {
		t.Errorf("records queued when the bytes ran out: %d, want %d (%d bytes of %d-byte buffers)", accepted, held, maxQueuedBytes, recBufSize)
	}
	close(f.stall)
	qs.close()
	checkNoLeak(t, base)
}

// stallSink takes every record at once except those of one slot, whose
// deliveries wait until release is closed.
type stallSink struct {
	key     string
	release chan struct{}
}

func (s *stallSink) deliver(key string, _ []byte, _ string, _ time.Duration) error {
	if key == s.key {
		<-s.release
	}
	return nil
}
func (s *stallSink) tryDeliver(key string, _ []byte, _ string) bool { return key != s.key }
func (s *stallSink) outcome(string, string, error)                  {}

// At most maxTrackedSlots slots are counted: a new one makes the queues
// forget the one used longest ago that has no records waiting, never one
// that has.
func TestSlotQueuesTrackedBound(t *testing.T) {
	s := &stallSink{key: "BUSY", release: make(chan struct{})}
	qs := newSlotQueues(s)
	put(qs, "busy", "x") // queued: its delivery waits
	for i := 1; i < maxTrackedSlots; i++ {
		if !put(qs, fmt.Sprint("s", i), "x") {
			t.Fatalf("record for slot %d refused", i)
		}
	}
	if n := len(qs.stats()); n != maxTrackedSlots {
		t.Fatalf("%d slots tracked, want %d", n, maxTrackedSlots)
	}
	// The busy slot was used longest ago, then s5; the rest in order.
	t0 := time.Now()
	qs.mu.Lock()
	for i := 1; i < maxTrackedSlots; i++ {
		qs.slots[fmt.Sprint("S", i)].lastUsed = t0.Add(time.Duration(i) * time.Second)
	}
	qs.slots["S5"].lastUsed = t0.Add(-time.Hour)
	qs.slots["BUSY"].lastUsed = t0.Add(-2 * time.Hour)
	qs.mu.Unlock()
	if !put(qs, "new", "x") {
		t.Fatal("the record for a new slot was refused")
	}
	st := qs.stats()
	if len(st) != maxTrackedSlots {
		t.Errorf("%d slots tracked past the bound, want %d", len(st), maxTrackedSlots)
	}
	for _, c := range []struct {
		path    string
		tracked bool
	}{{"new", true}, {"busy", true}, {"s5", false}, {"s1", true}} {
		if got := statsOf(qs, c.path).Path != ""; got != c.tracked {
			t.Errorf("slot %s tracked: %v, want %v", c.path, got, c.tracked)
		}
	}
	// Not deferred: a panic with qs.mu held would make close wait forever.
	close(s.release)
	qs.close()
}

// A record goes in a pooled buffer with its origin when both fit, to the
// last byte, and in one of its own (not pooled) when they do not.
func TestQueuedRecordBuffer(t *testing.T) {
	qs := newSlotQueues(&countSink{})
	defer qs.close()
	origin := string(appendDgramOrigin(nil, testSender, testFrom))
	room := recBufSize - len(origin)
	for _, c := range []struct {
		n      int
		pooled bool
	}{{0, true}, {room, true}, {room + 1, false}, {64 << 10, false}} {
		data := bytes.Repeat([]byte{'d'}, c.n)
		r := qs.newRecord(data, testSender, testFrom)
		if r.pooled != c.pooled || r.origin() != origin || !bytes.Equal(r.data(), data) {
			t.Errorf("%d bytes: pooled %v (want %v), origin %q, %d bytes of data", c.n, r.pooled, c.pooled, r.origin(), len(r.data()))
		}
		if want := max(recBufSize, len(origin)+c.n); cap(*r.buf) != want {
			t.Errorf("%d bytes: a buffer of %d, want %d", c.n, cap(*r.buf), want)
		}
		qs.free(r)
	}
}

// A datagram's origin is made without allocating, whatever the sender's
// address: the longest IPv6 one with a zone of 15 bytes (an interface's
// name) included.
func TestAppendDgramOriginLongest(t *testing.T) {
	from := netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%" + strings.Repeat("z", 15) + "]:65535")
	want := `\\SENDER (` + from.String() + ")"
	buf := make([]byte, 0, 256)
	if allocs := testing.AllocsPerRun(100, func() { buf = appendDgramOrigin(buf[:0], testSender, from) }); allocs != 0 {
		t.Errorf("%.1f allocations per origin", allocs)
	}
	if string(buf) != want {
		t.Errorf("origin %q, want %q", buf, want)
	}
}
