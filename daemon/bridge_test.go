//go:build !windows

package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/daemon/natsbridge"
	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/stream"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// forward refuses writers on other computers, says when there is no
// bridge or it is down (counting the record), and refuses a malformed
// name; a record to a computer or workgroup on no site is never claimed.
func TestForward(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &Daemon{cfg: Config{Name: "HOSTA", Workgroup: "WG"}, log: log,
		ifaces: []Iface{{Name: "eth0", Addr: netip.MustParseAddr("10.1.0.10")}}}
	local := netip.MustParseAddr("127.0.0.1")
	relay := &stream.Request{Op: stream.OpRelay, Name: `HOSTB\app\x`, Source: "HOSTA", Data: []byte("x")}
	group := &stream.Request{Op: stream.OpGroup, Name: `WG\app\x`, Source: "HOSTA", Data: []byte("x")}
	if r := d.forward(relay, local); r.Status != stream.Unreachable || !strings.Contains(r.Message, "not bridged") {
		t.Errorf("without a bridge: %+v", r)
	}
	// A bridge whose server never answers: down from the start.
	b, err := natsbridge.New(natsbridge.Options{URLs: []string{"nats://127.0.0.1:1"}}, "HOSTA", "WG", log, bridgeHandler{d})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d.bridge = b
	for _, tt := range []struct {
		req  *stream.Request
		from string
		want stream.Status
	}{
		{relay, "10.9.9.9", stream.Refused},
		{relay, "10.1.0.10", stream.Unreachable}, // from this computer's own address
		{relay, "127.0.0.1", stream.Unreachable},
		{group, "127.0.0.1", stream.Unreachable},
		{&stream.Request{Op: stream.OpRelay, Name: `HOSTB`, Source: "HOSTA"}, "127.0.0.1", stream.BadRequest},
		{&stream.Request{Op: stream.OpGroup, Name: `WG\x`, Source: strings.Repeat("N", 16)}, "127.0.0.1", stream.BadRequest},
	} {
		if r := d.forward(tt.req, netip.MustParseAddr(tt.from)); r.Status != tt.want {
			t.Errorf("op %d %q from %s: %+v, want %v", tt.req.Op, tt.req.Name, tt.from, r, tt.want)
		}
	}
	if st := b.Stats(); st.Connected || st.NotBridged != 3 || st.Published != 0 {
		t.Errorf("bridge down: %+v, want 3 records not bridged", st)
	}
}

// A group datagram that a writer here broadcast on two interfaces (one id,
// two copies) goes to the bridge once; one from another computer, and a
// browser frame, not at all.
func TestBridgeDatagramOnce(t *testing.T) {
	d := testDaemon(t, &countSink{})
	d.ifaces = []Iface{{Name: "eth0", Addr: netip.MustParseAddr("10.1.0.10")}, {Name: "eth1", Addr: netip.MustParseAddr("10.2.0.10")}}
	b, err := natsbridge.New(natsbridge.Options{URLs: []string{"nats://127.0.0.1:1"}}, "HOSTB", "WG", d.log, bridgeHandler{d})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d.bridge = b
	group := func(id uint16, path string) []byte {
		return testDatagramTo(t, wire.DirectGroup, wire.MustName("WG", 0), id, path, []byte("to all"))
	}
	names := newNameTable(maxInternedNames).intern
	for _, c := range []struct {
		frame []byte
		from  string
	}{
		{group(7, `APP\X`), "10.1.0.10:138"},
		{group(7, `APP\X`), "10.2.0.10:138"}, // the same record on the other interface
		{group(8, `APP\X`), "10.1.0.99:138"}, // another computer's
		{group(9, `BROWSE`), "10.1.0.10:138"},
	} {
		d.handleDatagram(d.ifaces[0], c.frame, netip.MustParseAddrPort(c.from), time.Now(), names)
	}
	// The bridge is down: each record handed to it is counted, once.
	if st := b.Stats(); st.NotBridged != 1 {
		t.Errorf("records handed to the bridge: %d, want 1", st.NotBridged)
	}
}

// fakeBridge stands for the NATS bridge: it keeps the group records
// published and the messenger records held (holdErr refuses them), and
// counts the duplicates.
type fakeBridge struct {
	mu         sync.Mutex
	published  []natsbridge.Record
	held       []natsbridge.Record
	holdErr    error
	duplicates atomic.Int64
}

func (b *fakeBridge) Site() string                            { return "SITE1" }
func (b *fakeBridge) Stats() natsbridge.Stats                 { return natsbridge.Stats{Connected: true} }
func (b *fakeBridge) Duplicate()                              { b.duplicates.Add(1) }
func (b *fakeBridge) Close()                                  {}
func (b *fakeBridge) PublishGroup(r *natsbridge.Record) error { return b.keep(&b.published, r, nil) }
func (b *fakeBridge) Hold(r *natsbridge.Record) error         { return b.keep(&b.held, r, b.holdErr) }

func (b *fakeBridge) Request(*natsbridge.Record, time.Duration) stream.Response {
	return stream.Response{Status: stream.Unreachable}
}

func (b *fakeBridge) keep(to *[]natsbridge.Record, r *natsbridge.Record, err error) error {
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	c := *r
	c.Data = bytes.Clone(r.Data)
	*to = append(*to, c)
	return nil
}

