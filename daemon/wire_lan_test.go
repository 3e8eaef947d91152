//go:build !windows && !mailslot_unit

package daemon_test

import (
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/remote"
	"github.com/mailslot-go/mailslot/internal/testenv"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// wireFields are the fields TestWireOnLAN reads from each captured frame.
var wireFields = []string{
	"frame.number", "frame.protocols", "ip.src", "ip.dst", "udp.srcport", "udp.dstport",
	"nbns.id", "nbns.flags", "nbns.flags.response", "nbns.flags.opcode", "nbns.flags.rcode",
	"nbns.flags.broadcast", "nbns.count.queries", "nbns.count.answers", "nbns.name", "nbns.type",
	"nbns.ttl", "nbns.addr", "nbns.nb_flags.group", "nbns.number_of_names", "nbns.netbios_name",
	"nbns.name_flags.group",
	"nbdgm.type", "nbdgm.flags", "nbdgm.first", "nbdgm.next", "nbdgm.node_type", "nbdgm.src.ip",
	"nbdgm.src.port", "nbdgm.source_name", "nbdgm.destination_name",
	"smb.cmd", "smb.tdc", "smb.dc", "smb.trans_name", "mailslot.opcode", "mailslot.class", "mailslot.name",
	"data.data", "browser.command", "browser.period", "browser.server", "browser.os_major", "browser.os_minor",
	"browser.server_type", "browser.proto_major", "browser.proto_minor", "browser.sig", "browser.comment",
	"browser.response_computer_name", "_ws.malformed", "_ws.expert.severity", "_ws.expert.message",
}

// wireFrame is one captured frame: field to value, occurrences joined by ",".
type wireFrame map[string]string

// capturedFrames reads the capture back with tshark, one wireFrame per frame.
func capturedFrames(t *testing.T, tshark, pcap string) []wireFrame {
	t.Helper()
	args := []string{"-n", "-r", pcap, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
		"-E", "aggregator=,", "-E", "quote=n"}
	for _, f := range wireFields {
		args = append(args, "-e", f)
	}
	out, err := tsharkOutput(tshark, args...)
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	var frames []wireFrame
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		vals := strings.Split(line, "\t")
		if len(vals) != len(wireFields) {
			t.Fatalf("tshark printed %d fields, want %d: %q", len(vals), len(wireFields), line)
		}
		f := wireFrame{}
		for i, name := range wireFields {
			f[name] = vals[i]
		}
		f["nbns.name"] = withoutAnnotations(f["nbns.name"])
		frames = append(frames, f)
	}
	return frames
}

// tsharkOutput runs tshark without the user's profile and returns what it
// printed; its error carries what it said on stderr.
func tsharkOutput(tshark string, args ...string) (string, error) {
	cmd := exec.Command(tshark, args...)
	cmd.Env = append(os.Environ(), "HOME="+os.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", errors.New(err.Error() + ": " + stderr.String())
	}
	return string(out), nil
}

