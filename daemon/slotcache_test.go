//go:build !windows

package daemon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/trust"
)

var servedSlots atomic.Int64

// serveSlots serves n local slots that take network records, closed at
// the test's end, and returns their keys.
func serveSlots(t *testing.T, n int, network bool) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = testSlotKey(t)
		serveSlot(t, keys[i], network)
	}
	return keys
}

// testSlotKey returns a slot key of this test's own.
func testSlotKey(t *testing.T) string {
	return local.Key(fmt.Sprintf(`test\%d\%s\%d`, os.Getpid(), t.Name(), servedSlots.Add(1)))
}

// serveSlot serves the local slot key (closed at the test's end at the
// latest), with this process as the daemon, the relay it trusts.
func serveSlot(t *testing.T, key string, network bool) *local.Server {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Setenv(trust.DaemonUserEnv, strconv.Itoa(os.Geteuid()))
	}
	s, err := local.Listen(local.Config{Key: key, Network: network, ReadTimeout: -1,
		Policy: local.Policy{Owner: uint32(os.Geteuid())}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The relay's connections to local slots: one per slot, reused; at most
// maxCachedSlots, the first maxLargeRings with a full-size ring and the
// rest small; a slot that refuses the network is remembered as refusing;
// after close, nothing is handed out and every connection is closed.
func TestSlotCache(t *testing.T) {
	keys := serveSlots(t, maxCachedSlots+1, true)
	sc := newSlotCache()
	first, err := sc.get(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	if again, err := sc.get(keys[0]); err != nil || again != first || sc.peek(keys[0]) != first {
		t.Fatalf("a second get: %p %v, want the same connection %p", again, err, first)
	}
	for i, k := range keys[:maxCachedSlots] {
		c, err := sc.get(k)
		if err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
		if large := isLarge(c); large != (i < maxLargeRings) {
			t.Errorf("slot %d: full-size ring %v", i, large)
		}
		// A slot of 64 KiB records: a writer's own ring would be larger.
		want := local.SmallRingSize(c.MaxMessageSize())
		if i < maxLargeRings {
			want = min(local.RingSize(c.MaxMessageSize()), maxRelayRing)
		}
		if c.RingSize() != want || local.RingSize(c.MaxMessageSize()) <= maxRelayRing {
			t.Errorf("slot %d of %d B records: ring of %d B, want %d (a writer's own: %d)", i, c.MaxMessageSize(), c.RingSize(), want, local.RingSize(c.MaxMessageSize()))
		}
	}
	if sc.len() != maxCachedSlots || sc.large != maxLargeRings {
		t.Fatalf("%d connections, %d large; want %d, %d", sc.len(), sc.large, maxCachedSlots, maxLargeRings)
	}
	// One more: another goes, the cache stays at its bound.
	if _, err := sc.get(keys[maxCachedSlots]); err != nil {
		t.Fatal(err)
	}
	if sc.len() != maxCachedSlots {
		t.Fatalf("past the bound: %d connections", sc.len())
	}
	// A dropped connection is closed and forgotten; the large count
	// follows.
	for _, wantLarge := range []bool{false, true} {
		var key string
		var c *local.Conn
		for k, cc := range sc.conns {
			if isLarge(cc) == wantLarge {
				key, c = k, cc
				break
			}
		}
		if c == nil {
			t.Fatalf("no cached connection with a full-size ring %v", wantLarge)
		}
		large := sc.large
		sc.drop(key, c)
		if sc.peek(key) != nil || sc.large != large-btoi(wantLarge) {
			t.Errorf("after drop (full-size ring %v): still cached, or large %d (was %d)", wantLarge, sc.large, large)
		}
		if err := c.Write([]byte("x"), "", 0); err == nil {
			t.Error("a dropped connection still writes")
		}
	}

	// A slot that takes no network records refuses the relay, and the
	// refusal is remembered.
	closed := serveSlots(t, 1, false)[0]
	_, err = sc.get(closed)
	if !errors.Is(err, errs.Permission) {
		t.Fatalf("a slot closed to the network: %v", err)
	}
	if r, ok := sc.refused[closed]; !ok || r.err != err {
		t.Errorf("the refusal is not remembered: %+v", sc.refused)
	}
	if _, err2 := sc.get(closed); err2 != err {
		t.Errorf("within refusalMemory: %v, want the remembered %v", err2, err)
	}

	// Refusals are remembered for at most maxCachedSlots slots: the next
	// one starts the memory afresh.
	refusing := serveSlots(t, maxCachedSlots, false)[1:]
	for _, k := range refusing {
		if _, err := sc.get(k); !errors.Is(err, errs.Permission) {
			t.Fatalf("a slot closed to the network: %v", err)
		}
	}
	if len(sc.refused) != maxCachedSlots {
		t.Fatalf("%d refusals remembered, want %d", len(sc.refused), maxCachedSlots)
	}
	if _, err := sc.get(serveSlots(t, maxCachedSlots+1, false)[maxCachedSlots]); !errors.Is(err, errs.Permission) {
		t.Fatalf("a slot closed to the network: %v", err)
	}
	if len(sc.refused) != 1 {
		t.Errorf("past the bound: %d refusals remembered, want 1", len(sc.refused))
	}

	sc.close()
	if sc.len() != 0 {
		t.Errorf("%d connections after close", sc.len())
	}
	if _, err := sc.get(keys[1]); !errors.Is(err, errs.Closed) {
		t.Errorf("get after close: %v", err)
	}
	if err := first.Write([]byte("x"), "", 0); err == nil {
		t.Error("a connection of the closed cache still writes")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