// targets returns where the published group records went, in order.
func (b *fakeBridge) targets() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, r := range b.published {
		out = append(out, r.Target+`\`+r.Path)
	}
	return out
}

// handleDatagram hands the bridge the group datagrams that a writer on
// this computer sent, to its workgroup or another one, and no other
// datagram; without a bridge, it delivers the same datagrams and hands
// them to nothing.
func TestHandleDatagramBridge(t *testing.T) {
	frames := []struct {
		typ  wire.DatagramType
		dst  string
		path string
	}{
		{wire.DirectGroup, "WG", `APP\GROUP`},
		{wire.DirectGroup, "OTHERWG", `APP\OTHER`},
		{wire.DirectUnique, "HOSTB", `APP\UNIQUE`},
		{wire.DirectUnique, "HOSTC", `APP\ELSEWHERE`},
		{wire.BroadcastDatagram, "ANYONE", `APP\ALL`},
	}
	for _, bridged := range []bool{true, false} {
		f := newFakeSink()
		d := testDaemon(t, f)
		d.ifaces = []Iface{{Name: "eth0", Addr: testFrom.Addr()}} // the writer is on this computer
		fb := &fakeBridge{}
		if bridged {
			d.bridge = fb
		}
		names := newNameTable(maxInternedNames).intern
		for i, fr := range frames {
			b := testDatagramTo(t, fr.typ, wire.MustName(fr.dst, 0), uint16(i), fr.path, []byte(fr.path))
			d.handleDatagram(d.ifaces[0], b, testFrom, time.Now(), names)
		}
		for _, p := range []string{`APP\GROUP`, `APP\UNIQUE`, `APP\ALL`} {
			poll(t, "the record for "+p, func() bool { return f.count(p) == 1 })
		}
		if n := d.c.notForUs.Load(); n != 2 {
			t.Errorf("bridge %v: %d datagrams not for us, want 2", bridged, n)
		}
		want := ""
		if bridged {
			want = `WG\APP\GROUP OTHERWG\APP\OTHER`
		}
		if got := strings.Join(fb.targets(), " "); got != want {
			t.Errorf("bridge %v: records bridged: %q, want %q", bridged, got, want)
		}
	}
}

// A group record another site's mailslotd sent to this workgroup (in any
// case) is queued for its slot, from its sender at its site, unless it
// came already (over the LAN or the bridge): then the bridge counts a
// duplicate. One for another workgroup, or without a slot, is not.
func TestBridgeGroupQueued(t *testing.T) {
	s := &orderSink{}
	s.room.Store(true)
	d := testDaemon(t, s)
	d.bridgeOrigins = map[originKey]string{}
	fb := &fakeBridge{}
	d.bridge = fb
	h := bridgeHandler{d}
	rec := func(target, path, data string) *natsbridge.Record {
		return &natsbridge.Record{Target: target, Path: path, Source: "SENDER", Site: "SITE2",
			Addr: netip.MustParseAddr("10.9.0.1"), ID: 5, Data: []byte(data)}
	}
	h.Group(rec("wg", `APP\X`, "one"))
	h.Group(rec("WG", `APP\X`, "one")) // the same again
	h.Group(rec("WG", `APP\X`, "two"))
	h.Group(rec("OTHERWG", `APP\X`, "elsewhere"))
	h.Group(rec("WG", "", "no slot"))
	s.mu.Lock()
	defer s.mu.Unlock()
	if got := strings.Join(s.got, ","); got != "one,two" {
		t.Errorf("records queued: %s", got)
	}
	for _, o := range s.origins {
		if o != `\\SENDER (10.9.0.1 at SITE2)` {
			t.Errorf("origin %q", o)
		}
	}
	if n := fb.duplicates.Load(); n != 1 {
		t.Errorf("%d duplicates counted, want 1", n)
	}
}

// With a durable messenger, a messenger record that finds no reader is
// held by the bridge and counts as taken; any other record or outcome,
// or one the bridge cannot hold, is returned as it was.
func TestHoldMessenger(t *testing.T) {
	d := testDaemon(t, &countSink{})
	d.cfg.NATS.Durable = true
	fb := &fakeBridge{}
	d.bridge = fb
	noSlot := fmt.Errorf("open: %w", errs.NotFound)
	full := fmt.Errorf("write: %w", errs.Timeout)
	for _, c := range []struct {
		key  string
		err  error
		want error
	}{
		{messengerKey, noSlot, nil},
		{messengerKey, full, full},
		{messengerKey, nil, nil},
		{local.Key(`APP\X`), noSlot, noSlot},
	} {
		if got := d.holdMessenger(c.key, []byte("hi"), `\\A (10.0.0.1:138)`, c.err); got != c.want {
			t.Errorf("%s, %v: %v, want %v", c.key, c.err, got, c.want)
		}
	}
	fb.holdErr = errors.New("no JetStream")
	if got := d.holdMessenger(messengerKey, []byte("hi"), "", noSlot); got != noSlot {
		t.Errorf("a record the bridge cannot hold: %v, want %v", got, noSlot)
	}
	if len(fb.held) != 1 || fb.held[0].Path != "MESSNGR" || fb.held[0].Origin != `\\A (10.0.0.1:138)` || string(fb.held[0].Data) != "hi" {
		t.Errorf("held: %+v", fb.held)
	}
}
