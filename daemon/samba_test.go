//go:build !windows && !mailslot_unit

package daemon_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/labtest"
	"github.com/mailslot-go/mailslot/internal/remote"
	"github.com/mailslot-go/mailslot/internal/testenv"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// sambaComment is nmbd's "server string", which it announces.
const sambaComment = "Samba lab host"

// nmbdMaster is the configuration that makes nmbd the workgroup's local
// master browser (it wins the election in about 20 s), the role in which
// it keeps a browse list of the computers that announce themselves.
var nmbdMaster = []string{
	"server string = " + sambaComment,
	"local master = yes", "preferred master = yes", "domain master = no", "os level = 65",
}

// createIn serves a slot from inside h (its sockets live in h's network
// namespace); the test reads it from anywhere.
func createIn(t *testing.T, h *lab.Host, name string) *mailslot.Slot {
	t.Helper()
	var s *mailslot.Slot
	if err := h.Run(func() (err error) { s, err = mailslot.Create(name, mailslot.WithNetwork()); return err }); err != nil {
		t.Fatalf("serve %s on %s: %v", name, h.Name, err)
	}
	return s
}

// nextAnnouncement reads s until a browser announcement from server
// comes, or the deadline.
func nextAnnouncement(t *testing.T, s *mailslot.Slot, server string, d time.Duration) (wire.Announcement, mailslot.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var heard []string
	for {
		m, err := s.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("no announcement from %s within %v (heard: %v): %v", server, d, heard, err)
		}
		f, err := wire.DecodeBrowser(m.Data)
		if err != nil {
			heard = append(heard, "undecodable: "+err.Error())
			continue
		}
		a, ok := f.(*wire.Announcement)
		if !ok {
			heard = append(heard, f.BrowserOpcode().String())
			continue
		}
		heard = append(heard, a.Opcode.String()+" "+a.ServerName)
		if a.ServerName == server {
			return *a, m
		}
	}
}

