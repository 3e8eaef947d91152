//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// Whom a client writes to: its own user and root always, the users it
// names, or anyone when told so; nobody else.
func TestTrusts(t *testing.T) {
	me := uint32(os.Geteuid())
	other := me + 12345
	for _, tc := range []struct {
		cfg  DialConfig
		uid  uint32
		want bool
	}{
		{DialConfig{}, 0, true},
		{DialConfig{}, me, true},
		{DialConfig{}, other, false},
		{DialConfig{}, other + 1, false},
		{DialConfig{TrustUIDs: []uint32{other}}, other, true},
		{DialConfig{TrustUIDs: []uint32{other}}, other + 1, false},
		{DialConfig{TrustAny: true}, other + 1, true},
	} {
		if got := tc.cfg.trusts(tc.uid); got != tc.want {
			t.Errorf("%+v trusts uid %d = %v, want %v", tc.cfg, tc.uid, got, tc.want)
		}
	}
	if me != 0 {
		// Running as another user, root is trusted for itself.
		if !(&DialConfig{}).trusts(0) {
			t.Error("root is not trusted")
		}
	}
}

// A record of exactly the slot's maximum size goes through, one byte more
// is refused before anything is written; a writer without the slot's
// eventfd wakes a sleeping reader with a message instead.
func TestMaxSizeAndWakeByMessage(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, MaxMessageSize: 100, ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := mustDial(t, key)
	if c.MaxMessageSize() != 100 {
		t.Fatalf("MaxMessageSize = %d", c.MaxMessageSize())
	}
	if err := c.Write(make([]byte, 101), "", -1); !errors.Is(err, errs.MessageTooLarge) {
		t.Fatalf("101 bytes to a 100-byte slot = %v", err)
	}
	if err := c.Write(make([]byte, 100), "", -1); err != nil {
		t.Fatalf("100 bytes to a 100-byte slot = %v", err)
	}
	if data, _ := read(t, s); len(data) != 100 {
		t.Fatalf("read %d bytes", len(data))
	}
	// Forget the eventfd: the writer must fall back to its connection.
	c.mu.Lock()
	efd := c.efd
	c.efd = -1
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.efd = efd
		c.mu.Unlock()
	}()
	done := make(chan []byte, 1)
	go func() {
		data, _ := read(t, s)
		done <- data
	}()
	// Once the Read sleeps, write.
	waitSleeping(t, s)
	if err := c.Write([]byte("by message"), "", -1); err != nil {
		t.Fatal(err)
	}
	if got := <-done; string(got) != "by message" {
		t.Fatalf("read %q", got)
	}
}

// waitSleeping waits until a Read of s sleeps.
func waitSleeping(t *testing.T, s *Server) {
	t.Helper()
	for i := 0; ; i++ {
		s.mu.Lock()
		asleep := s.sleeping || s.waiters > 0
		s.mu.Unlock()
		if asleep {
			return
		}
		if i > 10000 {
			t.Fatal("the Read never slept")
		}
		time.Sleep(time.Millisecond)
	}
}

// A small ring still takes two of the slot's largest records, framing
// and padding included, and is no bigger than that needs.
func TestSmallRingSize(t *testing.T) {
	for _, max := range []int{0, 1, 424, 4096, 65536} {
		n := SmallRingSize(max)
		if !validRingSize(n) || n < 2*align8(recHdr+1+MaxOrigin+max) {
			t.Errorf("SmallRingSize(%d) = %d", max, n)
		}
		if n > MinRing && n/2 >= 2*align8(recHdr+1+MaxOrigin+max) {
			t.Errorf("SmallRingSize(%d) = %d, half would do", max, n)
		}
		if n > RingSize(max) {
			t.Errorf("SmallRingSize(%d) = %d, more than RingSize's %d", max, n, RingSize(max))
		}
	}
	if got := SmallRingSize(MaxRecord); got != 256<<10 {
		t.Errorf("SmallRingSize(64 KiB) = %d, want 256 KiB", got)
	}
}

// A relay's record starts with a byte of origin length and the origin,
// cut to MaxOrigin.
func TestRelayPrefixLen(t *testing.T) {
	for _, tc := range []struct{ origin, want int }{
		{0, 1}, {1, 2}, {MaxOrigin, 1 + MaxOrigin}, {MaxOrigin + 1, 1 + MaxOrigin},
	} {
		if got := RelayPrefixLen(tc.origin); got != tc.want {
			t.Errorf("RelayPrefixLen(%d) = %d, want %d", tc.origin, got, tc.want)
		}
	}
}

// Opening a name nobody serves fails with NotFound.
func TestDialNobody(t *testing.T) {
	if _, err := Dial(testKey(t), DialConfig{}); !errors.Is(err, errs.NotFound) {
		t.Fatalf("Dial of a name nobody serves: %v, want NotFound", err)
	}
}

// A writer's ring must take two of the slot's largest records: the server
// refuses a smaller one, and Dial fails.
func TestRingTooSmallRefused(t *testing.T) {
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 2100})
	if _, err := Dial(testKey(t), DialConfig{RingSize: MinRing}); err == nil {
		t.Fatal("a ring of 4 KiB for records of 2100 bytes was taken")
	}
	c := dialT(t, DialConfig{RingSize: 2 * MinRing})
	mustWrite(t, c, "fits")
	if data, _ := read(t, s); string(data) != "fits" {
		t.Fatalf("read %q", data)
	}
}

// A ring that holds exactly two of the largest records is big enough.
func TestRingOfTwoLargestRecords(t *testing.T) {
	const max = MinRing/2 - recHdr // 2*align8(recHdr+max) == MinRing
	s := listenT(t, Config{Policy: owner, MaxMessageSize: max})
	c := dialT(t, DialConfig{RingSize: MinRing})
	big := bytes.Repeat([]byte{'x'}, max)
	if err := c.Write(big, "", time.Second); err != nil {
		t.Fatal(err)
	}
	if data, _ := read(t, s); !bytes.Equal(data, big) {
		t.Fatalf("read %d bytes, want the %d written", len(data), max)
	}
}
