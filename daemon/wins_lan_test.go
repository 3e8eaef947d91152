//go:build !windows && !mailslot_unit

package daemon_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/labtest"
	"github.com/mailslot-go/mailslot/internal/netif"
	"github.com/mailslot-go/mailslot/internal/remote"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

// winsTTL is the TTL the test's nmbd grants (min and max wins ttl), so
// that refreshes come every few seconds.
const winsTTL = 6

// routedLAN is two LAN subnets and a third for the WINS server, joined
// by a router.
type routedLAN struct {
	sub1, sub2, sub3 *lab.LAN
	router           *lab.Router
}

func newRoutedLAN(t *testing.T) *routedLAN {
	t.Helper()
	r := &routedLAN{sub1: lab.New(t), sub2: lab.New(t), sub3: lab.New(t)}
	r.router = lab.NewRouter(t, r.sub1, r.sub2, r.sub3)
	return r
}

// startWINS runs nmbd as the WINS server on h, granting TTLs of winsTTL
// seconds, and waits until it answers WINS queries for its own name.
// startWINS runs nmbd as the WINS server on h, granting TTLs of winsTTL
// seconds, and waits until it answers WINS queries (a negative answer for
// a name nobody has; its own names, which it fails to register with
// itself, come and go).
func startWINS(t *testing.T, h *lab.Host) *labtest.Nmbd {
	t.Helper()
	n := labtest.StartNmbd(t, h, h.Name, "LABGROUP", 3,
		"wins support = yes", "dns proxy = no", "local master = no", "preferred master = no", "domain master = no",
		fmt.Sprintf("min wins ttl = %d", winsTTL), fmt.Sprintf("max wins ttl = %d", winsTTL))
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _ := h.Command("nmblookup", "-d", "3", "-U", h.Addr.String(), "--recursion", "NOSUCHNAME").CombinedOutput()
		if strings.Contains(string(out), "Negative name query response") {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("nmbd on %s does not answer WINS queries:\n%s\n%s", h.Name, out, tail(n.Output(), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// winsNames are the names mailslotd registers for computer name in
// workgroup LABGROUP.
func winsNames(name string) []string {
	return []string{name + "<00>", name + "<03>", name + "<20>", "LABGROUP<00>", "LABGROUP<1e>"}
}

// waitRegistered waits until mailslotd's log says each of name's names is
// registered with WINS.
func waitRegistered(t *testing.T, p *lab.Proc, name string) {
	t.Helper()
	for _, n := range winsNames(name) {
		waitLog(t, p, "mailslotd "+name, `msg="registered with WINS" server=`, 15*time.Second)
		waitLog(t, p, "mailslotd "+name, `name=`+n+` group=`, 15*time.Second)
	}
}

// winsLookup asks the WINS server at wins, from h, for name<00> with
// nmblookup, and returns its answer.
func winsLookup(t *testing.T, h *lab.Host, wins *lab.Host, name string) string {
	t.Helper()
	out, _ := h.Command("nmblookup", "-U", wins.Addr.String(), "--recursion", name).CombinedOutput()
	return string(out)
}

// winsRecord is a name's record in nmbd's WINS database (wins.tdb).
type winsRecord struct {
	flags  uint32 // wins_flags: WINS_ACTIVE 0, WINS_RELEASED 4, WINS_TOMBSTONED 8
	death  time.Time
	ips    []string
	nbType byte
}

// winsDB reads nmbd's WINS database with tdbdump: records by "NAME<xx>".
// (wins.dat, the text copy, is written every two minutes or when nmbd
// stops, and does not say which records are released.)
func winsDB(t *testing.T, n *labtest.Nmbd) map[string]winsRecord {
	t.Helper()
	tdbdump := testenv.LookPath(t, "tdbdump")
	b, err := exec.Command(tdbdump, filepath.Join(n.Dir, "state", "wins.tdb")).CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("tdbdump: %v\n%s", err, out)
	}
	db := map[string]winsRecord{}
	var key []byte
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "key("):
			key = unescapeTDB(line[strings.Index(line, `"`)+1 : len(line)-1])
		case strings.HasPrefix(line, "data(") && len(key) == 65:
			d := unescapeTDB(line[strings.Index(line, `"`)+1 : len(line)-1])
			if len(d) < 31 {
				continue
			}
			le := binary.LittleEndian
			// "wbddddddd": nb_flags, source, death time, refresh time, id
			// (2), WINS owner, wins_flags, number of IPs; then the IPs.
			r := winsRecord{death: time.Unix(int64(le.Uint32(d[3:])), 0), flags: le.Uint32(d[23:]), nbType: key[64]}
			nips := int(le.Uint32(d[27:]))
			for i := 0; i < nips && 31+4*i+4 <= len(d); i++ {
				ip := d[31+4*i:]
				r.ips = append(r.ips, fmt.Sprintf("%d.%d.%d.%d", ip[0], ip[1], ip[2], ip[3]))
			}
			name := string(bytes.TrimRight(key[:64], "\x00"))
			db[fmt.Sprintf("%s<%02x>", name, key[64])] = r
			key = nil
		}
	}
	return db
}

