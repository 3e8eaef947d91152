//go:build !windows

package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/wire"
)

// logLines returns the lines logged to b that contain s.
func logLines(b *syncBuf, s string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// debugLog returns a logger at debug level whose text goes to the buffer
// returned.
func debugLog() (*syncBuf, *slog.Logger) {
	b := &syncBuf{}
	return b, slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitDone waits for a loop to return, failing the test after a generous
// deadline.
func waitDone(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return", what)
	}
}

// errTransient is a receive error that is not the socket's closing.
var errTransient = errors.New("no buffer space available")

// fakeDgramReader hands out batches of datagrams, or errors, in the order
// given; once they are all read, its socket is closed.
type fakeDgramReader struct {
	steps     []dgramStep
	batch     []fakeDgram
	pastClose int // reads after the socket closed
}

type dgramStep struct {
	err  error
	msgs []fakeDgram
}

type fakeDgram struct {
	data []byte
	from netip.AddrPort
	cut  bool
}

func (r *fakeDgramReader) read() (int, error) {
	if len(r.steps) == 0 {
		r.pastClose++
		return 0, fmt.Errorf("recvmmsg: %w", net.ErrClosed)
	}
	s := r.steps[0]
	r.steps = r.steps[1:]
	if s.err != nil {
		return 0, s.err
	}
	r.batch = s.msgs
	return len(s.msgs), nil
}

func (r *fakeDgramReader) msg(i int) ([]byte, netip.AddrPort, bool) {
	m := r.batch[i] // past the batch: a panic, as a real batch's would be garbage
	return m.data, m.from, m.cut
}

// The datagram receive loop hands every datagram of every batch on, drops
// and counts one cut short, logs a failed receive and goes on, and ends
// when its socket closes.
func TestReceiveDatagrams(t *testing.T) {
	f := newFakeSink()
	d := testDaemon(t, f)
	logs, log := debugLog()
	d.log = log
	from := netip.MustParseAddrPort("10.0.0.1:138")
	dgram := func(id uint16, data string) fakeDgram {
		return fakeDgram{data: testDatagram(t, id, `APP\RECV`, []byte(data)), from: from}
	}
	r := &fakeDgramReader{steps: []dgramStep{
		{msgs: []fakeDgram{dgram(1, "one")}},
		{err: errTransient},
		{msgs: []fakeDgram{dgram(2, "two"), {data: testDatagram(t, 3, `APP\RECV`, []byte("cut")), from: from, cut: true}, dgram(4, "four")}},
		{err: errTransient},
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.receiveDatagrams(Iface{Name: "eth0"}, r)
	}()
	waitDone(t, "the receive loop", done)
	poll(t, "the records", func() bool { return f.count(`APP\RECV`) == 3 })
	f.mu.Lock()
	got := strings.Join(f.got[`APP\RECV`], ",")
	f.mu.Unlock()
	if got != "one,two,four" {
		t.Errorf("records delivered: %s", got)
	}
	checkCounters(t, map[string]counter{"malformed": {d.c.malformed.Load(), 1}, "datagrams": {d.c.datagrams.Load(), 3}})
	if r.pastClose != 1 {
		t.Errorf("the loop read %d times once its socket had closed, want once", r.pastClose)
	}
	// Two failures within acceptLogEvery: the first is logged.
	if l := logLines(logs, "receive datagram"); len(l) != 1 || !strings.Contains(l[0], errTransient.Error()) ||
		!strings.Contains(l[0], "interface=eth0") {
		t.Errorf("failed receives logged as %q", l)
	}
	if l := logLines(logs, "too large"); len(l) != 1 {
		t.Errorf("the datagram cut short logged as %q", l)
	}
}

// fakePacketConn is a name service socket: it hands out the packets (or
// errors) given, in order, and keeps what is written to it; the writes
// listed in failWrites fail. Once every packet is read, it is closed.
type fakePacketConn struct {
	reads      []packetRead
	failWrites map[int]bool

	mu     sync.Mutex
	writes []packetWrite
}

type packetRead struct {
	b    []byte
	from *net.UDPAddr
	err  error
}

type packetWrite struct {
	b  []byte
	to *net.UDPAddr
}

var errWriteFailed = errors.New("network is unreachable")

func (c *fakePacketConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	if len(c.reads) == 0 {
		return 0, nil, fmt.Errorf("read udp: %w", net.ErrClosed)
	}
	r := c.reads[0]
	c.reads = c.reads[1:]
	if r.err != nil {
		return 0, nil, r.err
	}
	return copy(b, r.b), r.from, nil
}

func (c *fakePacketConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, packetWrite{bytes.Clone(b), addr})
	if c.failWrites[len(c.writes)] {
		return 0, errWriteFailed
	}
	return len(b), nil
}

// The name service loop answers each query for one of the daemon's names
// to its asker, sends nothing for another name, logs a failed receive and
// a failed answer and goes on, and ends when its socket closes.
func TestNameLoop(t *testing.T) {
	logs, log := debugLog()
	d := &Daemon{cfg: Config{Name: "HOSTA", Workgroup: "LABGROUP"}, log: log}
	d.name, _ = wire.NewName("HOSTA", 0)
	d.group, _ = wire.NewName("LABGROUP", 0)
	d.ifaces = []Iface{{Name: "eth0", Addr: netip.MustParseAddr("10.0.0.2"), Prefix: netip.MustParsePrefix("10.0.0.0/24")}}
	query := func(id uint16, s string, suffix byte) []byte {
		n, err := wire.NewName(s, suffix)
		if err != nil {
			t.Fatal(err)
		}
		b, err := wire.AppendNameService(nil, &wire.NameServicePacket{TransactionID: id, Opcode: wire.OpQuery,
			Questions: []wire.Question{{Name: n, Type: wire.TypeNB, Class: wire.ClassIN}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	asker := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 9), Port: 137}
	other := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 10), Port: 137}
	c := &fakePacketConn{
		reads: []packetRead{
			{b: query(1, "HOSTA", 0x00), from: asker},
			{err: errTransient},
			{b: query(2, "HOSTB", 0x00), from: asker},
			{b: query(3, "HOSTA", 0x20), from: other},
		},
		failWrites: map[int]bool{2: true},
	}
	d.wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.nameLoop(d.ifaces[0], c)
	}()
	waitDone(t, "the name loop", done)
	d.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.writes) != 2 {
		t.Fatalf("%d answers sent, want 2 (queries 1 and 3)", len(c.writes))
	}
	for i, w := range []struct {
		id uint16
		to *net.UDPAddr
	}{{1, asker}, {3, other}} {
		p, err := wire.DecodeNameService(c.writes[i].b)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if !p.Response || p.TransactionID != w.id || c.writes[i].to != w.to {
			t.Errorf("answer %d: response %v, id %d, to %v; want id %d to %v", i, p.Response, p.TransactionID, c.writes[i].to, w.id, w.to)
		}
	}
	if l := logLines(logs, "receive name packet"); len(l) != 1 || !strings.Contains(l[0], errTransient.Error()) {
		t.Errorf("failed receives logged as %q", l)
	}
	if l := logLines(logs, "send name response"); len(l) != 1 || !strings.Contains(l[0], errWriteFailed.Error()) {
		t.Errorf("failed answers logged as %q", l)
	}
	if n := d.c.nameQueries.Load(); n != 2 {
		t.Errorf("%d name queries answered, want 2", n)
	}
}
