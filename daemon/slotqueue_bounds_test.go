//go:build !windows

package daemon

import (
	"fmt"
	"runtime"
	"testing"
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
