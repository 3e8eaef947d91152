package remote

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/netif"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// Resolution is what a host name in `\\HOST\mailslot\x` turned out to be.
type Resolution struct {
	Group bool       // a workgroup or domain: records are broadcast
	Addr  netip.Addr // a computer's address (not for groups)
	Via   string     // how it was found: "workgroup", "address", "hosts", "wins", "netbios", "dns"
}

// Resolution order and timing. A NetBIOS name query is broadcast on
// every interface nameTries times, nameRetry apart, as Windows does
// (three tries, 250 ms apart here; Windows waits 750 ms between them). A
// WINS server is asked winsTries times, winsRetry apart, before the next.
var (
	nameTries  = 3
	nameRetry  = 250 * time.Millisecond
	winsTries  = 2
	winsRetry  = 750 * time.Millisecond
	dnsTimeout = 1500 * time.Millisecond
	hostsFile  = "/etc/hosts"
)

// Resolve finds host: our own workgroup is a group at once; then an IPv4
// address; the hosts file; NetBIOS, in the order of this computer's node
// type (self.NodeType: B broadcasts a name query, which also tells a
// workgroup, a group name, from a computer; P asks the WINS servers
// self names; M broadcasts, then asks them; H asks them, then
// broadcasts); then DNS. It fails promptly, naming host and what was
// tried, wrapping errs.Unreachable.
func Resolve(host string, self hostinfo.Info, ifaces []netif.Iface) (Resolution, error) {
	if strings.EqualFold(host, self.Workgroup) {
		return Resolution{Group: true, Via: "workgroup"}, nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return Resolution{Addr: a, Via: "address"}, nil
	}
	if a, ok := lookupHostsFile(host); ok {
		return Resolution{Addr: a, Via: "hosts"}, nil
	}
	var tried []string
	servers := self.NameServers()
	for _, how := range netbiosOrder(self.NodeType()) {
		var r Resolution
		var err error
		switch how {
		case "wins":
			if len(servers) == 0 {
				continue
			}
			r, err = queryWINS(host, servers, ifaces)
		case "broadcast":
			r, err = queryName(host, ifaces, self.NamePort)
		}
		if err == nil {
			return r, nil
		}
		if errors.Is(err, errs.InvalidName) {
			return Resolution{}, err
		}
		tried = append(tried, err.Error())
	}
	if os.Getenv("MAILSLOT_NO_DNS") == "" {
		ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
		cancel()
		if err == nil && len(addrs) > 0 {
			return Resolution{Addr: addrs[0].Unmap(), Via: "dns"}, nil
		}
		tried = append(tried, "not in DNS")
	}
	return Resolution{}, fmt.Errorf("%w: cannot find computer or workgroup %s: not in %s, %s", errs.Unreachable, host, hostsFile, strings.Join(tried, ", "))
}

// netbiosOrder is how a node of type t asks for NetBIOS names.
func netbiosOrder(t string) []string {
	switch t {
	case hostinfo.NodeP:
		return []string{"wins"}
	case hostinfo.NodeM:
		return []string{"broadcast", "wins"}
	case hostinfo.NodeH:
		return []string{"wins", "broadcast"}
	}
	return []string{"broadcast"}
}

