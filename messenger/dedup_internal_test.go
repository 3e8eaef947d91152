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
