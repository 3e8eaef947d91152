// Package netif lists the network interfaces NetBIOS datagrams go out on
// and come in from: up, able to broadcast, with an IPv4 address.
package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Iface is a network interface with its IPv4 address.
type Iface struct {
	Name      string
	Index     int
	Addr      netip.Addr   // its IPv4 address
	Prefix    netip.Prefix // its subnet
	Broadcast netip.Addr   // the subnet's broadcast address
}

// List returns the named interfaces, or every interface that is up,
// can broadcast and has an IPv4 address when names is empty.
func List(names []string) ([]Iface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Iface
	for _, ifi := range all {
		if len(want) > 0 && !want[ifi.Name] {
			continue
		}
		delete(want, ifi.Name)
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagBroadcast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			if len(names) > 0 {
				return nil, fmt.Errorf("interface %s is down or cannot broadcast", ifi.Name)
			}
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP.To4())
			if !ok || !ip.Is4() {
				continue
			}
			ones, _ := ipn.Mask.Size()
			p := netip.PrefixFrom(ip, ones).Masked()
			out = append(out, Iface{Name: ifi.Name, Index: ifi.Index, Addr: ip, Prefix: p, Broadcast: broadcastOf(p)})
			break // one address an interface: NetBIOS over TCP/IP binds one
		}
	}
	for n := range want {
		return nil, fmt.Errorf("no interface named %s", n)
	}
	if len(out) == 0 {
		return nil, errors.New("no interface is up with an IPv4 address and broadcast; name one with --interface")
	}
	return out, nil
}

func broadcastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// For returns the interface whose subnet holds ip, or false.
func For(ifaces []Iface, ip netip.Addr) (Iface, bool) {
	for _, ifc := range ifaces {
		if ifc.Prefix.Contains(ip.Unmap()) {
			return ifc, true
		}
	}
	return Iface{}, false
}

// Toward returns the interface of ifaces that datagrams to dst leave by:
// the one whose address the routing table takes as the source for dst,
// else the one whose subnet holds dst, else the first. ifaces must not be
// empty.
func Toward(ifaces []Iface, dst netip.AddrPort) Iface {
	if c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(dst)); err == nil {
		a, _ := netip.AddrFromSlice(c.LocalAddr().(*net.UDPAddr).IP.To4())
		c.Close()
		for _, ifc := range ifaces {
			if ifc.Addr == a {
				return ifc
			}
		}
	}
	if ifc, ok := For(ifaces, dst.Addr()); ok {
		return ifc
	}
	return ifaces[0]
}
