//go:build !windows

package cli

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/labtest"
)

// lanMessenger is the real `mailslot messenger` running on a lab host.
type lanMessenger struct {
	*lab.Host
	p *lab.Proc
}

// shown returns the messages the messenger has printed.
func (m lanMessenger) shown(t *testing.T) []alertJSON {
	t.Helper()
	var out []alertJSON
	for _, l := range strings.Split(m.p.Output(), "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var a alertJSON
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("%s printed %q: %v", m.Name, l, err)
		}
		out = append(out, a)
	}
	return out
}

// count returns how many messages with this text the messenger showed.
func (m lanMessenger) count(t *testing.T, text string) int {
	n := 0
	for _, a := range m.shown(t) {
		if a.Text == text {
			n++
		}
	}
	return n
}

// TestNetsendLAN runs mailslotd and the real `mailslot messenger` on four
// hosts, three in workgroup WG and one in OTHER, and sends with the real
// `mailslot netsend` from inside the hosts.
func TestNetsendLAN(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")         // names resolve inside the LAN only
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "") // no desktop notifications from the hosts
	l := lab.New(t)
	bin := labtest.BuildCmd(t, "mailslot")
	groups := map[string]string{"HOSTA": "WG", "HOSTB": "WG", "HOSTC": "WG", "HOSTD": "OTHER"}
	ms := map[string]lanMessenger{}
	for _, name := range []string{"HOSTA", "HOSTB", "HOSTC", "HOSTD"} {
		h := l.AddHost(name)
		labtest.StartDaemon(t, h, groups[name])
		// A long window: a broadcast the test sends again is shown once.
		p := h.Start(t, bin, "messenger", "--format", "json", "--dedup-window", "1m")
		if !p.WaitFor("serving", 10*time.Second) {
			t.Fatalf("messenger on %s did not start:\n%s", name, p.Output())
		}
		ms[name] = lanMessenger{h, p}
	}
	a, b, c, d := ms["HOSTA"], ms["HOSTB"], ms["HOSTC"], ms["HOSTD"]
	user := userName(&Env{Getenv: os.Getenv})

	netsend := func(from lanMessenger, args ...string) {
		t.Helper()
		out, err := from.Command(bin, append([]string{"netsend"}, args...)...).CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Fatalf("netsend %q on %s: %v: %s", args, from.Name, err, out)
		}
	}
	// A broadcast is a datagram and may be lost on a busy machine: send
	// it again (the messengers show copies once) until every host in want
	// has it, a few times at most.
	broadcast := func(from lanMessenger, want []lanMessenger, args ...string) {
		t.Helper()
		text := args[len(args)-1]
		for try := 0; try < 3; try++ {
			netsend(from, args...)
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				all := true
				for _, m := range want {
					all = all && m.count(t, text) > 0
				}
				if all {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	// A marker each messenger must show, sent last to it by name over
	// the stream port: once it is there, what was sent before has had
	// its chance to arrive too.
	barrier := func(tag string) {
		t.Helper()
		for _, m := range ms {
			netsend(a, m.Name, "barrier "+tag)
			if !m.p.WaitFor("barrier "+tag, 10*time.Second) {
				t.Fatalf("%s never showed barrier %s:\n%s", m.Name, tag, m.p.Output())
			}
		}
	}
	check := func(text string, want map[lanMessenger]int) {
		t.Helper()
		for m, n := range want {
			if got := m.count(t, text); got != n {
				t.Errorf("%s showed %q %d times, want %d:\n%s", m.Name, text, got, n, m.p.Output())
			}
		}
	}

	// `netsend *` from HOSTA: every computer of WG, HOSTA too, not OTHER.
	star := "Sauvegarde échouée à 3h, relancez-la" // CP850, the default, has every letter
	broadcast(a, []lanMessenger{a, b, c}, "*", star)
	starUTF8 := "Sauvegarde échouée — 5 min" // the em dash needs UTF-8
	broadcast(a, []lanMessenger{a, b, c}, "*", "--codepage", "utf-8", starUTF8)
	// To a workgroup by name, from another workgroup.
	toWG := "mise à jour à 18h"
	broadcast(d, []lanMessenger{a, b, c}, "WG", "--from", "Hélène", toWG)
	// To one computer: over mailslotd's stream port, no loss.
	netsend(c, "HOSTB", "--codepage", "utf-8", "rien que pour B — ok")
	netsend(a, "hostd", "lower-case name, other workgroup")
	barrier("1")

	check(star, map[lanMessenger]int{a: 1, b: 1, c: 1, d: 0})
	check(starUTF8, map[lanMessenger]int{a: 1, b: 1, c: 1, d: 0})
	check(toWG, map[lanMessenger]int{a: 1, b: 1, c: 1, d: 0})
	check("rien que pour B — ok", map[lanMessenger]int{a: 0, b: 1, c: 0, d: 0})
	check("lower-case name, other workgroup", map[lanMessenger]int{a: 0, b: 0, c: 0, d: 1})

	// Sender, recipient and origin as each receiver shows them.
	for _, x := range b.shown(t) {
		var from, to, origin string
		switch x.Text {
		case star, starUTF8:
			from, to, origin = user+"@HOSTA", "WG", `\\HOSTA (`+a.Addr.String()+":"
		case toWG:
			from, to, origin = "Hélène", "WG", `\\HOSTD (`+d.Addr.String()+":"
		case "rien que pour B — ok":
			from, to, origin = user+"@HOSTC", "HOSTB", `\\HOSTC (`+c.Addr.String()+":"
		default:
			continue
		}
		if x.From != from || x.To != to || !strings.HasPrefix(x.Origin, origin) {
			t.Errorf("HOSTB shows %+v; want from %q to %q, origin %s...", x, from, to, origin)
		}
	}

	t.Logf("HOSTB showed:\n%s", b.p.Output())

	// A messenger stops on SIGTERM with status 0.
	if err := d.p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.p.Wait(10 * time.Second); err != nil {
		t.Errorf("messenger on HOSTD after SIGTERM: %v\n%s", err, d.p.Output())
	}
}