// unescapeTDB undoes tdbdump's escapes: \XX is a byte in hex.
func unescapeTDB(s string) []byte {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return b
}

// TestWINSAcrossSubnets: mailslotd on hosts of two subnets registers with
// a real nmbd WINS server on a third; nmblookup asks the server for them;
// a client on one subnet finds a computer on the other through WINS and
// writes small and 64 KiB records to it by name; names are refreshed
// before their TTL runs out; a second computer claiming a name held is
// told of the conflict and keeps serving it by broadcast; names are
// released on SIGTERM.
func TestWINSAcrossSubnets(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1") // names resolve inside the LAN only
	testenv.LookPath(t, "nmblookup")
	net := newRoutedLAN(t)
	wins := net.sub3.AddHost("WINSSRV")
	a := net.sub1.AddHost("HOSTA")
	c := net.sub1.AddHost("HOSTC")
	b := net.sub2.AddHost("HOSTB")
	nmbd := startWINS(t, wins)

	// What crosses the WINS server's subnet, for tshark to decode.
	tshark := testenv.LookPath(t, "tshark")
	pcap := filepath.Join(t.TempDir(), "wins.pcap")
	capture := (&lab.Host{Name: "switch", NS: net.sub3.SwitchNS()}).Start(t, tshark, "-n", "-l", "-P", "-i", "br0", "-w", pcap, "udp port 137")
	if !capture.WaitFor("Capturing on", 15*time.Second) {
		t.Fatalf("tshark did not start capturing:\n%s", capture.Output())
	}
	// tshark says so before it captures: ask until it sees a query.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(capture.Output(), "PROBE<00>"); {
		if time.Now().After(deadline) {
			t.Fatalf("tshark does not capture:\n%s", capture.Output())
		}
		_ = a.Command("nmblookup", "-U", wins.Addr.String(), "--recursion", "PROBE").Run()
		time.Sleep(100 * time.Millisecond)
	}

	da := startDaemon(t, a, "LABGROUP", "--wins", wins.Addr.String())
	db := startDaemon(t, b, "LABGROUP", "--wins", wins.Addr.String())
	waitRegistered(t, da, "HOSTA")
	waitRegistered(t, db, "HOSTB")

	// The WINS server answers for both, from either subnet.
	if out := winsLookup(t, a, wins, "HOSTB"); !strings.Contains(out, b.Addr.String()+" HOSTB<00>") {
		t.Fatalf("nmblookup -U %s -R HOSTB from %s:\n%s", wins.Addr, a.Name, out)
	}
	if out := winsLookup(t, b, wins, "HOSTA"); !strings.Contains(out, a.Addr.String()+" HOSTA<00>") {
		t.Fatalf("nmblookup -U %s -R HOSTA from %s:\n%s", wins.Addr, b.Name, out)
	}
	reg := winsDB(t, nmbd)
	for _, n := range append(winsNames("HOSTA"), winsNames("HOSTB")...) {
		r, ok := reg[n]
		if !ok || r.flags&0x0C != 0 {
			t.Errorf("WINS database: %s is %+v (present %v), want active", n, r, ok)
		}
	}
	if r := reg["HOSTB<00>"]; len(r.ips) != 1 || r.ips[0] != b.Addr.String() {
		t.Errorf("WINS database: HOSTB<00> at %v, want %s", r.ips, b.Addr)
	}

	// mailslotd tells local clients the WINS server, and the node type.
	var info hostinfo.Info
	if err := a.Run(func() (err error) { info, err = hostinfo.LookupChecked(); return err }); err != nil {
		t.Fatal(err)
	}
	if info.WINS != wins.Addr.String()+":137" || info.NodeType() != hostinfo.NodeH {
		t.Fatalf("mailslotd on HOSTA tells %+v", info)
	}

	// By name from subnet 1 to subnet 2, found through WINS (a broadcast
	// stops at the router).
	rx := startReader(t, b, `\\.\mailslot\wins\x`)
	if err := a.Run(func() error {
		w, err := remote.Open("HOSTB", `wins\x`)
		if err != nil {
			return err
		}
		defer w.Close()
		if r := w.Resolution(); r.Via != "wins" || r.Addr != b.Addr || r.Group {
			return fmt.Errorf("HOSTB resolved as %+v", r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	small := []byte("across the router by name")
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)
	if err := write(a, `\\HOSTB\mailslot\wins\x`, small, big); err != nil {
		t.Fatal(err)
	}
	waitRecv(t, rx, "RECV 25 ")
	waitRecv(t, rx, fmt.Sprintf("RECV %d ", len(big)))
	if got := received(rx); len(got) != 2 || !strings.Contains(got[0], `\\HOSTA (`+a.Addr.String()+":") {
		t.Fatalf("HOSTB's reader got:\n%s", strings.Join(got, "\n"))
	}
	// A node that broadcasts only does not find it.
	if err := a.Run(func() error {
		ifaces, err := netif.List(nil)
		if err != nil {
			return err
		}
		bnode := info
		bnode.Node = hostinfo.NodeB
		if _, err := remote.Resolve("HOSTB", bnode, ifaces); err == nil {
			return fmt.Errorf("a B node found HOSTB across the router")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Refreshes: past several TTLs, the names are still there, and nmbd
	// logged refreshes.
	time.Sleep(3 * winsTTL * time.Second)
	if out := winsLookup(t, a, wins, "HOSTB"); !strings.Contains(out, b.Addr.String()+" HOSTB<00>") {
		t.Fatalf("HOSTB after %d s (TTL %d s):\n%s", 3*winsTTL, winsTTL, out)
	}
	if !strings.Contains(nmbd.Output(), "Name refresh for name HOSTB<00> IP "+b.Addr.String()) {
		t.Errorf("nmbd logged no refresh of HOSTB<00>:\n%s", tail(nmbd.Output(), 40))
	}

	// A second HOSTB, on subnet 1: the WINS server asks the holder, which
	// still claims the name, and refuses; the newcomer logs the conflict
	// and answers broadcast queries on its own subnet all the same.
	dc := startDaemon(t, c, "LABGROUP", "--name", "HOSTB", "--wins", wins.Addr.String())
	waitLog(t, dc, "the second HOSTB", `level=ERROR msg="name conflict: the WINS server says another computer holds this name; serving it by broadcast only" server=`+wins.Addr.String()+`:137 name=HOSTB<00> rcode=ACT_ERR`, 30*time.Second)
	if out := winsLookup(t, a, wins, "HOSTB"); !strings.Contains(out, b.Addr.String()+" HOSTB<00>") {
		t.Fatalf("after the conflict, WINS says:\n%s", out)
	}
	if out, _ := a.Command("nmblookup", "-B", a.Broadcast.String(), "HOSTB").CombinedOutput(); !strings.Contains(string(out), c.Addr.String()+" HOSTB<00>") {
		t.Fatalf("the second HOSTB does not answer broadcasts on its subnet:\n%s", out)
	}
	if !strings.Contains(dc.Output(), `msg="registered with WINS" server=`+wins.Addr.String()+`:137 name=LABGROUP<00> group=true`) {
		t.Errorf("the second HOSTB did not register the workgroup:\n%s", tail(dc.Output(), 30))
	}

	// SIGTERM: HOSTA releases its names; nmbd no longer holds them as
	// active, and answers no more for them.
	da.Stop()
	for _, n := range winsNames("HOSTA")[:3] {
		if !strings.Contains(da.Output(), `msg="released the name at the WINS server" server=`+wins.Addr.String()+`:137 name=`+n) {
			t.Errorf("HOSTA did not release %s:\n%s", n, tail(da.Output(), 30))
		}
	}
	if out := winsLookup(t, b, wins, "HOSTA"); strings.Contains(out, "HOSTA<00>") && strings.Contains(out, a.Addr.String()) {
		t.Errorf("WINS still answers for HOSTA after its release:\n%s", out)
	}
	rel := winsDB(t, nmbd)
	for _, n := range winsNames("HOSTA")[:3] {
		// nmbd keeps a released name for days, marked so.
		if r, ok := rel[n]; !ok || r.flags&0x0C != 0x04 {
			t.Errorf("WINS database after the release: %s is %+v (present %v), want released", n, r, ok)
		}
	}
	if r := rel["HOSTB<00>"]; r.flags&0x0C != 0 {
		t.Errorf("WINS database: HOSTB<00> is %+v, want active", r)
	}

	// tshark decodes what went to and from the WINS server, ours and
	// nmbd's, with nothing malformed and no expert warning.
	if !capture.WaitFor("Release response", 10*time.Second) {
		t.Fatalf("tshark never saw a release response:\n%s", capture.Output())
	}
	if err := capture.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := capture.Wait(10 * time.Second); err != nil {
		t.Fatalf("tshark: %v\n%s", err, capture.Output())
	}
	bad, err := tsharkOutput(tshark, "-n", "-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity >= warning || !nbns")
	if err != nil || strings.TrimSpace(bad) != "" {
		t.Errorf("tshark finds malformed packets, raises expert warnings or does not decode NBNS (%v):\n%s", err, bad)
	}
	w := wins.Addr.String()
	for what, filter := range map[string]string{
		"HOSTA's registration":         "ip.src==" + a.Addr.String() + " && nbns.flags==0x2900 && nbns.name contains \"HOSTA\" && nbns.addr==" + a.Addr.String() + " && nbns.nb_flags.ont==3",
		"HOSTB's refresh":              "ip.src==" + b.Addr.String() + " && nbns.flags==0x4000 && nbns.addr==" + b.Addr.String(),
		"HOSTA's release":              "ip.src==" + a.Addr.String() + " && nbns.flags==0x3000 && nbns.ttl==0",
		"HOSTA's query for HOSTB":      "ip.src==" + a.Addr.String() + " && nbns.flags==0x0100 && nbns.name contains \"HOSTB\"",
		"nmbd's positive answer":       "ip.src==" + w + " && nbns.flags==0xad80 && nbns.ttl==" + strconv.Itoa(winsTTL),
		"nmbd's WACK":                  "ip.src==" + w + " && nbns.flags.opcode==7 && ip.dst==" + c.Addr.String(),
		"nmbd's challenge of HOSTB":    "ip.src==" + w + " && ip.dst==" + b.Addr.String() + " && nbns.flags.opcode==0 && nbns.flags.response==0",
		"HOSTB's answer to it":         "ip.src==" + b.Addr.String() + " && nbns.flags.opcode==0 && nbns.flags.response==1 && nbns.addr==" + b.Addr.String(),
		"nmbd's ACT_ERR to the second": "ip.src==" + w + " && nbns.flags.rcode==6 && ip.dst==" + c.Addr.String(),
		"nmbd's release answer":        "ip.src==" + w + " && nbns.flags==0xb400",
	} {
		out, err := tsharkOutput(tshark, "-n", "-r", pcap, "-Y", filter)
		if err != nil || strings.TrimSpace(out) == "" {
			t.Errorf("no %s in the capture (%s): %v", what, filter, err)
		}
	}
}
