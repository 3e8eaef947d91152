//go:build !windows

package daemon

import (
	"net"
	"strings"

	"github.com/mailslot-go/mailslot/internal/loglimit"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// nameTTL is the TTL of our answers, in seconds (as nmbd's default).
const nameTTL = 300000

// nameActive is the ACT bit of NAME_FLAGS (RFC 1002 §4.2.18): the name is
// active.
const nameActive = wire.NameFlags(0x0400)

// packetConn is a name service socket: a *net.UDPConn, or a fake in the
// in-process tests.
type packetConn interface {
	ReadFromUDP(b []byte) (int, *net.UDPAddr, error)
	WriteToUDP(b []byte, addr *net.UDPAddr) (int, error)
}

// nameLoop answers NetBIOS name service packets on one interface until
// its socket closes.
func (d *Daemon) nameLoop(ifc Iface, c packetConn) {
	defer d.wg.Done()
	var logs loglimit.Limiter
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			if d.receiveFailed(&logs, "receive name packet", ifc, err) {
				return
			}
			continue
		}
		resp := d.answerName(ifc, buf[:n], from)
		if resp == nil {
			continue
		}
		if _, err := c.WriteToUDP(resp, from); err != nil {
			d.log.Debug("send name response", "to", from, "err", err)
		}
	}
}

// answerName returns the response to a name service packet, or nil when
// it is not a query for one of our names.
func (d *Daemon) answerName(ifc Iface, b []byte, from *net.UDPAddr) []byte {
	p, err := wire.DecodeNameService(b)
	if err != nil {
		d.c.malformed.Add(1)
		d.log.Debug("dropped name packet", "from", from, "err", err)
		return nil
	}
	if p.Response || p.Opcode != wire.OpQuery || len(p.Questions) != 1 {
		return nil
	}
	q := p.Questions[0]
	name := q.Name.Name()
	mine := strings.EqualFold(name, d.cfg.Name)
	group := strings.EqualFold(name, d.cfg.Workgroup)
	// An if chain, not a switch: gremlins counts a case's condition as
	// never run (see scripts/mutants.md).
	var resp wire.NameServicePacket
	if q.Type == wire.TypeNBSTAT && (mine || name == "*") {
		st := &wire.NodeStatus{Names: []wire.NodeStatusName{
			{Name: d.name.WithSuffix(0x00), Flags: wire.NewNameFlags(false, wire.BNode) | nameActive},
			{Name: d.name.WithSuffix(0x03), Flags: wire.NewNameFlags(false, wire.BNode) | nameActive},
			{Name: d.group.WithSuffix(0x00), Flags: wire.NewNameFlags(true, wire.BNode) | nameActive},
		}}
		resp, err = wire.NewNodeStatusResponse(p.TransactionID, q.Name, st)
	} else if q.Type == wire.TypeNB && mine && (q.Name.Suffix() == 0x00 || q.Name.Suffix() == 0x03 || q.Name.Suffix() == 0x20) {
		resp, err = wire.NewPositiveNameQueryResponse(p.TransactionID, q.Name, nameTTL,
			[]wire.NBAddress{{Flags: wire.NewNBFlags(false, wire.BNode), IP: d.ifaceFor(from.IP).Addr}})
	} else if q.Type == wire.TypeNB && group && (q.Name.Suffix() == 0x00 || q.Name.Suffix() == 0x1e) {
		resp, err = wire.NewPositiveNameQueryResponse(p.TransactionID, q.Name, nameTTL,
			[]wire.NBAddress{{Flags: wire.NewNBFlags(true, wire.BNode), IP: d.ifaceFor(from.IP).Addr}})
	} else {
		return nil
	}
	if err != nil {
		d.log.Warn("encode name response", "name", q.Name.String(), "err", err)
		return nil
	}
	out, err := wire.AppendNameService(nil, &resp)
	if err != nil {
		d.log.Warn("encode name response", "name", q.Name.String(), "err", err)
		return nil
	}
	d.c.nameQueries.Add(1)
	d.log.Debug("answered name query", "name", q.Name.String(), "from", from)
	return out
}
