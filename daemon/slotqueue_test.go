//go:build !windows

package daemon

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// fakeSink stands for the local slots: a slot can be missing, refuse, or
// stall (its deliveries wait until released); a slot both stalled and
// missing closes while its first delivery waits.
type fakeSink struct {
	mu        sync.Mutex
	got       map[string][]string // data delivered, by key
	outcomes  map[string]int      // outcome counts by path and kind
	missing   map[string]bool
	stall     chan struct{} // closed to release stalled deliveries
	stalled   map[string]bool
	inStalled chan string
	entered   int // deliveries that began to wait for stall
}

func newFakeSink() *fakeSink {
	return &fakeSink{
		got: map[string][]string{}, outcomes: map[string]int{}, missing: map[string]bool{},
		stall: make(chan struct{}), stalled: map[string]bool{}, inStalled: make(chan string, 16),
	}
}

func (f *fakeSink) deliver(key string, data []byte, origin string, wait time.Duration) error {
	f.mu.Lock()
	missing, stalled := f.missing[key], f.stalled[key]
	f.mu.Unlock()
	if stalled {
		f.mu.Lock()
		f.entered++
		f.mu.Unlock()
		select {
		case f.inStalled <- key:
		default:
		}
		<-f.stall
		if missing { // the slot closed meanwhile
			return fmt.Errorf("write to %s: %w", key, errs.NotFound)
		}
		return fmt.Errorf("write to %s: %w", key, errs.Timeout)
	}
	if missing {
		return fmt.Errorf("open %s: %w", key, errs.NotFound)
	}
	if !strings.HasPrefix(origin, `\\SENDER (10.0.0.1:138)`) {
		return fmt.Errorf("origin %q", origin)
	}
	f.mu.Lock()
	f.got[key] = append(f.got[key], string(data))
	f.mu.Unlock()
	return nil
}

// tryDeliver never takes a record at once: the tests below are about the
// queues.
func (f *fakeSink) tryDeliver(string, []byte, string) bool { return false }

func (f *fakeSink) outcome(path, origin string, err error) {
	kind := "delivered"
	switch {
	case errors.Is(err, errs.NotFound):
		kind = "no_slot"
	case err != nil:
		kind = "dropped"
	}
	f.mu.Lock()
	f.outcomes[path+" "+kind]++
	f.mu.Unlock()
}

func (f *fakeSink) setStalled(key string) {
	f.mu.Lock()
	f.stalled[key] = true
	f.mu.Unlock()
}

func (f *fakeSink) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got[key])
}

func (f *fakeSink) outcomeCount(s string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.outcomes[s]
}

var (
	testSender, _ = wire.NewName("SENDER", 0)
	testFrom      = netip.MustParseAddrPort("10.0.0.1:138")
)

func put(qs *slotQueues, path, data string) bool {
	return qs.enqueue(strings.ToUpper(path), path, []byte(data), testSender, testFrom)
}

// poll waits for cond, failing the test after a generous deadline.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func statsOf(qs *slotQueues, path string) SlotStats {
	for _, s := range qs.stats() {
		if s.Path == path {
			return s
		}
	}
	return SlotStats{}
}

// checkNoLeak waits until the goroutines are back to n.
func checkNoLeak(t *testing.T, n int) {
	t.Helper()
	poll(t, "the queues' goroutines to end", func() bool { return runtime.NumGoroutine() <= n })
}

// A stalled slot holds only its own records: the healthy slot gets every
// record while the stalled one's queue fills, and the surplus is dropped
// and counted for the stalled slot alone.
func TestSlotQueuesStalledSlotDelaysNoOther(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	f.stalled["STALL"] = true
	qs := newSlotQueues(f)
	const n = slotQueueLen + 500
	// The stalled slot's goroutine takes its first record and stalls.
	put(qs, "stall", "first")
	<-f.inStalled
	for i := 0; i < n; i++ {
		put(qs, "stall", fmt.Sprint("s", i))
		// The healthy slot's goroutine may run late; its queue has room
		// for what a healthy slot is sent, which the test waits for.
		poll(t, "room in the healthy queue", func() bool { return statsOf(qs, "ok").QueueDepth < slotQueueLen/2 })
		if !put(qs, "ok", fmt.Sprint("ok", i)) {
			t.Fatalf("record %d for the healthy slot refused", i)
		}
	}
	poll(t, "every healthy record", func() bool { return f.count("OK") == n })
	st := statsOf(qs, "stall")
	if want := uint64(n - slotQueueLen); st.Dropped != want || st.QueueDepth != slotQueueLen {
		t.Errorf("stalled slot: %+v, want %d dropped and a full queue", st, want)
	}
	if ok := statsOf(qs, "ok"); ok.Delivered != n || ok.Dropped != 0 {
		t.Errorf("healthy slot: %+v", ok)
	}
	if f.outcomeCount("stall no_slot") != 0 {
		t.Errorf("a stalled slot's records counted as for no slot")
	}
	close(f.stall)
	poll(t, "the stalled queue to drain", func() bool { return statsOf(qs, "stall").QueueDepth == 0 })
	qs.close()
	if b := qs.bytes.Load(); b != 0 {
		t.Errorf("%d bytes counted once every record is gone", b)
	}
	if st := statsOf(qs, "stall"); st.Dropped != n+1 {
		t.Errorf("stalled slot once released: %+v, want all %d dropped (each delivery timed out)", st, n+1)
	}
	checkNoLeak(t, base)
}

