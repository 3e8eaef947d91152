//go:build !windows

package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/wire"
)

// The deduper remembers a key for exactly its window, at most max keys
// (the oldest go first; with max 0, the latest alone), and nothing at all
// with no window.
func TestDeduper(t *testing.T) {
	t0 := time.Unix(1000, 0)
	dd := newDeduper(time.Second, 3)
	if dd.seen(1, t0) {
		t.Fatal("a new key was seen before")
	}
	if !dd.seen(1, t0.Add(time.Second-1)) {
		t.Error("a key within its window was not seen")
	}
	if dd.seen(1, t0.Add(time.Second)) {
		t.Error("a key was still seen once its window had passed")
	}
	// Window from the first sighting: the copy above renewed nothing, the
	// new sighting at t0+1s starts a new window.
	if !dd.seen(1, t0.Add(2*time.Second-1)) {
		t.Error("a key seen anew was forgotten within its window")
	}

	full := newDeduper(time.Hour, 3)
	for k := uint64(1); k <= 3; k++ {
		full.seen(k, t0)
	}
	if !full.seen(3, t0) || !full.seen(1, t0) {
		t.Error("keys within the bound were forgotten")
	}
	full.seen(4, t0) // the fourth key pushes out the oldest
	if full.seen(1, t0) {
		t.Error("the oldest key survived a full deduper")
	}
	if full.n > 3 || len(full.seenAt) > 3 {
		t.Errorf("a deduper of 3 holds %d/%d keys", full.n, len(full.seenAt))
	}

	// With no room at all, the latest key is kept alone.
	tiny := newDeduper(time.Hour, 0)
	if tiny.seen(1, t0) || !tiny.seen(1, t0) || tiny.seen(2, t0) || tiny.seen(1, t0) {
		t.Error("a deduper of 0 keys does not keep the latest one alone")
	}

	off := newDeduper(0, 3)
	off.seen(9, t0)
	if off.seen(9, t0) {
		t.Error("a deduper without a window dropped a copy")
	}
}

// A full deduper wraps its ring: it keeps exactly the latest max keys
// through many turns, ages them out in order, and allocates nothing
// once it has grown.
func TestDeduperRing(t *testing.T) {
	t0 := time.Unix(1000, 0)
	const max = 100 // not a power of two: the ring's last size is max
	dd := newDeduper(time.Minute, max)
	for k := uint64(1); k <= 1000; k++ {
		if dd.seen(k, t0.Add(time.Duration(k)*time.Millisecond)) {
			t.Fatalf("key %d seen before it came", k)
		}
	}
	if len(dd.order) != max || dd.n != max || len(dd.seenAt) != max {
		t.Fatalf("ring %d, %d entries, %d keys; want %d each", len(dd.order), dd.n, len(dd.seenAt), max)
	}
	for k := uint64(1); k <= 1000; k++ {
		if _, ok := dd.seenAt[k]; ok != (k > 1000-max) {
			t.Fatalf("key %d kept %v, want %v", k, ok, !ok)
		}
	}
	// Key 901 came at t0+901ms: a minute later it and the keys before it
	// age out, the rest stay.
	at := t0.Add(time.Minute + 950*time.Millisecond)
	if dd.seen(2000, at) {
		t.Fatal("a new key was seen before")
	}
	if dd.n != 1000-950+1 {
		t.Fatalf("%d keys after the aged ones went, want %d", dd.n, 1000-950+1)
	}
	for k := uint64(951); k <= 1000; k++ {
		if !dd.seen(k, at) {
			t.Fatalf("key %d, within its window, was forgotten", k)
		}
	}
	k := uint64(5000)
	if a := testing.AllocsPerRun(10*max, func() { k++; dd.seen(k, at) }); a != 0 {
		t.Errorf("%.3f allocations per new key in a full deduper", a)
	}
}

