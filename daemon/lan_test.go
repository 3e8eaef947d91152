//go:build !windows && !mailslot_unit

package daemon_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/bench"
	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/labtest"
	"github.com/mailslot-go/mailslot/internal/netif"
	"github.com/mailslot-go/mailslot/internal/remote"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

// The test binary doubles as a slot reader inside the hosts, and as the
// network benchmark's worker.
func TestMain(m *testing.M) {
	bench.Child()
	if os.Getenv("MAILSLOT_TEST_HELPER") == "read" {
		os.Exit(readHelper(os.Getenv("MAILSLOT_TEST_SLOT")))
	}
	os.Exit(m.Run())
}

// readHelper serves a slot and prints a line for each record:
// "RECV <size> <sha256 prefix> <from> | <data, up to 60 bytes>".
func readHelper(name string) int {
	var opts []mailslot.Option
	if os.Getenv("MAILSLOT_TEST_LOCAL_ONLY") == "" {
		opts = append(opts, mailslot.WithNetwork())
	}
	s, err := mailslot.Create(name, opts...)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer s.Close()
	fmt.Println("ready")
	for {
		m, err := s.ReadMessage(context.Background())
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		sum := sha256.Sum256(m.Data)
		show := m.Data
		if len(show) > 60 {
			show = show[:60]
		}
		fmt.Printf("RECV %d %x %s | %s\n", len(m.Data), sum[:6], m.From, show)
		// A record "t=NANOS ..." was stamped by its sender: how long it
		// took to reach the slot (one clock, the hosts share a machine).
		var sent int64
		if _, err := fmt.Sscanf(string(show), "t=%d ", &sent); err == nil {
			fmt.Printf("LATENCY %s %d\n", strings.Fields(string(show))[1], m.Time.UnixNano()-sent)
		}
	}
}

func buildCmd(t testing.TB, name string) string { return labtest.BuildCmd(t, name) }

func buildDaemon(t testing.TB) string { return labtest.BuildCmd(t, "mailslotd") }

type testHost struct {
	*lab.Host
	d       *lab.Proc
	readers map[string]*lab.Proc
}

func startDaemon(t testing.TB, h *lab.Host, wg string, extra ...string) *lab.Proc {
	t.Helper()
	return labtest.StartDaemon(t, h, wg, extra...)
}

// startReader serves slot on h in a helper process.
func startReader(t *testing.T, h *lab.Host, slot string, env ...string) *lab.Proc {
	t.Helper()
	args := append([]string{"MAILSLOT_TEST_HELPER=read", "MAILSLOT_TEST_SLOT=" + slot}, env...)
	p := h.Start(t, "env", append(args, os.Args[0], "-test.run=^$")...)
	if !p.WaitFor("ready", 10*time.Second) {
		t.Fatalf("reader of %s on %s did not start:\n%s", slot, h.Name, p.Output())
	}
	return p
}