// Records for a slot nobody serves are counted as such, and the slot is
// forgotten with its queue and goroutine.
func TestSlotQueuesMissingSlot(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	f.missing["NOBODY"] = true
	qs := newSlotQueues(f)
	defer qs.close()
	for i := 0; i < 10; i++ {
		put(qs, "nobody", "x")
	}
	poll(t, "the records to be refused", func() bool { return f.outcomeCount("nobody no_slot") == 10 })
	poll(t, "the queue to end", func() bool { return qs.liveQueues() == 0 })
	if st := qs.stats(); len(st) != 0 {
		t.Errorf("a slot nobody serves is tracked: %+v", st)
	}
	checkNoLeak(t, base)
}

// Records queued for a slot that closes while one waits to be delivered
// are all refused as for no slot (not counted as dropped), and the
// memory they held is counted back.
func TestSlotQueuesSlotClosesWithRecordsQueued(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	f.setStalled("GONE")
	f.missing["GONE"] = true
	qs := newSlotQueues(f)
	put(qs, "gone", "first")
	<-f.inStalled
	const queued = 10
	for i := 0; i < queued; i++ {
		put(qs, "gone", fmt.Sprint(i))
	}
	if b := qs.bytes.Load(); b != queued*recBufSize {
		t.Fatalf("%d records queued hold %d bytes, want %d", queued, b, queued*recBufSize)
	}
	qs.mu.Lock()
	q := qs.slots["GONE"]
	qs.mu.Unlock()
	close(f.stall)
	poll(t, "the queue to end", func() bool { return qs.liveQueues() == 0 })
	if n := f.outcomeCount("gone no_slot"); n != queued+1 {
		t.Errorf("%d records refused as for no slot, want %d", n, queued+1)
	}
	if b := qs.bytes.Load(); b != 0 {
		t.Errorf("%d bytes counted once every record is gone", b)
	}
	if d := q.dropped.Load(); d != 0 {
		t.Errorf("%d records of a closed slot counted as dropped", d)
	}
	if st := qs.stats(); len(st) != 0 {
		t.Errorf("a slot that never took a record is tracked: %+v", st)
	}
	qs.close()
	checkNoLeak(t, base)
}

// A queue's goroutine ends once the queue has stayed empty a while, and a
// later record starts another; the counters live on.
func TestSlotQueuesGoroutineEndsWhenIdle(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	qs := newSlotQueues(f)
	defer qs.close()
	qs.linger = 5 * time.Millisecond
	put(qs, "a", "one")
	poll(t, "the queue's goroutine to end", func() bool { return qs.liveQueues() == 0 && f.count("A") == 1 })
	checkNoLeak(t, base)
	put(qs, "a", "two")
	poll(t, "the second record", func() bool { return f.count("A") == 2 })
	if st := statsOf(qs, "a"); st.Delivered != 2 {
		t.Errorf("after the goroutine ended: %+v", st)
	}
}

// A record for an open slot with room and nothing queued before it goes in
// at once, with no goroutine; once one had to wait, those behind it queue
// (in order) until the queue is empty again.
func TestSlotQueuesStraightIn(t *testing.T) {
	s := &orderSink{}
	qs := newSlotQueues(s)
	defer qs.close()
	s.room.Store(true)
	put(qs, "a", "0")
	if qs.liveQueues() != 0 || statsOf(qs, "a").Delivered != 1 {
		t.Fatalf("a record for a slot with room was queued: %+v, %d queues", qs.stats(), qs.liveQueues())
	}
	s.room.Store(false) // full: the next ones queue
	for i := 1; i < 100; i++ {
		put(qs, "a", fmt.Sprint(i))
	}
	s.room.Store(true)
	for i := 100; i < 200; i++ {
		put(qs, "a", fmt.Sprint(i))
	}
	poll(t, "every record", func() bool { return statsOf(qs, "a").Delivered == 200 })
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range s.got {
		if d != fmt.Sprint(i) {
			t.Fatalf("record %d is %q: out of order", i, d)
		}
	}
}

