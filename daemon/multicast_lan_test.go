//go:build !windows && !mailslot_unit

package daemon_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/remote"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

const mcastGroup = "239.255.13.8"

// startSmcroute runs smcrouted on the router with static routes for the
// group between every pair of its interfaces, and waits until it has
// installed them.
func startSmcroute(t *testing.T, r *lab.Router, group string) *lab.Proc {
	t.Helper()
	bin := testenv.LookPath(t, "smcrouted")
	dir := t.TempDir()
	conf := ""
	for _, in := range r.Ifaces {
		conf += "phyint " + in.Name + " enable\n"
	}
	for _, in := range r.Ifaces {
		var out []string
		for _, o := range r.Ifaces {
			if o.Name != in.Name {
				out = append(out, o.Name)
			}
		}
		conf += "mroute from " + in.Name + " group " + group + " to " + strings.Join(out, " ") + "\n"
	}
	file := filepath.Join(dir, "smcroute.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := r.Start(t, bin, "-n", "-N", "-l", "debug", "-f", file,
		"-u", filepath.Join(dir, "smcroute.sock"), "-P", filepath.Join(dir, "smcroute.pid"))
	if !p.WaitFor("Ready, waiting for client request", 10*time.Second) {
		t.Fatalf("smcrouted did not start:\n%s", p.Output())
	}
	return p
}

// TestMulticastGroupWrites: mailslotd hosts of two workgroups on two
// subnets joined by a router join a multicast group; with smcroute
// forwarding it, a workgroup write from subnet 1 reaches every host of
// that workgroup on both subnets exactly once (a host of subnet 1 hears
// it twice, broadcast and multicast, and delivers it once), and no host
// of the other workgroup; the workgroup's announcements cross too, so
// that `mailslot browse` on subnet 1 lists a computer of subnet 2; with
// the router's multicast forwarding off, only the sender's subnet gets
// it.
func TestMulticastGroupWrites(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")
	testenv.LookPath(t, "smcrouted")
	sub1, sub2 := lab.New(t), lab.New(t)
	router := lab.NewRouter(t, sub1, sub2)
	mc := []string{"--multicast", mcastGroup, "--multicast-ttl", "4"}
	groups := map[string]string{"A1": "WG", "A2": "WG", "X1": "OTHER", "B1": "WG", "B2": "WG", "X2": "OTHER"}
	subnet := map[string]*lab.LAN{"A1": sub1, "A2": sub1, "X1": sub1, "B1": sub2, "B2": sub2, "X2": sub2}
	hosts := map[string]*testHost{}
	for _, name := range []string{"A1", "A2", "X1", "B1", "B2", "X2"} {
		h := &testHost{Host: subnet[name].AddHost(name), readers: map[string]*lab.Proc{}}
		extra := mc
		if name == "B1" {
			extra = append(append([]string(nil), mc...), "--announce", "--announce-reply-delay", "500ms")
		}
		h.d = startDaemon(t, h.Host, groups[name], extra...)
		h.readers["x"] = startReader(t, h.Host, `\\.\mailslot\mc\x`)
		hosts[name] = h
	}
	rx := func(n string) *lab.Proc { return hosts[n].readers["x"] }
	a1 := hosts["A1"]
	smc := startSmcroute(t, router, mcastGroup)

	// The client sends to the group too, from its interface.
	if err := a1.Run(func() error {
		w, err := remote.Open("WG", `mc\x`)
		if err != nil {
			return err
		}
		defer w.Close()
		g, ifc, ok := w.Multicast()
		if !ok || g.String() != mcastGroup+":138" || ifc.Addr != a1.Addr {
			return fmt.Errorf("multicast %v from %+v (%v)", g, ifc, ok)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	check := func(text string, sent int, reached func(string) bool) {
		t.Helper()
		for name := range hosts {
			copies := copiesOf(rx(name), text, sent)
			got := 0
			for k, n := range copies {
				got += n
				if n > 1 || (n > 0 && !reached(name)) {
					t.Errorf("%s received copy %d of %q %d times (should reach it: %v)", name, k+1, text, n, reached(name))
				}
			}
			if reached(name) && got == 0 {
				t.Errorf("%s received no copy of %q", name, text)
			}
		}
	}
	isMember := func(n string) bool { return groups[n] == "WG" }
	settle := func() { time.Sleep(time.Second) } // for late copies

	sent := broadcastUntilSeen(t, a1.Host, `\\WG\mailslot\mc\x`, "to WG", rx("A1"), rx("A2"), rx("B1"), rx("B2"))
	star := broadcastUntilSeen(t, hosts["B2"].Host, `\\*\mailslot\mc\x`, "to star from B2", rx("A1"), rx("A2"), rx("B1"), rx("B2"))
	settle()
	check("to WG", sent, isMember)
	check("to star from B2", star, isMember)
	// A host on the sender's subnet heard broadcast and multicast copies,
	// and delivered one.
	if !strings.Contains(hosts["A2"].d.Output(), `msg="dropped duplicate datagram"`) {
		t.Errorf("A2 dropped no duplicate:\n%s", tail(hosts["A2"].d.Output(), 30))
	}
	if n := countRecv(rx("B1"), `\\A1 (`+a1.Addr.String()+":"); n == 0 {
		t.Errorf("B1's records do not name A1 as sender:\n%s", strings.Join(received(rx("B1")), "\n"))
	}

	// mailslot browse on subnet 1 hears B1, on subnet 2, announce itself:
	// its AnnouncementRequest and B1's answer cross by multicast.
	out, err := a1.Command(buildCmd(t, "mailslot"), "browse", "--wait", "3s", "--format", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("mailslot browse: %v\n%s", err, out)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var e struct{ Kind, Name, Address string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Kind == "computer" && e.Name == "B1" && e.Address == hosts["B1"].Addr.String() {
			found = true
		}
	}
	if !found {
		t.Errorf("mailslot browse on A1 does not list B1:\n%s", out)
	}

	// Multicast forwarding off: only the sender's subnet.
	smc.Stop()
	off := broadcastUntilSeen(t, a1.Host, `\\WG\mailslot\mc\x`, "forwarding off", rx("A1"), rx("A2"))
	settle()
	check("forwarding off", off, func(n string) bool { return n == "A1" || n == "A2" })
}
