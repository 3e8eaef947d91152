package messenger

import (
	"fmt"
	"testing"
	"time"
)

// TestDeduperQueueBounded checks the queue, not only the map: a message
// from the future that never expires must not let replaced entries pile
// up behind it.
func TestDeduperQueueBounded(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	d := NewDeduperSize(time.Second, 8)
	d.Seen(Message{From: "FUTURE", Text: "x"}, t0.Add(time.Hour))
	for i := range 10000 {
		d.Seen(Message{From: "A", Text: fmt.Sprint(i % 3)}, t0.Add(time.Duration(i)*time.Second))
		if n := len(d.queue) - d.head; n > 2*d.max+1 {
			t.Fatalf("queue holds %d after %d messages", n, i+1)
		}
	}
}

// TestDeduperQueueSteady checks the memory of a Deduper that is never
// empty: in a steady stream each message expires as a new one comes, and
// the elements already dropped from the front of the queue must not
// accumulate in front of the live ones, whether few or many are live.
func TestDeduperQueueSteady(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	const step = 200 * time.Millisecond
	for _, c := range []struct {
		window  time.Duration
		entries int
		live    int // how many the last window holds
	}{
		{time.Second, 8, 5},
		{100 * time.Second, DefaultDedupEntries, 500},
	} {
		d := NewDeduperSize(c.window, c.entries)
		for i := range 20000 {
			d.Seen(Message{From: "A", Text: fmt.Sprint(i)}, t0.Add(time.Duration(i)*step))
			// The dropped front is shifted out once it is over 64 elements
			// and at least as long as the rest.
			if n := len(d.queue); n > 64+2*(2*d.max+1) {
				t.Fatalf("window %v: queue holds %d (head %d) after %d messages", c.window, n, d.head, i+1)
			}
		}
		if d.Len() != c.live {
			t.Errorf("window %v: Len = %d, want %d", c.window, d.Len(), c.live)
		}
	}
}
