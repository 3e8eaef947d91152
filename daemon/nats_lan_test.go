//go:build !windows && !mailslot_unit

package daemon_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/internal/bench"
	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/natslab"
)

// natsHost is a lab host running mailslotd bridged to its site's NATS
// node, and a reader of \\.\mailslot\nats\x.
type natsHost struct {
	*lab.Host
	site *natslab.Site
	d    *lab.Proc
	rx   *lab.Proc
}

func startBridged(t *testing.T, site *natslab.Site, name, wg string, extra ...string) *natsHost {
	t.Helper()
	h := &natsHost{Host: site.LAN.AddHost(name), site: site}
	h.d = startDaemon(t, h.Host, wg, append([]string{"--nats", site.URL()}, extra...)...)
	if !h.d.WaitFor("NATS connected", 10*time.Second) {
		t.Fatalf("mailslotd on %s did not connect to NATS:\n%s", name, h.d.Output())
	}
	h.rx = startReader(t, h.Host, `\\.\mailslot\nats\x`)
	return h
}

// natsStatus asks the host's mailslotd for its status (as `mailslot
// status --json` does) and returns its bridge's part.
func natsStatus(t *testing.T, h *lab.Host) daemon.Status {
	t.Helper()
	out, err := h.Command(buildCmd(t, "mailslot"), "status", "--json").Output()
	if err != nil {
		t.Fatalf("mailslot status on %s: %v", h.Name, err)
	}
	var st daemon.Status
	if err := json.Unmarshal(out, &st); err != nil || st.Bridge == nil {
		t.Fatalf("mailslot status on %s: %v\n%s", h.Name, err, out)
	}
	return st
}

