//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func testKey(t *testing.T) string {
	return fmt.Sprintf(`TEST\%d\%s`, os.Getpid(), t.Name())
}

// serveWithWriters serves a slot for the test and opens a relay and a
// plain writer to it, all closed at cleanup.
func serveWithWriters(t *testing.T) (s *Server, relay, plain *Conn) {
	t.Helper()
	asDaemonUser(t)
	s, err := Listen(Config{Policy: owner, Key: testKey(t), ReadTimeout: -1, Network: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, isRelay := range []bool{true, false} {
		c, err := Dial(testKey(t), DialConfig{Relay: isRelay})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if isRelay {
			relay = c
		} else {
			plain = c
		}
	}
	return s, relay, plain
}

func read(t *testing.T, s *Server) ([]byte, Meta) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _, m, err := s.Read(ctx, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	return out, m
}

// A relay's records carry their origin; a plain writer's bytes are the
// record, even when they look like a relay's framing.
func TestRelayOrigin(t *testing.T) {
	s, relay, plain := serveWithWriters(t)

	if err := plain.Write([]byte("x"), "forged", -1); err == nil {
		t.Fatal("a plain writer attached an origin")
	}
	steps := []struct {
		c            *Conn
		data, origin string
	}{
		{relay, "from afar", `\\HOSTA <10.0.0.1:138>`},
		{relay, "", "empty record"},
		{relay, "no origin", ""},
		{plain, "\x05abcde tricky", ""},
		{plain, "", ""},
	}
	for _, st := range steps {
		if err := st.c.Write([]byte(st.data), st.origin, -1); err != nil {
			t.Fatal(err)
		}
	}
	for i, st := range steps {
		data, m := read(t, s)
		if string(data) != st.data || m.Origin != st.origin || m.PID != int32(os.Getpid()) {
			t.Fatalf("record %d = %q from %q (pid %d), want %q from %q", i, data, m.Origin, m.PID, st.data, st.origin)
		}
	}
	// The relay flag moves with a hand-over.
	f, err := s.Transfer("t")
	if err != nil {
		t.Fatal(err)
	}
	s2, _, err := Adopt(f)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := relay.Write([]byte("after"), "ORIGIN", -1); err != nil {
		t.Fatal(err)
	}
	if data, m := read(t, s2); string(data) != "after" || m.Origin != "ORIGIN" {
		t.Fatalf("after hand-over: %q from %q", data, m.Origin)
	}
}

// WriteHeld leaves the sleeping reader's wake-up to its caller: it says
// one is owed, and Wake gives it. TryWrite puts a record in at once, and
// declines while the ring is full.
func TestWriteHeldAndTryWrite(t *testing.T) {
	s, relay, _ := serveWithWriters(t)
	got := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		data, _, m, err := s.Read(ctx, nil, true)
		got <- fmt.Sprint(string(data), " from ", m.Origin, err)
	}()
	// Wait until the reader sleeps and wants a wake-up.
	deadline := time.Now().Add(5 * time.Second)
	for atomic.LoadUint32(relay.r.readerWants()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the reader never asked to be woken")
		}
		time.Sleep(time.Millisecond)
	}
	wake, err := relay.WriteHeld([]byte("held"), "afar", -1)
	if err != nil || !wake {
		t.Fatalf("WriteHeld to a sleeping reader = %v, %v; want a wake-up owed", wake, err)
	}
	relay.Wake()
	if g := <-got; g != "held from afar<nil>" {
		t.Fatalf("read %q", g)
	}

	// Fill the ring with TryWrite: it never waits, and declines when full.
	rec := make([]byte, 1000)
	n := 0
	for ; n < 100000; n++ {
		ok, err := relay.TryWrite(rec, "afar")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
	}
	if n == 0 || n == 100000 {
		t.Fatalf("TryWrite took %d records of 1000 B into a ring of %d B", n, relay.RingSize())
	}
	for i := 0; i < n; i++ {
		if data, _ := read(t, s); len(data) != len(rec) {
			t.Fatalf("record %d: %d bytes", i, len(data))
		}
	}
	if ok, err := relay.TryWrite(rec, "afar"); !ok || err != nil {
		t.Fatalf("TryWrite once the ring was read = %v, %v", ok, err)
	}
}
