//go:build !windows

package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/testenv"
	"github.com/mailslot-go/mailslot/internal/wire"
)

func TestBrowseEntryOf(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	ann := func(a wire.Announcement) []byte {
		a.BrowserVersionMajor, a.BrowserVersionMinor, a.Signature = wire.BrowserVersionMajor, wire.BrowserVersionMinor, wire.BrowserSignature
		b, err := wire.AppendAnnouncement(nil, &a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	req, _ := wire.AppendAnnouncementRequest(nil, &wire.AnnouncementRequest{ResponseName: "HOSTA"})
	for _, tc := range []struct {
		name string
		data []byte
		from string
		want *browseEntry // nil: not listed
		err  bool
	}{
		{"host", ann(wire.Announcement{Opcode: wire.OpHostAnnouncement, ServerName: "SAMBAHOST", OSVersionMajor: 6, OSVersionMinor: 1,
			ServerType: wire.SVTypeWorkstation | wire.SVTypeServer, Comment: "Samba"}), `\\SAMBAHOST (10.0.0.2:138)`,
			&browseEntry{Kind: "computer", Name: "SAMBAHOST", Address: "10.0.0.2", OS: "6.1", Type: []string{"workstation", "server"}, Comment: "Samba", Time: now}, false},
		{"local master", ann(wire.Announcement{Opcode: wire.OpLocalMasterAnnouncement, ServerName: "LMB", OSVersionMajor: 10,
			ServerType: wire.SVTypeMasterBrowser}), `\\LMB (10.0.0.3:138)`,
			&browseEntry{Kind: "computer", Name: "LMB", Address: "10.0.0.3", OS: "10.0", Type: []string{"master-browser"}, Time: now}, false},
		{"domain", ann(wire.Announcement{Opcode: wire.OpDomainAnnouncement, ServerName: "LABGROUP", ServerType: wire.SVTypeDomainEnum | wire.SVTypeNT,
			Comment: "SAMBAHOST"}), `\\SAMBAHOST (10.0.0.2:138)`,
			&browseEntry{Kind: "workgroup", Name: "LABGROUP", Address: "10.0.0.2", Type: []string{"nt", "domain-enum"}, Master: "SAMBAHOST", Time: now}, false},
		{"request is not listed", req, `\\HOSTA (10.0.0.1:138)`, nil, false},
		{"other opcode is not listed", []byte{byte(wire.OpGetBackupListRequest), 1, 2, 3, 4, 5}, "x", nil, false},
		{"truncated announcement", ann(wire.Announcement{Opcode: wire.OpHostAnnouncement, ServerName: "X"})[:10], "x", nil, true},
		{"empty", nil, "x", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, ok, err := browseEntryOf(mailslot.Message{Data: tc.data, From: tc.from, Time: now})
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if ok != (tc.want != nil) {
				t.Fatalf("listed = %v, want %v (%+v)", ok, tc.want != nil, e)
			}
			if tc.want != nil && describeJSON(t, e) != describeJSON(t, *tc.want) {
				t.Errorf("entry\n %+v\nwant\n %+v", e, *tc.want)
			}
		})
	}
}

func describeJSON(t *testing.T, e browseEntry) string {
	var b bytes.Buffer
	if err := printBrowseList(&b, "WG", map[string]browseEntry{"k": e}, true); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestSenderAddr(t *testing.T) {
	for from, want := range map[string]string{
		`\\SAMBAHOST (10.0.0.2:138)`: "10.0.0.2",
		`\\A (B) (10.0.0.9:1138)`:    "10.0.0.9",
		"local pid 4 uid 0":          "",
		`\\X (10.0.0.1)`:             "10.0.0.1",
	} {
		if got := senderAddr(from); got != want {
			t.Errorf("senderAddr(%q) = %q, want %q", from, got, want)
		}
	}
}

func TestPrintBrowseList(t *testing.T) {
	seen := map[string]browseEntry{
		"computer\x00B": {Kind: "computer", Name: "B", Address: "10.0.0.2", OS: "6.1", Type: []string{"workstation", "server"}, Comment: "bee"},
		"computer\x00A": {Kind: "computer", Name: "A", Address: "10.0.0.1", OS: "4.9", Type: []string{"workstation"}, Comment: "mailslotd"},
	}
	var b bytes.Buffer
	if err := printBrowseList(&b, "WG", seen, false); err != nil {
		t.Fatal(err)
	}
	want := `COMPUTER  ADDRESS   OS   TYPE                COMMENT
A         10.0.0.1  4.9  workstation         mailslotd
B         10.0.0.2  6.1  workstation,server  bee

WORKGROUP  MASTER BROWSER  ADDRESS
(no master browser announced its workgroup)
`
	if got := b.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	b.Reset()
	if err := printBrowseList(&b, "WG", nil, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "(none answered in workgroup WG)") {
		t.Errorf("empty list:\n%s", b.String())
	}
}

func TestBrowseNeedsDaemon(t *testing.T) {
	// A machine that runs mailslotd has nothing to check here: ask it
	// first, so that a browse that wrongly succeeds cannot pass as one.
	if info, err := hostinfo.LookupChecked(); err != nil || info.Daemon {
		testenv.Missing(t, fmt.Sprintf("a computer without mailslotd (one answers: %v, %v)", info.Daemon, err))
	}
	r := runCLI("", "browse", "--wait", "10ms")
	if r.code != 1 || !strings.Contains(r.stderr, "no mailslotd runs on this computer") {
		t.Errorf("browse without mailslotd: exit %d, stderr %q", r.code, r.stderr)
	}
}
