package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/internal/testenv"
)

// pcapWriter writes a classic libpcap file of Ethernet/IPv4/UDP frames.
type pcapWriter struct {
	buf bytes.Buffer
	n   int
}

func newPcap() *pcapWriter {
	w := &pcapWriter{}
	le := binary.LittleEndian
	var h [24]byte
	le.PutUint32(h[0:], 0xa1b2c3d4) // magic, microsecond timestamps
	le.PutUint16(h[4:], 2)          // version 2.4
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], 262144) // snaplen
	le.PutUint32(h[20:], 1)      // LINKTYPE_ETHERNET
	w.buf.Write(h[:])
	return w
}

// ipChecksum is the Internet checksum of an IPv4 header.
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xFFFF {
		sum = sum&0xFFFF + sum>>16
	}
	return ^uint16(sum)
}

// udpChecksum computes the UDP checksum over the IPv4 pseudo-header.
func udpChecksum(src, dst [4]byte, udp []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i < len(b); i += 2 {
			if i+1 < len(b) {
				sum += uint32(binary.BigEndian.Uint16(b[i:]))
			} else {
				sum += uint32(b[i]) << 8
			}
		}
	}
	add(src[:])
	add(dst[:])
	sum += 17 + uint32(len(udp))
	add(udp)
	for sum > 0xFFFF {
		sum = sum&0xFFFF + sum>>16
	}
	c := ^uint16(sum)
	if c == 0 {
		c = 0xFFFF
	}
	return c
}

