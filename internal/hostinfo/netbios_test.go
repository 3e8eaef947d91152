package hostinfo

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestParseNodeType(t *testing.T) {
	for in, want := range map[string]string{"b": "B", "P": "P", " m ": "M", "h": "H"} {
		if got, err := ParseNodeType(in); err != nil || got != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x", "bh", "hybrid"} {
		if _, err := ParseNodeType(bad); err == nil {
			t.Errorf("%q taken", bad)
		}
	}
}

func TestParseAddrPort(t *testing.T) {
	for in, want := range map[string]string{"10.0.0.1": "10.0.0.1:137", " 10.0.0.1:1137 ": "10.0.0.1:1137", "239.255.13.8:65535": "239.255.13.8:65535"} {
		if got, err := ParseAddrPort(in, 137); err != nil || got.String() != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "::1", "[::1]:137", "host:137", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:", "10.0.0.1:x", "10.0.0"} {
		if got, err := ParseAddrPort(bad, 137); err == nil {
			t.Errorf("%q taken as %v", bad, got)
		}
	}
}

// What clients make of mailslotd's NetBIOS settings: the node type (H
// with name servers unless it says otherwise), the servers that parse,
// the multicast group (its port defaulting to the datagram port).
func TestInfoNetBIOS(t *testing.T) {
	for _, c := range []struct {
		info    Info
		node    string
		servers []netip.AddrPort
	}{
		{Info{}, NodeB, nil},
		{Info{WINS: "10.0.0.1"}, NodeH, []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:137")}},
		{Info{WINS: "10.0.0.1:1137,bad,10.0.0.2", Node: "M"}, NodeM,
			[]netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:1137"), netip.MustParseAddrPort("10.0.0.2:137")}},
		{Info{WINS: "bad"}, NodeB, nil},
		{Info{Node: "p"}, NodeP, nil},
		{Info{Node: "nonsense", WINS: "10.0.0.1"}, NodeH, []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:137")}},
	} {
		if got := c.info.NodeType(); got != c.node {
			t.Errorf("%+v: node type %q, want %q", c.info, got, c.node)
		}
		if got := c.info.NameServers(); !reflect.DeepEqual(got, c.servers) {
			t.Errorf("%+v: servers %v, want %v", c.info, got, c.servers)
		}
	}
	for _, c := range []struct {
		info Info
		want string
	}{
		{Info{}, ""},
		{Info{Multicast: "239.255.13.8", DgramPort: 138}, "239.255.13.8:138"},
		{Info{Multicast: "239.255.13.8:2000", DgramPort: 138}, "239.255.13.8:2000"},
		{Info{Multicast: "10.0.0.1:138"}, ""},
		{Info{Multicast: "nonsense"}, ""},
	} {
		g, ok := c.info.MulticastGroup()
		if (c.want == "") == ok || (ok && g.String() != c.want) {
			t.Errorf("%+v: %v %v, want %q", c.info, g, ok, c.want)
		}
	}
}