// write opens name from inside h and writes each record.
func write(h *lab.Host, name string, records ...[]byte) error {
	return h.Run(func() error {
		c, err := mailslot.Open(name)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, r := range records {
			if _, err := c.Write(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// received returns the RECV lines of a reader.
func received(p *lab.Proc) []string {
	var out []string
	for _, l := range strings.Split(p.Output(), "\n") {
		if strings.HasPrefix(l, "RECV ") {
			out = append(out, l)
		}
	}
	return out
}

// waitRecv waits until the reader has printed a line containing s.
func waitRecv(t *testing.T, p *lab.Proc, s string) {
	t.Helper()
	if !p.WaitFor(s, 10*time.Second) {
		t.Fatalf("reader never received %q; it has:\n%s", s, p.Output())
	}
}

// broadcastUntilSeen writes numbered copies of a datagram record ("text
// #1", "text #2", ...) from h to name until every reader in want has one
// (the LAN may drop a datagram), and returns how many it sent.
func broadcastUntilSeen(t *testing.T, h *lab.Host, name, text string, want ...*lab.Proc) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for k := 1; ; k++ {
		if err := write(h, name, []byte(fmt.Sprintf("%s #%d", text, k))); err != nil {
			t.Fatal(err)
		}
		seen := func() bool {
			for _, p := range want {
				if countRecv(p, "| "+text+" #") == 0 {
					return false
				}
			}
			return true
		}
		for wait := time.Now().Add(500 * time.Millisecond); !seen() && time.Now().Before(wait); {
			time.Sleep(5 * time.Millisecond)
		}
		if seen() {
			return k
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q sent %d times, not every reader got it", text, k)
		}
	}
}

// copiesOf returns, for each copy broadcastUntilSeen sent (1..sent), how
// many times reader p received it.
func copiesOf(p *lab.Proc, text string, sent int) []int {
	n := make([]int, sent+1)
	for _, l := range received(p) {
		var k int
		if _, rest, ok := strings.Cut(l, "| "+text+" #"); ok {
			if _, err := fmt.Sscanf(rest, "%d", &k); err == nil && k >= 1 && k <= sent {
				n[k]++
			}
		}
	}
	return n[1:]
}

func countRecv(p *lab.Proc, s string) int {
	n := 0
	for _, l := range received(p) {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// TestLAN runs a real mailslotd on four hosts in two workgroups and checks
// every name form with the library.
func TestLAN(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1") // names resolve inside the LAN only
	l := lab.New(t)
	groups := map[string]string{"HOSTA": "WGA", "HOSTB": "WGA", "HOSTC": "WGB", "HOSTD": "WGB"}
	hosts := map[string]*testHost{}
	for _, name := range []string{"HOSTA", "HOSTB", "HOSTC", "HOSTD"} {
		h := &testHost{Host: l.AddHost(name), readers: map[string]*lab.Proc{}}
		h.d = startDaemon(t, h.Host, groups[name])
		h.readers["x"] = startReader(t, h.Host, `\\.\mailslot\lan\x`)
		hosts[name] = h
	}
	a, b, c, d := hosts["HOSTA"], hosts["HOSTB"], hosts["HOSTC"], hosts["HOSTD"]
	rx := func(h *testHost) *lab.Proc { return h.readers["x"] }

	// A marker each reader must get, sent last to it by name: once it
	// arrives, everything sent earlier has had its chance to arrive too.
	barrier := func(tag string) {
		t.Helper()
		for name, h := range hosts {
			if err := write(a.Host, `\\`+name+`\mailslot\lan\x`, []byte("barrier "+tag)); err != nil {
				t.Fatal(err)
			}
			waitRecv(t, rx(h), "barrier "+tag)
		}
	}

	t.Run("unicast", func(t *testing.T) {
		if err := write(a.Host, `\\HOSTB\mailslot\lan\x`, []byte("to B only")); err != nil {
			t.Fatal(err)
		}
		waitRecv(t, rx(b), "to B only")
		barrier("unicast")
		for _, h := range []*testHost{a, c, d} {
			if n := countRecv(rx(h), "to B only"); n != 0 {
				t.Errorf("%s received B's record %d times", h.Name, n)
			}
		}
		// And as a datagram, as Windows sends it.
		if err := a.Run(func() error {
			w, err := remote.Open("HOSTB", `lan\x`)
			if err != nil {
				return err
			}
			defer w.Close()
			w.DatagramsOnly = true
			return w.Write([]byte("to B by datagram"), -1)
		}); err != nil {
			t.Fatal(err)
		}
		waitRecv(t, rx(b), "to B by datagram")
		if n := countRecv(rx(b), "to B only"); n != 1 {
			t.Errorf("B received its record %d times", n)
		}
		if !strings.Contains(received(rx(b))[0], `\\HOSTA (`+a.Addr.String()+`:`) {
			t.Errorf("From does not name the sender: %s", received(rx(b))[0])
		}
	})

	t.Run("workgroup", func(t *testing.T) {
		// Broadcasts are datagrams: sent again until every member has one,
		// then each copy must have reached each member at most once, and
		// no other computer at all.
		toWGA := broadcastUntilSeen(t, c.Host, `\\WGA\mailslot\lan\x`, "to WGA", rx(a), rx(b))
		toStar := broadcastUntilSeen(t, c.Host, `\\*\mailslot\lan\x`, "to star from C", rx(c), rx(d))
		barrier("workgroup")
		for h, member := range map[*testHost][2]bool{a: {true, false}, b: {true, false}, c: {false, true}, d: {false, true}} {
			for i, bc := range []struct {
				text string
				sent int
			}{{"to WGA", toWGA}, {"to star from C", toStar}} {
				for k, n := range copiesOf(rx(h), bc.text, bc.sent) {
					if n > 1 || (n > 0 && !member[i]) {
						t.Errorf("%s received copy %d of %q %d times (a member: %v)", h.Name, k+1, bc.text, n, member[i])
					}
				}
			}
		}
	})

	t.Run("large", func(t *testing.T) {
		big := make([]byte, 64<<10)
		for i := range big {
			big[i] = byte(i * 7)
		}
		sum := sha256.Sum256(big)
		if err := write(a.Host, `\\HOSTB\mailslot\lan\x`, big); err != nil {
			t.Fatal(err)
		}
		waitRecv(t, rx(b), fmt.Sprintf("RECV %d %x", len(big), sum[:6]))
		err := write(a.Host, `\\HOSTB\mailslot\lan\nobody`, big)
		if !errors.Is(err, mailslot.ErrNotFound) {
			t.Fatalf("64 KiB write to a slot B does not serve = %v, want ErrNotFound", err)
		}
		err = write(a.Host, `\\WGA\mailslot\lan\x`, big)
		if !errors.Is(err, mailslot.ErrMessageTooLarge) {
			t.Fatalf("64 KiB broadcast = %v, want ErrMessageTooLarge", err)
		}
	})

	t.Run("unresolvable", func(t *testing.T) {
		start := time.Now()
		err := write(a.Host, `\\NOSUCHHOST\mailslot\lan\x`, []byte("x"))
		if !errors.Is(err, mailslot.ErrUnreachable) || !strings.Contains(err.Error(), "NOSUCHHOST") {
			t.Fatalf("write to an unknown computer = %v", err)
		}
		t.Logf("unknown computer reported after %v: %v", time.Since(start).Round(time.Millisecond), err)
	})

	t.Run("duplicates", func(t *testing.T) {
		// One datagram, sent twice, as when it arrives over two paths.
		err := a.Run(func() error {
			w, err := remote.Open("HOSTB", `lan\x`)
			if err != nil {
				return err
			}
			defer w.Close()
			ifaces, err := netif.List(nil)
			if err != nil {
				return err
			}
			conn, err := net.ListenUDP("udp4", nil)
			if err != nil {
				return err
			}
			defer conn.Close()
			to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.Addr, 138))
			for i, id := range []uint16{4242, 4242, 4243} {
				dg, err := w.Datagram([]byte("dup test"), ifaces[0], id)
				if err != nil {
					return err
				}
				if _, err := conn.WriteToUDP(dg, to); err != nil {
					return fmt.Errorf("send %d: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		barrier("duplicates")
		// Ids 4242 twice: once; 4243 is another datagram with the same data.
		if n := countRecv(rx(b), "dup test"); n != 2 {
			t.Fatalf("B received the duplicated datagrams %d times, want 2 (4242 once, 4243 once)", n)
		}
	})

	t.Run("no slot", func(t *testing.T) {
		// A slot served without WithNetwork takes no record from afar:
		// over the stream port the writer is told, a datagram is dropped
		// and counted, and the reader gets neither.
		local := startReader(t, d.Host, `\\.\mailslot\lan\localonly`, "MAILSLOT_TEST_LOCAL_ONLY=1")
		err := write(a.Host, `\\HOSTD\mailslot\lan\localonly`, []byte("not for you"))
		if !errors.Is(err, mailslot.ErrPermission) {
			t.Fatalf("write from afar to a local-only slot = %v, want ErrPermission", err)
		}
		if err := a.Run(func() error {
			w, err := remote.Open("HOSTD", `lan\localonly`)
			if err != nil {
				return err
			}
			defer w.Close()
			w.DatagramsOnly = true
			return w.Write([]byte("not for you either"), -1)
		}); err != nil {
			t.Fatal(err)
		}
		// Over the stream port (mailslotd answers there) the writer learns it;
		err = write(a.Host, `\\HOSTD\mailslot\lan\nobody`, []byte("nobody reads"))
		if !errors.Is(err, mailslot.ErrNotFound) {
			t.Fatalf("write to a slot HOSTD does not serve = %v, want ErrNotFound", err)
		}
		// as a datagram, the record is dropped and counted.
		if err := a.Run(func() error {
			w, err := remote.Open("HOSTD", `lan\nobody`)
			if err != nil {
				return err
			}
			defer w.Close()
			w.DatagramsOnly = true
			return w.Write([]byte("nobody reads either"), -1)
		}); err != nil {
			t.Fatal(err)
		}
		barrier("noslot")
		d.d.Stop()
		if !strings.Contains(d.d.Output(), "no_slot=2") {
			t.Fatalf("HOSTD's mailslotd did not count the record for a slot nobody serves:\n%s", d.d.Output())
		}
		if !strings.Contains(d.d.Output(), "local_only=2") {
			t.Fatalf("HOSTD's mailslotd did not count the records a local-only slot refused:\n%s", d.d.Output())
		}
		if got := received(local); len(got) != 0 {
			t.Fatalf("a local-only slot received records from afar: %q", got)
		}
	})

	t.Run("cli", func(t *testing.T) {
		// The real mailslot command, unchanged, with remote names.
		bin := buildCmd(t, "mailslot")
		r := c.Start(t, bin, "read", `lan\cli`, "--network", "--count", "2", "--format", "json")
		// Wait until the slot exists (opening a local name writes nothing).
		waitServed(t, c.Host, `\\.\mailslot\lan\cli`)
		if out, err := a.Command(bin, "send", `\\HOSTC\mailslot\lan\cli`, "by", "name").CombinedOutput(); err != nil {
			t.Fatalf("mailslot send: %v: %s", err, out)
		}
		// From C itself (D's mailslotd was stopped above): `*` is C's own
		// workgroup, and C hears its own broadcast, as Windows does.
		if out, err := c.Command(bin, "send", `//*/mailslot/lan/cli`, "to all of WGB").CombinedOutput(); err != nil {
			t.Fatalf("mailslot send: %v: %s", err, out)
		}
		if err := r.Wait(10 * time.Second); err != nil {
			t.Fatalf("mailslot read: %v\n%s", err, r.Output())
		}
		out := r.Output()
		if !strings.Contains(out, `"data":"by name"`) || !strings.Contains(out, `"data":"to all of WGB"`) || !strings.Contains(out, `\\\\HOSTC (`) {
			t.Fatalf("mailslot read printed:\n%s", out)
		}
	})

	t.Run("nmblookup", func(t *testing.T) {
		testenv.LookPath(t, "nmblookup")
		out, err := c.Command("nmblookup", "-B", c.Broadcast.String(), "HOSTA").CombinedOutput()
		if err != nil || !strings.Contains(string(out), a.Addr.String()+" HOSTA<00>") {
			t.Fatalf("nmblookup by broadcast: %v\n%s", err, out)
		}
		out, err = c.Command("nmblookup", "-A", b.Addr.String()).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "HOSTB") || !strings.Contains(string(out), "WGA") {
			t.Fatalf("nmblookup node status: %v\n%s", err, out)
		}
	})
}

// BenchmarkNet measures datagrams and stream records between two hosts
// against raw UDP and TCP loops (see internal/bench.Net), and mailslotd's
// peak memory during the datagram flood.
func BenchmarkNet(b *testing.B) {
	b.Setenv("MAILSLOT_NO_DNS", "1")
	l := lab.New(b)
	ha, hb := l.AddHost("BENCHA"), l.AddHost("BENCHB")
	startDaemon(b, ha, "WG")
	d := startDaemon(b, hb, "WG", "--log-level", "info")
	n := max(b.N, 20000)
	rs, err := bench.Net(ha, hb, d.Pid(), n)
	if err != nil {
		b.Fatal(err)
	}
	bench.PrintNet(os.Stdout, rs)
	b.ReportMetric(rs[0].Ratio(), "dgram-paced-ratio")
	b.ReportMetric(rs[1].Ratio(), "dgram-flood-ratio")
	b.ReportMetric(rs[2].Ratio(), "stream-ratio")
	b.ReportMetric(float64(max(rs[0].PeakRSSKiB, rs[1].PeakRSSKiB))/1024, "daemon-MiB")
}

// TestBesideNmbd runs mailslotd on a host where Samba's nmbd holds UDP
// 137/138: without --share-ports it refuses, naming nmbd; with it, it
// hears the workgroup's broadcasts, takes records by name over its stream
// port, and nmbd keeps answering for its own name.
func TestBesideNmbd(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")
	testenv.LookPath(t, "nmblookup")
	l := lab.New(t)
	a, s := l.AddHost("HOSTA"), l.AddHost("HOSTS")
	startDaemon(t, a, "WGA")
	labtest.StartNmbd(t, s, "SAMBAHOST", "WGA", 1)
	out, err := s.Command(buildDaemon(t), "--name", "HOSTS", "--workgroup", "WGA").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "held by nmbd") || !strings.Contains(string(out), "--share-ports") {
		t.Fatalf("mailslotd beside nmbd without --share-ports: %v\n%s", err, out)
	}
	startDaemon(t, s, "WGA", "--share-ports")
	r := startReader(t, s, `\\.\mailslot\lan\x`)
	if err := write(a, `\\WGA\mailslot\lan\x`, []byte("broadcast beside nmbd")); err != nil {
		t.Fatal(err)
	}
	if err := write(a, `\\HOSTS\mailslot\lan\x`, []byte("by name beside nmbd")); err != nil {
		t.Fatal(err)
	}
	waitRecv(t, r, "broadcast beside nmbd")
	waitRecv(t, r, "by name beside nmbd")
	// nmbd answers for its name once it has registered it (a few seconds).
	waitNmbdNames(t, a, s, "SAMBAHOST")
}
