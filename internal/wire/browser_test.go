package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestBrowserRoundTrip(t *testing.T) {
	host := Announcement{Opcode: OpHostAnnouncement, UpdateCount: 3, Periodicity: 720000, ServerName: "MAILSLOTHOST",
		OSVersionMajor: 10, OSVersionMinor: 0, ServerType: SVTypeWorkstation | SVTypeServer | SVTypeNT | SVTypePotentialBrowser,
		BrowserVersionMajor: BrowserVersionMajor, BrowserVersionMinor: BrowserVersionMinor, Signature: BrowserSignature,
		Comment: "a mailslot host"}
	lma := host
	lma.Opcode, lma.ServerName, lma.Comment = OpLocalMasterAnnouncement, "FIFTEEN-CHARS-X", strings.Repeat("c", MaxAnnouncementComment)
	dom := host
	dom.Opcode, dom.ServerName, dom.Comment, dom.ServerType = OpDomainAnnouncement, "LABGROUP", "MAILSLOTHOST", SVTypeNT|SVTypeDomainEnum
	empty := Announcement{Opcode: OpHostAnnouncement}

	for _, a := range []Announcement{host, lma, dom, empty} {
		b, err := AppendAnnouncement([]byte{0xEE}, &a)
		if err != nil {
			t.Fatalf("%v: %v", a.Opcode, err)
		}
		b = b[1:]
		if len(b) != 32+len(a.Comment)+1 || b[len(b)-1] != 0 {
			t.Errorf("%v: %d bytes", a.Opcode, len(b))
		}
		f, err := DecodeBrowser(b)
		if err != nil {
			t.Fatalf("%v: %v", a.Opcode, err)
		}
		if got, ok := f.(*Announcement); !ok || !reflect.DeepEqual(*got, a) {
			t.Errorf("got %+v, want %+v", f, a)
		}
	}

	req := AnnouncementRequest{ResponseName: "MAILSLOTHOST"}
	b, err := AppendAnnouncementRequest(nil, &req)
	if err != nil || !bytes.Equal(b, []byte("\x02\x00MAILSLOTHOST\x00")) {
		t.Fatalf("% x %v", b, err)
	}
	if f, err := DecodeBrowser(b); err != nil || !reflect.DeepEqual(f, &req) {
		t.Errorf("%+v %v", f, err)
	}

	el := RequestElection{Version: 1, Criteria: 0x41010f0a, Uptime: 6000, ServerName: "SAMBAHOST"}
	b, err = AppendRequestElection(nil, &el)
	if err != nil || len(b) != 14+10 {
		t.Fatalf("% x %v", b, err)
	}
	if f, err := DecodeBrowser(b); err != nil || !reflect.DeepEqual(f, &el) || f.BrowserOpcode() != OpRequestElection {
		t.Errorf("%+v %v", f, err)
	}
}

func TestBrowserQuirks(t *testing.T) {
	// nmbd's AnnouncementRequest: token 1, an extra NUL, the name without
	// its NUL.
	r, err := DecodeAnnouncementRequest([]byte("\x02\x01\x00SAMBAHOST"))
	if err != nil || r.ResponseName != "SAMBAHOST" || r.Reserved != 1 {
		t.Errorf("%+v %v", r, err)
	}
	// A comment without NUL runs to the end; bytes after the NUL are ignored.
	a := Announcement{Opcode: OpHostAnnouncement, Comment: "abc"}
	b, _ := AppendAnnouncement(nil, &a)
	if got, err := DecodeAnnouncement(b[:len(b)-1]); err != nil || got.Comment != "abc" {
		t.Errorf("%+v %v", got, err)
	}
	if got, err := DecodeAnnouncement(append(b, "junk"...)); err != nil || got.Comment != "abc" {
		t.Errorf("%+v %v", got, err)
	}
	// The fixed part alone is an announcement with no comment.
	if got, err := DecodeAnnouncement(b[:announcementFixedLen]); err != nil || got.Comment != "" || got.Opcode != OpHostAnnouncement {
		t.Errorf("fixed part alone: %+v %v", got, err)
	}
	if _, err := DecodeAnnouncement(b[:announcementFixedLen-1]); !errors.Is(err, ErrShort) {
		t.Errorf("one byte short: %v", err)
	}
	// An AnnouncementRequest of 2 or 3 bytes has an empty name.
	for _, b := range []string{"\x02\x01", "\x02\x01\x00"} {
		if r, err := DecodeAnnouncementRequest([]byte(b)); err != nil || r.ResponseName != "" || r.Reserved != 1 {
			t.Errorf("%q: %+v %v", b, r, err)
		}
	}
	if r, err := DecodeAnnouncementRequest([]byte("\x02\x01\x00X")); err != nil || r.ResponseName != "X" {
		t.Errorf("nmbd's one-letter name: %+v %v", r, err)
	}
	// A RequestElection of exactly its fixed part has an empty name.
	if e, err := DecodeRequestElection(append([]byte{8, 1}, make([]byte, 12)...)); err != nil || e.ServerName != "" || e.Version != 1 {
		t.Errorf("election fixed part alone: %+v %v", e, err)
	}
	// A 16-byte server name with no NUL is taken whole.
	copy(b[6:22], "ABCDEFGHIJKLMNOP")
	if got, err := DecodeAnnouncement(b); err != nil || got.ServerName != "ABCDEFGHIJKLMNOP" {
		t.Errorf("%+v %v", got, err)
	}
}

func TestBrowserErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"unknown opcode", []byte{0x0D, 'X', 0}, ErrUnsupported},
		{"short announcement", make([]byte, 31), ErrUnsupported}, // opcode 0
		{"short host announcement", append([]byte{1}, make([]byte, 30)...), ErrShort},
		{"short request", []byte{2}, ErrShort},
		{"short election", []byte{8, 1, 2, 3}, ErrShort},
		{"opcode alone, unknown", []byte{0x0B}, ErrUnsupported},
		{"opcode alone, announcement", []byte{1}, ErrShort},
		{"election one short", append([]byte{8}, make([]byte, 12)...), ErrShort},
	} {
		if _, err := DecodeBrowser(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	for _, b := range [][]byte{{2, 0}, {2}, {0x0B}} {
		if _, err := DecodeAnnouncement(b); !errors.Is(err, ErrUnsupported) {
			t.Errorf("% x: %v", b, err)
		}
	}
	if _, err := DecodeAnnouncementRequest([]byte{1, 0}); !errors.Is(err, ErrUnsupported) {
		t.Error(err)
	}
	if _, err := DecodeRequestElection(make([]byte, 14)); !errors.Is(err, ErrUnsupported) {
		t.Error(err)
	}
	for _, c := range []struct {
		a    Announcement
		want error
	}{
		{Announcement{Opcode: OpAnnouncementRequest}, ErrMalformed},
		{Announcement{Opcode: OpHostAnnouncement, ServerName: "SIXTEEN-CHARS-XY"}, ErrNameTooLong},
		{Announcement{Opcode: OpHostAnnouncement, Comment: strings.Repeat("c", 43)}, ErrTooLarge},
		{Announcement{Opcode: OpHostAnnouncement, Comment: "nul\x00inside"}, ErrInvalidName},
	} {
		_, err := AppendAnnouncement(nil, &c.a)
		checkEncodeErr(t, fmt.Sprintf("%+v", c.a), err, c.want)
	}
	_, err := AppendAnnouncementRequest(nil, &AnnouncementRequest{ResponseName: "SIXTEEN-CHARS-XY"})
	checkEncodeErr(t, "AnnouncementRequest", err, ErrNameTooLong)
	_, err = AppendRequestElection(nil, &RequestElection{ServerName: "a\tb"})
	checkEncodeErr(t, "RequestElection", err, ErrInvalidName)
	if OpLocalMasterAnnouncement.String() != "LocalMasterAnnouncement" || BrowserOpcode(0x42).String() != "BrowserOpcode(0x42)" {
		t.Error("String")
	}
}

func TestServerTypeNames(t *testing.T) {
	for _, tc := range []struct {
		t    uint32
		want string
	}{
		{0, ""},
		{SVTypeWorkstation, "workstation"},
		{0x00849a03, "workstation server print-queue unix nt server-nt master-browser dfs"},
		{0x40001003, "workstation server nt local-list-only"},
		{SVTypeDomainEnum | SVTypeNT, "nt domain-enum"},
		{1 << 27, "0x8000000"},
		{1 << 31, "domain-enum"},
		{0xFFFFFFFF, "workstation server sql-server domain-controller backup-domain-controller time-source afp novell " +
			"domain-member print-queue dialin unix nt wfw mfpn server-nt potential-browser backup-browser master-browser " +
			"domain-master osf vms windows dfs cluster-nt terminal-server cluster-vs-nt 0x8000000 dce alternate-xport " +
			"local-list-only domain-enum"},
	} {
		if got := strings.Join(ServerTypeNames(tc.t), " "); got != tc.want {
			t.Errorf("ServerTypeNames(%#x) = %q, want %q", tc.t, got, tc.want)
		}
	}
}
