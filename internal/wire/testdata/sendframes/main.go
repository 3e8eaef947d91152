// Command sendframes is used by ../capture.sh only: run inside the capture's
// client namespace, it sends packets encoded by package wire to the nmbd
// under test (a name query, a node status request, a HostAnnouncement and
// an AnnouncementRequest), decodes nmbd's replies with package wire, and
// prints what it got. It only ever talks to the addresses given on its
// command line, which capture.sh sets to the private namespaces' ones.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"time"

	"github.com/mailslot-go/mailslot/internal/wire"
)

func main() {
	local := flag.String("local", "10.213.7.2", "our address (in the client namespace)")
	peer := flag.String("peer", "10.213.7.1", "nmbd's address")
	bcast := flag.String("bcast", "10.213.7.255", "the subnet broadcast address")
	flag.Parse()
	me := netip.MustParseAddr(*local)

	// Name service: a unicast name query and a node status request.
	ns, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(*local), Port: 0})
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close()
	nmbd := &net.UDPAddr{IP: net.ParseIP(*peer), Port: 137}
	for i, q := range []wire.NameServicePacket{
		wire.NewNameQuery(0x5101, wire.MustName("SAMBAHOST", wire.SuffixServer), false),
		wire.NewNodeStatusQuery(0x5102, wire.WildcardName()),
	} {
		b, err := wire.AppendNameService(nil, &q)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := ns.WriteToUDP(b, nmbd); err != nil {
			log.Fatal(err)
		}
		buf := make([]byte, 2048)
		_ = ns.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, from, err := ns.ReadFromUDP(buf)
		if err != nil {
			log.Printf("query %d: no answer: %v", i, err)
			continue
		}
		p, err := wire.DecodeNameService(buf[:n])
		if err != nil {
			log.Fatalf("answer from %v: %v", from, err)
		}
		fmt.Printf("nbns answer from %v: id %#x rcode %d, %d answers\n", from, p.TransactionID, p.RCode, len(p.Answers))
		for _, a := range p.Answers {
			switch a.Type {
			case wire.TypeNB:
				addrs, err := wire.DecodeNBAddresses(a.Data)
				fmt.Printf("  %v NB %v %v\n", a.Name, addrs, err)
			case wire.TypeNBSTAT:
				st, err := wire.DecodeNodeStatus(a.Data)
				for _, e := range st.Names {
					fmt.Printf("  %v flags %#04x\n", e.Name, uint16(e.Flags))
				}
				if err != nil {
					fmt.Println("  ", err)
				}
			}
		}
	}

	// Datagrams from port 138, as a mailslot host would send them.
	// Bound to the wildcard address: a socket bound to the unicast address
	// does not receive broadcasts.
	dg, err := net.ListenUDP("udp4", &net.UDPAddr{Port: 138})
	if err != nil {
		log.Fatal(err)
	}
	defer dg.Close()
	src := wire.MustName("MAILSLOTHOST", wire.SuffixWorkstation)
	send := func(id uint16, dst wire.Name, frame []byte) {
		d := wire.Datagram{Type: wire.DirectGroup, Flags: wire.NewDatagramFlags(wire.BNode), ID: id,
			SourceIP: me, SourcePort: 138, SourceName: src, DestinationName: dst}
		b, err := wire.AppendLargeMailslotDatagram(nil, &d, &wire.MailslotWrite{Name: wire.BrowseMailslot,
			Class: wire.ClassUnreliable, Data: frame})
		if err != nil {
			log.Fatal(err)
		}
		if _, err := dg.WriteToUDP(b, &net.UDPAddr{IP: net.ParseIP(*bcast), Port: 138}); err != nil {
			log.Fatal(err)
		}
	}
	host, err := wire.AppendAnnouncement(nil, &wire.Announcement{Opcode: wire.OpHostAnnouncement, Periodicity: 720000,
		ServerName: "MAILSLOTHOST", OSVersionMajor: 6, OSVersionMinor: 1,
		ServerType:          wire.SVTypeWorkstation | wire.SVTypeServer | wire.SVTypeNT,
		BrowserVersionMajor: wire.BrowserVersionMajor, BrowserVersionMinor: wire.BrowserVersionMinor,
		Signature: wire.BrowserSignature, Comment: "sent by package wire"})
	if err != nil {
		log.Fatal(err)
	}
	send(0x6101, wire.MustName("LABGROUP", wire.SuffixMasterBrowser), host)
	req, _ := wire.AppendAnnouncementRequest(nil, &wire.AnnouncementRequest{ResponseName: "MAILSLOTHOST"})
	send(0x6102, wire.MustName("LABGROUP", wire.SuffixWorkstation), req)
	fmt.Println("sent a HostAnnouncement to LABGROUP<1d> and an AnnouncementRequest to LABGROUP<00>")

	// Where is nmbd's size limit? Two more HostAnnouncements, padded with
	// zeros after the comment: EXACTHOST makes a datagram of exactly 576
	// bytes (the largest record MaxMailslotData allows, 408 bytes), and
	// RULEHOST one of 592 bytes (a 424-byte record, the documented limit).
	for i, c := range []struct {
		name string
		size int
	}{{"EXACTHOST", wire.MaxMailslotData(wire.BrowseMailslot, src, wire.MustName("LABGROUP", 0x1d))},
		{"RULEHOST", wire.MaxDatagramRecord}} {
		frame, err := wire.AppendAnnouncement(nil, &wire.Announcement{Opcode: wire.OpHostAnnouncement,
			Periodicity: 720000, ServerName: c.name, OSVersionMajor: 6, OSVersionMinor: 1,
			ServerType: wire.SVTypeWorkstation, BrowserVersionMajor: wire.BrowserVersionMajor,
			BrowserVersionMinor: wire.BrowserVersionMinor, Signature: wire.BrowserSignature,
			Comment: fmt.Sprintf("%d-byte record", c.size)})
		if err != nil {
			log.Fatal(err)
		}
		frame = append(frame, make([]byte, c.size-len(frame))...)
		send(uint16(0x6103+i), wire.MustName("LABGROUP", wire.SuffixMasterBrowser), frame)
	}
	fmt.Println("sent HostAnnouncements of 408 and 424 bytes (datagrams of 576 and 592 bytes)")

	// Print the datagrams nmbd sends while we wait.
	deadline := time.Now().Add(20 * time.Second)
	buf := make([]byte, 65536)
	for time.Now().Before(deadline) {
		_ = dg.SetReadDeadline(deadline)
		n, from, err := dg.ReadFromUDP(buf)
		if err != nil {
			break
		}
		d, w, err := wire.DecodeMailslotDatagram(buf[:n])
		if err != nil {
			fmt.Printf("datagram from %v: %v\n", from, err)
			continue
		}
		if d.SourceName == src {
			continue // our own broadcast
		}
		f, err := wire.DecodeBrowser(w.Data)
		fmt.Printf("datagram from %v: %v → %v %s: %T %+v %v\n", from, d.SourceName, d.DestinationName, w.Name, f, f, err)
	}
}
