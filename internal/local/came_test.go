//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// setWoke plays a writer saying it woke the slot at `at` from cpu (-1:
// unknown).
func setWoke(c *Conn, at int64, cpu int) {
	c.r.store64(offWokeAt, uint64(at))
	c.r.store32(offWokeCPU, uint32(cpu+1))
}

// A sleep's record came when the earliest writer that woke it within the
// sleep says; a claim from before the sleep, or none, counts the whole
// sleep.
func TestCame(t *testing.T) {
	s := listenT(t, Config{Policy: owner})
	c1 := dialT(t, DialConfig{})
	c2 := dialT(t, DialConfig{})
	mustWrite(t, c1, "1") // both connections served with their rings
	mustWrite(t, c2, "2")
	readNow(t, s)
	readNow(t, s)
	const from, to = 1_000_000, 1_090_000
	for _, tc := range []struct {
		name     string
		at1, at2 int64
		want     int64
	}{
		{"none said so", 0, 0, to - from},
		{"one, within", from + 5000, 0, 5000},
		{"the earliest of two", from + 7000, from + 3000, 3000},
		{"at the start", from, from + 3000, 0},
		{"before the sleep", from - 1, 0, to - from},
		{"after it ended", to + 1, 0, to - from},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setWoke(c1, tc.at1, -1)
			setWoke(c2, tc.at2, -1)
			s.mu.Lock()
			got := s.cameLocked(from, to)
			s.mu.Unlock()
			if got != tc.want {
				t.Fatalf("came %d after the sleep began, want %d", got, tc.want)
			}
		})
	}
}

// A Read notes that it shares its CPU with the writer that woke it when
// that writer says it woke it from the CPU the Read runs on.
func TestCameShared(t *testing.T) {
	s := listenT(t, Config{Policy: owner})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "1")
	readNow(t, s)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	here := curCPU()
	if runtime.GOOS != "linux" {
		if here != -1 {
			t.Fatalf("curCPU = %d where it should not know", here)
		}
	} else if here < 0 || here >= 4096 {
		t.Fatalf("curCPU = %d", here)
	}
	shared := func(cpu int) bool {
		t.Helper()
		// The thread may move between the two calls: try a few times
		// for the answer that needs it to stay.
		for range 100 {
			setWoke(c, 10, cpu)
			s.mu.Lock()
			s.cameLocked(5, 20)
			got := s.shared
			s.mu.Unlock()
			if got || cpu != curCPU() {
				return got
			}
		}
		return false
	}
	if here >= 0 {
		if !shared(here) {
			t.Fatal("a Read woken from its own CPU does not note it")
		}
	}
	if shared(here + 1) {
		t.Fatal("a Read woken from another CPU notes it as its own")
	}
	if shared(-1) {
		t.Fatal("a Read woken from an unknown CPU notes it as its own")
	}
	// A sleep no writer said it ended is not shared either.
	setWoke(c, 1, here)
	s.mu.Lock()
	s.shared = true
	s.cameLocked(5, 20)
	got := s.shared
	s.mu.Unlock()
	if got {
		t.Fatal("a sleep no writer ended counts as shared")
	}
}

// A writer that wakes a sleeping Read says when, and from which CPU.
func TestWakeSaysWhenAndWhere(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: -1})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "first")
	readNow(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := readAsync(ctx, s)
	waitSleeping(t, s)
	before := nanotime()
	mustWrite(t, c, "second")
	after := nanotime()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if at := int64(c.r.load64(offWokeAt)); at < before || at > after {
		t.Fatalf("the writer says it woke the Read at %d, not within its Write [%d, %d]", at, before, after)
	}
	cpu := int(c.r.load32(offWokeCPU)) - 1
	if runtime.GOOS == "linux" && (cpu < 0 || cpu >= 4096) {
		t.Fatalf("the writer says it woke the Read from CPU %d", cpu)
	}
	if runtime.GOOS != "linux" && cpu != -1 {
		t.Fatalf("the writer says it woke the Read from CPU %d where it cannot know", cpu)
	}
}

// While the writer that woke it shares its CPU, an empty Read's spin
// offers the CPU at each turn, even after small records.
func TestSharedSpinYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	s := listenT(t, Config{Policy: owner, ReadTimeout: time.Millisecond})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "small")
	readNow(t, s)
	n := countYields(t)
	for _, shared := range []bool{false, true} {
		n.Store(0)
		s.mu.Lock()
		s.shared = shared
		s.lazyTill = 0
		s.mu.Unlock()
		if _, _, _, err := s.Read(context.Background(), nil, true); !errors.Is(err, errs.Timeout) {
			t.Fatalf("Read of an empty slot = %v, want a timeout", err)
		}
		if got := n.Load(); (got > 0) != shared {
			t.Fatalf("shared %v: the spin yielded %d times", shared, got)
		}
	}
}

// A Read's spin adapts to when its writer says it woke it, not to the
// whole sleep: a writer that woke a Read at once doubles the spin, even
// when the wake-up itself was slow.
func TestSpinAdaptsToWhenTheWriterWoke(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: -1})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "first") // the ring and the waker
	readNow(t, s)
	s.mu.Lock()
	s.spin = 2 * spinMin
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := readAsync(ctx, s)
	waitSleeping(t, s)
	s.mu.Lock()
	setWoke(c, s.sleptAt, -1) // as the sleep began
	s.mu.Unlock()
	time.Sleep(2 * spinMax) // a wake-up far slower than any spin
	s.mu.Lock()
	s.signalLocked()
	s.mu.Unlock()
	var spin time.Duration
	for range 10000 {
		s.mu.Lock()
		spin = s.spin
		s.mu.Unlock()
		if spin != 2*spinMin {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, want its context's end", err)
	}
	if spin != 4*spinMin {
		t.Fatalf("after a sleep its writer says it ended at once, the spin is %v, want %v", spin, 4*spinMin)
	}
}
