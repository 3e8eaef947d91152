//go:build !windows

package daemon

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/wire"
)

// handleDatagram, in-process: a mailslot write for this computer, its
// workgroup or everyone is queued for the slot its path names (with the
// sender as origin) once within the dedup window; what is for another
// name, is no mailslot write, or does not decode is counted and dropped.
func TestHandleDatagram(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	d := &Daemon{cfg: Config{Name: "HOSTA", Workgroup: "LABGROUP"}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		dedup: newDeduper(time.Second, 64)}
	d.name, _ = wire.NewName("HOSTA", 0)
	d.group, _ = wire.NewName("LABGROUP", 0)
	d.queues = newSlotQueues(f)
	ifc := Iface{Name: "eth0", Addr: netip.MustParseAddr("10.0.0.2"), Prefix: netip.MustParsePrefix("10.0.0.0/24")}
	name := func(s string, suffix byte) wire.Name {
		n, err := wire.NewName(s, suffix)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	packet := func(typ wire.DatagramType, id uint16, dst wire.Name, slot, data string) []byte {
		dg := wire.Datagram{Type: typ, Flags: wire.FlagFirst, ID: id, SourceIP: testFrom.Addr(), SourcePort: 138,
			SourceName: testSender, DestinationName: dst}
		b, err := wire.AppendMailslotDatagram(nil, &dg, &wire.MailslotWrite{Name: slot, Class: wire.ClassUnreliable, Data: []byte(data)})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t0 := time.Unix(5000, 0)
	handle := func(b []byte, at time.Time) { d.handleDatagram(ifc, b, testFrom, at, nil) }

	handle(packet(wire.DirectUnique, 1, name("HOSTA", 0), `\MAILSLOT\ALERTS`, "to the computer"), t0)
	handle(packet(wire.DirectGroup, 2, name("LABGROUP", 0), `\mailslot\alerts`, "to the workgroup"), t0)
	handle(packet(wire.BroadcastDatagram, 3, name("ANYONE", 0), `\MAILSLOT\Other\Path`, "to all"), t0)
	// The same datagram again within the window: a duplicate.
	handle(packet(wire.DirectUnique, 1, name("HOSTA", 0), `\MAILSLOT\ALERTS`, "to the computer"), t0.Add(500*time.Millisecond))
	// After the window: a new record.
	handle(packet(wire.DirectUnique, 1, name("HOSTA", 0), `\MAILSLOT\ALERTS`, "to the computer"), t0.Add(2*time.Second))
	// For another computer or workgroup.
	handle(packet(wire.DirectUnique, 4, name("HOSTB", 0), `\MAILSLOT\ALERTS`, "not ours"), t0)
	handle(packet(wire.DirectGroup, 5, name("OTHERWG", 0), `\MAILSLOT\ALERTS`, "not ours"), t0)
	// Not a mailslot name, or only its prefix: the decoder refuses both.
	pipe := packet(wire.DirectUnique, 6, name("HOSTA", 0), `\MAILSLOT\ALERTS`, "not a slot")
	copy(pipe[bytes.Index(pipe, []byte(`\MAILSLOT\`)):], `\PIPEXXXX\`)
	handle(pipe, t0)
	short := packet(wire.DirectUnique, 7, name("HOSTA", 0), `\MAILSLOT\A`, "no path")
	short[bytes.Index(short, []byte(`\MAILSLOT\A`))+len(`\MAILSLOT\`)] = 0
	handle(short, t0)
	// Junk.
	handle([]byte{0x10, 0x02, 0, 1}, t0)

	poll(t, "the records for ALERTS", func() bool { return f.count(`ALERTS`) == 3 })
	poll(t, "the record for OTHER\\PATH", func() bool { return f.count(`OTHER\PATH`) == 1 })
	f.mu.Lock()
	got := f.got[`ALERTS`]
	f.mu.Unlock()
	if got[0] != "to the computer" || got[1] != "to the workgroup" || got[2] != "to the computer" {
		t.Errorf("ALERTS got %q", got)
	}
	checkCounters(t, map[string]counter{
		"datagrams for us": {d.c.datagrams.Load(), 5},
		"duplicates":       {d.c.duplicates.Load(), 1},
		"not for us":       {d.c.notForUs.Load(), 2},
		"malformed":        {d.c.malformed.Load(), 3},
	})
	d.queues.close()
	checkNoLeak(t, base)
}

// counter is a daemon's counter and the value a test wants of it.
type counter struct{ got, want uint64 }

// checkCounters reports each counter, by name, that is not as wanted.
func checkCounters(t *testing.T, cs map[string]counter) {
	t.Helper()
	for what, c := range cs {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", what, c.got, c.want)
		}
	}
}

// The interned slot names are bounded: a full table holds exactly max
// names, and the next new one starts it afresh.
func TestNameTableBound(t *testing.T) {
	nt := newNameTable(3)
	for _, s := range []string{"A", "B", "C", "A"} {
		if got := nt.intern([]byte(s)); got != s {
			t.Fatalf("intern %q = %q", s, got)
		}
	}
	if len(nt.names) != 3 {
		t.Fatalf("3 names interned: table of %d", len(nt.names))
	}
	nt.intern([]byte("D"))
	if len(nt.names) != 1 || nt.names["D"] != "D" {
		t.Errorf("past the bound: %v", nt.names)
	}
}

// The slot queues' counters come sorted by path.
func TestSlotQueuesStatsSorted(t *testing.T) {
	base := runtime.NumGoroutine()
	f := newFakeSink()
	qs := newSlotQueues(f)
	for _, p := range []string{"zeta", "alpha", "mid"} {
		put(qs, p, "x")
	}
	poll(t, "the records", func() bool { return f.count("ZETA")+f.count("ALPHA")+f.count("MID") == 3 })
	var paths []string
	for _, s := range qs.stats() {
		paths = append(paths, s.Path)
	}
	if len(paths) != 3 || paths[0] != "alpha" || paths[1] != "mid" || paths[2] != "zeta" {
		t.Errorf("stats by path: %v", paths)
	}
	qs.close()
	checkNoLeak(t, base)
}
