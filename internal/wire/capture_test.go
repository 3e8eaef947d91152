package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readHexLines reads a testdata file of hex UDP payloads, one per line.
func readHexLines(tb testing.TB, name string) [][]byte {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(out) == 0 {
		tb.Fatalf("%s: no packets", name)
	}
	return out
}

var (
	sambaIP   = netip.MustParseAddr("10.213.7.1")
	clientIP  = netip.MustParseAddr("10.213.7.2")
	sambaHost = MustName("SAMBAHOST", SuffixWorkstation)
)

// TestCaptureDatagrams decodes every datagram of the capture and checks
// what nmbd is known to send: browser frames from SAMBAHOST<00> on
// \MAILSLOT\BROWSE, as DIRECT_GROUP datagrams flagged M node + first. The
// capture also holds the two datagrams testdata/sendframes (package wire)
// sent to nmbd, which nmbd accepted (see nmbd-log-excerpt.txt).
func TestCaptureDatagrams(t *testing.T) {
	pkts := readHexLines(t, "nmbd-dgm.hex")
	seen := map[BrowserOpcode]int{}
	ours := 0
	for i, b := range pkts {
		d, w, err := DecodeMailslotDatagram(b)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if d.SourceIP == clientIP {
			ours++
			checkOurDatagram(t, i, b, d, w)
			continue
		}
		if d.Type != DirectGroup {
			t.Errorf("packet %d: MSG_TYPE %v, nmbd sends DIRECT_GROUP", i, d.Type)
		}
		if d.Flags != 0x0a || d.Flags.NodeType() != MNode || !d.Flags.First() || d.Flags.More() {
			t.Errorf("packet %d: FLAGS %#x (node %v)", i, d.Flags, d.Flags.NodeType())
		}
		if d.SourceIP != sambaIP || d.SourcePort != 138 || d.PacketOffset != 0 {
			t.Errorf("packet %d: source %v:%d offset %d", i, d.SourceIP, d.SourcePort, d.PacketOffset)
		}
		if d.SourceName != sambaHost {
			t.Errorf("packet %d: SOURCE_NAME %v", i, d.SourceName)
		}
		if w.Name != BrowseMailslot || w.Class != ClassUnreliable || w.Priority != 1 || w.Timeout != 0 {
			t.Errorf("packet %d: mailslot write %+v", i, w)
		}
		// nmbd puts the data right after the name: no padding.
		if off := len(b) - len(w.Data); !bytes.Equal(b[off-len(BrowseMailslot)-1:off], append([]byte(BrowseMailslot), 0)) {
			t.Errorf("packet %d: data does not follow the name directly", i)
		}
		f, err := DecodeBrowser(w.Data)
		if err != nil {
			t.Fatalf("packet %d: browser: %v", i, err)
		}
		seen[f.BrowserOpcode()]++
		switch f := f.(type) {
		case *Announcement:
			if f.Signature != BrowserSignature || f.BrowserVersionMajor != 15 || f.BrowserVersionMinor != 1 {
				t.Errorf("packet %d: %+v", i, f)
			}
			switch f.Opcode {
			case OpHostAnnouncement:
				checkSambaAnnouncement(t, i, d, f, MustName("LABGROUP", SuffixMasterBrowser), SVTypePotentialBrowser)
			case OpLocalMasterAnnouncement:
				checkSambaAnnouncement(t, i, d, f, MustName("LABGROUP", SuffixBrowserElect), SVTypeMasterBrowser)
			case OpDomainAnnouncement:
				if d.DestinationName != BrowseMasterName() {
					t.Errorf("packet %d: DomainAnnouncement to %v", i, d.DestinationName)
				}
				if f.ServerName != "LABGROUP" || f.Comment != "SAMBAHOST" || f.ServerType&SVTypeDomainEnum == 0 {
					t.Errorf("packet %d: DomainAnnouncement %+v", i, f)
				}
			}
		case *AnnouncementRequest:
			if f.ResponseName != "SAMBAHOST" || d.DestinationName != MustName("LABGROUP", SuffixBrowserElect) {
				t.Errorf("packet %d: %+v to %v", i, f, d.DestinationName)
			}
		case *RequestElection:
			if f.ServerName != "SAMBAHOST" || f.Version != 1 || f.Criteria>>24 != 65 || d.DestinationName != MustName("LABGROUP", SuffixBrowserElect) {
				t.Errorf("packet %d: %+v to %v (os level %d)", i, f, d.DestinationName, f.Criteria>>24)
			}
		}
		// What we decode, we encode back to the very same bytes.
		again, err := AppendMailslotDatagram(nil, &Datagram{Type: d.Type, Flags: d.Flags, ID: d.ID,
			SourceIP: d.SourceIP, SourcePort: d.SourcePort, SourceName: d.SourceName, DestinationName: d.DestinationName}, &w)
		if err != nil {
			t.Fatalf("packet %d: re-encode: %v", i, err)
		}
		if !bytes.Equal(again, b) {
			t.Errorf("packet %d: re-encoded differs\n got %x\nwant %x", i, again, b)
		}
	}
	for _, op := range []BrowserOpcode{OpHostAnnouncement, OpAnnouncementRequest, OpRequestElection,
		OpLocalMasterAnnouncement, OpDomainAnnouncement} {
		if seen[op] == 0 {
			t.Errorf("no %v from nmbd in the capture", op)
		}
	}
	if ours != 4 {
		t.Errorf("%d datagrams from sendframes in the capture, want 4", ours)
	}
	// nmbd's own log of the same run says it accepted both.
	log, err := os.ReadFile(filepath.Join("testdata", "nmbd-log-excerpt.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"process_host_announce: from MAILSLOTHOST<00> IP 10.213.7.2 to LABGROUP<1d> for server MAILSLOTHOST.",
		"Created server entry MAILSLOTHOST of type 40001003 (sent by package wire) on workgroup LABGROUP.",
		"process_announce_request: Announce request from MAILSLOTHOST<00> IP 10.213.7.2 to LABGROUP<00>.",
		"status request for name *<00> from IP 10.213.7.2",
		// The 576-byte datagram is accepted...
		"Created server entry EXACTHOST of type 40000001 (408-byte record) on workgroup LABGROUP.",
	} {
		if !strings.Contains(string(log), want) {
			t.Errorf("nmbd-log-excerpt.txt lacks %q", want)
		}
	}
	// ... and the 592-byte one (a 424-byte record) silently dropped.
	if strings.Contains(string(log), "RULEHOST") {
		t.Errorf("nmbd accepted the 592-byte datagram:\n%s", log)
	}
}

// checkOurDatagram checks a datagram that sendframes encoded with this
// package: decoding gives back what it sent, byte for byte.
func checkOurDatagram(t *testing.T, i int, b []byte, d Datagram, w MailslotWrite) {
	t.Helper()
	src := MustName("MAILSLOTHOST", SuffixWorkstation)
	if d.Type != DirectGroup || d.Flags != NewDatagramFlags(BNode) || d.SourceName != src || d.SourcePort != 138 ||
		w.Name != BrowseMailslot || w.Class != ClassUnreliable {
		t.Errorf("packet %d: %+v %+v", i, d, w)
	}
	f, err := DecodeBrowser(w.Data)
	if err != nil {
		t.Fatalf("packet %d: %v", i, err)
	}
	var frame []byte
	switch f := f.(type) {
	case *Announcement:
		if f.Opcode != OpHostAnnouncement || d.DestinationName != MustName("LABGROUP", SuffixMasterBrowser) {
			t.Errorf("packet %d: %+v", i, f)
		}
		frame, err = AppendAnnouncement(nil, f)
		// EXACTHOST and RULEHOST pad their frames with zeros to 408 and 424
		// bytes, to make datagrams of 576 and 592 bytes.
		switch want := map[string]int{"MAILSLOTHOST": len(frame), "EXACTHOST": 408, "RULEHOST": 424}[f.ServerName]; {
		case want == 0:
			t.Errorf("packet %d: unexpected server %q", i, f.ServerName)
		case len(w.Data) != want || len(b) != want+DatagramHeaderSize+2*EncodedNameLen+MailslotWriteLen(len(BrowseMailslot), 0):
			t.Errorf("packet %d: %s: %d-byte record in %d bytes", i, f.ServerName, len(w.Data), len(b))
		case f.ServerName != "MAILSLOTHOST":
			if f.Comment != strconv.Itoa(want)+"-byte record" || !bytes.Equal(w.Data[len(frame):], make([]byte, want-len(frame))) {
				t.Errorf("packet %d: %+v", i, f)
			}
			frame = append(frame, make([]byte, want-len(frame))...)
		case f.Comment != "sent by package wire":
			t.Errorf("packet %d: %+v", i, f)
		}
	case *AnnouncementRequest:
		if f.ResponseName != "MAILSLOTHOST" || d.DestinationName != MustName("LABGROUP", 0) {
			t.Errorf("packet %d: %+v", i, f)
		}
		frame, err = AppendAnnouncementRequest(nil, f)
	default:
		t.Errorf("packet %d: unexpected %T", i, f)
	}
	if err != nil || !bytes.Equal(frame, w.Data) {
		t.Errorf("packet %d: frame re-encodes to % x (%v), sent % x", i, frame, err, w.Data)
	}
}

func checkSambaAnnouncement(t *testing.T, i int, d Datagram, a *Announcement, dst Name, role uint32) {
	t.Helper()
	if d.DestinationName != dst {
		t.Errorf("packet %d: %v to %v, want %v", i, a.Opcode, d.DestinationName, dst)
	}
	if a.ServerName != "SAMBAHOST" || a.Comment != "mailslot capture host" {
		t.Errorf("packet %d: %+v", i, a)
	}
	const want = SVTypeWorkstation | SVTypeServer | SVTypeNT | SVTypeServerNT
	if a.ServerType&want != want || a.ServerType&role == 0 {
		t.Errorf("packet %d: ServerType %#x", i, a.ServerType)
	}
	if a.OSVersionMajor != 6 || a.OSVersionMinor != 1 || a.Periodicity == 0 {
		t.Errorf("packet %d: %+v", i, a)
	}
}

// TestCaptureNameService decodes every name service packet of the
// capture: nmbd's registrations and queries, nmblookup's queries, and
// nmbd's positive, negative and node status responses.
func TestCaptureNameService(t *testing.T) {
	pkts := readHexLines(t, "nmbd-ns.hex")
	var regs, queries, positive, negative, status int
	registered := map[Name]bool{}
	for i, b := range pkts {
		p, err := DecodeNameService(b)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		// Re-encoding gives the same bytes (nmbd compresses the additional
		// record's name as we do).
		again, err := AppendNameService(nil, &p)
		if err != nil {
			t.Fatalf("packet %d: re-encode: %v", i, err)
		}
		if !bytes.Equal(again, b) {
			t.Errorf("packet %d: re-encoded differs\n got %x\nwant %x", i, again, b)
		}
		switch {
		case !p.Response && p.Opcode == OpRegistration:
			regs++
			if p.Flags != FlagRecursionDesired|FlagBroadcast || len(p.Questions) != 1 || len(p.Additional) != 1 {
				t.Fatalf("packet %d: registration %+v", i, p)
			}
			rr := p.Additional[0]
			if rr.Name != p.Questions[0].Name || rr.Type != TypeNB {
				t.Errorf("packet %d: additional record %+v", i, rr)
			}
			addrs, err := DecodeNBAddresses(rr.Data)
			if err != nil || len(addrs) != 1 || addrs[0].IP != sambaIP || addrs[0].Flags.NodeType() != BNode {
				t.Errorf("packet %d: %v %v", i, addrs, err)
			}
			registered[rr.Name.WithSuffix(0)] = true
			if g := addrs[0].Flags.Group(); g != (rr.Name.Name() == "LABGROUP" && rr.Name.Suffix() != SuffixMasterBrowser ||
				rr.Name == BrowseMasterName()) {
				t.Errorf("packet %d: %v group=%v", i, rr.Name, g)
			}
		case !p.Response && p.Opcode == OpQuery:
			queries++
			if len(p.Questions) != 1 {
				t.Fatalf("packet %d: %+v", i, p)
			}
		case p.Response && p.Opcode == OpQuery && p.RCode == RCodeName:
			negative++
			if len(p.Answers) != 1 || p.Answers[0].Type != TypeNULL || len(p.Answers[0].Data) != 0 ||
				p.Answers[0].Name != MustName("NOSUCHHOST", 0) {
				t.Errorf("packet %d: negative response %+v", i, p)
			}
		case p.Response && p.Opcode == OpQuery && len(p.Answers) == 1 && p.Answers[0].Type == TypeNBSTAT:
			status++
			st, err := DecodeNodeStatus(p.Answers[0].Data)
			if err != nil {
				t.Fatalf("packet %d: %v", i, err)
			}
			names := map[string]NameFlags{}
			for _, e := range st.Names {
				names[e.Name.String()] = e.Flags
			}
			for n, group := range map[string]bool{"SAMBAHOST<00>": false, "SAMBAHOST<20>": false,
				"LABGROUP<00>": true, "LABGROUP<1e>": true, "<01><02>__MSBROWSE__<02><01>": true} {
				f, ok := names[n]
				if !ok || f.Group() != group || f&NameFlagActive == 0 {
					t.Errorf("packet %d: node status lacks %s (group %v): %v", i, n, group, names)
				}
			}
			if len(st.Statistics) != NodeStatisticsLen-6 {
				t.Errorf("packet %d: %d bytes of statistics", i, len(st.Statistics))
			}
		case p.Response && p.Opcode == OpQuery && p.RCode == RCodeOK:
			positive++
			addrs, err := DecodeNBAddresses(p.Answers[0].Data)
			if err != nil || len(addrs) != 1 || addrs[0].IP != sambaIP {
				t.Errorf("packet %d: %v %v", i, addrs, err)
			}
			if p.Flags&FlagAuthoritative == 0 || p.Answers[0].TTL == 0 {
				t.Errorf("packet %d: %+v", i, p)
			}
		default:
			t.Errorf("packet %d: unexpected %+v", i, p)
		}
	}
	if regs == 0 || queries == 0 || positive == 0 || negative != 1 || status != 2 {
		t.Errorf("registrations %d, queries %d, positive %d, negative %d, node status %d", regs, queries, positive, negative, status)
	}
	for _, n := range []string{"SAMBAHOST<00>", "LABGROUP<00>", "<01><02>__MSBROWSE__<02><00>"} {
		nm, err := ParseName(n)
		if err != nil {
			t.Fatal(err)
		}
		if !registered[nm] {
			t.Errorf("nmbd did not register %s (registered %v)", n, registered)
		}
	}
}

// TestCaptureMutations checks that corrupting a real packet is detected,
// not silently decoded into something else.
func TestCaptureMutations(t *testing.T) {
	b := readHexLines(t, "nmbd-dgm.hex")[0]
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	const smb = DatagramHeaderSize + 2*EncodedNameLen
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"truncated", b[:len(b)-1], ErrShort},
		{"extra byte", append(append([]byte(nil), b...), 0), ErrMalformed},
		{"DGM_LENGTH+1", mut(func(b []byte) []byte { b[11]++; return b }), ErrShort},
		{"name label length", mut(func(b []byte) []byte { b[14] = 31; return b }), ErrMalformed},
		{"name letter", mut(func(b []byte) []byte { b[15] = 'Z'; return b }), ErrMalformed},
		{"SMB signature", mut(func(b []byte) []byte { b[smb+1] = 'X'; return b }), ErrMalformed},
		{"command", mut(func(b []byte) []byte { b[smb+4] = 0x32; return b }), ErrUnsupported},
		{"word count", mut(func(b []byte) []byte { b[smb+32] = 16; return b }), ErrMalformed},
		{"setup count", mut(func(b []byte) []byte { b[smb+59] = 2; return b }), ErrMalformed},
		{"opcode", mut(func(b []byte) []byte { b[smb+61] = 2; return b }), ErrUnsupported},
		{"class", mut(func(b []byte) []byte { b[smb+65] = 3; return b }), ErrMalformed},
		{"total data count", mut(func(b []byte) []byte { b[smb+35]++; return b }), ErrMalformed},
		{"data offset into name", mut(func(b []byte) []byte { b[smb+57] -= 2; return b }), ErrMalformed},
		{"data offset past end", mut(func(b []byte) []byte { b[smb+57] += 2; return b }), ErrShort},
		{"data count past end", mut(func(b []byte) []byte { b[smb+55]++; b[smb+35]++; return b }), ErrShort},
		{"byte count past end", mut(func(b []byte) []byte { b[smb+67]++; return b }), ErrShort},
		{"not a mailslot", mut(func(b []byte) []byte { b[smb+70] = 'P'; return b }), ErrInvalidName},
		{"name unterminated", mut(func(b []byte) []byte {
			b[smb+67], b[smb+68] = 10, 0
			return b
		}), ErrMalformed},
		{"reply", mut(func(b []byte) []byte { b[smb+9] |= 0x80; return b }), ErrMalformed},
		{"fragment", mut(func(b []byte) []byte { b[1] |= 1; return b }), ErrUnsupported},
		{"not a data datagram", mut(func(b []byte) []byte { b[0] = 0x17; return b }), ErrUnsupported},
	}
	for _, c := range cases {
		_, _, err := DecodeMailslotDatagram(c.b)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		var fe *FieldError
		if err != nil && !errors.As(err, &fe) {
			t.Errorf("%s: %v is not a *FieldError", c.name, err)
		}
	}
}