// orderSink takes records at once while room is set, always by deliver,
// and keeps their data and origins in order.
type orderSink struct {
	room    atomic.Bool
	mu      sync.Mutex
	got     []string
	origins []string
}

func (s *orderSink) deliver(key string, data []byte, origin string, wait time.Duration) error {
	s.mu.Lock()
	s.got = append(s.got, string(data))
	s.origins = append(s.origins, origin)
	s.mu.Unlock()
	return nil
}

func (s *orderSink) tryDeliver(key string, data []byte, origin string) bool {
	if !s.room.Load() {
		return false
	}
	return s.deliver(key, data, origin, 0) == nil
}

func (s *orderSink) outcome(string, string, error) {}

// Stalled slots can take at most maxLiveQueues goroutines; records for
// others are dropped and counted meanwhile, and closing ends them all.
func TestSlotQueuesBounded(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	qs := newSlotQueues(f)
	for i := 0; i < maxLiveQueues+10; i++ {
		key := fmt.Sprint("S", i)
		f.setStalled(key)
		put(qs, strings.ToLower(key), "x")
	}
	if n := qs.liveQueues(); n != maxLiveQueues {
		t.Errorf("%d queues live, want %d", n, maxLiveQueues)
	}
	dropped := 0
	for i := 0; i < maxLiveQueues+10; i++ {
		dropped += f.outcomeCount(fmt.Sprint("s", i, " dropped"))
	}
	if dropped != 10 {
		t.Errorf("%d records dropped for want of a queue, want 10", dropped)
	}
	close(f.stall)
	qs.close()
	if put(qs, "late", "x") {
		t.Error("a record queued after close")
	}
	checkNoLeak(t, base)
}

// A record delivered without the queues (a stream record) is counted for
// its slot, tracked from then on, as delivered or dropped; one for no
// slot is not counted for any.
func TestSlotQueuesCount(t *testing.T) {
	qs := newSlotQueues(&countSink{}) // count starts no goroutine: nothing to close
	qs.count("A", "a", nil)
	qs.count("A", "a", fmt.Errorf("write: %w", errs.Timeout))
	qs.count("A", "a", nil)
	qs.count("NONE", "none", fmt.Errorf("open: %w", errs.NotFound))
	if st := qs.stats(); len(st) != 1 || st[0] != (SlotStats{Path: "a", Delivered: 2, Dropped: 1}) {
		t.Errorf("counted: %+v, want a alone with 2 delivered, 1 dropped", st)
	}
}

// The memory all queues hold together is bounded.
func TestSlotQueuesByteBudget(t *testing.T) {
	f := newFakeSink()
	qs := newSlotQueues(f)
	defer func() { close(f.stall); qs.close() }()
	big := strings.Repeat("x", 60000) // a buffer of its own each
	queued := 0
	for i := 0; i < 400; i++ {
		key := fmt.Sprint("B", i%100)
		f.setStalled(key)
		if put(qs, strings.ToLower(key), big) {
			queued++
		}
	}
	if held := qs.bytes.Load(); held > maxQueuedBytes {
		t.Errorf("queues hold %d bytes, over %d", held, maxQueuedBytes)
	}
	if queued == 400 || queued == 0 {
		t.Errorf("%d of 400 large records queued", queued)
	}
}

// Handing on a datagram's record allocates nothing once the pool is
// warm, whether it goes straight in or through the queue.
func TestSlotQueuesNoAllocation(t *testing.T) {
	for _, queued := range []bool{false, true} {
		qs := newSlotQueues(&countSink{queued: queued})
		data := []byte(strings.Repeat("d", 100))
		key, path := "ALLOC", "alloc"
		for i := 0; i < 100; i++ {
			qs.enqueue(key, path, data, testSender, testFrom)
		}
		allocs := testing.AllocsPerRun(1000, func() {
			if !qs.enqueue(key, path, data, testSender, testFrom) {
				t.Fatal("record not taken")
			}
			for qs.depth(key) > 0 { // a backlog holds buffers: none here
				runtime.Gosched()
			}
		})
		if allocs >= 0.1 {
			t.Errorf("queued %v: %.2f allocations per record", queued, allocs)
		}
		qs.close()
	}
}

