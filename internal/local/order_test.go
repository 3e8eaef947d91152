//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// waitNoConns waits until the server has seen every connection end.
func waitNoConns(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still served", n)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustDial(t *testing.T, key string) *Conn {
	t.Helper()
	c, err := Dial(key, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustWrite(t *testing.T, c *Conn, s string) {
	t.Helper()
	if err := c.Write([]byte(s), "", -1); err != nil {
		t.Fatal(err)
	}
}

// readNow reads one record without waiting; "" when Read finds none.
// readAsync starts a Read of s with ctx and returns the channel its error
// comes on.
func readAsync(ctx context.Context, s *Server) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, _, _, err := s.Read(ctx, nil, true)
		done <- err
	}()
	return done
}

func readNow(t *testing.T, s *Server) string {
	t.Helper()
	out, _, _, err := s.Read(context.Background(), nil, true)
	if err != nil {
		return ""
	}
	return string(out)
}

// A writer leaves with records unread; once the server has read them, it
// forgets the writer while looking for the next record. The writers after
// it in the server's list must still be looked at: a record of the next
// one, written before a later writer's, is read first.
func TestOrderWhenAWriterLeaves(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := mustDial(t, key)
	mustWrite(t, a, "a")
	a.Close()
	waitNoConns(t, s)
	b := mustDial(t, key)
	c := mustDial(t, key)
	mustWrite(t, b, "b")
	mustWrite(t, c, "c")
	for _, want := range []string{"a", "b", "c", ""} {
		if got := readNow(t, s); got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
}

// The same, where the next writer holds the only record left: a Read that
// does not wait must still find it.
func TestReadNowWhenAWriterLeaves(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := mustDial(t, key)
	mustWrite(t, a, "a")
	a.Close()
	waitNoConns(t, s)
	b := mustDial(t, key)
	mustDial(t, key) // a third writer, with nothing to say
	mustWrite(t, b, "b")
	for _, want := range []string{"a", "b", ""} {
		if got := readNow(t, s); got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
}

// A writer chooses the stamps of its records: a hostile one stamps them
// at the clock's start, so that the server, which reads the records of
// different writers in stamp order, reads them before everyone else's.
// Kept up (one such record whenever the server looks), that would keep
// another writer's record unread for as long as the hostile writer likes.
// The other writer's record, written first, must be read after at most a
// few of the hostile writer's.
func TestHostileStampsDoNotStarveOthers(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	honest := mustDial(t, key)
	hostile := mustDial(t, key)
	mustWrite(t, honest, "honest")
	// The hostile writer publishes records by hand, each stamped 1,
	// one before each of the server's reads.
	forge := func() {
		hostile.mu.Lock()
		defer hostile.mu.Unlock()
		hostile.head = atomic.LoadUint64(hostile.r.head())
		nt, ok := hostile.r.put(hostile.tail, hostile.head, 1, nil, []byte("jumped"))
		if !ok {
			t.Fatal("the hostile ring is full")
		}
		hostile.tail = nt
		atomic.StoreUint64(hostile.r.tail(), nt)
	}
	const most = 100
	for i := 0; i < most; i++ {
		forge()
		switch got := readNow(t, s); got {
		case "honest":
			if i > 3 {
				t.Errorf("the honest record came after %d forged ones", i)
			}
			return
		case "jumped":
		default:
			t.Fatalf("read %q", got)
		}
	}
	t.Fatalf("the honest record, written first, was not read in %d reads: every one took a record stamped in the past by another writer", most)
}

// A record written into a ring just after the server found it empty, and
// before another writer's record that the same look found, is read
// first: the second Write began after the first returned.
func TestRecordLandingDuringTheLook(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: 0})
	first := dialT(t, DialConfig{})
	second := dialT(t, DialConfig{})
	fired := false
	testHookRingEmpty = func(w *writer) {
		if fired || w != s.writers[0] {
			return
		}
		fired = true
		mustWrite(t, first, "first")
		mustWrite(t, second, "second")
	}
	defer func() { testHookRingEmpty = nil }()
	for _, want := range []string{"first", "second"} {
		if got := readNow(t, s); got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
	if !fired {
		t.Fatal("the server never found the first writer's ring empty")
	}
}
