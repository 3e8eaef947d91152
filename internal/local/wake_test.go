//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/unix"
)

// A Read that went to sleep before any writer came is woken by the first
// record of a writer in another process: the writer, which wakes the
// slot through its eventfd, must have been asked to.
func TestSleepingReadWokenByNewWriter(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := readAsync(ctx, s)
	// Wait until the Read sleeps, then start the writer.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		asleep := s.waiters > 0 || s.sleeping
		s.mu.Unlock()
		if asleep {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Read never went to sleep")
		}
		time.Sleep(time.Millisecond)
	}
	cmd := helperCmd("seq-writer", key, "MAILSLOT_TEST_COUNT=1", "MAILSLOT_TEST_ID=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	if err := <-got; err != nil {
		t.Fatalf("the sleeping Read was not woken by the new writer's record: %v", err)
	}
}

// A Read asleep on the slot's eventfd when the slot is handed over
// returns ErrClosed; the new holder serves the writer's records.
func TestSleepingReadEndsAtTransfer(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := mustDial(t, key)
	got := readAsync(context.Background(), s)
	waitSleeping(t, s)
	f, err := s.Transfer("t")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != errs.Closed {
			t.Fatalf("the sleeping Read returned %v, want Closed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sleeping Read did not end when the slot was handed over")
	}
	s2, _, err := Adopt(f)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	mustWrite(t, c, "after")
	if data, _ := read(t, s2); string(data) != "after" {
		t.Fatalf("the new holder read %q", data)
	}
}

// On Linux a writer can read the slot's eventfd as well as write it: an
// attacker allowed to write takes every wake-up other writers give. The
// slot must still read their records, late by a bounded time, not never.
// On the portable transport writers get the write end of a pipe, which
// they cannot read: the thief takes nothing.
func TestWakeThiefCannotDeafenTheSlot(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	thief := mustDial(t, key)
	honest := mustDial(t, key)
	if thief.efd < 0 {
		t.Fatal("the writer has no eventfd to steal from")
	}
	stop := make(chan struct{})
	stolen := make(chan int, 1)
	go func() {
		n := 0
		defer func() { stolen <- n }()
		var b [8]byte
		fds := []unix.PollFd{{Fd: int32(thief.efd), Events: unix.POLLIN}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			if k, _ := unix.Poll(fds, 5); k > 0 {
				if _, err := unix.Read(thief.efd, b[:]); err == nil {
					n++
				}
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := readAsync(ctx, s)
	waitSleeping(t, s)
	mustWrite(t, honest, "honest")
	select {
	case err = <-got:
	case <-time.After(10 * time.Second):
		err = errors.New("Read still asleep after 10 s")
	}
	close(stop)
	n := <-stolen
	if err != nil {
		t.Fatalf("with a writer stealing the wake-ups (%d taken), the honest record was not read: %v", n, err)
	}
	if Portable && n != 0 {
		t.Fatalf("a writer of the portable transport read %d wake-ups from the slot's pipe", n)
	}
}

// The spin of an empty Read doubles after a sleep a record ended sooner
// than the spin itself, up to spinMax, and halves after a longer one,
// down to spinMin.
func TestNextSpin(t *testing.T) {
	for _, tc := range []struct {
		spin, slept, want time.Duration
	}{
		{0, 10 * time.Microsecond, 2 * spinMin},
		{spinMin, spinMin - 1, 2 * spinMin},
		{spinMin, spinMin, spinMin},
		{2 * spinMin, spinMin, 4 * spinMin},
		{2 * spinMin, 2 * spinMin, spinMin},
		{spinMin, spinMax - 1, spinMin},
		{spinMax, time.Millisecond, spinMax / 2},
		{spinMax, 0, spinMax},
		{spinMax, spinMax - 1, spinMax},
		{spinMax / 2, time.Microsecond, spinMax},
		{spinMin, time.Second, spinMin},
		{3 * spinMin, spinMax, 3 * spinMin / 2},
	} {
		if got := nextSpin(tc.spin, tc.slept); got != tc.want {
			t.Errorf("nextSpin(%v, %v) = %v, want %v", tc.spin, tc.slept, got, tc.want)
		}
	}
}

// An empty Read's spin does not change after sleeps that its timeout
// ended, and grows after a sleep a wake-up ended at once (here one given
// before the Read slept): from a spin long enough that no sleep of the
// test's is shorter, to spinMax.
func TestSpinAfterAQuickWake(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: 20 * time.Millisecond})
	dialT(t, DialConfig{}) // the slot's waker comes with its first writer
	// A sleep no wake-up ended leaves the spin as it was.
	if _, _, _, err := s.Read(context.Background(), nil, true); !errors.Is(err, errs.Timeout) {
		t.Fatalf("Read = %v, want a timeout", err)
	}
	s.mu.Lock()
	wfd, spin := s.wk.wfd(), s.spin
	const long = 5 * time.Millisecond
	s.spin = long
	s.mu.Unlock()
	if spin != 0 {
		t.Fatalf("spin %v after a Read that only timed out", spin)
	}
	one := [8]byte{1}
	if _, err := unix.Write(wfd, one[:]); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.Read(context.Background(), nil, true); !errors.Is(err, errs.Timeout) {
		t.Fatalf("Read = %v, want a timeout", err)
	}
	s.mu.Lock()
	spin = s.spin
	s.mu.Unlock()
	if spin != spinMax {
		t.Fatalf("spin %v after a quick wake from %v and a timeout, want %v", spin, long, spinMax)
	}
}

// signalLocked wakes the Read that sleeps on the slot's waker, and writes
// to the waker only when one sleeps there.
func TestSignalWakesOnlyASleeper(t *testing.T) {
	s := listenT(t, Config{Policy: owner})
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tc := range []struct{ sleeping, waker bool }{
		{false, false}, {true, false}, {false, true}, {true, true},
	} {
		s.sleeping = tc.sleeping
		if tc.waker {
			wk, err := newWaker()
			if err != nil {
				t.Fatal(err)
			}
			s.wk = wk
		}
		s.signalLocked()
		if s.wk != nil {
			var b [64]byte
			var n int
			var err error
			_ = s.wk.raw.Control(func(fd uintptr) { n, err = unix.Read(int(fd), b[:]) })
			if got := err == nil && n > 0; got != tc.sleeping {
				t.Errorf("sleeping %v: the waker was written %v (%d, %v)", tc.sleeping, got, n, err)
			}
			s.wk.close()
			s.wk = nil
		}
	}
	s.sleeping = false
}

// Once a Read that waited has returned, nobody waits: a writer that
// comes then is not asked to wake the slot at each record.
func TestWriterAfterAWaitNotAskedToWake(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: -1})
	// With no writer yet the slot has no waker: the Read waits for the
	// first writer's handshake, then sleeps on the waker.
	got := readAsync(context.Background(), s)
	waitSleeping(t, s)
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "wake")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	late := dialT(t, DialConfig{})
	if v := late.r.load32(offReaderWants); v != 0 {
		t.Fatalf("a writer that came after the Read returned is asked to wake the slot (readerWants %d)", v)
	}
	s.mu.Lock()
	waiters, sleeping := s.waiters, s.sleeping
	s.mu.Unlock()
	if waiters != 0 || sleeping {
		t.Fatalf("after the Read returned: %d waiting, sleeping %v", waiters, sleeping)
	}
}
