//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package daemon

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// dgramSock is a datagram socket of the daemon: its loop receives (see
// dgramBatch), and the daemon sends its own datagrams from it. Here it
// is the standard library's, which the Go runtime's poller watches.
type dgramSock = net.UDPConn

// listenDgram binds the wildcard address on port.
func listenDgram(ifc Iface, port int, share bool) (*dgramSock, error) {
	return listenUDP(ifc, port, share)
}

// joinGroup has c take the datagrams sent to group on interface ifi.
func joinGroup(c *dgramSock, ifi *net.Interface, group netip.Addr) error {
	return ipv4.NewPacketConn(c).JoinGroup(ifi, &net.UDPAddr{IP: net.IP(group.AsSlice())})
}

// readyMulticast sets what c's datagrams to a group do: cross ttl
// routers, and not come back to this computer.
func readyMulticast(c *dgramSock, ttl int) error {
	p := ipv4.NewPacketConn(c)
	if err := p.SetMulticastTTL(ttl); err != nil {
		return err
	}
	return p.SetMulticastLoopback(false)
}
