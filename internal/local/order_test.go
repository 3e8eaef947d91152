package local

import (
	"context"
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
	s, err := Listen(Config{Key: key, ReadTimeout: 0})
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
	s, err := Listen(Config{Key: key, ReadTimeout: 0})
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