// countSink takes every record, at once unless queued is set.
type countSink struct{ queued bool }

func (c *countSink) deliver(string, []byte, string, time.Duration) error { return nil }
func (c *countSink) tryDeliver(string, []byte, string) bool              { return !c.queued }
func (c *countSink) outcome(string, string, error)                       {}

func TestAppendDgramOrigin(t *testing.T) {
	for _, tc := range []struct {
		name string
		from string
		want string
	}{
		{"HOSTA", "10.1.2.3:138", `\\HOSTA (10.1.2.3:138)`},
		{"A", "192.168.0.10:40000", `\\A (192.168.0.10:40000)`},
	} {
		n, err := wire.NewName(tc.name, 0x20)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendDgramOrigin(nil, n, netip.MustParseAddrPort(tc.from))); got != tc.want {
			t.Errorf("origin of %s at %s = %q, want %q", tc.name, tc.from, got, tc.want)
		}
	}
}

// A record for a slot that no one serves starts a queue that its failed
// delivery retires at once; the next such queue takes the retired one's
// channel (2048 records' room) instead of a new one, and a queue on a
// reused channel delivers as any other.
func TestSlotQueuesReuseRetiredChannels(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	f.missing["NOBODY"] = true
	qs := newSlotQueues(f)
	qs.absentFor = 0 // each record tries the slot again
	spares := func() int {
		qs.mu.Lock()
		defer qs.mu.Unlock()
		return len(qs.spare)
	}
	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 1; i <= n; i++ {
		put(qs, "nobody", "x")
		poll(t, "the record's outcome", func() bool { return f.outcomeCount("nobody no_slot") == i && spares() == 1 })
	}
	runtime.ReadMemStats(&after)
	// A new channel is 48 KiB; what remains per record is its goroutine.
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per > 8<<10 {
		t.Fatalf("a record for a slot no one serves allocated %d bytes", per)
	}
	// Several retired at once: at most maxSpareQueues are kept.
	for i := range maxSpareQueues + 3 {
		f.mu.Lock()
		f.missing[fmt.Sprintf("GONE%d", i)] = true
		f.mu.Unlock()
	}
	f.setStalled("GONE0")
	for i := range maxSpareQueues + 3 {
		put(qs, fmt.Sprintf("gone%d", i), "x")
	}
	<-f.inStalled // GONE0's queue holds its channel until released
	close(f.stall)
	poll(t, "the queues to retire", func() bool {
		qs.mu.Lock()
		defer qs.mu.Unlock()
		return qs.live == 0
	})
	if got := spares(); got != maxSpareQueues {
		t.Fatalf("%d spare channels kept, want %d", got, maxSpareQueues)
	}
	// A served slot's queue on a reused channel delivers in order.
	f.mu.Lock()
	f.stalled["ALIVE"] = false
	f.mu.Unlock()
	for i := range 10 {
		put(qs, "alive", fmt.Sprint(i))
	}
	poll(t, "the served slot's records", func() bool { return f.count("ALIVE") == 10 })
	f.mu.Lock()
	got := strings.Join(f.got["ALIVE"], ",")
	f.mu.Unlock()
	if got != "0,1,2,3,4,5,6,7,8,9" {
		t.Fatalf("the served slot got %s", got)
	}
	qs.close()
	if spares() != 0 {
		t.Fatal("the spare channels outlived close")
	}
	checkNoLeak(t, base)
}