// add appends one frame carrying payload from src:sport to dst:dport.
func (w *pcapWriter) add(src, dst netip.Addr, sport, dport uint16, payload []byte) {
	be := binary.BigEndian
	s4, d4 := src.As4(), dst.As4()
	frame := make([]byte, 0, 14+20+8+len(payload))
	frame = append(frame, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // destination MAC: broadcast
	frame = append(frame, 0x02, 0, 0, 0, 0, byte(w.n+1))      // source MAC: locally administered
	frame = be.AppendUint16(frame, 0x0800)
	ip := make([]byte, 20)
	ip[0] = 0x45
	be.PutUint16(ip[2:], uint16(20+8+len(payload)))
	be.PutUint16(ip[4:], uint16(w.n+1))
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	be.PutUint16(ip[10:], ipChecksum(ip))
	frame = append(frame, ip...)
	udp := make([]byte, 8, 8+len(payload))
	be.PutUint16(udp[0:], sport)
	be.PutUint16(udp[2:], dport)
	be.PutUint16(udp[4:], uint16(8+len(payload)))
	udp = append(udp, payload...)
	be.PutUint16(udp[6:], udpChecksum(s4, d4, udp))
	frame = append(frame, udp...)

	var rec [16]byte
	le := binary.LittleEndian
	le.PutUint32(rec[0:], uint32(1700000000+w.n))
	le.PutUint32(rec[8:], uint32(len(frame)))
	le.PutUint32(rec[12:], uint32(len(frame)))
	w.buf.Write(rec[:])
	w.buf.Write(frame)
	w.n++
}

// tsharkFields are the fields the golden test reads, in this order.
var tsharkFields = []string{
	"nbdgm.type", "nbdgm.flags", "nbdgm.node_type", "nbdgm.dgram_id", "nbdgm.src.ip", "nbdgm.src.port",
	"nbdgm.dgram_len", "nbdgm.source_name", "nbdgm.destination_name", "nbdgm.error_code",
	"smb.cmd", "smb.wct", "smb.tdc", "smb.dc", "smb.data_offset", "smb.trans_name",
	"mailslot.opcode", "mailslot.priority", "mailslot.class", "mailslot.name",
	"browser.command", "browser.server", "browser.comment", "browser.response_computer_name",
	"browser.period", "browser.server_type", "browser.sig", "browser.election.version",
	"nbns.id", "nbns.flags", "nbns.flags.opcode", "nbns.flags.rcode", "nbns.count.queries",
	"nbns.count.answers", "nbns.count.add_rr", "nbns.name", "nbns.type", "nbns.addr", "nbns.ttl",
	"nbns.number_of_names", "nbns.netbios_name", "nbns.nb_flags.group", "nbns.nb_flags.ont",
	"_ws.malformed", "_ws.expert.severity", "_ws.expert.message", "frame.protocols",
}

// runTshark dissects the pcap and returns one map of field to value per
// frame (several occurrences joined by ",").
func runTshark(t *testing.T, pcap []byte) []map[string]string {
	t.Helper()
	tshark := testenv.LookPath(t, "tshark")
	dir := t.TempDir()
	file := filepath.Join(dir, "wire.pcap")
	if err := os.WriteFile(file, pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("WIRE_KEEP_PCAP"); out != "" {
		_ = os.WriteFile(out, pcap, 0o644)
	}
	args := []string{"-n", "-r", file, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
		"-E", "aggregator=,", "-E", "quote=n"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark, args...)
	cmd.Env = append(os.Environ(), "HOME="+dir) // no user profile
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	var frames []map[string]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		vals := strings.Split(line, "\t")
		if len(vals) != len(tsharkFields) {
			t.Fatalf("tshark printed %d fields, want %d: %q", len(vals), len(tsharkFields), line)
		}
		m := map[string]string{}
		for i, f := range tsharkFields {
			m[f] = vals[i]
		}
		frames = append(frames, m)
	}
	return frames
}

// expertErrorSeverity is Wireshark's PI_ERROR; PI_WARN is 0x00600000.
const expertWarnSeverity = 0x00600000

// checkClean fails when tshark found the frame malformed or raised an
// expert warning or error about it.
func checkClean(t *testing.T, i int, m map[string]string) {
	t.Helper()
	if m["_ws.malformed"] != "" || strings.Contains(m["frame.protocols"], "malformed") {
		t.Errorf("frame %d: tshark says malformed: %q %q", i+1, m["_ws.malformed"], m["frame.protocols"])
	}
	if sev := m["_ws.expert.severity"]; sev != "" {
		for _, s := range strings.Split(sev, ",") {
			v, err := strconv.ParseUint(s, 0, 32)
			if err != nil || v >= expertWarnSeverity {
				t.Errorf("frame %d: tshark expert info %s: %s", i+1, sev, m["_ws.expert.message"])
			}
		}
	}
}

type goldenFrame struct {
	what    string
	payload []byte
	port    uint16
	want    map[string]string
}

// TestTsharkGolden encodes datagrams and name service packets, writes them
// into a pcap and asks tshark to decode them: it must find the names,
// mailslot, data length and fields we meant, and nothing malformed.
func TestTsharkGolden(t *testing.T) {
	src := MustName("MAILSLOTHOST", SuffixWorkstation)
	ip := netip.MustParseAddr("10.213.7.2")
	hdr := func(typ DatagramType, id uint16, dst Name) Datagram {
		return Datagram{Type: typ, Flags: NewDatagramFlags(BNode), ID: id, SourceIP: ip, SourcePort: 138,
			SourceName: src, DestinationName: dst}
	}
	dgm := func(d Datagram, w MailslotWrite) []byte {
		b, err := AppendMailslotDatagram(nil, &d, &w)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ann := func(a Announcement) []byte {
		b, err := AppendAnnouncement(nil, &a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ns := func(p NameServicePacket) []byte {
		b, err := AppendNameService(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	raw := func(d Datagram) []byte {
		b, err := AppendDatagram(nil, &d)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	data100 := bytes.Repeat([]byte("0123456789"), 10)
	messenger := []byte("MAILSLOTHOST\x00RECEIVER\x00hello from mailslot\x00")
	receiver := MustName("RECEIVER", SuffixMessenger)
	group := MustName("LABGROUP", SuffixMasterBrowser)
	elect := MustName("LABGROUP", SuffixBrowserElect)
	host := Announcement{Opcode: OpHostAnnouncement, Periodicity: 720000, ServerName: "MAILSLOTHOST",
		OSVersionMajor: 6, OSVersionMinor: 1, ServerType: SVTypeWorkstation | SVTypeServer | SVTypeNT,
		BrowserVersionMajor: 15, BrowserVersionMinor: 1, Signature: BrowserSignature, Comment: "mailslot host"}
	lma := host
	lma.Opcode, lma.ServerType = OpLocalMasterAnnouncement, host.ServerType|SVTypeMasterBrowser
	dom := host
	dom.Opcode, dom.ServerName, dom.Comment, dom.ServerType = OpDomainAnnouncement, "LABGROUP", "MAILSLOTHOST", SVTypeNT|SVTypeDomainEnum
	req, _ := AppendAnnouncementRequest(nil, &AnnouncementRequest{ResponseName: "MAILSLOTHOST"})
	elec, _ := AppendRequestElection(nil, &RequestElection{Version: 1, Criteria: 0x41010f0a, Uptime: 6000, ServerName: "MAILSLOTHOST"})
	maxName := `\MAILSLOT\BIGGEST`
	maxData := bytes.Repeat([]byte{0x5a}, MaxMailslotData(maxName, src, receiver))
	scoped := mustScope(src, "corp.example")
	scopedDst := mustScope(receiver, "corp.example")
	status := &NodeStatus{Names: []NodeStatusName{
		{Name: src, Flags: NewNameFlags(false, BNode)},
		{Name: src.WithSuffix(SuffixServer), Flags: NewNameFlags(false, BNode)},
		{Name: MustName("LABGROUP", 0), Flags: NewNameFlags(true, BNode)},
	}, UnitID: [6]byte{2, 0, 0, 0, 0, 1}}
	addr := []NBAddress{{Flags: NewNBFlags(false, BNode), IP: ip}}
	hAddr := NBAddress{Flags: NewNBFlags(false, HNode), IP: ip}
	gAddr := NBAddress{Flags: NewNBFlags(true, HNode), IP: ip}
	winsOwner := netip.MustParseAddr("10.213.8.10")
	winsReg := mustNS(NewNameServerRegistration(0x4247, src, 300000, hAddr))

	frames := []goldenFrame{
		{"unique write, 100 bytes", dgm(hdr(DirectUnique, 1, receiver),
			MailslotWrite{Name: `\MAILSLOT\DATA`, Class: ClassUnreliable, Data: data100}), 138,
			map[string]string{"nbdgm.type": "16", "nbdgm.source_name": "MAILSLOTHOST<00>", "nbdgm.destination_name": "RECEIVER<03>",
				"nbdgm.dgram_id": "0x0001", "nbdgm.src.ip": "10.213.7.2", "nbdgm.src.port": "138", "nbdgm.node_type": "0",
				"smb.cmd": "0x25", "smb.wct": "17", "smb.tdc": "100", "smb.dc": "100", "smb.trans_name": `\MAILSLOT\DATA`,
				"mailslot.opcode": "1", "mailslot.class": "2", "mailslot.name": `\MAILSLOT\DATA`}},
		{"unique messenger write", dgm(hdr(DirectUnique, 2, receiver),
			MailslotWrite{Name: `\MAILSLOT\MESSNGR`, Priority: 1, Class: ClassUnreliable, Timeout: 1000, Data: messenger}), 138,
			map[string]string{"nbdgm.type": "16", "nbdgm.destination_name": "RECEIVER<03>", "smb.dc": strconv.Itoa(len(messenger)),
				"mailslot.name": `\MAILSLOT\MESSNGR`, "mailslot.priority": "1"}},
		{"group host announcement", dgm(hdr(DirectGroup, 3, group),
			MailslotWrite{Name: BrowseMailslot, Class: ClassUnreliable, Data: ann(host)}), 138,
			map[string]string{"nbdgm.type": "17", "nbdgm.destination_name": "LABGROUP<1d>", "mailslot.name": BrowseMailslot,
				"smb.dc": strconv.Itoa(len(ann(host))), "smb.data_offset": "86",
				"browser.command": "0x01", "browser.server": "MAILSLOTHOST", "browser.comment": "mailslot host",
				"browser.period": "720000", "browser.server_type": "0x00001003", "browser.sig": "0xaa55"}},
		{"group local master announcement", dgm(hdr(DirectGroup, 4, elect),
			MailslotWrite{Name: BrowseMailslot, Class: ClassUnreliable, Data: ann(lma)}), 138,
			map[string]string{"nbdgm.destination_name": "LABGROUP<1e>", "browser.command": "0x0f",
				"browser.server": "MAILSLOTHOST", "browser.server_type": "0x00041003"}},
		{"domain announcement to __MSBROWSE__", dgm(hdr(DirectGroup, 5, BrowseMasterName()),
			MailslotWrite{Name: BrowseMailslot, Class: ClassUnreliable, Data: ann(dom)}), 138,
			map[string]string{"browser.command": "0x0c", "browser.server": "LABGROUP"}},
		{"announcement request", dgm(hdr(DirectGroup, 6, MustName("LABGROUP", 0)),
			MailslotWrite{Name: BrowseMailslot, Class: ClassUnreliable, Data: req}), 138,
			map[string]string{"nbdgm.destination_name": "LABGROUP<00>", "browser.command": "0x02",
				"browser.response_computer_name": "MAILSLOTHOST"}},
		{"election request", dgm(hdr(DirectGroup, 7, elect),
			MailslotWrite{Name: BrowseMailslot, Class: ClassUnreliable, Data: elec}), 138,
			map[string]string{"browser.command": "0x08", "browser.server": "MAILSLOTHOST", "browser.election.version": "1"}},
		{"broadcast, arbitrary data", dgm(Datagram{Type: BroadcastDatagram, Flags: NewDatagramFlags(MNode), ID: 8, SourceIP: ip,
			SourcePort: 138, SourceName: src, DestinationName: WildcardName()},
			MailslotWrite{Name: `\MAILSLOT\APP\EVENTS`, Class: ClassUnreliable, Data: []byte{0, 1, 2, 3, 0xff}}), 138,
			map[string]string{"nbdgm.type": "18", "nbdgm.node_type": "2", "nbdgm.flags": "0x0a", "smb.dc": "5",
				"mailslot.name": `\MAILSLOT\APP\EVENTS`}},
		{"largest datagram (576 bytes)", dgm(hdr(DirectUnique, 9, receiver),
			MailslotWrite{Name: maxName, Class: ClassUnreliable, Data: maxData}), 138,
			map[string]string{"nbdgm.dgram_len": strconv.Itoa(MaxDatagramSize - DatagramHeaderSize),
				"smb.dc": strconv.Itoa(len(maxData)), "mailslot.name": maxName}},
		{"scoped names", dgm(Datagram{Type: DirectUnique, Flags: NewDatagramFlags(BNode), ID: 10, SourceIP: ip, SourcePort: 138,
			SourceName: scoped, DestinationName: scopedDst},
			MailslotWrite{Name: `\MAILSLOT\SCOPED`, Class: ClassUnreliable, Data: []byte("x")}), 138,
			map[string]string{"nbdgm.source_name": "MAILSLOTHOST<00>.corp.example",
				"nbdgm.destination_name": "RECEIVER<03>.corp.example", "mailslot.name": `\MAILSLOT\SCOPED`}},
		{"empty record", dgm(hdr(DirectUnique, 11, receiver),
			MailslotWrite{Name: `\MAILSLOT\EMPTY`, Class: ClassUnreliable}), 138,
			// tshark takes a transaction with no data for an "interim reply"
			// and does not hand it to its mailslot dissector.
			map[string]string{"smb.dc": "0", "smb.trans_name": `\MAILSLOT\EMPTY`}},
		{"datagram error", raw(Datagram{Type: DatagramError, Flags: NewDatagramFlags(BNode), ID: 12, SourceIP: ip, SourcePort: 138,
			ErrorCode: ErrorCodeDestinationNameNotPresent}), 138,
			map[string]string{"nbdgm.type": "19", "nbdgm.error_code": "0x82"}},
		{"datagram query request", raw(Datagram{Type: DatagramQueryRequest, Flags: NewDatagramFlags(BNode), ID: 13, SourceIP: ip,
			SourcePort: 138, DestinationName: receiver}), 138,
			map[string]string{"nbdgm.type": "20", "nbdgm.destination_name": "RECEIVER<03>"}},
		{"datagram positive query response", raw(Datagram{Type: DatagramPositiveQueryResponse, Flags: NewDatagramFlags(BNode), ID: 13,
			SourceIP: ip, SourcePort: 138, DestinationName: receiver}), 138,
			map[string]string{"nbdgm.type": "21", "nbdgm.destination_name": "RECEIVER<03>"}},

		{"name query, broadcast", ns(NewNameQuery(0x4242, group, true)), 137,
			map[string]string{"nbns.id": "0x4242", "nbns.flags": "0x0110", "nbns.name": "LABGROUP<1d>", "nbns.type": "32",
				"nbns.count.queries": "1"}},
		{"positive name query response", ns(mustNS(NewPositiveNameQueryResponse(0x4242, group, 259200, addr))), 137,
			map[string]string{"nbns.flags": "0x8500", "nbns.name": "LABGROUP<1d>", "nbns.addr": "10.213.7.2",
				"nbns.ttl": "259200", "nbns.count.answers": "1", "nbns.flags.rcode": "0"}},
		{"negative name query response", ns(NewNegativeNameQueryResponse(0x4243, MustName("NOSUCHHOST", 0), RCodeName)), 137,
			map[string]string{"nbns.flags": "0x8503", "nbns.flags.rcode": "3", "nbns.name": "NOSUCHHOST<00>", "nbns.type": "10"}},
		{"node status request", ns(NewNodeStatusQuery(0x4244, WildcardName())), 137,
			map[string]string{"nbns.type": "33", "nbns.name": WildcardName().String()}},
		{"node status response", ns(mustNS(NewNodeStatusResponse(0x4244, WildcardName(), status))), 137,
			map[string]string{"nbns.type": "33", "nbns.number_of_names": "3",
				"nbns.netbios_name": "MAILSLOTHOST,MAILSLOTHOST,LABGROUP"}},
		{"name registration", ns(mustNS(NewNameRegistration(0x4245, src, 300000, addr[0]))), 137,
			map[string]string{"nbns.flags": "0x2910", "nbns.flags.opcode": "5", "nbns.count.add_rr": "1",
				"nbns.name": "MAILSLOTHOST<00>,MAILSLOTHOST<00>", "nbns.addr": "10.213.7.2"}},

		// A node and its name server (WINS).
		{"name query to a server", ns(NewNameQuery(0x4246, receiver.WithSuffix(0), false)), 137,
			map[string]string{"nbns.flags": "0x0100", "nbns.flags.opcode": "0", "nbns.name": "RECEIVER<00>", "nbns.count.queries": "1"}},
		{"registration to a server", ns(mustNS(NewNameServerRegistration(0x4247, src, 300000, hAddr))), 137,
			map[string]string{"nbns.flags": "0x2900", "nbns.flags.opcode": "5", "nbns.count.queries": "1", "nbns.count.add_rr": "1",
				"nbns.name": "MAILSLOTHOST<00>,MAILSLOTHOST<00>", "nbns.addr": "10.213.7.2", "nbns.ttl": "300000",
				"nbns.nb_flags.group": "0", "nbns.nb_flags.ont": "3"}},
		{"registration of a group to a server", ns(mustNS(NewNameServerRegistration(0x4248, MustName("LABGROUP", 0x1e), 300000, gAddr))), 137,
			map[string]string{"nbns.flags": "0x2900", "nbns.name": "LABGROUP<1e>,LABGROUP<1e>", "nbns.nb_flags.group": "1"}},
		{"name overwrite", ns(mustNS(NewNameOverwrite(0x4249, src, 300000, hAddr, false))), 137,
			map[string]string{"nbns.flags": "0x2800", "nbns.flags.opcode": "5", "nbns.addr": "10.213.7.2"}},
		{"name refresh", ns(mustNS(NewNameRefresh(0x424a, src, 300000, hAddr))), 137,
			map[string]string{"nbns.flags": "0x4000", "nbns.flags.opcode": "8", "nbns.count.add_rr": "1",
				"nbns.name": "MAILSLOTHOST<00>,MAILSLOTHOST<00>", "nbns.ttl": "300000", "nbns.addr": "10.213.7.2"}},
		{"name release", ns(mustNS(NewNameRelease(0x424b, src, hAddr, false))), 137,
			map[string]string{"nbns.flags": "0x3000", "nbns.flags.opcode": "6", "nbns.count.add_rr": "1", "nbns.ttl": "0",
				"nbns.name": "MAILSLOTHOST<00>,MAILSLOTHOST<00>", "nbns.addr": "10.213.7.2"}},
		{"name release demand", ns(mustNS(NewNameRelease(0x424c, src, hAddr, true))), 137,
			map[string]string{"nbns.flags": "0x3010", "nbns.flags.opcode": "6"}},
		{"positive registration response", ns(mustNS(NewNameRegistrationResponse(0x4247, src, RCodeOK, 21600, hAddr))), 137,
			map[string]string{"nbns.flags": "0xad80", "nbns.flags.rcode": "0", "nbns.count.answers": "1", "nbns.ttl": "21600",
				"nbns.name": "MAILSLOTHOST<00>", "nbns.addr": "10.213.7.2"}},
		{"negative registration response", ns(mustNS(NewNameRegistrationResponse(0x4247, src, RCodeActive, 0, hAddr))), 137,
			map[string]string{"nbns.flags": "0xad86", "nbns.flags.rcode": "6", "nbns.count.answers": "1"}},
		{"name conflict demand", ns(mustNS(NewNameRegistrationResponse(0x4247, src, RCodeConflict, 0, hAddr))), 137,
			map[string]string{"nbns.flags": "0xad87", "nbns.flags.rcode": "7"}},
		{"end-node challenge response", ns(mustNS(NewEndNodeChallengeResponse(0x4247, src, 300000, NBAddress{Flags: NewNBFlags(false, HNode), IP: winsOwner}))), 137,
			map[string]string{"nbns.flags": "0xad00", "nbns.flags.rcode": "0", "nbns.addr": winsOwner.String()}},
		{"WACK", ns(NewWACK(&winsReg, 60)), 137,
			map[string]string{"nbns.flags": "0xbc00", "nbns.flags.opcode": "7", "nbns.count.answers": "1", "nbns.ttl": "60",
				"nbns.name": "MAILSLOTHOST<00>", "nbns.type": "10"}},
		{"positive release response", ns(mustNS(NewNameReleaseResponse(0x424b, src, RCodeOK, hAddr))), 137,
			map[string]string{"nbns.flags": "0xb400", "nbns.flags.opcode": "6", "nbns.flags.rcode": "0", "nbns.addr": "10.213.7.2"}},
		{"negative release response", ns(mustNS(NewNameReleaseResponse(0x424b, src, RCodeName, hAddr))), 137,
			map[string]string{"nbns.flags": "0xb403", "nbns.flags.rcode": "3"}},
	}

	w := newPcap()
	bcast := netip.MustParseAddr("10.213.7.255")
	for _, f := range frames {
		w.add(ip, bcast, f.port, f.port, f.payload)
	}
	got := runTshark(t, w.buf.Bytes())
	if len(got) != len(frames) {
		t.Fatalf("tshark decoded %d frames, we wrote %d", len(got), len(frames))
	}
	for i, f := range frames {
		m := got[i]
		checkClean(t, i, m)
		for k, v := range f.want {
			if k == "nbns.name" {
				m[k] = stripAnnotations(m[k])
			}
			if m[k] != v {
				t.Errorf("frame %d (%s): tshark %s = %q, want %q", i+1, f.what, k, m[k], v)
			}
		}
		proto := "nbns"
		if f.port == 138 {
			proto = "nbdgm"
		}
		if !strings.Contains(m["frame.protocols"], proto) {
			t.Errorf("frame %d (%s): protocols %q", i+1, f.what, m["frame.protocols"])
		}
		if strings.HasPrefix(f.what, "group") || strings.Contains(f.what, "announcement") || strings.Contains(f.what, "election") {
			if !strings.Contains(m["frame.protocols"], "browser") {
				t.Errorf("frame %d (%s): protocols %q", i+1, f.what, m["frame.protocols"])
			}
		}
	}
}

// stripAnnotations removes the " (Workstation/Redirector)" that tshark
// appends to some NetBIOS names.
func stripAnnotations(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if j := strings.Index(p, " ("); j >= 0 {
			parts[i] = p[:j]
		}
	}
	return strings.Join(parts, ",")
}

// TestTsharkDetectsMalformed makes sure the golden test's detector works:
// a truncated mailslot datagram must be reported malformed by tshark.
func TestTsharkDetectsMalformed(t *testing.T) {
	d := Datagram{Type: DirectUnique, Flags: FlagFirst, SourceIP: testIP, SourcePort: 138, SourceName: testSrc, DestinationName: testDst}
	b, err := AppendMailslotDatagram(nil, &d, &MailslotWrite{Name: `\MAILSLOT\X`, Class: ClassUnreliable, Data: []byte("data")})
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), b[:DatagramHeaderSize+2*EncodedNameLen+40]...)
	binary.BigEndian.PutUint16(bad[10:], uint16(len(bad)-DatagramHeaderSize))
	w := newPcap()
	w.add(testIP, netip.MustParseAddr("10.213.7.255"), 138, 138, bad)
	got := runTshark(t, w.buf.Bytes())
	if len(got) != 1 {
		t.Fatalf("%d frames", len(got))
	}
	if got[0]["_ws.malformed"] == "" && !strings.Contains(got[0]["frame.protocols"], "malformed") {
		t.Errorf("tshark did not flag a truncated SMB as malformed: %v", got[0])
	}
	if v, err := strconv.ParseUint(strings.Split(got[0]["_ws.expert.severity"], ",")[0], 0, 32); err != nil || v < expertWarnSeverity {
		t.Errorf("no expert error for a malformed frame: %v", got[0])
	}
}