// TestNATSBridge runs mailslotd on two site LANs with no route between
// them, each bridged to its own node of a three-node NATS cluster (the
// third site has no hosts): group records reach every member on both
// sites once, large group records reach the other site, a computer on the
// other site is written to by name with its answer, and the bridge rides
// out its node's crash.
func TestNATSBridge(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")
	start := time.Now()
	// Each site may use its workgroups and answer for its computers
	// only, as in the README's server configuration.
	sites := natslab.NewWith(t, []natslab.Permissions{
		{Workgroups: []string{"WG", "OTHERWG"}, Computers: []string{"HOSTA1", "HOSTB1", "HOSTC1", "HOSTL1"}},
		{Workgroups: []string{"WG", "OTHERWG"}, Computers: []string{"HOSTA2", "HOSTB2", "HOSTC2", "HOSTD2", "HOSTE2", "HOSTX2"}},
		{},
	})
	t.Logf("3-node NATS cluster up in %v", time.Since(start).Round(time.Millisecond))
	s1, s2 := sites.Sites[0], sites.Sites[1]
	a1 := startBridged(t, s1, "HOSTA1", "WG")
	b1 := startBridged(t, s1, "HOSTB1", "WG")
	a2 := startBridged(t, s2, "HOSTA2", "WG")
	b2 := startBridged(t, s2, "HOSTB2", "WG")
	other := startBridged(t, s2, "HOSTC2", "OTHERWG")
	members := []*natsHost{a1, b1, a2, b2}
	// Members of WG whose mailslotd is not bridged: what a bridge carries
	// is never sent on to a LAN, so site 1's gets the LAN's copy only, and
	// site 2's nothing.
	plain1, plain2 := s1.LAN.AddHost("PLAIN1"), s2.LAN.AddHost("PLAIN2")
	startDaemon(t, plain1, "WG")
	startDaemon(t, plain2, "WG")
	plain1rx, plain2rx := startReader(t, plain1, `\\.\mailslot\nats\x`), startReader(t, plain2, `\\.\mailslot\nats\x`)

	// The sites' hosts reach each other only through NATS.
	if err := a1.Run(func() error {
		c, err := net.DialTimeout("tcp", a2.Addr.String()+":1138", time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}); err == nil {
		t.Fatal("a host of site 1 reaches a host of site 2's stream port directly")
	}

	t.Run("group", func(t *testing.T) {
		const n = 20
		for k := 1; k <= n; k++ {
			if err := write(a1.Host, `\\WG\mailslot\nats\x`, []byte(fmt.Sprintf("to WG #%d", k))); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := write(a1.Host, `\\*\mailslot\nats\x`, []byte("to star")); err != nil {
			t.Fatal(err)
		}
		for _, h := range members {
			waitRecv(t, h.rx, "| to star")
		}
		time.Sleep(300 * time.Millisecond) // room for a late copy
		for _, h := range members {
			for k, c := range copiesOf(h.rx, "to WG", n) {
				if c != 1 {
					t.Errorf("%s received copy %d of the group record %d times, want once", h.Name, k+1, c)
				}
			}
			if c := countRecv(h.rx, "| to star"); c != 1 {
				t.Errorf("%s received the * record %d times", h.Name, c)
			}
		}
		if got := received(other.rx); len(got) != 0 {
			t.Errorf("a computer of another workgroup received %q", got)
		}
		for k, c := range copiesOf(plain1rx, "to WG", n) {
			if c > 1 {
				t.Errorf("PLAIN1 (site 1, not bridged) received copy %d %d times: a bridged record came back to its LAN", k+1, c)
			}
		}
		if got := received(plain2rx); len(got) != 0 {
			t.Errorf("PLAIN2 (site 2, not bridged) received %q: a bridged record was sent on to a LAN", got)
		}
		// Site 2 got them over NATS, with the sender and its site.
		if l := received(a2.rx)[0]; !strings.Contains(l, `\\HOSTA1 (`+a1.Addr.String()+` at site1)`) {
			t.Errorf("From of a bridged group record: %s", l)
		}
		st := natsStatus(t, b1.Host).Bridge
		if st.Deduplicated == 0 {
			t.Errorf("HOSTB1 (site 1) dropped no bridged copy of the LAN's records: %+v", st)
		}
	})

	t.Run("large group record", func(t *testing.T) {
		big := make([]byte, 60_000)
		for i := range big {
			big[i] = byte(i * 13)
		}
		sum := sha256.Sum256(big)
		if err := write(a1.Host, `\\WG\mailslot\nats\x`, big); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("RECV %d %x", len(big), sum[:6])
		for _, h := range members {
			waitRecv(t, h.rx, line)
		}
		time.Sleep(200 * time.Millisecond)
		for _, h := range members {
			if c := countRecv(h.rx, line); c != 1 {
				t.Errorf("%s received the 60 KB group record %d times", h.Name, c)
			}
		}
	})

	t.Run("computer on the other site", func(t *testing.T) {
		if err := write(a1.Host, `\\HOSTA2\mailslot\nats\x`, []byte("to A2 by name")); err != nil {
			t.Fatal(err)
		}
		waitRecv(t, a2.rx, "| to A2 by name")
		for _, l := range received(a2.rx) {
			if strings.Contains(l, "to A2 by name") && !strings.Contains(l, `\\HOSTA1 (`+a1.Addr.String()+` at site1)`) {
				t.Errorf("From does not name the sender and its site: %s", l)
			}
		}
		err := write(a1.Host, `\\HOSTA2\mailslot\nats\nobody`, []byte("nobody reads"))
		if !errors.Is(err, mailslot.ErrNotFound) {
			t.Fatalf("write to a slot HOSTA2 does not serve = %v, want ErrNotFound", err)
		}
		err = write(a1.Host, `\\NOSUCHHOST\mailslot\nats\x`, []byte("x"))
		if !errors.Is(err, mailslot.ErrUnreachable) {
			t.Fatalf("write to a computer on no site = %v, want ErrUnreachable", err)
		}
		big := make([]byte, 64<<10)
		if err := write(b2.Host, `\\HOSTB1\mailslot\nats\x`, big); err != nil {
			t.Fatalf("64 KiB from site 2 to HOSTB1: %v", err)
		}
		waitRecv(t, b1.rx, fmt.Sprintf("RECV %d ", len(big)))
	})

	t.Run("another workgroup", func(t *testing.T) {
		// No member of OTHERWG on site 1: the bridge finds it a workgroup.
		if err := write(a1.Host, `\\OTHERWG\mailslot\nats\x`, []byte("to OTHERWG from afar")); err != nil {
			t.Fatal(err)
		}
		waitRecv(t, other.rx, "| to OTHERWG from afar")
		// With a member on site 1, the record is broadcast there, and
		// A1's mailslotd bridges it to the members elsewhere.
		c1 := startBridged(t, s1, "HOSTC1", "OTHERWG")
		sent := broadcastUntilSeen(t, a1.Host, `\\OTHERWG\mailslot\nats\x`, "to OTHERWG", c1.rx, other.rx)
		time.Sleep(300 * time.Millisecond)
		for _, h := range []*natsHost{c1, other} {
			for k, c := range copiesOf(h.rx, "to OTHERWG", sent) {
				if c > 1 {
					t.Errorf("%s received copy %d of the record to OTHERWG %d times", h.Name, k+1, c)
				}
			}
		}
		for _, h := range members {
			if c := countRecv(h.rx, "to OTHERWG"); c != 0 {
				t.Errorf("%s (of WG) received %d records to OTHERWG", h.Name, c)
			}
		}
	})

	t.Run("durable messenger", func(t *testing.T) {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", "") // no desktop notifications
		sites.WaitJetStream(t)
		d2 := startBridged(t, s2, "HOSTD2", "WG", "--nats-durable-messenger")
		bin := buildCmd(t, "mailslot")
		// Nothing serves D2's messenger: the record waits in JetStream.
		if out, err := a1.Command(bin, "netsend", "HOSTD2", "--from", "ops", "held for D2").CombinedOutput(); err != nil {
			t.Fatalf("mailslot netsend HOSTD2: %v: %s", err, out)
		}
		// And from its own LAN, over its stream port.
		if out, err := b2.Command(bin, "netsend", "HOSTD2", "--from", "next door", "held too").CombinedOutput(); err != nil {
			t.Fatalf("mailslot netsend HOSTD2 from its LAN: %v: %s", err, out)
		}
		if st := natsStatus(t, d2.Host).Bridge; st.Held != 2 {
			t.Fatalf("HOSTD2 holds %d records, want 2: %+v", st.Held, st)
		}
		// Without the durable messenger, the writer is told no one reads.
		out, err := a1.Command(bin, "netsend", "HOSTA2", "not held").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "nothing serves") {
			t.Errorf("netsend to a computer without messenger nor durable messenger: %v: %s", err, out)
		}
		m := d2.Start(t, bin, "messenger", "--format", "json", "--count", "2")
		if err := m.Wait(15 * time.Second); err != nil {
			t.Fatalf("the messenger on HOSTD2 did not show the held message: %v\n%s", err, m.Output())
		}
		out = []byte(m.Output())
		if !strings.Contains(string(out), `"text":"held for D2"`) || !strings.Contains(string(out), `HOSTA1 (`+a1.Addr.String()+` at site1)`) ||
			!strings.Contains(string(out), `"text":"held too"`) {
			t.Fatalf("the messenger showed:\n%s", out)
		}
		if st := natsStatus(t, d2.Host).Bridge; st.HeldDelivered != 2 {
			t.Errorf("HOSTD2 delivered %d held records, want 2: %+v", st.HeldDelivered, st)
		}
		if strings.Contains(d2.d.Output(), "NATS error") {
			t.Errorf("HOSTD2's mailslotd met a NATS error:\n%s", d2.d.Output())
		}
		// Bounded: with room for one record, the older goes.
		e2 := startBridged(t, s2, "HOSTE2", "WG", "--nats-durable-messenger", "--nats-durable-max-msgs", "1")
		for _, text := range []string{"first, dropped", "second, kept"} {
			if out, err := a1.Command(bin, "netsend", "HOSTE2", text).CombinedOutput(); err != nil {
				t.Fatalf("mailslot netsend HOSTE2: %v: %s", err, out)
			}
		}
		m = e2.Start(t, bin, "messenger", "--format", "json", "--count", "1")
		if err := m.Wait(15 * time.Second); err != nil {
			t.Fatalf("the messenger on HOSTE2 showed nothing: %v\n%s", err, m.Output())
		}
		if out := m.Output(); !strings.Contains(out, `"text":"second, kept"`) {
			t.Fatalf("the messenger on HOSTE2 showed:\n%s", out)
		}
		if st := natsStatus(t, e2.Host).Bridge; st.Held != 2 || st.HeldDelivered != 1 {
			t.Errorf("HOSTE2 held %d and delivered %d, want 2 and 1: %+v", st.Held, st.HeldDelivered, st)
		}
	})

	t.Run("refused by the server", func(t *testing.T) {
		// Site 2 may not use workgroup SECRET: what a member writes there
		// is refused by the server, and counted as not bridged.
		x := startBridged(t, s2, "HOSTX2", "SECRET")
		if err := write(x.Host, `\\SECRET\mailslot\nats\x`, []byte("secret")); err != nil {
			t.Fatal(err)
		}
		waitRecv(t, x.rx, "| secret") // its own LAN has it
		deadline := time.Now().Add(5 * time.Second)
		for natsStatus(t, x.Host).Bridge.NotBridged == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the refused record was not counted: %+v\n%s", natsStatus(t, x.Host).Bridge, x.d.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(x.d.Output(), `Subscription to \"mailslot.group.SECRET.>\"`) {
			t.Errorf("HOSTX2 did not log the server's refusal:\n%s", x.d.Output())
		}
		for _, h := range []*natsHost{a1, b1, a2, b2} {
			if strings.Contains(h.d.Output(), "NATS error") {
				t.Errorf("%s met a NATS error:\n%s", h.Name, h.d.Output())
			}
		}
	})

	t.Run("node down", func(t *testing.T) {
		s1.Node.Stop()
		// The LAN goes on: B1 gets A1's group record over the LAN.
		sent := broadcastUntilSeen(t, a1.Host, `\\WG\mailslot\nats\x`, "while down", b1.rx)
		err := write(a1.Host, `\\HOSTA2\mailslot\nats\x`, []byte("to A2 while down"))
		if !errors.Is(err, mailslot.ErrUnreachable) {
			t.Fatalf("write to HOSTA2 with the bridge down = %v, want ErrUnreachable", err)
		}
		st := natsStatus(t, a1.Host).Bridge
		if st.Connected || st.NotBridged < uint64(sent)+1 {
			t.Errorf("HOSTA1's bridge with its node down: %+v, want %d records not bridged", st, sent+1)
		}
		// A mailslotd that starts while its node is down serves its LAN,
		// and connects once the node is back.
		late := &natsHost{Host: s1.LAN.AddHost("HOSTL1"), site: s1}
		late.d = startDaemon(t, late.Host, "WG", "--nats", s1.URL())
		if !late.d.WaitFor("NATS not reachable yet", 5*time.Second) {
			t.Fatalf("HOSTL1 did not say that NATS is not reachable:\n%s", late.d.Output())
		}
		late.rx = startReader(t, late.Host, `\\.\mailslot\nats\x`)
		time.Sleep(3 * time.Second) // reconnect attempts: none is logged
		s1.Node.Start()
		if !late.d.WaitFor("NATS connected", 15*time.Second) {
			t.Fatalf("HOSTL1 did not connect once its node was back:\n%s", late.d.Output())
		}
		if !a1.d.WaitFor("NATS reconnected", 15*time.Second) {
			t.Fatalf("HOSTA1 did not reconnect:\n%s", a1.d.Output())
		}
		if !b1.d.WaitFor("NATS reconnected", 15*time.Second) {
			t.Fatalf("HOSTB1 did not reconnect:\n%s", b1.d.Output())
		}
		if n := strings.Count(a1.d.Output(), "NATS disconnected"); n != 1 {
			t.Errorf("HOSTA1 logged the lost connection %d times, want once", n)
		}
		for _, h := range []*natsHost{a2, b2} {
			if c := countRecv(h.rx, "while down"); c != 0 {
				t.Errorf("%s received %d records sent while site 1's node was down", h.Name, c)
			}
		}
		// The bridge is back: interest may take a moment to cross the
		// routes again, so the record is sent until it arrives.
		broadcastUntilSeen(t, a1.Host, `\\WG\mailslot\nats\x`, "after restart", a2.rx, b2.rx)
		broadcastUntilSeen(t, a2.Host, `\\WG\mailslot\nats\x`, "to the late one", late.rx)
		if err := write(a1.Host, `\\HOSTA2\mailslot\nats\x`, []byte("to A2 after restart")); err != nil {
			t.Fatal(err)
		}
		waitRecv(t, a2.rx, "to A2 after restart")
	})
}

