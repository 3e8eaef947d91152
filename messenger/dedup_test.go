package messenger_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/messenger"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestDeduperWindow(t *testing.T) {
	d := messenger.NewDeduper(2 * time.Second)
	m := messenger.Message{From: "ALICE", To: "WORKGROUP", Text: "fire drill at 3"}
	for _, c := range []struct {
		name string
		m    messenger.Message
		at   time.Duration
		want bool
	}{
		{"first copy", m, 0, false},
		{"second copy at once", m, 0, true},
		{"copy 1 ms later", m, time.Millisecond, true},
		{"other recipient", messenger.Message{From: "ALICE", To: "PC7", Text: m.Text}, 10 * time.Millisecond, true},
		{"sender in lower case", messenger.Message{From: "alice", To: "WORKGROUP", Text: m.Text}, 20 * time.Millisecond, true},
		{"other sender", messenger.Message{From: "BOB", To: "WORKGROUP", Text: m.Text}, 30 * time.Millisecond, false},
		{"other text", messenger.Message{From: "ALICE", To: "WORKGROUP", Text: "fire drill at 4"}, 40 * time.Millisecond, false},
		{"clock went back a little", m, -time.Second, true},
		{"just inside the window", m, 2*time.Second - time.Nanosecond, true},
		{"at the window's end", m, 2 * time.Second, false},
		{"copies do not extend the window", m, 3 * time.Second, true},
		{"a window after the repeat", m, 4 * time.Second, false},
		{"clock back by just under the window", m, 2*time.Second + time.Nanosecond, true},
		{"clock back by the whole window", m, 2 * time.Second, false},
	} {
		if got := d.Seen(c.m, t0.Add(c.at)); got != c.want {
			t.Errorf("%s: Seen = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDeduperWindowEnd checks the window's end where the messages were
// seen out of order, so that a later-queued message is not forgotten
// together with the earlier ones.
func TestDeduperWindowEnd(t *testing.T) {
	a := messenger.Message{From: "A", Text: "a"}
	b := messenger.Message{From: "B", Text: "b"}
	for _, c := range []struct {
		name  string
		at    time.Duration // when b arrives again
		want  bool
		count int // messages remembered after it
	}{
		{"just inside the window", 2*time.Second - time.Nanosecond, true, 2},
		{"at the window's end", 2 * time.Second, false, 2},
	} {
		d := messenger.NewDeduper(2 * time.Second)
		d.Seen(a, t0.Add(10*time.Second)) // the clock then goes back
		d.Seen(b, t0)
		if got := d.Seen(b, t0.Add(c.at)); got != c.want || d.Len() != c.count {
			t.Errorf("%s: Seen = %v, Len = %d; want %v, %d", c.name, got, d.Len(), c.want, c.count)
		}
	}
}

// TestDeduperExpiry checks that a message is forgotten exactly a window
// after it was seen, and not before.
func TestDeduperExpiry(t *testing.T) {
	for _, c := range []struct {
		name  string
		at    time.Duration // when the second message arrives
		count int
	}{
		{"just inside the window", 2*time.Second - time.Nanosecond, 2},
		{"at the window's end", 2 * time.Second, 1},
	} {
		d := messenger.NewDeduper(2 * time.Second)
		d.Seen(messenger.Message{From: "A", Text: "a"}, t0)
		d.Seen(messenger.Message{From: "B", Text: "b"}, t0.Add(c.at))
		if d.Len() != c.count {
			t.Errorf("%s: Len = %d, want %d", c.name, d.Len(), c.count)
		}
	}
}

func TestDeduperNoWindow(t *testing.T) {
	d := messenger.NewDeduper(0)
	m := messenger.Message{From: "A", To: "B", Text: "x"}
	if d.Seen(m, t0) || d.Seen(m, t0) || d.Len() != 0 {
		t.Error("a zero window deduplicates")
	}
}

// TestDeduperEviction checks that memory stays bounded: expired entries
// go, and past the size the oldest go first.
func TestDeduperEviction(t *testing.T) {
	d := messenger.NewDeduperSize(time.Minute, 3)
	msg := func(i int) messenger.Message { return messenger.Message{From: "A", To: "B", Text: fmt.Sprint(i)} }
	for i := range 3 {
		if d.Seen(msg(i), t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("message %d seen", i)
		}
	}
	if d.Len() != 3 {
		t.Fatalf("Len = %d", d.Len())
	}
	// A fourth message evicts the oldest (0) and keeps 1 and 2.
	if d.Seen(msg(3), t0.Add(3*time.Second)) || d.Len() != 3 {
		t.Fatalf("fourth: Len = %d", d.Len())
	}
	if !d.Seen(msg(2), t0.Add(4*time.Second)) || !d.Seen(msg(1), t0.Add(4*time.Second)) {
		t.Error("a recent message was forgotten")
	}
	if d.Seen(msg(0), t0.Add(4*time.Second)) {
		t.Error("the evicted message is still remembered")
	}
	// Once the window has passed, everything expires.
	if d.Seen(msg(9), t0.Add(5*time.Minute)) || d.Len() != 1 {
		t.Errorf("after expiry: Len = %d", d.Len())
	}

	// Many distinct messages never grow it past its size, whatever the
	// times do.
	d = messenger.NewDeduperSize(time.Hour, 16)
	d.Seen(msg(-1), t0.Add(10*time.Hour)) // a message from the future never expires
	for i := range 10000 {
		d.Seen(msg(i%40), t0.Add(time.Duration(i)*time.Minute))
		if d.Len() > 16 {
			t.Fatalf("Len = %d after %d messages", d.Len(), i+1)
		}
	}
}

func TestDeduperConcurrent(t *testing.T) {
	d := messenger.NewDeduperSize(time.Minute, 4096)
	m := messenger.Message{From: "A", To: "B", Text: "once"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	shown := 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if !d.Seen(m, t0.Add(time.Duration(i)*time.Millisecond)) {
					mu.Lock()
					shown++
					mu.Unlock()
				}
				d.Seen(messenger.Message{From: fmt.Sprint(g), Text: fmt.Sprint(i)}, t0)
			}
		})
	}
	wg.Wait()
	if shown != 1 {
		t.Errorf("shown %d times", shown)
	}
}
