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
	"github.com/mailslot-go/mailslot/internal/netif"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// Resolution is what a host name in `\\HOST\mailslot\x` turned out to be.
type Resolution struct {
	Group bool       // a workgroup or domain: records are broadcast
	Addr  netip.Addr // a computer's address (not for groups)
	Via   string     // how it was found: "workgroup", "hosts", "netbios", "dns"
}

// Resolution order and timing. A NetBIOS name query is broadcast on
// every interface nameTries times, nameRetry apart, as Windows does
// (three tries, 250 ms apart here; Windows waits 750 ms between them).
var (
	nameTries  = 3
	nameRetry  = 250 * time.Millisecond
	dnsTimeout = 1500 * time.Millisecond
	hostsFile  = "/etc/hosts"
)

// Resolve finds host: our own workgroup is a group at once; then the hosts
// file; then a NetBIOS name query broadcast (which also tells a workgroup,
// a group name, from a computer); then DNS. It fails promptly, naming host
// and what was tried, wrapping errs.Unreachable.
func Resolve(host, workgroup string, ifaces []netif.Iface, namePort int) (Resolution, error) {
	if strings.EqualFold(host, workgroup) {
		return Resolution{Group: true, Via: "workgroup"}, nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return Resolution{Addr: a, Via: "address"}, nil
	}
	if a, ok := lookupHostsFile(host); ok {
		return Resolution{Addr: a, Via: "hosts"}, nil
	}
	var tried []string
	if r, err := queryName(host, ifaces, namePort); err == nil {
		return r, nil
	} else {
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
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q := wire.NewNameQuery(id, nb, true)
	pkt, err := wire.AppendNameService(nil, &q)
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
