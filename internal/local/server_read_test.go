//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// A Read waiting on a slot that has no waker yet (no writer came) ends
// as its timeout, a change of it, or its context says.
func TestReadWaitingWithoutWaker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		end     func(s *Server, cancel context.CancelFunc)
		want    error
	}{
		{"timeout", 20 * time.Millisecond, nil, errs.Timeout},
		{"timeout set to 0", -1, func(s *Server, _ context.CancelFunc) { s.SetReadTimeout(0) }, errs.Timeout},
		{"context", -1, func(_ *Server, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"close", -1, func(s *Server, _ context.CancelFunc) { s.Close() }, errs.Closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := listenT(t, Config{Policy: owner, ReadTimeout: tc.timeout})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := readAsync(ctx, s)
			if tc.end != nil {
				waitSleeping(t, s)
				tc.end(s, cancel)
			}
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Fatalf("Read = %v, want %v", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				s.Close()
				<-done
				t.Fatal("the Read still waits")
			}
		})
	}
}

// A Read asleep on the slot's waker returns as soon as a writer's record
// comes, not at its next look at the rings (sleepRecheck): the quickest
// of a few, so that a machine busy for a moment does not count.
func TestWakeIsPrompt(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: -1})
	c := dialT(t, DialConfig{})
	quickest := time.Hour
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := readAsync(ctx, s)
		waitSleeping(t, s)
		start := time.Now()
		mustWrite(t, c, fmt.Sprint(i))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		quickest = min(quickest, time.Since(start))
	}
	if quickest >= sleepRecheck/2 {
		t.Fatalf("a sleeping Read took %v at the soonest to see a record", quickest)
	}
}

// Records of different writers with the same stamp come in the order
// their writers connected.
func TestEqualStampsInConnectionOrder(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: 0})
	a := dialT(t, DialConfig{})
	b := dialT(t, DialConfig{})
	putRaw(t, b, nil, []byte("b"))
	putRaw(t, a, nil, []byte("a"))
	for _, want := range []string{"a", "b"} {
		if got := readNow(t, s); got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
}

// A record's time is when it was written, from its stamp, once the slot
// has several writers; the one writer of a slot does not stamp its
// records, and each one's time is when the slot took it. Neither is a
// time before the record was written.
func TestRecordTimes(t *testing.T) {
	for _, writers := range []int{1, 2} {
		s := listenT(t, Config{Policy: owner, ReadTimeout: 0})
		c := dialT(t, DialConfig{})
		if writers == 2 {
			dialT(t, DialConfig{})
		}
		mustWrite(t, c, "first")
		if got := readNow(t, s); got != "first" {
			t.Fatalf("read %q", got)
		}
		// Write the next well after the first was taken, and read it
		// well after it was written.
		spinFor(10 * time.Millisecond)
		before := time.Now().UnixNano()
		mustWrite(t, c, "second")
		after := time.Now().UnixNano()
		spinFor(10 * time.Millisecond)
		_, _, m, err := s.Read(context.Background(), nil, true)
		if err != nil {
			t.Fatal(err)
		}
		const slack = int64(2 * time.Millisecond) // the two clocks are read one after the other
		switch {
		case writers == 1 && m.Time < after:
			t.Errorf("the one writer's record, written by %d, has the time %d", after, m.Time)
		case writers == 2 && (m.Time < before-slack || m.Time > after+slack):
			t.Errorf("a record written between %d and %d has the time %d", before, after, m.Time)
		}
		s.Close()
	}
}

// A relay's largest record, with the longest origin, is taken whole, for
// the largest maximum and for a small one.
func TestRelayLargestRecord(t *testing.T) {
	asDaemonUser(t)
	origin := strings.Repeat("o", MaxOrigin)
	for _, max := range []int{0, 100} {
		s := listenT(t, Config{Policy: owner, ReadTimeout: 0, Network: true, MaxMessageSize: max})
		c := dialT(t, DialConfig{Relay: true})
		p := bytes.Repeat([]byte{'x'}, s.MaxMessageSize())
		if err := c.Write(p, origin, time.Second); err != nil {
			t.Fatal(err)
		}
		out, _, m, err := s.Read(context.Background(), nil, true)
		if err != nil || !bytes.Equal(out, p) || m.Origin != origin {
			t.Fatalf("max %d: read %d bytes from %d bytes of origin, %v", max, len(out), len(m.Origin), err)
		}
		s.Close()
	}
}