// A slot found not served stays so for absentFor: the records that follow
// are counted as for no slot at once, with no queue and no attempt to
// open it; after that, a record tries again and reaches a slot created
// meanwhile. The table of such slots is bounded.
func TestSlotQueuesRememberAbsentSlots(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	f.missing["NOBODY"] = true
	qs := newSlotQueues(f)
	qs.absentFor = time.Hour
	put(qs, "nobody", "first")
	poll(t, "the first record's outcome", func() bool {
		qs.mu.Lock()
		defer qs.mu.Unlock()
		return f.outcomeCount("nobody no_slot") == 1 && qs.live == 0
	})
	for i := range 100 {
		if put(qs, "nobody", "more") {
			t.Fatalf("record %d for a slot known not served was taken", i)
		}
		qs.mu.Lock()
		live := qs.live
		qs.mu.Unlock()
		if live != 0 {
			t.Fatalf("record %d for a slot known not served started a queue", i)
		}
	}
	if got := f.outcomeCount("nobody no_slot"); got != 101 {
		t.Fatalf("%d records counted as for no slot, want 101", got)
	}
	if st := statsOf(qs, "nobody"); st != (SlotStats{}) {
		t.Fatalf("a slot never served is listed: %+v", st)
	}
	// Such a record makes nothing: no queue, no per-slot entry.
	cs := newSlotQueues(&countSink{queued: true})
	defer cs.close()
	cs.mu.Lock()
	cs.markAbsentLocked("NOWHERE")
	cs.mu.Unlock()
	if a := testing.AllocsPerRun(100, func() { put(cs, "NOWHERE", "x") }); a != 0 {
		t.Fatalf("a record for a slot known not served made %v allocations", a)
	}
	// Another slot found not served joins it: both are remembered.
	f.mu.Lock()
	f.missing["OTHER"] = true
	f.mu.Unlock()
	put(qs, "other", "x")
	// Its queue counts the outcome before it ends: wait for both.
	poll(t, "the other slot's record's outcome", func() bool {
		qs.mu.Lock()
		defer qs.mu.Unlock()
		return f.outcomeCount("other no_slot") == 1 && qs.live == 0
	})
	for _, path := range []string{"nobody", "other"} {
		put(qs, path, "again")
		qs.mu.Lock()
		live := qs.live
		qs.mu.Unlock()
		if live != 0 {
			t.Fatalf("a record for %s, known not served, started a queue", path)
		}
	}

	// A stream record that reached the slot (or found it full) shows it
	// served: the records that follow try it again.
	qs.mu.Lock()
	marked := qs.absent["NOBODY"]
	qs.mu.Unlock()
	qs.count("NOBODY", "nobody", errQueueFull)
	put(qs, "nobody", "served now?")
	// The record tried the slot (still missing here) and found it not
	// served again: a later mark.
	poll(t, "the record to try the slot", func() bool {
		qs.mu.Lock()
		defer qs.mu.Unlock()
		return qs.absent["NOBODY"].After(marked)
	})

	// Once absentFor has passed, a record tries again: the slot, created
	// meanwhile, gets it.
	qs.mu.Lock()
	qs.absentFor = 20 * time.Millisecond
	qs.mu.Unlock()
	f.mu.Lock()
	f.missing["LATER"] = true
	f.mu.Unlock()
	put(qs, "later", "lost")
	poll(t, "the record for the slot not yet served", func() bool { return f.outcomeCount("later no_slot") == 1 })
	f.mu.Lock()
	f.missing["LATER"] = false
	f.mu.Unlock()
	poll(t, "a record to reach the slot once served", func() bool {
		put(qs, "later", "x")
		return f.count("LATER") > 0
	})

	// A slot that was served and is gone: once found not served, its
	// records are counted as for no slot at once too, and its counters
	// stay.
	qs.mu.Lock()
	qs.absentFor = time.Hour
	qs.mu.Unlock()
	f.mu.Lock()
	f.missing["LATER"] = true
	f.mu.Unlock()
	lost := f.outcomeCount("later no_slot")
	put(qs, "later", "gone")
	poll(t, "the record for the slot gone", func() bool {
		qs.mu.Lock()
		defer qs.mu.Unlock()
		return f.outcomeCount("later no_slot") > lost && qs.live == 0
	})
	if put(qs, "later", "gone too") {
		t.Fatal("a record for a slot gone, known not served, was taken")
	}
	qs.mu.Lock()
	live := qs.live
	qs.mu.Unlock()
	if live != 0 {
		t.Fatal("a record for a slot gone, known not served, started a queue")
	}
	if st := statsOf(qs, "later"); st.Delivered == 0 {
		t.Fatalf("the slot gone lost its counters: %+v", st)
	}

	// Many slots found not served: the table keeps at most
	// maxTrackedSlots of them.
	qs.mu.Lock()
	qs.absentFor = time.Hour
	qs.mu.Unlock()
	const many = maxTrackedSlots + 50
	f.mu.Lock()
	for i := range many {
		f.missing[fmt.Sprintf("GONE%d", i)] = true
	}
	f.mu.Unlock()
	for i := range many {
		put(qs, fmt.Sprintf("gone%d", i), "x")
		poll(t, "the record's outcome", func() bool { return f.outcomeCount(fmt.Sprintf("gone%d no_slot", i)) == 1 })
		qs.mu.Lock()
		n := len(qs.absent)
		qs.mu.Unlock()
		if n > maxTrackedSlots {
			t.Fatalf("%d slots remembered as not served, more than %d", n, maxTrackedSlots)
		}
	}
	qs.close()
	checkNoLeak(t, base)
}