func announcementRequest(t *testing.T, from string) []byte {
	b, err := wire.AppendAnnouncementRequest(nil, &wire.AnnouncementRequest{ResponseName: from})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitNmbdNames waits until nmbd on s has registered its names on the
// LAN (its own name and its workgroup's go together, after a few seconds
// of defending them by broadcast): it answers a broadcast query for its
// name from h. Before that it ignores datagrams to those names.
func waitNmbdNames(t *testing.T, h, s *lab.Host, name string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := h.Command("nmblookup", "-B", s.Broadcast.String(), name).CombinedOutput()
		if err == nil && strings.Contains(string(out), s.Addr.String()+" "+name+"<00>") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nmbd did not register %s: %v\n%s", name, err, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitLog waits until p's output holds s.
func waitLog(t *testing.T, p *lab.Proc, what, s string, d time.Duration) {
	t.Helper()
	if !p.WaitFor(s, d) {
		t.Fatalf("%s: no %q within %v; log:\n%s", what, s, d, tail(p.Output(), 60))
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// TestSamba checks that mailslotd, our client and Samba's nmbd understand
// each other: announcements both ways, names both ways, and a mailslot
// datagram of ours that nmbd parses.
func TestSamba(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")
	testenv.LookPath(t, "nmblookup")
	cli := buildCmd(t, "mailslot")
	l := lab.New(t)
	a, s := l.AddHost("HOSTA"), l.AddHost("SAMBAHOST")
	d := startDaemon(t, a, "LABGROUP", "--announce", "--comment", "mailslot lab", "--announce-reply-delay", "200ms")

	// We hear Samba: nmbd announces itself as it starts.
	slot := createIn(t, a, `\\.\mailslot\browse`)
	start := time.Now()
	n := labtest.StartNmbd(t, s, "SAMBAHOST", "LABGROUP", 4, nmbdMaster...)
	ann, m := nextAnnouncement(t, slot, "SAMBAHOST", 15*time.Second)
	t.Logf("first announcement from nmbd after %v: %+v from %s", time.Since(start).Round(time.Millisecond), ann, m.From)
	if ann.Opcode != wire.OpHostAnnouncement || ann.ServerType&wire.SVTypeServer == 0 || ann.Comment != sambaComment ||
		!strings.Contains(m.From, s.Addr.String()) {
		t.Errorf("nmbd's announcement decoded as %+v from %s; want a HostAnnouncement of a server, comment %q, from %s", ann, m.From, sambaComment, s.Addr)
	}

	// nmbd takes datagrams only for names it has registered, which takes
	// it a few seconds (it defends them by broadcast first).
	waitNmbdNames(t, a, s, "SAMBAHOST")

	// Samba hears us: an AnnouncementRequest to the workgroup makes nmbd
	// announce itself again.
	if err := write(a, `\\LABGROUP\mailslot\browse`, announcementRequest(t, "HOSTA")); err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	waitLog(t, n.Proc, "nmbd did not take our AnnouncementRequest", "process_announce_request: Announce request from HOSTA<00>", 5*time.Second)
	ann, m = nextAnnouncement(t, slot, "SAMBAHOST", 30*time.Second)
	t.Logf("nmbd answered the AnnouncementRequest after %v: %s", time.Since(asked).Round(time.Millisecond), ann.Opcode)
	slot.Close()

	// mailslot read serves the slot as well, and mailslot send writes the
	// request: the real commands, with nmbd.
	rd := a.Start(t, cli, "read", "browse", "--network", "--format", "json")
	waitServed(t, a, `\\.\mailslot\browse`)
	req := filepath.Join(t.TempDir(), "request")
	if err := os.WriteFile(req, announcementRequest(t, "HOSTA"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := a.Command(cli, "send", `\\LABGROUP\mailslot\browse`, "--file", req).CombinedOutput(); err != nil {
		t.Fatalf("mailslot send the AnnouncementRequest: %v\n%s", err, out)
	}
	waitFor(t, "mailslot read to print nmbd's announcement", 10*time.Second, func() (bool, string) {
		for _, line := range strings.Split(rd.Output(), "\n") {
			var rec struct{ Data, Encoding, From string }
			if json.Unmarshal([]byte(line), &rec) != nil || rec.Encoding != "base64" {
				continue
			}
			b, _ := base64.StdEncoding.DecodeString(rec.Data)
			if f, err := wire.DecodeBrowser(b); err == nil {
				if a, ok := f.(*wire.Announcement); ok && a.ServerName == "SAMBAHOST" && a.Comment == sambaComment {
					return true, ""
				}
			}
		}
		return false, rd.Output()
	})
	rd.Stop()

	// mailslot browse --watch hears the LAN while nmbd becomes the
	// workgroup's master browser.
	watch := a.Start(t, cli, "browse", "--watch", "--format", "json")
	waitServed(t, a, `\\.\mailslot\browse`)

	// Names, both ways: nmblookup finds mailslotd, by unicast and by
	// broadcast; our client finds nmbd's computer by a NetBIOS broadcast
	// query and sends it a unicast datagram, which nmbd parses.
	for _, args := range [][]string{{"-U", a.Addr.String(), "HOSTA"}, {"-B", s.Broadcast.String(), "HOSTA"}} {
		out, err := s.Command("nmblookup", args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), a.Addr.String()+" HOSTA<00>") {
			t.Errorf("nmblookup %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := a.Run(func() error {
		w, err := remote.Open("SAMBAHOST", `lab\probe`)
		if err != nil {
			return err
		}
		defer w.Close()
		if res := w.Resolution(); res.Via != "netbios" || res.Group || res.Addr != s.Addr {
			return fmt.Errorf("SAMBAHOST resolved as %+v, want %s by a NetBIOS name query", res, s.Addr)
		}
		return w.Write([]byte("hello nmbd"), time.Second) // no stream port there: a datagram
	}); err != nil {
		t.Fatalf("write to SAMBAHOST: %v", err)
	}
	waitLog(t, n.Proc, "nmbd did not parse our datagram", `process_dgram: datagram from HOSTA<00> to SAMBAHOST<00> IP `+a.Addr.String()+` for \MAILSLOT\LAB\PROBE`, 5*time.Second)

	// Samba hears us: once nmbd is the master browser, it asks the
	// workgroup to announce; mailslotd --announce answers, and nmbd lists
	// HOSTA in its browse list.
	waitLog(t, n.Proc, "nmbd did not become master browser", "is now a local master browser for workgroup LABGROUP", 60*time.Second)
	waitLog(t, n.Proc, "nmbd did not list HOSTA", "Created server entry HOSTA of type", 30*time.Second)
	browseDat := filepath.Join(n.Dir, "cache", "browse.dat")
	waitFor(t, "nmbd to write HOSTA into "+browseDat, 45*time.Second, func() (bool, string) {
		b, err := os.ReadFile(browseDat)
		return strings.Contains(string(b), `"HOSTA"`) && strings.Contains(string(b), `"mailslot lab"`), fmt.Sprint(string(b), err)
	})
	// The watch heard nmbd's workgroup announcement as master.
	waitFor(t, "mailslot browse --watch to show workgroup LABGROUP", 10*time.Second, func() (bool, string) {
		out := watch.Output()
		return strings.Contains(out, `"kind":"workgroup","name":"LABGROUP"`) && strings.Contains(out, `"master":"SAMBAHOST"`), out
	})
	watch.Stop()

	// mailslot browse lists both computers and the workgroup's master.
	out, err := a.Command(cli, "browse", "--wait", "2s").CombinedOutput()
	t.Logf("mailslot browse:\n%s", out)
	if err != nil {
		t.Fatalf("mailslot browse: %v", err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^SAMBAHOST +` + regexp.QuoteMeta(s.Addr.String()) + ` +6\.1 +\S*server\S*master-browser\S* +` + sambaComment),
		regexp.MustCompile(`(?m)^HOSTA +` + regexp.QuoteMeta(a.Addr.String()) + ` +4\.9 +workstation +mailslot lab`),
	} {
		if !want.Match(out) {
			t.Errorf("mailslot browse output does not match %s", want)
		}
	}
	for _, bad := range []string{"malformed", "Discarding invalid", "ignoring too short"} {
		if strings.Contains(n.Output(), bad) {
			t.Errorf("nmbd logged %q:\n%s", bad, tail(n.Output(), 40))
		}
	}
	if st := d.Output(); strings.Contains(st, "dropped datagram") {
		t.Errorf("mailslotd could not decode a datagram of nmbd's:\n%s", st)
	}
}

// waitServed waits until a slot of that name is served on h.
func waitServed(t *testing.T, h *lab.Host, name string) {
	t.Helper()
	waitFor(t, name+" to be served on "+h.Name, 10*time.Second, func() (bool, string) {
		err := h.Run(func() error {
			c, err := mailslot.Open(name)
			if err == nil {
				c.Close()
			}
			return err
		})
		return err == nil, fmt.Sprint(err)
	})
}

// waitFor polls cond until it holds or d passes; cond's string explains
// a failure.
func waitFor(t *testing.T, what string, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last: %s", d, what, tail(why, 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