// spinFor lets d pass on the clock, without sleeping: what the test
// waits for is the clock itself.
func spinFor(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// A ring whose records end in a pad with nothing after it is empty, and
// the server's head moves past the pad at once: the writer has the
// room back.
func TestEmptyRingHeadPastAPad(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: 0, MaxMessageSize: 1400})
	c := dialT(t, DialConfig{RingSize: MinRing})
	rec := make([]byte, 1336) // 1352 bytes in the ring: three leave 40 at the end
	for range 3 {
		if err := c.Write(rec, "", time.Second); err != nil {
			t.Fatal(err)
		}
		if got := readNow(t, s); len(got) != len(rec) {
			t.Fatalf("read %d bytes", len(got))
		}
	}
	c.mu.Lock()
	pos := c.tail & c.r.mask
	if pos != MinRing-40 {
		c.mu.Unlock()
		t.Fatalf("tail at %d", pos)
	}
	put32(c.r.data[pos:], 40-recHdr)
	put32(c.r.data[pos+4:], recPad)
	c.tail += 40
	c.r.store64(offTail, c.tail)
	c.mu.Unlock()
	if got := readNow(t, s); got != "" {
		t.Fatalf("read %q from a ring with only a pad", got)
	}
	if h := c.r.load64(offHead); h != c.tail {
		t.Fatalf("the server's head at %d, not past the pad at %d", h, c.tail)
	}
}

// countGosched counts the spin's calls of runtime.Gosched until the test
// ends.
func countGosched(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	yieldGoroutines = func() { n.Add(1); runtime.Gosched() }
	t.Cleanup(func() { yieldGoroutines = runtime.Gosched })
	return &n
}

// With one thread for Go code, an empty Read's spin lets the process's
// other goroutines run: a writer goroutine's record, written while the
// Read spins, is taken in the spin.
func TestSpinSharesTheOnlyThread(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	s := listenT(t, Config{Policy: owner, ReadTimeout: -1})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "first") // the writer's ring and the slot's waker
	if got := readNow(t, s); got != "first" {
		t.Fatalf("read %q", got)
	}
	n := countGosched(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := readAsync(ctx, s)
	// The Read finds the slot empty and spins; this goroutine runs again
	// only when the spin gives the thread up, or when the Read sleeps,
	// which is too late.
	for n.Load() == 0 {
		s.mu.Lock()
		asleep := s.sleeping
		s.mu.Unlock()
		if asleep {
			t.Fatal("the Read slept without letting this goroutine run")
		}
		select {
		case err := <-done:
			t.Fatalf("the Read of an empty slot returned %v", err)
		default:
		}
		runtime.Gosched()
	}
	mustWrite(t, c, "second")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// With more threads, the spin leaves the process's other goroutines to
// them: a Gosched would also wake an idle thread to look for work, which
// costs a CPU and the Read's wake-up time.
func TestSpinKeepsToItself(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	s := listenT(t, Config{Policy: owner, ReadTimeout: 5 * time.Millisecond})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "first")
	if got := readNow(t, s); got != "first" {
		t.Fatalf("read %q", got)
	}
	n := countGosched(t)
	if _, _, _, err := s.Read(context.Background(), nil, true); !errors.Is(err, errs.Timeout) {
		t.Fatalf("Read of an empty slot = %v, want a timeout", err)
	}
	if n.Load() != 0 {
		t.Fatalf("the spin called runtime.Gosched %d times", n.Load())
	}
}

// countYields counts the spin's sched_yield calls until the test ends.
func countYields(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	yieldThread = func() { n.Add(1); yieldCPU() }
	t.Cleanup(func() { yieldThread = yieldCPU })
	return &n
}