// queryWINS asks each WINS server in turn for name<00> by a unicast name
// query, and returns the first positive answer. A name registered as a
// group (a workgroup) is a group; a computer registered with several
// addresses is reached at the first on one of our subnets, else the
// first.
func queryWINS(name string, servers []netip.AddrPort, ifaces []netif.Iface) (Resolution, error) {
	nb, err := wire.NewName(name, 0x00)
	if err != nil {
		return Resolution{}, fmt.Errorf("%w: %q is not a NetBIOS name: %v", errs.InvalidName, name, err)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return Resolution{}, fmt.Errorf("open a UDP socket: %w", err)
	}
	defer c.Close()
	buf := make([]byte, 1500)
	var said []string
	for _, srv := range servers {
		id, pkt, err := nameQuery(nb, false)
		if err != nil {
			return Resolution{}, err
		}
		answer := "no answer"
	tries:
		for try := 0; try < winsTries; try++ {
			if _, err := c.WriteToUDPAddrPort(pkt, srv); err != nil {
				answer = err.Error()
				break
			}
			deadline := time.Now().Add(winsRetry)
			for {
				_ = c.SetReadDeadline(deadline)
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					break // this try's time is up
				}
				if from.Addr().Unmap() != srv.Addr() {
					continue
				}
				r, err := wire.DecodeNSReply(buf[:n])
				if err != nil || r.TransactionID != id || r.Opcode != wire.OpQuery || r.Name != nb {
					continue
				}
				if r.Kind != wire.ReplyPositive {
					answer = "negative answer (" + r.RCode.String() + ")"
					break tries
				}
				if r.Addrs[0].Flags.Group() {
					return Resolution{Group: true, Via: "wins"}, nil
				}
				for _, a := range r.Addrs {
					if _, ok := netif.For(ifaces, a.IP); ok {
						return Resolution{Addr: a.IP, Via: "wins"}, nil
					}
				}
				return Resolution{Addr: r.Addrs[0].IP, Via: "wins"}, nil
			}
		}
		said = append(said, srv.String()+": "+answer)
	}
	return Resolution{}, fmt.Errorf("WINS has no %s<00> (%s)", name, strings.Join(said, "; "))
}

// lookupHostsFile finds an IPv4 address for name in the hosts file,
// comparing case-insensitively and ignoring domain suffixes of entries.
func lookupHostsFile(name string) (netip.Addr, bool) {
	f, err := os.Open(hostsFile)
	if err != nil {
		return netip.Addr{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		a, err := netip.ParseAddr(fields[0])
		if err != nil || !a.Is4() || a.IsLoopback() {
			continue
		}
		for _, h := range fields[1:] {
			short, _, _ := strings.Cut(h, ".")
			if strings.EqualFold(h, name) || strings.EqualFold(short, name) {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// queryName broadcasts a NetBIOS name query for name<00> on every
// interface and returns the first positive answer.
func queryName(name string, ifaces []netif.Iface, port int) (Resolution, error) {
	nb, err := wire.NewName(name, 0x00)
	if err != nil {
		return Resolution{}, fmt.Errorf("%w: %q is not a NetBIOS name: %v", errs.InvalidName, name, err)
	}
	if len(ifaces) == 0 {
		return Resolution{}, errors.New("no interface to ask NetBIOS names on")
	}
	c, err := listenBroadcast()
	if err != nil {
		return Resolution{}, err
	}
	defer c.Close()
	id, pkt, err := nameQuery(nb, true)
	if err != nil {
		return Resolution{}, err
	}
	buf := make([]byte, 1500)
	var sentTo []string
	for try := 0; try < nameTries; try++ {
		sentTo = sentTo[:0]
		for _, ifc := range ifaces {
			dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(ifc.Broadcast, uint16(port)))
			if _, err := c.WriteToUDP(pkt, dst); err == nil {
				sentTo = append(sentTo, ifc.Name+" ("+ifc.Broadcast.String()+")")
			}
		}
		deadline := time.Now().Add(nameRetry)
		for {
			_ = c.SetReadDeadline(deadline)
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				break // this try's time is up
			}
			p, err := wire.DecodeNameService(buf[:n])
			if err != nil || !p.Response || p.TransactionID != id || p.RCode != 0 || len(p.Answers) == 0 {
				continue
			}
			addrs, err := wire.DecodeNBAddresses(p.Answers[0].Data)
			if err != nil || len(addrs) == 0 {
				continue
			}
			if addrs[0].Flags.Group() {
				return Resolution{Group: true, Via: "netbios"}, nil
			}
			return Resolution{Addr: addrs[0].IP, Via: "netbios"}, nil
		}
	}
	return Resolution{}, fmt.Errorf("no answer to a NetBIOS name query for %s<00> on %s", name, strings.Join(sentTo, ", "))
}

// nameQuery encodes a name query for nb (broadcast, or to a name server)
// with a random transaction id, which it returns too.
func nameQuery(nb wire.Name, broadcast bool) (uint16, []byte, error) {
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q := wire.NewNameQuery(id, nb, broadcast)
	pkt, err := wire.AppendNameService(nil, &q)
	return id, pkt, err
}
