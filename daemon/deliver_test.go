//go:build !windows

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
)

// slotDaemon is a daemon with a relay cache and nothing else, for the
// tests that deliver to local slots this process serves.
func slotDaemon(t *testing.T, log *slog.Logger) *Daemon {
	d := &Daemon{log: log, slots: newSlotCache()}
	t.Cleanup(d.slots.close)
	return d
}

// readRecord reads one record from s and its origin, failing the test if
// none comes.
func readRecord(t *testing.T, s *local.Server) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _, m, err := s.Read(ctx, nil, true)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(out), m.Origin
}

// A record for a slot whose cached connection has closed goes to the
// process that serves the name now, once the cache has let the closed one
// go; with no process serving it, the record is refused as for no slot.
func TestDeliverKeyAfterSlotClosed(t *testing.T) {
	d := slotDaemon(t, slog.New(slog.NewTextHandler(io.Discard, nil)))
	key := testSlotKey(t)
	first := serveSlot(t, key, true)
	if err := d.deliverKey(key, []byte("one"), `\\A (10.0.0.1:138)`, 0); err != nil {
		t.Fatal(err)
	}
	if data, origin := readRecord(t, first); data != "one" || origin != `\\A (10.0.0.1:138)` {
		t.Errorf("first slot read %q from %q", data, origin)
	}
	closed := d.slots.peek(key)
	first.Close()
	second := serveSlot(t, key, true)
	if err := d.deliverKey(key, []byte("two"), `\\B (10.0.0.2:138)`, 0); err != nil {
		t.Fatalf("to the slot served anew: %v", err)
	}
	if data, origin := readRecord(t, second); data != "two" || origin != `\\B (10.0.0.2:138)` {
		t.Errorf("second slot read %q from %q", data, origin)
	}
	if c := d.slots.peek(key); c == nil || c == closed {
		t.Errorf("the cache holds %p, the closed connection was %p", c, closed)
	}
	second.Close()
	if err := d.deliverKey(key, []byte("three"), `\\C (10.0.0.3:138)`, 0); !errors.Is(err, errs.NotFound) {
		t.Errorf("with no slot: %v, want errs.NotFound", err)
	}
	if d.slots.peek(key) != nil {
		t.Error("the connection to the closed slot is still cached")
	}
	if n := d.c.delivered.Load(); n != 2 {
		t.Errorf("%d records counted as delivered, want 2", n)
	}
}

// The datagram sink writes a record at once only to a slot the cache
// has open and whose ring has room, counting it; deliver opens the slot.
func TestDgramSinkDeliver(t *testing.T) {
	d := slotDaemon(t, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sink := dgramSink{d}
	key := testSlotKey(t)
	s := serveSlot(t, key, true)
	if sink.tryDeliver(key, []byte("not yet"), "") {
		t.Fatal("a record went at once to a slot the cache has not opened")
	}
	if err := sink.deliver(key, []byte("opens"), `\\A (10.0.0.1:138)`, time.Second); err != nil {
		t.Fatal(err)
	}
	if !sink.tryDeliver(key, []byte("at once"), `\\A (10.0.0.1:138)`) {
		t.Fatal("a record did not go at once to an open slot with room")
	}
	for _, want := range []string{"opens", "at once"} {
		if data, _ := readRecord(t, s); data != want {
			t.Errorf("read %q, want %q", data, want)
		}
	}
	if n := d.c.delivered.Load(); n != 2 {
		t.Errorf("%d records counted as delivered, want 2", n)
	}
	// Fill the ring: the record that does not fit is not taken.
	big := make([]byte, 60000)
	full := false
	for i := 0; i < 1000 && !full; i++ {
		full = !sink.tryDeliver(key, big, "")
	}
	if !full {
		t.Fatal("the ring never filled")
	}
	if n := d.c.delivered.Load(); n < 3 {
		t.Errorf("%d records counted as delivered once the ring filled", n)
	}
}

// outcome counts a record's fate by its error: none when it was
// delivered or mailslotd is closing, no slot, a slot closed to the
// network, or a queue or slot that stayed full; at debug level it logs
// each, the origin with it.
func TestDgramSinkOutcome(t *testing.T) {
	logs, log := debugLog()
	d := &Daemon{log: log}
	sink := dgramSink{d}
	for _, err := range []error{
		nil,
		fmt.Errorf("open: %w", errs.NotFound),
		fmt.Errorf("dial: %w", errs.Permission),
		fmt.Errorf("write: %w", errs.Closed),
		fmt.Errorf("write: %w", errs.Timeout),
		errQueueFull,
	} {
		sink.outcome(`APP\X`, `\\A (10.0.0.1:138)`, err)
	}
	checkCounters(t, map[string]counter{
		"no slot":    {d.c.noSlot.Load(), 1},
		"local only": {d.c.localOnly.Load(), 1},
		"queue full": {d.c.queueFull.Load(), 2},
		"delivered":  {d.c.delivered.Load(), 0},
	})
	for msg, n := range map[string]int{`msg="no slot for datagram"`: 1, "takes no records from the network": 1, `msg="datagram dropped"`: 2} {
		if l := logLines(logs, msg); len(l) != n || !strings.Contains(l[0], `from="\\\\A (10.0.0.1:138)"`) {
			t.Errorf("%q logged as %q", msg, l)
		}
	}
}
