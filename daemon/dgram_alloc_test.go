//go:build !windows

package daemon

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/wire"
)

// testDaemon is a Daemon with what handleDatagram needs, handing records
// to sink.
func testDaemon(t testing.TB, sink slotSink) *Daemon {
	cfg, err := Config{Name: "HOSTB", Workgroup: "WG", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, dedup: newDeduper(cfg.DedupWindow, 4096), queues: newSlotQueues(sink)}
	d.name, _ = wire.NewName(cfg.Name, 0)
	d.group, _ = wire.NewName(cfg.Workgroup, 0)
	t.Cleanup(d.queues.close)
	return d
}

// testDatagram encodes a mailslot datagram from SENDER to HOSTB<20>.
func testDatagram(t testing.TB, id uint16, path string, data []byte) []byte {
	return testDatagramTo(t, wire.DirectUnique, wire.MustName("HOSTB", 0x20), id, path, data)
}

// testDatagramTo encodes a mailslot datagram of type typ from SENDER at
// 10.0.0.1 to dst.
func testDatagramTo(t testing.TB, typ wire.DatagramType, dst wire.Name, id uint16, path string, data []byte) []byte {
	dg := wire.Datagram{Type: typ, Flags: wire.NewDatagramFlags(wire.BNode) | wire.FlagFirst, ID: id,
		SourceIP: netip.MustParseAddr("10.0.0.1"), SourcePort: 138, SourceName: wire.MustName("SENDER", 0), DestinationName: dst}
	mw := wire.MailslotWrite{Name: `\MAILSLOT\` + path, Class: wire.ClassUnreliable, Data: data}
	b, err := wire.AppendMailslotDatagram(nil, &dg, &mw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The receive path, from a datagram's bytes to its record in its slot's
// queue, allocates nothing per datagram.
func TestHandleDatagramAllocs(t *testing.T) {
	d := testDaemon(t, &countSink{})
	// Each datagram once (another id each): none is a duplicate.
	frames := make([][]byte, 16000)
	for i := range frames {
		frames[i] = testDatagram(t, uint16(i), `APP\JOBS`, make([]byte, 100))
	}
	from := netip.MustParseAddrPort("10.0.0.1:138")
	ifc := Iface{Name: "eth0"}
	names := newNameTable(maxInternedNames).intern
	i := 0
	run := func() {
		d.handleDatagram(ifc, frames[i], from, time.Now(), names)
		i++
	}
	for range 8000 { // warm the pools and fill the dedup table
		run()
	}
	if a := testing.AllocsPerRun(2000, run); a > 0.05 {
		t.Errorf("%.2f allocations per datagram", a)
	}
	if d.c.duplicates.Load() != 0 || d.c.malformed.Load() != 0 {
		t.Errorf("the datagrams were not all taken: %+v", d.Stats())
	}
}

// Datagrams that are dropped cost no allocation either: a flood of
// replays or of another computer's datagrams makes no garbage, and one of
// junk makes only the decoder's error (which says what is wrong): logging
// it at debug level, off, adds nothing.
func TestDroppedDatagramAllocs(t *testing.T) {
	record := testDatagram(t, 1, `APP\JOBS`, make([]byte, 100))
	names := newNameTable(maxInternedNames).intern
	decoderAllocs := func(frame []byte) float64 {
		return testing.AllocsPerRun(100, func() { _, _, _ = wire.DecodeMailslotDatagramNames(frame, names) })
	}
	for _, tc := range []struct {
		name    string
		frame   []byte
		counter func(d *Daemon) uint64
	}{
		{"malformed", record[:20], func(d *Daemon) uint64 { return d.c.malformed.Load() }},
		{"not a mailslot", testDatagramNamed(t), func(d *Daemon) uint64 { return d.c.malformed.Load() }},
		{"another computer's", testDatagramTo(t, wire.DirectUnique, wire.MustName("OTHER", 0x20), 2, `APP\JOBS`, []byte("x")),
			func(d *Daemon) uint64 { return d.c.notForUs.Load() }},
		{"duplicate", record, func(d *Daemon) uint64 { return d.c.duplicates.Load() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testDaemon(t, &countSink{})
			from := netip.MustParseAddrPort("10.0.0.1:138")
			run := func() { d.handleDatagram(Iface{Name: "eth0"}, tc.frame, from, time.Now(), names) }
			run() // a duplicate's first copy is taken
			before := tc.counter(d)
			want := decoderAllocs(tc.frame)
			if a := testing.AllocsPerRun(1000, run); a > want {
				t.Errorf("%.2f allocations per dropped datagram, the decoder's own %.2f", a, want)
			}
			if got := tc.counter(d) - before; got != 1001 {
				t.Errorf("counted %d of the 1001 dropped datagrams", got)
			}
		})
	}
}

// testDatagramNamed encodes a datagram to HOSTB<20> whose SMB
// transaction names `\MAILSLOX\JOBS`: not a mailslot.
func testDatagramNamed(t testing.TB) []byte {
	b := testDatagram(t, 3, "JOBS", []byte("x"))
	i := bytes.Index(b, []byte(`\MAILSLOT\JOBS`))
	if i < 0 {
		t.Fatal("no mailslot name in the datagram")
	}
	b[i+len(`\MAILSLO`)] = 'X'
	return b
}

// BenchmarkHandleDatagram measures a datagram's way to its slot. It
// cycles through twice as many datagrams as the dedup table keeps, so
// that none is still there when it comes round again: every one is
// delivered, none dropped as a duplicate.
func BenchmarkHandleDatagram(b *testing.B) {
	d := testDaemon(b, &countSink{})
	frames := make([][]byte, 2*4096)
	for i := range frames {
		frames[i] = testDatagram(b, uint16(i), `APP\JOBS`, make([]byte, 100))
	}
	from := netip.MustParseAddrPort("10.0.0.1:138")
	ifc := Iface{Name: "eth0"}
	names := newNameTable(maxInternedNames).intern
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.handleDatagram(ifc, frames[i%len(frames)], from, time.Now(), names)
	}
	if n := d.c.duplicates.Load(); n != 0 {
		b.Fatalf("%d of the datagrams were dropped as duplicates", n)
	}
}