// An empty Read's spin gives its CPU to other threads only after a large
// record: a writer of large records needs a CPU to copy the next one in,
// while after small ones a yield only delays the Read's next record.
func TestSpinYieldsAfterLargeRecords(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	s := listenT(t, Config{Policy: owner, ReadTimeout: time.Millisecond})
	c := dialT(t, DialConfig{})
	emptyReads := func(k int) {
		t.Helper()
		for range k {
			if _, _, _, err := s.Read(context.Background(), nil, true); !errors.Is(err, errs.Timeout) {
				t.Fatalf("Read of an empty slot = %v, want a timeout", err)
			}
		}
	}
	n := countYields(t)
	small := strings.Repeat("s", spinYieldSize-1)
	mustWrite(t, c, small)
	if got := readNow(t, s); got != small {
		t.Fatalf("read %d bytes, want %d", len(got), len(small))
	}
	emptyReads(20)
	if n.Load() != 0 {
		t.Fatalf("after a %d-byte record the spin yielded the CPU %d times", len(small), n.Load())
	}
	large := strings.Repeat("L", spinYieldSize)
	mustWrite(t, c, large)
	if got := readNow(t, s); got != large {
		t.Fatalf("read %d bytes, want %d", len(got), len(large))
	}
	// A spin yields once it has lasted spinYieldAfter; one that a busy
	// machine preempted for its whole while may not have: try a few.
	for try := 0; n.Load() == 0; try++ {
		if try == 100 {
			t.Fatalf("after a %d-byte record 100 empty Reads' spins never yielded the CPU", len(large))
		}
		emptyReads(1)
	}
	// A record that does not fit the caller's buffer was not read: it
	// does not change the rule.
	mustWrite(t, c, "x")
	_ = readNow(t, s)
	n.Store(0)
	mustWrite(t, c, large)
	if _, _, _, err := s.Read(context.Background(), make([]byte, 10), false); !errors.Is(err, errs.BufferTooSmall) {
		t.Fatalf("Read into 10 bytes = %v, want BufferTooSmall", err)
	}
	s.mu.Lock()
	last := s.lastSize
	s.mu.Unlock()
	if last != 1 {
		t.Fatalf("after a read of 1 byte and a large record left unread, the last size is %d", last)
	}
}

// A record's time is the monotonic clock plus the wall clock's offset from
// it, which is read again once it is wallRefresh old, and not before.
func TestWallClockOffsetRefresh(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: 0})
	c := dialT(t, DialConfig{})
	timeOf := func() int64 {
		t.Helper()
		mustWrite(t, c, "x")
		_, _, m, err := s.Read(context.Background(), nil, true)
		if err != nil {
			t.Fatal(err)
		}
		return m.Time
	}
	timeOf() // the first record reads the offset
	const hour = int64(time.Hour)
	for try := 0; ; try++ {
		// As if the wall clock had stepped an hour ahead since the
		// offset was read.
		s.mu.Lock()
		read := s.wallAt
		s.wallOff += hour
		s.mu.Unlock()
		if read == 0 {
			t.Fatal("no time kept for the offset read")
		}
		got := timeOf()
		if nanotime()-read >= int64(wallRefresh) {
			// The machine stalled past wallRefresh: the offset may
			// rightly have been read again. Look once more.
			if try < 10 {
				continue
			}
			t.Fatal("every try stalled past wallRefresh")
		}
		if got < time.Now().UnixNano()+hour/2 {
			t.Fatalf("a record's time %d ignores the offset read %v before", got, time.Duration(nanotime()-read))
		}
		break
	}
	// Once the offset is wallRefresh old, the wall clock is read again.
	s.mu.Lock()
	s.wallAt -= int64(wallRefresh)
	s.mu.Unlock()
	if got, now := timeOf(), time.Now().UnixNano(); got > now || got < now-hour/2 {
		t.Fatalf("a record's time %d, at %d, after the offset was wallRefresh old", got, now)
	}
}
