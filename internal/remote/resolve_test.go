package remote

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/nbnstest"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// newFakeWINS answers unicast name queries with RD (others fail the
// test) as answer says (nil: silence).
func newFakeWINS(t *testing.T, answer func(q wire.NameServicePacket) *wire.NameServicePacket) *nbnstest.Server {
	t.Helper()
	return nbnstest.New(t, func(q wire.NameServicePacket) []wire.NameServicePacket {
		if q.Response || q.Flags&wire.FlagBroadcast != 0 || q.Flags&wire.FlagRecursionDesired == 0 {
			t.Errorf("fake WINS got %+v: not a unicast query with RD", q)
			return nil
		}
		if r := answer(q); r != nil {
			return []wire.NameServicePacket{*r}
		}
		return nil
	})
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
	if wineLacksUDP(t) {
		return
	}
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
	self := hostinfo.Info{Name: "HOSTA", Workgroup: "WG", NamePort: 137, WINS: first.Addr().String() + "," + second.Addr().String(), Node: hostinfo.NodeP}
	r, err := Resolve("HOSTB", self, nil)
	if err != nil || r != (Resolution{Addr: hostB, Via: "wins"}) {
		t.Fatalf("HOSTB: %+v, %v", r, err)
	}
	if first.Count() != 1 || second.Count() != 1 {
		t.Errorf("queries: first %d, second %d", first.Count(), second.Count())
	}
	if r, err := Resolve("OTHERWG", self, nil); err != nil || r != (Resolution{Group: true, Via: "wins"}) {
		t.Errorf("OTHERWG: %+v, %v", r, err)
	}
	_, err = Resolve("NOBODY", self, nil)
	if !errors.Is(err, errs.Unreachable) || !strings.Contains(err.Error(), "WINS has no NOBODY<00> ("+first.Addr().String()+": negative answer (NAM_ERR); "+second.Addr().String()+": negative answer (NAM_ERR))") {
		t.Errorf("NOBODY: %v", err)
	}
	// A P node does not broadcast; an H node does after WINS, and an M
	// node before (with no interface here, broadcasting fails at once).
	silent := newFakeWINS(t, func(wire.NameServicePacket) *wire.NameServicePacket { return nil })
	for node, want := range map[string]string{
		hostinfo.NodeP: "not in " + hostsFile + ", WINS has no HOSTB<00> (" + silent.Addr().String() + ": no answer)",
		hostinfo.NodeH: "WINS has no HOSTB<00> (" + silent.Addr().String() + ": no answer), no interface to ask NetBIOS names on",
		hostinfo.NodeM: "no interface to ask NetBIOS names on, WINS has no HOSTB<00> (" + silent.Addr().String() + ": no answer)",
		hostinfo.NodeB: "not in " + hostsFile + ", no interface to ask NetBIOS names on",
	} {
		n := silent.Count()
		_, err := Resolve("HOSTB", hostinfo.Info{Name: "HOSTA", Workgroup: "WG", WINS: silent.Addr().String(), Node: node}, nil)
		if !errors.Is(err, errs.Unreachable) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("node %s: %v, want %q", node, err, want)
		}
		asked := silent.Count() - n
		if (node == hostinfo.NodeB) != (asked == 0) || (node != hostinfo.NodeB && asked != winsTries) {
			t.Errorf("node %s asked the WINS server %d times", node, asked)
		}
	}
}
