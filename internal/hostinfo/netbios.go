package hostinfo

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Node types: how a computer resolves NetBIOS names (RFC 1001 §10, and
// Windows' NodeType). B broadcasts a query on its subnets; P asks its
// NetBIOS name servers (WINS) only; M broadcasts, then asks them; H asks
// them, then broadcasts.
const (
	NodeB = "B"
	NodeP = "P"
	NodeM = "M"
	NodeH = "H"
)

// ParseNodeType reads a node type, b, p, m or h in either case, and
// returns it upper-case.
func ParseNodeType(s string) (string, error) {
	switch t := strings.ToUpper(strings.TrimSpace(s)); t {
	case NodeB, NodeP, NodeM, NodeH:
		return t, nil
	}
	return "", fmt.Errorf("%q is not a node type (b, p, m or h)", s)
}

// ParseAddrPort reads an IPv4 address with an optional port (ADDR or
// ADDR:PORT); without one, the port is def.
func ParseAddrPort(s string, def int) (netip.AddrPort, error) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		if !a.Is4() {
			return netip.AddrPort{}, fmt.Errorf("%q is not an IPv4 address", s)
		}
		return netip.AddrPortFrom(a, uint16(def)), nil
	}
	host, port, ok := strings.Cut(s, ":")
	a, err := netip.ParseAddr(host)
	if !ok || err != nil || !a.Is4() {
		return netip.AddrPort{}, fmt.Errorf("%q is not an IPv4 address, with or without :PORT", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return netip.AddrPort{}, fmt.Errorf("%q: %q is not a port (1-65535)", s, port)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// NodeType returns the node type clients use: the one mailslotd gave, or
// H when it names name servers and B when it names none.
func (i Info) NodeType() string {
	if t, err := ParseNodeType(i.Node); err == nil {
		return t
	}
	if len(i.NameServers()) > 0 {
		return NodeH
	}
	return NodeB
}

// NameServers returns the name servers (WINS) mailslotd named that parse,
// in its order.
func (i Info) NameServers() []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range strings.Split(i.WINS, ",") {
		if ap, err := ParseAddrPort(s, DefaultNamePort); err == nil {
			out = append(out, ap)
		}
	}
	return out
}

// MulticastGroup returns the multicast group (and port) mailslotd gave for
// workgroup datagrams, if any.
func (i Info) MulticastGroup() (netip.AddrPort, bool) {
	if i.Multicast == "" {
		return netip.AddrPort{}, false
	}
	ap, err := ParseAddrPort(i.Multicast, i.DgramPort)
	if err != nil || !ap.Addr().IsMulticast() {
		return netip.AddrPort{}, false
	}
	return ap, true
}