// A datagram's key covers who sent it, its id, its slot (in any case) and
// its data: a copy has the same key, any other datagram another.
func TestDedupKey(t *testing.T) {
	src, _ := wire.NewName("HOSTA", 0)
	other, _ := wire.NewName("HOSTB", 0)
	from := netip.MustParseAddrPort("10.0.0.1:138")
	base := func() (netip.AddrPort, wire.Datagram, wire.MailslotWrite) {
		return from, wire.Datagram{SourceName: src, ID: 7}, wire.MailslotWrite{Name: `\MAILSLOT\app\x`, Data: []byte("data")}
	}
	f, dg, w := base()
	k := dedupKey(f, &dg, &w)
	f, dg, w = base()
	if dedupKey(f, &dg, &w) != k {
		t.Fatal("a copy has another key")
	}
	w.Name = `\mailslot\APP\X`
	if dedupKey(f, &dg, &w) != k {
		t.Error("the slot's name in another case has another key")
	}
	for _, tc := range []struct {
		what   string
		change func(netip.AddrPort, *wire.Datagram, *wire.MailslotWrite) netip.AddrPort
	}{
		{"sender's address", func(f netip.AddrPort, _ *wire.Datagram, _ *wire.MailslotWrite) netip.AddrPort {
			return netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), f.Port())
		}},
		{"source name", func(f netip.AddrPort, dg *wire.Datagram, _ *wire.MailslotWrite) netip.AddrPort {
			dg.SourceName = other
			return f
		}},
		{"id", func(f netip.AddrPort, dg *wire.Datagram, _ *wire.MailslotWrite) netip.AddrPort { dg.ID = 8; return f }},
		{"id's high byte", func(f netip.AddrPort, dg *wire.Datagram, _ *wire.MailslotWrite) netip.AddrPort {
			dg.ID = 7 + 256
			return f
		}},
		{"slot", func(f netip.AddrPort, _ *wire.Datagram, w *wire.MailslotWrite) netip.AddrPort {
			w.Name += "y"
			return f
		}},
		{"data", func(f netip.AddrPort, _ *wire.Datagram, w *wire.MailslotWrite) netip.AddrPort {
			w.Data = []byte("date")
			return f
		}},
		{"slot/data boundary", func(f netip.AddrPort, _ *wire.Datagram, w *wire.MailslotWrite) netip.AddrPort {
			w.Name, w.Data = w.Name+"d", []byte("ata")
			return f
		}},
	} {
		f, dg, w := base()
		f = tc.change(f, &dg, &w)
		if dedupKey(f, &dg, &w) == k {
			t.Errorf("another %s, the same key", tc.what)
		}
	}
}

// forUs takes the computer's name and its workgroup with any suffix, in
// any case, __MSBROWSE__ as a group, and every broadcast; nothing else.
func TestForUs(t *testing.T) {
	d := &Daemon{}
	d.name, _ = wire.NewName("HOSTA", 0)
	d.group, _ = wire.NewName("LABGROUP", 0)
	name := func(s string, suffix byte) wire.Name {
		n, err := wire.NewName(s, suffix)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		typ  wire.DatagramType
		dst  wire.Name
		want bool
	}{
		{wire.DirectUnique, name("HOSTA", 0x00), true},
		{wire.DirectUnique, name("HOSTA", 0x20), true},
		{wire.DirectUnique, name("hosta", 0x03), true},
		{wire.DirectUnique, name("HOSTB", 0x00), false},
		{wire.DirectUnique, name("HOST", 0x00), false},
		{wire.DirectUnique, name("LABGROUP", 0x00), false}, // the workgroup is a group name
		{wire.DirectGroup, name("LABGROUP", 0x00), true},
		{wire.DirectGroup, name("LABGROUP", 0x1d), true},
		{wire.DirectGroup, name("labgroup", 0x1e), true},
		{wire.DirectGroup, name("OTHERGRP", 0x00), false},
		{wire.DirectGroup, name("HOSTA", 0x00), false}, // the computer's name is unique
		{wire.DirectGroup, wire.BrowseMasterName(), true},
		{wire.DirectUnique, wire.BrowseMasterName(), false},
		{wire.BroadcastDatagram, name("ANYONE", 0x00), true},
		{wire.DatagramError, name("HOSTA", 0x00), false},
	} {
		dg := wire.Datagram{Type: tc.typ, DestinationName: tc.dst}
		if got := d.forUs(&dg); got != tc.want {
			t.Errorf("%v to %v: forUs = %v, want %v", tc.typ, tc.dst, got, tc.want)
		}
	}
}