// withoutAnnotations drops the " (Workstation/Redirector)" tshark appends
// to names it knows the suffix of.
func withoutAnnotations(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p, _, _ = strings.Cut(p, " (")
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// matches reports whether f has every field of want.
func (f wireFrame) matches(want map[string]string) bool {
	for k, v := range want {
		if f[k] != v {
			return false
		}
	}
	return true
}

// wireKind is one kind of packet we send, and what tshark must decode.
type wireKind struct {
	what string
	sel  map[string]string // picks the candidate frames
	want map[string]string // every field a candidate must have
}

// TestWireOnLAN captures the test LAN with tshark while our client and
// mailslotd send every kind of NetBIOS packet they send: name queries (by
// broadcast, answered or not), positive name query responses for a
// computer and for a workgroup, a node status response, and mailslot
// writes as direct unique and direct group datagrams (our client sends
// `\\*` as a direct group datagram to the primary domain<00> on the
// broadcast address; nothing of ours sends a BROADCAST DATAGRAM, 0x12).
// tshark must decode each with the fields we meant and find nothing
// malformed, nor raise an expert warning, anywhere in the capture.
func TestWireOnLAN(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1") // names resolve by NetBIOS name queries
	tshark := testenv.LookPath(t, "tshark")
	nmblookup := testenv.LookPath(t, "nmblookup")
	l := lab.New(t)
	a, b, c := l.AddHost("HOSTA"), l.AddHost("HOSTB"), l.AddHost("HOSTC")

	// The bridge, promiscuous under capture, sees every frame of the LAN.
	pcap := filepath.Join(t.TempDir(), "lan.pcap")
	sw := &lab.Host{Name: "switch", NS: l.SwitchNS()}
	// -P -l: a line for each frame as it is written, to wait for the last.
	capture := sw.Start(t, tshark, "-n", "-l", "-P", "-i", "br0", "-w", pcap)
	if !capture.WaitFor("Capturing on", 15*time.Second) {
		t.Fatalf("tshark did not start capturing:\n%s", capture.Output())
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, err := tsharkOutput(tshark, "-n", "-r", pcap)
			t.Logf("the capture (%v):\n%s", err, out)
		}
	})

	// A announces itself to WG's browse list (at start, and in answer to
	// the AnnouncementRequest below).
	startDaemon(t, a, "WG", "--announce", "--comment", "wire test", "--announce-reply-delay", "100ms")
	startDaemon(t, b, "WG")
	startDaemon(t, c, "WG2")
	const slot = `\\.\mailslot\wire\x`
	rb, rc := startReader(t, b, slot), startReader(t, c, slot)

	// Direct unique: to B, found by a NetBIOS name query, as a datagram.
	unique := []byte("unique from A")
	if err := a.Run(func() error {
		w, err := remote.Open("HOSTB", `wire\x`)
		if err != nil {
			return err
		}
		defer w.Close()
		if via := w.Resolution().Via; via != "netbios" {
			return errors.New("HOSTB resolved by " + via + ", not by a NetBIOS name query")
		}
		w.DatagramsOnly = true
		return w.Write(unique, -1)
	}); err != nil {
		t.Fatal(err)
	}
	waitRecv(t, rb, string(unique))
	// Direct group: to our own workgroup (no query), to another one (found
	// by a query its members answer), and to `*` (the primary domain).
	group, other, star := []byte("group WG from A"), []byte("group WG2 from A"), []byte("star from C")
	for _, s := range []struct {
		h    *lab.Host
		name string
		data []byte
		r    *lab.Proc
	}{
		{a, `\\WG\mailslot\wire\x`, group, rb},
		{a, `\\WG2\mailslot\wire\x`, other, rc},
		{c, `\\*\mailslot\wire\x`, star, rc},
	} {
		if err := write(s.h, s.name, s.data); err != nil {
			t.Fatalf("write %s from %s: %v", s.name, s.h.Name, err)
		}
		waitRecv(t, s.r, string(s.data))
	}
	// An AnnouncementRequest from B to WG: A answers with a HostAnnouncement.
	req, err := wire.AppendAnnouncementRequest(nil, &wire.AnnouncementRequest{ResponseName: "HOSTB"})
	if err != nil {
		t.Fatal(err)
	}
	if err := write(b, `\\WG\mailslot\browse`, req); err != nil {
		t.Fatalf("AnnouncementRequest from B: %v", err)
	}
	if !capture.WaitFor("Request Announcement", 10*time.Second) {
		t.Fatalf("tshark never saw B's AnnouncementRequest:\n%s", capture.Output())
	}
	time.Sleep(300 * time.Millisecond) // A's answer comes within 100 ms
	// A name nobody has: the query goes unanswered (B-nodes never answer
	// a broadcast query negatively).
	if err := write(a, `\\NOSUCHHOST\mailslot\wire\x`, []byte("x")); !errors.Is(err, mailslot.ErrUnreachable) {
		t.Fatalf("write to an unknown computer = %v, want ErrUnreachable", err)
	}
	// Node status of B, asked by Samba's nmblookup.
	if out, err := c.Command(nmblookup, "-A", b.Addr.String()).CombinedOutput(); err != nil || !strings.Contains(string(out), "HOSTB") {
		t.Fatalf("nmblookup -A: %v\n%s", err, out)
	}

	// B's node status answer is the last frame we caused: once tshark has
	// it, it has every earlier one.
	if !capture.WaitFor("Name query response NBSTAT", 10*time.Second) {
		t.Fatalf("tshark never saw B's node status response:\n%s", capture.Output())
	}
	if err := capture.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := capture.Wait(10 * time.Second); err != nil {
		t.Fatalf("tshark: %v\n%s", err, capture.Output())
	}
	frames := capturedFrames(t, tshark, pcap)
	t.Logf("captured %d frames", len(frames))

	// Nothing malformed, no expert warning or error, in the whole capture.
	bad, err := tsharkOutput(tshark, "-n", "-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity >= warning")
	if err != nil {
		t.Fatalf("tshark -Y: %v", err)
	}
	if strings.TrimSpace(bad) != "" {
		t.Errorf("tshark finds malformed packets or raises expert warnings:\n%s", bad)
	}
	// Every frame to or from a NetBIOS port is decoded as NetBIOS, every
	// datagram down to SMB (its mailslot fields are checked below).
	for _, f := range frames {
		port := func(p string) bool { return f["udp.srcport"] == p || f["udp.dstport"] == p }
		switch {
		case port("137") && !strings.Contains(f["frame.protocols"], ":nbns"),
			port("138") && !strings.Contains(f["frame.protocols"], ":nbdgm:smb"):
			t.Errorf("frame %s is not decoded as we meant: %s", f["frame.number"], f["frame.protocols"])
		}
	}

	da, db, dc := a.Addr.String(), b.Addr.String(), c.Addr.String()
	bcast := a.Broadcast.String()
	query := func(name string) map[string]string {
		return map[string]string{"nbns.flags": "0x0110", "nbns.flags.response": "0", "nbns.flags.opcode": "0",
			"nbns.flags.broadcast": "1", "nbns.count.queries": "1", "nbns.count.answers": "0",
			"nbns.name": name, "nbns.type": "32", "ip.dst": bcast, "udp.dstport": "137"}
	}
	answer := func(name, from, to, group string) map[string]string {
		return map[string]string{"nbns.flags": "0x8500", "nbns.flags.response": "1", "nbns.flags.rcode": "0",
			"nbns.count.queries": "0", "nbns.count.answers": "1", "nbns.name": name, "nbns.type": "32",
			"nbns.ttl": "300000", "nbns.addr": from, "nbns.nb_flags.group": group,
			"ip.src": from, "ip.dst": to, "udp.srcport": "137"}
	}
	datagram := func(typ, src, srcName, dst, ipDst string, data []byte) map[string]string {
		return map[string]string{"nbdgm.type": typ, "nbdgm.flags": "0x02", "nbdgm.first": "1", "nbdgm.next": "0",
			"nbdgm.node_type": "0", "nbdgm.src.ip": src, "nbdgm.src.port": "138",
			"nbdgm.source_name": srcName, "nbdgm.destination_name": dst, "ip.src": src, "ip.dst": ipDst, "udp.dstport": "138",
			"smb.cmd": "0x25", "smb.trans_name": `\MAILSLOT\WIRE\X`, "smb.tdc": strconv.Itoa(len(data)),
			"smb.dc": strconv.Itoa(len(data)), "mailslot.opcode": "1", "mailslot.class": "2",
			"mailslot.name": `\MAILSLOT\WIRE\X`, "data.data": hex.EncodeToString(data)}
	}
	kinds := []wireKind{
		{"name query for HOSTB<00>", map[string]string{"nbns.name": "HOSTB<00>", "nbns.flags.response": "0"},
			query("HOSTB<00>")},
		{"B's answer for HOSTB<00>", map[string]string{"nbns.name": "HOSTB<00>", "nbns.flags.response": "1"},
			answer("HOSTB<00>", db, da, "0")},
		{"name query for WG2<00>", map[string]string{"nbns.name": "WG2<00>", "nbns.flags.response": "0"},
			query("WG2<00>")},
		{"C's answer for its workgroup WG2<00>", map[string]string{"nbns.name": "WG2<00>", "nbns.flags.response": "1"},
			answer("WG2<00>", dc, da, "1")},
		{"name query for NOSUCHHOST<00>", map[string]string{"nbns.name": "NOSUCHHOST<00>"},
			query("NOSUCHHOST<00>")},
		{"node status response of B", map[string]string{"nbns.type": "33", "nbns.flags.response": "1"},
			map[string]string{"nbns.flags": "0x8400", "nbns.flags.rcode": "0", "nbns.count.answers": "1",
				"nbns.number_of_names": "3", "nbns.netbios_name": "HOSTB,HOSTB,WG",
				"nbns.name_flags.group": "0,0,1", "ip.src": db, "ip.dst": dc, "udp.srcport": "137"}},
		{"direct unique datagram to HOSTB", map[string]string{"nbdgm.type": "16"},
			datagram("16", da, "HOSTA<00>", "HOSTB<00>", db, unique)},
		{"direct group datagram to WG", map[string]string{"nbdgm.destination_name": "WG<00>", "mailslot.name": `\MAILSLOT\WIRE\X`},
			datagram("17", da, "HOSTA<00>", "WG<00>", bcast, group)},
		{"direct group datagram to WG2", map[string]string{"nbdgm.destination_name": "WG2<00>", "ip.src": da},
			datagram("17", da, "HOSTA<00>", "WG2<00>", bcast, other)},
		{"A's host announcement to WG<1d>", map[string]string{"browser.command": "0x01"},
			map[string]string{"nbdgm.type": "17", "nbdgm.source_name": "HOSTA<00>", "nbdgm.destination_name": "WG<1d>",
				"ip.src": da, "ip.dst": bcast, "udp.srcport": "138", "mailslot.name": `\MAILSLOT\BROWSE`,
				"browser.server": "HOSTA", "browser.os_major": "4", "browser.os_minor": "9", "browser.server_type": "0x00000001",
				"browser.proto_major": "15", "browser.proto_minor": "1", "browser.sig": "0xaa55", "browser.comment": "wire test"}},
		{"B's announcement request to WG<00>", map[string]string{"browser.command": "0x02"},
			map[string]string{"nbdgm.type": "17", "nbdgm.source_name": "HOSTB<00>", "nbdgm.destination_name": "WG<00>",
				"ip.src": db, "ip.dst": bcast, "mailslot.name": `\MAILSLOT\BROWSE`, "browser.response_computer_name": "HOSTB"}},
		{`\\* from C: direct group datagram to WG2`, map[string]string{"nbdgm.destination_name": "WG2<00>", "ip.src": dc},
			datagram("17", dc, "HOSTC<00>", "WG2<00>", bcast, star)},
	}
	for _, k := range kinds {
		var cands []wireFrame
		for _, f := range frames {
			if f.matches(k.sel) {
				cands = append(cands, f)
			}
		}
		if len(cands) == 0 {
			t.Errorf("%s: no frame with %v", k.what, k.sel)
			continue
		}
		for _, f := range cands {
			for field, v := range k.want {
				if f[field] != v {
					t.Errorf("%s, frame %s: tshark %s = %q, want %q", k.what, f["frame.number"], field, f[field], v)
				}
			}
		}
	}

	// Each answer carries the id of the query it answers.
	for _, name := range []string{"HOSTB<00>", "WG2<00>"} {
		var ids, answered []string
		for _, f := range frames {
			if f["nbns.name"] != name {
				continue
			}
			if f["nbns.flags.response"] == "1" {
				answered = append(answered, f["nbns.id"])
			} else {
				ids = append(ids, f["nbns.id"])
			}
		}
		for _, id := range answered {
			if !slices.Contains(ids, id) {
				t.Errorf("answer for %s has id %s; the queries had %v", name, id, ids)
			}
		}
	}
	// Nobody answers for a name nobody has, not even negatively.
	for _, f := range frames {
		if f["nbns.name"] == "NOSUCHHOST<00>" && f["nbns.flags.response"] != "0" {
			t.Errorf("frame %s answers for NOSUCHHOST: flags %s", f["frame.number"], f["nbns.flags"])
		}
	}
}
