//go:build !windows

package daemon

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/nbnstest"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// answer is a server's answer to a registration, refresh or release p.
func answer(p wire.NameServicePacket, rcode wire.RCode, ttl uint32) wire.NameServicePacket {
	addrs, _ := wire.DecodeNBAddresses(p.Additional[0].Data)
	var r wire.NameServicePacket
	var err error
	if p.Opcode == wire.OpRelease {
		r, err = wire.NewNameReleaseResponse(p.TransactionID, p.Questions[0].Name, rcode, addrs[0])
	} else {
		r, err = wire.NewNameRegistrationResponse(p.TransactionID, p.Questions[0].Name, rcode, ttl, addrs[0])
	}
	if err != nil {
		panic(err)
	}
	return r
}

// shortWINS makes the WINS client's timing short for a test.
func shortWINS(t *testing.T) {
	old := []time.Duration{winsTimeout, winsMaxWACK, winsRetryFirst, winsRetryMax, winsRetryRefused, winsReleaseWait}
	tries := winsTries
	winsTimeout, winsMaxWACK, winsRetryFirst, winsRetryMax, winsRetryRefused, winsReleaseWait =
		100*time.Millisecond, time.Second, 200*time.Millisecond, 400*time.Millisecond, 300*time.Millisecond, time.Second
	winsTries = 2
	t.Cleanup(func() {
		winsTimeout, winsMaxWACK, winsRetryFirst, winsRetryMax, winsRetryRefused, winsReleaseWait = old[0], old[1], old[2], old[3], old[4], old[5]
		winsTries = tries
	})
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// startWINSClient runs a WINS client of HOSTA in LABGROUP with the given
// servers, on loopback.
func startWINSClient(t *testing.T, servers ...netip.AddrPort) (*winsClient, *syncBuf) {
	t.Helper()
	cfg := Config{Name: "HOSTA", Workgroup: "LABGROUP"}
	for _, s := range servers {
		cfg.WINS = append(cfg.WINS, s.String())
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	logs, log := debugLog()
	lo := []Iface{{Name: "lo", Addr: netip.MustParseAddr("127.0.0.1"), Prefix: netip.MustParsePrefix("127.0.0.0/8")}}
	c, err := newWINSClient(cfg, lo, wire.MustName("HOSTA", 0), wire.MustName("LABGROUP", 0), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c, logs
}

// waitState waits until every name's state at the first server is want.
func waitState(t *testing.T, c *winsClient, logs *syncBuf, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []string
		for _, s := range c.status() {
			got = append(got, s.Name+"="+s.State)
		}
		if strings.Join(got, " ") == strings.Join(want, " ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("states %v, want %v; log:\n%s", got, want, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func states(names []string, state string) []string {
	var out []string
	for _, n := range names {
		out = append(out, n+"="+state)
	}
	return out
}

var allNames = []string{"HOSTA<00>", "HOSTA<03>", "HOSTA<20>", "LABGROUP<00>", "LABGROUP<1e>"}

// A server that takes every name: registered, refreshed (opcode 8, our
// address, group bits right) before the TTL runs out, and released at
// close, each name once.
func TestWINSRegisterRefreshRelease(t *testing.T) {
	shortWINS(t)
	srv := nbnstest.New(t, func(p wire.NameServicePacket) []wire.NameServicePacket {
		return []wire.NameServicePacket{answer(p, wire.RCodeOK, 1)}
	})
	c, logs := startWINSClient(t, srv.Addr())
	if c.ont != wire.HNode {
		t.Errorf("owner node type %v, want H", c.ont)
	}
	c.run()
	waitState(t, c, logs, states(allNames, WINSRegistered)...)
	host := wire.MustName("HOSTA", 0x20)
	deadline := time.Now().Add(3 * time.Second)
	for len(srv.Requests(host, wire.OpRefresh)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	refreshes := srv.Requests(host, wire.OpRefresh)
	if len(refreshes) < 2 {
		t.Fatalf("%d refreshes of HOSTA<20> in 3 s with a TTL of 1 s; log:\n%s", len(refreshes), logs)
	}
	regs := srv.Requests(host, wire.OpRegistration)
	if len(regs) != 1 || regs[0].Flags != wire.FlagRecursionDesired || regs[0].Additional[0].TTL != winsTTL {
		t.Errorf("registrations of HOSTA<20>: %+v", regs)
	}
	for _, p := range append(regs, refreshes[0]) {
		a, err := wire.DecodeNBAddresses(p.Additional[0].Data)
		if err != nil || len(a) != 1 || a[0].IP != netip.MustParseAddr("127.0.0.1") || a[0].Flags.Group() || a[0].Flags.NodeType() != wire.HNode {
			t.Errorf("%v of HOSTA<20> registers %+v, %v", p.Opcode, a, err)
		}
	}
	grp := srv.Requests(wire.MustName("LABGROUP", 0x1e), wire.OpRegistration)
	if a, _ := wire.DecodeNBAddresses(grp[0].Additional[0].Data); len(a) != 1 || !a[0].Flags.Group() {
		t.Errorf("LABGROUP<1e> registered as %+v", a)
	}
	st := c.status()
	if st[0].Server != srv.Addr().String() || st[0].TTL != Duration(time.Second) || st[0].Next.IsZero() {
		t.Errorf("status %+v", st[0])
	}
	c.close()
	for _, n := range allNames {
		name := wire.MustName(n[:strings.IndexByte(n, '<')], suffixOf(n))
		rel := srv.Requests(name, wire.OpRelease)
		if len(rel) != 1 || rel[0].Additional[0].TTL != 0 || rel[0].Flags != 0 {
			t.Errorf("releases of %s: %+v", n, rel)
		}
		if !strings.Contains(logs.String(), `msg="released the name at the WINS server" server=`+srv.Addr().String()+" name="+n) {
			t.Errorf("no release logged for %s:\n%s", n, logs)
		}
	}
	waitState(t, c, logs, states(allNames, WINSReleased)...)
}

func suffixOf(n string) byte {
	var b byte
	fmt.Sscanf(n[strings.IndexByte(n, '<')+1:], "%02x", &b)
	return b
}

// A WACK holds the request: no resending while the server asks the
// owner, and its final answer counts.
func TestWINSWaitForAcknowledgement(t *testing.T) {
	shortWINS(t)
	var fake atomic.Pointer[nbnstest.Server]
	srv := nbnstest.New(t, func(p wire.NameServicePacket) []wire.NameServicePacket {
		if p.Opcode != wire.OpRegistration {
			return []wire.NameServicePacket{answer(p, wire.RCodeOK, 60)}
		}
		srv := fake.Load()
		to := srv.LastFrom()
		go func() {
			time.Sleep(3 * winsTimeout) // longer than the client waits without a WACK
			_ = srv.Send(answer(p, wire.RCodeOK, 60), to)
		}()
		return []wire.NameServicePacket{wire.NewWACK(&p, 1)}
	})
	fake.Store(srv)
	c, logs := startWINSClient(t, srv.Addr())
	c.run()
	waitState(t, c, logs, states(allNames, WINSRegistered)...)
	for _, n := range []wire.Name{wire.MustName("HOSTA", 0), wire.MustName("LABGROUP", 0)} {
		if got := srv.Requests(n, wire.OpRegistration); len(got) != 1 {
			t.Errorf("%s sent %d times during its WACK", n, len(got))
		}
	}
	if !strings.Contains(logs.String(), `msg="WINS: wait for acknowledgement"`) {
		t.Errorf("no WACK logged:\n%s", logs)
	}
}

// Negative answers: ACT_ERR and CFT_ERR are conflicts (an error that
// names the owner when the answer does), others refusals (a warning);
// each is logged once and tried again later; a silent server is tried
// winsTries times, then again later.
func TestWINSNegativeAnswers(t *testing.T) {
	shortWINS(t)
	owner := wire.NBAddress{Flags: wire.NewNBFlags(false, wire.HNode), IP: netip.MustParseAddr("10.0.0.9")}
	srv := nbnstest.New(t, func(p wire.NameServicePacket) []wire.NameServicePacket {
		n := p.Questions[0].Name
		switch {
		case n == wire.MustName("HOSTA", 0):
			r, _ := wire.NewNameRegistrationResponse(p.TransactionID, n, wire.RCodeActive, 0, owner)
			return []wire.NameServicePacket{r}
		case n == wire.MustName("HOSTA", 3):
			return []wire.NameServicePacket{answer(p, wire.RCodeConflict, 0)}
		case n == wire.MustName("HOSTA", 0x20):
			return []wire.NameServicePacket{answer(p, wire.RCodeRefuse, 0)}
		case n.Suffix() == 0:
			return nil // LABGROUP<00>: no answer
		}
		return []wire.NameServicePacket{answer(p, wire.RCodeOK, 60)}
	})
	c, logs := startWINSClient(t, srv.Addr())
	c.run()
	waitState(t, c, logs, "HOSTA<00>="+WINSConflict, "HOSTA<03>="+WINSConflict, "HOSTA<20>="+WINSRefused,
		"LABGROUP<00>="+WINSNoAnswer, "LABGROUP<1e>="+WINSRegistered)
	time.Sleep(4 * winsRetryRefused) // tried again, logged once
	l := logs.String()
	for _, want := range []string{
		`level=ERROR msg="name conflict: the WINS server says another computer holds this name; serving it by broadcast only" server=` + srv.Addr().String() + ` name=HOSTA<00> rcode=ACT_ERR retry_in=300ms owner=10.0.0.9`,
		`level=ERROR msg="name conflict: the WINS server says another computer holds this name; serving it by broadcast only" server=` + srv.Addr().String() + ` name=HOSTA<03> rcode=CFT_ERR retry_in=300ms` + "\n",
		`level=WARN msg="WINS server refused the name; serving it by broadcast, trying again later" server=` + srv.Addr().String() + ` name=HOSTA<20> op=REGISTRATION rcode=RFS_ERR`,
		`level=WARN msg="WINS server does not answer; serving the name by broadcast, trying again later" server=` + srv.Addr().String() + ` name=LABGROUP<00> op=REGISTRATION retry_in=200ms`,
	} {
		if strings.Count(l, want) != 1 {
			t.Errorf("logged %d times: %s\nlog:\n%s", strings.Count(l, want), want, l)
		}
	}
	if n := len(srv.Requests(wire.MustName("HOSTA", 0), wire.OpRegistration)); n < 3 {
		t.Errorf("a conflict was tried %d times in %v", n, 4*winsRetryRefused)
	}
	if n := len(srv.Requests(wire.MustName("LABGROUP", 0), wire.OpRegistration)); n < 2*winsTries || n%winsTries != 0 {
		t.Errorf("a silent server was asked %d times", n)
	}
	st := c.status()
	if st[0].RCode != "ACT_ERR" || st[0].Owner != "10.0.0.9" || st[2].RCode != "RFS_ERR" || !st[3].Group {
		t.Errorf("status %+v", st)
	}
	// Once the server takes the names, they are registered, and the
	// delays start over.
	srv.SetHandler(func(p wire.NameServicePacket) []wire.NameServicePacket {
		return []wire.NameServicePacket{answer(p, wire.RCodeOK, 60)}
	})
	waitState(t, c, logs, states(allNames, WINSRegistered)...)
	// Only registered names are released.
	c.close()
	if n := len(srv.Requests(wire.MustName("HOSTA", 0), wire.OpRelease)); n != 1 {
		t.Errorf("HOSTA<00> released %d times", n)
	}
}

// An end-node challenge: the client asks the owner the server names;
// an owner that claims the name makes a conflict, one that does not
// answer lets the client overwrite the registration.
func TestWINSEndNodeChallenge(t *testing.T) {
	shortWINS(t)
	owner := nbnstest.New(t, func(p wire.NameServicePacket) []wire.NameServicePacket {
		if p.Questions[0].Name.Suffix() == 0x03 { // it still holds HOSTA<03>
			r, _ := wire.NewPositiveNameQueryResponse(p.TransactionID, p.Questions[0].Name, 60,
				[]wire.NBAddress{{IP: netip.MustParseAddr("127.0.0.1")}})
			return []wire.NameServicePacket{r}
		}
		return nil
	})
	ownerAddr := wire.NBAddress{IP: netip.MustParseAddr("127.0.0.1")}
	srv := nbnstest.New(t, func(p wire.NameServicePacket) []wire.NameServicePacket {
		n := p.Questions[0].Name
		if p.Opcode == wire.OpRegistration && p.Flags&wire.FlagRecursionDesired != 0 && n.Name() == "HOSTA" {
			r, _ := wire.NewEndNodeChallengeResponse(p.TransactionID, n, 60, ownerAddr)
			return []wire.NameServicePacket{r}
		}
		return []wire.NameServicePacket{answer(p, wire.RCodeOK, 60)}
	})
	c, logs := startWINSClient(t, srv.Addr())
	c.namePort = owner.Addr().Port()
	c.run()
	waitState(t, c, logs, "HOSTA<00>="+WINSRegistered, "HOSTA<03>="+WINSConflict, "HOSTA<20>="+WINSRegistered,
		"LABGROUP<00>="+WINSRegistered, "LABGROUP<1e>="+WINSRegistered)
	for _, sfx := range []byte{0, 0x03, 0x20} {
		n := wire.MustName("HOSTA", sfx)
		q := owner.Requests(n, wire.OpQuery)
		if len(q) == 0 || q[0].Flags != 0 {
			t.Errorf("the owner was asked for %s: %+v", n, q)
		}
		over := 0
		for _, p := range srv.Requests(n, wire.OpRegistration) {
			if p.Flags == 0 {
				over++
			}
		}
		if want := map[bool]int{true: 0, false: 1}[sfx == 0x03]; over != want {
			t.Errorf("%s overwritten %d times, want %d", n, over, want)
		}
	}
	if !strings.Contains(logs.String(), `msg="WINS: challenging the name's owner"`) {
		t.Errorf("no challenge logged:\n%s", logs)
	}
}

// A client of two servers registers with each; its names' states are
// listed by server.
func TestWINSTwoServers(t *testing.T) {
	shortWINS(t)
	ok := func(p wire.NameServicePacket) []wire.NameServicePacket {
		return []wire.NameServicePacket{answer(p, wire.RCodeOK, 60)}
	}
	s1, s2 := nbnstest.New(t, ok), nbnstest.New(t, ok)
	c, logs := startWINSClient(t, s1.Addr(), s2.Addr())
	c.run()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := 0
		for _, s := range c.status() {
			if s.State == WINSRegistered {
				n++
			}
		}
		if n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 10 registered; log:\n%s", n, logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, s := range []*nbnstest.Server{s1, s2} {
		if len(s.Requests(wire.MustName("HOSTA", 0), wire.OpRegistration)) != 1 {
			t.Errorf("server %s: %d packets", s.Addr(), s.Count())
		}
	}
}

// The WINS and multicast settings: keys, environment, defaults and
// values refused.
func TestNetBIOSSettings(t *testing.T) {
	s, err := ParseSettings(strings.NewReader("wins = 10.0.0.1\nwins = 10.0.0.2:1137, 10.0.0.3\nnode-type = M\nmulticast = 239.255.13.8\nmulticast-ttl = 3\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.Config()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.WINS, " ") != "10.0.0.1 10.0.0.2:1137 10.0.0.3" || c.NodeType != "M" || c.Multicast != "239.255.13.8" || c.MulticastTTL != 3 {
		t.Fatalf("config %+v", c)
	}
	d, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.WINS, " ") != "10.0.0.1:137 10.0.0.2:1137 10.0.0.3:137" || d.NodeType != hostinfo.NodeM || d.Multicast != "239.255.13.8:138" || d.MulticastTTL != 3 {
		t.Fatalf("with defaults %+v", d)
	}
	for _, c := range []struct {
		cfg       Config
		node, grp string
		ttl       int
	}{
		{Config{}, "B", "", 8},
		{Config{WINS: []string{"10.0.0.1"}}, "H", "", 8},
		{Config{WINS: []string{"10.0.0.1"}, NodeType: "p", Multicast: "239.1.2.3:2000"}, "P", "239.1.2.3:2000", 8},
		{Config{Multicast: "224.0.0.251", DgramPort: 1138}, "B", "224.0.0.251:1138", 8},
	} {
		d, err := c.cfg.withDefaults()
		if err != nil || d.NodeType != c.node || d.Multicast != c.grp || d.MulticastTTL != c.ttl {
			t.Errorf("%+v: node %q group %q ttl %d, %v", c.cfg, d.NodeType, d.Multicast, d.MulticastTTL, err)
		}
	}
	for _, bad := range []Config{{WINS: []string{"wins.example"}}, {WINS: []string{"10.0.0.1:0"}}, {NodeType: "x"},
		{Multicast: "10.0.0.1"}, {Multicast: "239.1.1.1:x"}, {MulticastTTL: 256}, {MulticastTTL: -1}} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v taken", bad)
		}
	}
	for _, line := range []string{"wins = ::1", "wins = 10.0.0.1:70000", "node-type = q", "multicast = 10.1.1.1",
		"multicast-ttl = 0", "multicast-ttl = 256", "multicast-ttl = x"} {
		if _, err := ParseSettings(strings.NewReader(line), "f"); err == nil {
			t.Errorf("%q taken", line)
		}
	}
	env := SettingsFromEnv(func(k string) string {
		return map[string]string{"MAILSLOTD_WINS": "10.0.0.7", "MAILSLOTD_NODE_TYPE": "p", "MAILSLOTD_MULTICAST": "239.0.0.1",
			"MAILSLOTD_MULTICAST_TTL": "2"}[k]
	})
	if env["wins"] != "10.0.0.7" || env["node-type"] != "p" || env["multicast"] != "239.0.0.1" || env["multicast-ttl"] != "2" {
		t.Errorf("environment %v", env)
	}
	if s, _ := ParseSettings(strings.NewReader("multicast = off\n"), "f"); s != nil {
		if c, _, _ := s.Config(); c.Multicast != "" {
			t.Errorf("multicast = off gives %q", c.Multicast)
		}
	}
}

// An answer from another address than the server's is not taken, even
// with the right transaction id: the client goes on waiting for the
// server's.
func TestWINSAnswerFromElsewhere(t *testing.T) {
	shortWINS(t)
	var spoofed atomic.Int32
	spoofer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Skipf("no 127.0.0.2: %v", err)
	}
	defer spoofer.Close()
	var fake atomic.Pointer[nbnstest.Server]
	srv := nbnstest.New(t, func(p wire.NameServicePacket) []wire.NameServicePacket {
		// A forged refusal from 127.0.0.2 comes first.
		r := answer(p, wire.RCodeActive, 0)
		b, _ := wire.AppendNameService(nil, &r)
		if _, err := spoofer.WriteToUDPAddrPort(b, fake.Load().LastFrom()); err == nil {
			spoofed.Add(1)
		}
		time.Sleep(20 * time.Millisecond)
		return []wire.NameServicePacket{answer(p, wire.RCodeOK, 60)}
	})
	fake.Store(srv)
	c, logs := startWINSClient(t, srv.Addr())
	c.run()
	waitState(t, c, logs, states(allNames, WINSRegistered)...)
	if spoofed.Load() == 0 || !strings.Contains(logs.String(), `msg="WINS: an answer nobody waits for" from=127.0.0.2:`) {
		t.Errorf("spoofed %d; log:\n%s", spoofed.Load(), logs)
	}
}
