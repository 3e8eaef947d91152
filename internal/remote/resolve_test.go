package remote

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// fakeWINS answers name queries on loopback: answer returns the response
// to send for a query of name (nil: none). It counts the queries.
type fakeWINS struct {
	conn *net.UDPConn
	mu   sync.Mutex
	n    int
}

func newFakeWINS(t *testing.T, answer func(q wire.NameServicePacket) *wire.NameServicePacket) *fakeWINS {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeWINS{conn: c}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			q, err := wire.DecodeNameService(buf[:n])
			if err != nil || q.Response || q.Flags&wire.FlagBroadcast != 0 || q.Flags&wire.FlagRecursionDesired == 0 {
				t.Errorf("fake WINS got %+v, %v: not a unicast query with RD", q, err)
				continue
			}
			f.mu.Lock()
			f.n++
			f.mu.Unlock()
			if r := answer(q); r != nil {
				b, _ := wire.AppendNameService(nil, r)
				_, _ = c.WriteToUDPAddrPort(b, from)
			}
		}
	}()
	return f
}

func (f *fakeWINS) addr() string { return f.conn.LocalAddr().String() }

func (f *fakeWINS) queries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func noHostsNoDNS(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")
	old, oldRetry := hostsFile, winsRetry
	hostsFile = filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hostsFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	winsRetry = 100 * time.Millisecond
	t.Cleanup(func() { hostsFile, winsRetry = old, oldRetry })
}

func TestNetbiosOrder(t *testing.T) {
	for node, want := range map[string][]string{
		"B": {"broadcast"}, "P": {"wins"}, "M": {"broadcast", "wins"}, "H": {"wins", "broadcast"}, "": {"broadcast"},
	} {
		if got := netbiosOrder(node); !reflect.DeepEqual(got, want) {
			t.Errorf("node %q: %v, want %v", node, got, want)
		}
	}
}

// A name server's answers, as a client resolves by them: a computer, a
// group, a name the first server has not (the next is asked), and none
// at all (the error names each server and what it said).
func TestResolveByWINS(t *testing.T) {
	noHostsNoDNS(t)
	hostB := netip.MustParseAddr("10.213.2.10")
	positive := func(q wire.NameServicePacket) *wire.NameServicePacket {
		n := q.Questions[0].Name
		group := n.Name() == "OTHERWG"
		ip := hostB
		if group {
			ip = netip.MustParseAddr("255.255.255.255")
		}
		if n.Name() == "NOBODY" {
			r := wire.NewNegativeNameQueryResponse(q.TransactionID, n, wire.RCodeName)
			return &r
		}
		r, _ := wire.NewPositiveNameQueryResponse(q.TransactionID, n, 60, []wire.NBAddress{{Flags: wire.NewNBFlags(group, wire.HNode), IP: ip}})
		return &r
	}
	negative := func(q wire.NameServicePacket) *wire.NameServicePacket {
		r := wire.NewNegativeNameQueryResponse(q.TransactionID, q.Questions[0].Name, wire.RCodeName)
		return &r
	}
	first, second := newFakeWINS(t, negative), newFakeWINS(t, positive)
	self := hostinfo.Info{Name: "HOSTA", Workgroup: "WG", NamePort: 137, WINS: first.addr() + "," + second.addr(), Node: hostinfo.NodeP}
	r, err := Resolve("HOSTB", self, nil)
	if err != nil || r != (Resolution{Addr: hostB, Via: "wins"}) {
		t.Fatalf("HOSTB: %+v, %v", r, err)
	}
	if first.queries() != 1 || second.queries() != 1 {
		t.Errorf("queries: first %d, second %d", first.queries(), second.queries())
	}
	if r, err := Resolve("OTHERWG", self, nil); err != nil || r != (Resolution{Group: true, Via: "wins"}) {
		t.Errorf("OTHERWG: %+v, %v", r, err)
	}
	_, err = Resolve("NOBODY", self, nil)
	if !errors.Is(err, errs.Unreachable) || !strings.Contains(err.Error(), "WINS has no NOBODY<00> ("+first.addr()+": negative answer (NAM_ERR); "+second.addr()+": negative answer (NAM_ERR))") {
		t.Errorf("NOBODY: %v", err)
	}
	// A P node does not broadcast; an H node does after WINS, and an M
	// node before (with no interface here, broadcasting fails at once).
	silent := newFakeWINS(t, func(wire.NameServicePacket) *wire.NameServicePacket { return nil })
	for node, want := range map[string]string{
		hostinfo.NodeP: "not in " + hostsFile + ", WINS has no HOSTB<00> (" + silent.addr() + ": no answer)",
		hostinfo.NodeH: "WINS has no HOSTB<00> (" + silent.addr() + ": no answer), no interface to ask NetBIOS names on",
		hostinfo.NodeM: "no interface to ask NetBIOS names on, WINS has no HOSTB<00> (" + silent.addr() + ": no answer)",
		hostinfo.NodeB: "not in " + hostsFile + ", no interface to ask NetBIOS names on",
	} {
		n := silent.queries()
		_, err := Resolve("HOSTB", hostinfo.Info{Name: "HOSTA", Workgroup: "WG", WINS: silent.addr(), Node: node}, nil)
		if !errors.Is(err, errs.Unreachable) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("node %s: %v, want %q", node, err, want)
		}
		asked := silent.queries() - n
		if (node == hostinfo.NodeB) != (asked == 0) || (node != hostinfo.NodeB && asked != winsTries) {
			t.Errorf("node %s asked the WINS server %d times", node, asked)
		}
	}
}