// BenchmarkNATS measures group records site to site through the bridge
// against raw NATS pub/sub on the same cluster (see internal/bench.NATS).
//
//	go test -run '^$' -bench NATS ./daemon
func BenchmarkNATS(b *testing.B) {
	b.Setenv("MAILSLOT_NO_DNS", "1")
	sites := natslab.New(b, 3)
	s1, s2 := sites.Sites[0], sites.Sites[1]
	ha, hb := s1.LAN.AddHost("BENCHA"), s2.LAN.AddHost("BENCHB")
	for _, x := range []struct {
		h    *lab.Host
		site *natslab.Site
	}{{ha, s1}, {hb, s2}} {
		d := startDaemon(b, x.h, "WG", "--nats", x.site.URL(), "--log-level", "info")
		if !d.WaitFor("NATS connected", 10*time.Second) {
			b.Fatalf("mailslotd on %s did not connect to NATS:\n%s", x.h.Name, d.Output())
		}
	}
	n := max(b.N, 100_000)
	res, err := bench.NATS(ha, hb, s1, s2, "WG", n, 100, 10_000)
	if err != nil {
		b.Fatal(err)
	}
	bench.PrintNATS(os.Stdout, res)
	b.ReportMetric(res.Flood.Ratio(), "flood-ratio")
	l := res.Latency
	b.ReportMetric(float64(bench.Quantile(l.Base, 0.5))/float64(bench.Quantile(l.Ours, 0.5)), "p50-speed-ratio")
	b.ReportMetric(float64(bench.Quantile(l.Base, 0.99))/float64(bench.Quantile(l.Ours, 0.99)), "p99-speed-ratio")
	if res.FloorGot == 0 || res.FloorFloodGot == 0 {
		b.Fatal("the relay floor measured nothing")
	}
	b.ReportMetric(bench.Rate(res.Flood.OursGot, res.Flood.Ours)/bench.Rate(res.FloorFloodGot, res.FloorFlood), "flood-ratio-to-floor")
	b.ReportMetric(float64(bench.Quantile(res.Floor, 0.5))/float64(bench.Quantile(l.Ours, 0.5)), "p50-speed-ratio-to-floor")
}

// TestNATSRelayFloor runs the NATS bench's relay floor briefly: every
// record crosses from a bare UDP broadcast on one site to the reader on
// the other, through the two relay processes, with its latency.
func TestNATSRelayFloor(t *testing.T) {
	sites := natslab.New(t, 2)
	s1, s2 := sites.Sites[0], sites.Sites[1]
	ha, hb := s1.LAN.AddHost("FLOORA"), s2.LAN.AddHost("FLOORB")
	const n = 300
	d, got, lats, err := bench.NATSFloor(ha, hb, s1, s2, n, 100, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if got != n || len(lats) != n || d <= 0 {
		t.Fatalf("%d of %d records arrived in %v, %d latencies", got, n, d, len(lats))
	}
	if lats[0] <= 0 || lats[n-1] > 10*time.Second || !slices.IsSorted(lats) {
		t.Fatalf("latencies from %v to %v (sorted: %v)", lats[0], lats[n-1], slices.IsSorted(lats))
	}
}
