//go:build !windows

package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/netif"
)

// Multicast group writes. Windows never carries a workgroup datagram past
// its subnet; mailslotd hosts can, over IP multicast: each joins the
// group on its interfaces and takes what is sent to it as it takes a
// broadcast (the same NetBIOS datagram, checked by the same rules), and
// local clients send each group datagram once to the group besides
// broadcasting it (hostinfo tells them the group). A host that hears a
// datagram both ways delivers it once: both copies come from the same
// socket with the same DGM_ID and record (the dedup window).

// setupMulticast joins the group on every interface: on the datagram
// socket when the group's port is the datagram port, on a socket of its
// own otherwise. The datagram sockets are readied to send to the group
// (the announcements' copy), ttl hops and not back to this computer.
func (d *Daemon) setupMulticast() error {
	group, err := hostinfo.ParseAddrPort(d.cfg.Multicast, d.cfg.DgramPort)
	if err != nil {
		return fmt.Errorf("multicast group: %w", err)
	}
	d.mcast = group
	for i, ifc := range d.ifaces {
		var c *dgramSock
		if int(group.Port()) == d.cfg.DgramPort && i < len(d.dgram) {
			c = d.dgram[i]
		} else {
			if c, err = listenDgram(ifc, int(group.Port()), d.cfg.SharePorts); err != nil {
				return err
			}
			d.mcastConns = append(d.mcastConns, mcastConn{ifc, c})
		}
		ifi, err := net.InterfaceByIndex(ifc.Index)
		if err == nil {
			err = joinGroup(c, ifi, group.Addr())
		}
		if err != nil {
			return fmt.Errorf("join multicast group %s on %s: %w", group.Addr(), ifc.Name, err)
		}
	}
	for _, c := range d.dgram {
		if err := readyMulticast(c, d.cfg.MulticastTTL); err != nil {
			return fmt.Errorf("ready the datagram socket for multicast: %w", err)
		}
	}
	if len(d.dgram) > 0 {
		ifc := netif.Toward(d.ifaces, group)
		for i := range d.ifaces {
			if d.ifaces[i].Name == ifc.Name && i < len(d.dgram) {
				d.mcastOut = i
			}
		}
	}
	return nil
}

// mcastConn is a socket that takes the group's datagrams on one interface
// (when its port is not the datagram port).
type mcastConn struct {
	ifc Iface
	c   *dgramSock
}

// sockopt runs f on c's descriptor.
func sockopt(c syscall.Conn, f func(fd int) error) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// sendMulticast sends a datagram the daemon broadcast on interface
// d.mcastOut to the group too, from the same socket.
func (d *Daemon) sendMulticast(b []byte) error {
	if !d.mcast.IsValid() || d.mcastOut >= len(d.dgram) {
		return nil
	}
	_, err := d.dgram[d.mcastOut].WriteToUDPAddrPort(b, d.mcast)
	return err
}

// multicastGroup is the group, for logs; "" when none.
func (d *Daemon) multicastGroup() string {
	if !d.mcast.IsValid() {
		return ""
	}
	return netip.AddrPortFrom(d.mcast.Addr(), d.mcast.Port()).String()
}
