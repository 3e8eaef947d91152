//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// restFor makes s rest (see restingLocked) for d from now.
func restFor(s *Server, d time.Duration) {
	s.mu.Lock()
	s.lazyTill = nanotime() + int64(d)
	s.mu.Unlock()
}

// A look at the rings that finds fewer than lazyBatch records since the
// last one makes the next Reads rest; lazyBatch or more, not.
func TestRestAfterSmallBatches(t *testing.T) {
	s := listenT(t, Config{Policy: owner}) // read timeout 0: Reads look at once
	c := dialT(t, DialConfig{})
	for _, tc := range []struct {
		n    int
		rest bool
	}{
		{1, true},
		{lazyBatch - 1, true},
		{lazyBatch, false},
		{3 * lazyBatch, false},
		{2, true},
	} {
		for i := range tc.n {
			mustWrite(t, c, fmt.Sprint(i))
		}
		for i := range tc.n {
			if got := readNow(t, s); got != fmt.Sprint(i) {
				t.Fatalf("batch of %d: read %q, want %q", tc.n, got, fmt.Sprint(i))
			}
		}
		// The look that finds the ring empty ends the batch.
		before := nanotime()
		if got := readNow(t, s); got != "" {
			t.Fatalf("batch of %d: read %q from an empty slot", tc.n, got)
		}
		s.mu.Lock()
		till, taken := s.lazyTill, s.taken
		s.mu.Unlock()
		if rest := till != 0; rest != tc.rest {
			t.Fatalf("after a batch of %d records: resting %v, want %v", tc.n, rest, tc.rest)
		}
		if tc.rest && till < before+int64(lazyPause) {
			t.Fatalf("after a batch of %d records: resting until %d, less than %v after the look began at %d", tc.n, till, lazyPause, before)
		}
		if taken != 0 {
			t.Fatalf("after a batch of %d records: %d counted toward the next", tc.n, taken)
		}
	}
}

// A slot rests only while every record its rings were known to hold is
// taken.
func TestRestOnlyWhenEmpty(t *testing.T) {
	s := listenT(t, Config{Policy: owner})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "a")
	mustWrite(t, c, "b")
	if got := readNow(t, s); got != "a" {
		t.Fatalf("read %q", got)
	}
	restFor(s, time.Hour)
	s.mu.Lock()
	resting := s.restingLocked()
	s.mu.Unlock()
	if resting {
		t.Fatal("a slot with a record known in a ring rests")
	}
	if got := readNow(t, s); got != "b" {
		t.Fatalf("read %q", got)
	}
	restFor(s, time.Hour)
	s.mu.Lock()
	resting = s.restingLocked()
	s.mu.Unlock()
	if !resting {
		t.Fatal("an empty slot does not rest within its pause")
	}
	restFor(s, -time.Nanosecond)
	s.mu.Lock()
	resting = s.restingLocked()
	till := s.lazyTill
	s.mu.Unlock()
	if resting || till != 0 {
		t.Fatalf("a slot past its pause rests (%v, until %d)", resting, till)
	}
}

// A Read that may not wait (read timeout 0) looks at the rings at once,
// resting or not; a Read that may wait rests through its spin without
// looking, then looks before it sleeps, so that a record written while
// it rested is never missed.
func TestRestingReads(t *testing.T) {
	s := listenT(t, Config{Policy: owner})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "first") // the ring and the waker
	if got := readNow(t, s); got != "first" {
		t.Fatalf("read %q", got)
	}
	var looks int
	testHookRingEmpty = func(*writer) { looks++ }
	t.Cleanup(func() { testHookRingEmpty = nil })

	restFor(s, time.Hour)
	mustWrite(t, c, "now")
	if got := readNow(t, s); got != "now" {
		t.Fatalf("a Read with timeout 0 of a resting slot read %q", got)
	}

	// Nor does it spin: with one thread for Go code, a spin would let
	// other goroutines run.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	spins := countGosched(t)
	looks = 0
	restFor(s, time.Hour)
	if got := readNow(t, s); got != "" {
		t.Fatalf("read %q from an empty slot", got)
	}
	if looks != 1 || spins.Load() != 0 {
		t.Fatalf("a Read with timeout 0 of an empty resting slot looked at its ring %d times (want 1) and spun %d turns (want 0)", looks, spins.Load())
	}

	s.SetReadTimeout(5 * time.Millisecond)
	s.mu.Lock()
	s.spin = spinMax
	s.mu.Unlock()
	looks = 0
	restFor(s, time.Hour)
	if _, _, _, err := s.Read(context.Background(), nil, true); !errors.Is(err, errs.Timeout) {
		t.Fatalf("Read of an empty slot = %v, want a timeout", err)
	}
	// One look after the spin, one after asking to be woken, one after
	// the timeout; a spin that looked would have looked at each turn.
	if looks > 4 {
		t.Fatalf("a resting Read looked at the empty ring %d times", looks)
	}

	s.SetReadTimeout(10 * time.Second)
	restFor(s, time.Hour)
	mustWrite(t, c, "rested")
	out, _, _, err := s.Read(context.Background(), nil, true)
	if err != nil || string(out) != "rested" {
		t.Fatalf("a resting Read = %q, %v; want the record written meanwhile", out, err)
	}
}
