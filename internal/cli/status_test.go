//go:build !windows

package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

// The table form: ports that are off, slot paths made printable, the
// slots beyond the counted ones, and slots hidden from other users.
func TestPrintStatus(t *testing.T) {
	st := daemon.Status{
		Name: "HOSTA", Workgroup: "WG", NamePort: -1, DgramPort: 138, StreamPort: 1138,
		Started: time.Now().Add(-time.Hour), Uptime: daemon.Duration(time.Hour),
		Interfaces: []daemon.IfaceStatus{{Name: "eth0", Addr: "10.0.0.1", Broadcast: "10.0.0.255"}},
		Stats:      daemon.Stats{Delivered: 12, QueueFull: 3},
		Slots: []daemon.SlotStats{
			{Path: `app\jobs`, Delivered: 10, Dropped: 3, QueueDepth: -1},
			{Path: "evil\x1b[2J\tx", Delivered: 2, QueueDepth: 7},
		},
		OtherSlots: &daemon.SlotStats{Delivered: 5, QueueDepth: -1},
		NodeType:   "H", Multicast: "239.255.13.8:138",
		WINS: []daemon.WINSName{
			{Server: "10.0.0.5:137", Name: "HOSTA<00>", State: daemon.WINSRegistered, TTL: daemon.Duration(6 * time.Hour)},
			{Server: "10.0.0.5:137", Name: "HOSTA<03>", State: daemon.WINSConflict, RCode: "ACT_ERR", Owner: "10.0.1.7"},
		},
	}
	var out bytes.Buffer
	if err := printStatus(&out, &st); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	words := strings.Join(strings.Fields(text), " ")
	for _, want := range []string{"computer HOSTA", "ports name off, datagram 138/udp, stream 1138/tcp", "(up 1h0m0s)",
		"interface eth0 10.0.0.1 (broadcast 10.0.0.255)", "records delivered 12", "slot full 3",
		"node type H multicast group 239.255.13.8:138", "wins 10.0.0.5:137 HOSTA<00> registered (ttl 6h0m0s)",
		"wins 10.0.0.5:137 HOSTA<03> conflict ACT_ERR (held by 10.0.1.7)",
		`SLOT DELIVERED DROPPED QUEUED app\jobs 10 3 - evil\x1b[2J\tx 2 0 7 (256+ others) 5 0 -`} {
		if !strings.Contains(words, want) {
			t.Errorf("status does not say %q:\n%s", want, text)
		}
	}
	if strings.ContainsAny(text, "\x1b") {
		t.Errorf("status printed an ESC:\n%q", text)
	}
	st.Slots, st.OtherSlots, st.SlotsHidden = nil, nil, true
	out.Reset()
	if err := printStatus(&out, &st); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "(slots are shown to root and mailslotd's users only)\n") {
		t.Errorf("hidden slots:\n%s", out.String())
	}
}

// With no mailslotd in a fresh network namespace, status says so in one
// line and fails.
func TestStatusNoDaemon(t *testing.T) {
	testenv.Root(t)
	cmd := exec.Command("unshare", "-n", os.Args[0], "-test.run=^TestStatusHelper$")
	cmd.Env = append(os.Environ(), "MAILSLOT_STATUS_HELPER=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "STATUS 1 mailslot status: computer unreachable: no mailslotd runs on this computer") {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestStatusHelper runs `status` for TestStatusNoDaemon inside its namespace.
func TestStatusHelper(t *testing.T) {
	if os.Getenv("MAILSLOT_STATUS_HELPER") == "" {
		return
	}
	r := runCLI("", "status")
	fmt.Printf("STATUS %d %s", r.code, r.stderr)
}
