//go:build !windows

package daemon

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/mailslot-go/mailslot/internal/wire"
)

// Browser announcements ([MS-BRWS] 3.2.6, 3.3.5): a computer that
// announces itself sends a HostAnnouncement to its workgroup's local
// master browser name (WORKGROUP<1d>) on \MAILSLOT\BROWSE, first a minute
// after it starts and then at growing intervals up to 12 minutes; and
// again, after a random delay, when someone asks with an
// AnnouncementRequest. The master browser (Windows, or Samba's nmbd) then
// lists the computer, and `net view`, Explorer's Network and
// `mailslot browse` show it.

const (
	browseSlot = "BROWSE"
	// announceFirst and announceMax bound the periodic announcements: the
	// interval doubles from the first to the last.
	announceFirst = time.Minute
	announceMax   = 12 * time.Minute
	// Announced OS version: what Samba announces for a non-Windows host.
	announceOSMajor, announceOSMinor = 4, 9
	// DefaultComment is the comment of our announcements.
	DefaultComment = "mailslotd"
	// announceServerType: a workstation. We run no file server, so we do
	// not claim SV_TYPE_SERVER (Explorer would try to open our shares).
	announceServerType = wire.SVTypeWorkstation
)

// announceLoop sends a HostAnnouncement at start, periodically and on
// request, until the daemon closes.
func (d *Daemon) announceLoop() {
	defer d.wg.Done()
	interval := announceFirst
	// The first announcement goes out at once, so that a master browser
	// lists us without waiting a minute.
	next := time.NewTimer(0)
	defer next.Stop()
	var reply <-chan time.Time // pending answer to a request
	for {
		select {
		case <-d.done:
			return
		case <-next.C:
			d.announce(interval)
			next.Reset(interval)
			interval = min(2*interval, announceMax)
		case <-d.announceReq:
			if reply == nil {
				delay := time.Duration(0)
				if d.cfg.AnnounceReplyDelay > 0 {
					delay = rand.N(d.cfg.AnnounceReplyDelay)
				}
				reply = time.After(delay)
			}
		case <-reply:
			reply = nil
			d.announce(interval)
		}
	}
}

// requestAnnouncement asks announceLoop to answer an AnnouncementRequest;
// requests that come while one waits are one.
func (d *Daemon) requestAnnouncement() {
	select {
	case d.announceReq <- struct{}{}:
	default:
	}
}

// announce sends our HostAnnouncement on every interface.
func (d *Daemon) announce(periodicity time.Duration) {
	a := wire.Announcement{
		Opcode:              wire.OpHostAnnouncement,
		Periodicity:         uint32(periodicity / time.Millisecond),
		ServerName:          d.cfg.Name,
		OSVersionMajor:      announceOSMajor,
		OSVersionMinor:      announceOSMinor,
		ServerType:          announceServerType,
		BrowserVersionMajor: wire.BrowserVersionMajor,
		BrowserVersionMinor: wire.BrowserVersionMinor,
		Signature:           wire.BrowserSignature,
		Comment:             d.cfg.Comment,
	}
	data, err := wire.AppendAnnouncement(nil, &a)
	if err != nil {
		d.log.Warn("encode host announcement", "name", d.cfg.Name, "err", err)
		return
	}
	for i, ifc := range d.ifaces {
		if i >= len(d.dgram) {
			break
		}
		dg := wire.Datagram{
			Type:            wire.DirectGroup,
			Flags:           wire.NewDatagramFlags(wire.BNode) | wire.FlagFirst,
			ID:              uint16(d.nextID.Add(1)),
			SourceIP:        ifc.Addr,
			SourcePort:      uint16(d.cfg.DgramPort),
			SourceName:      d.name,
			DestinationName: d.group.WithSuffix(wire.SuffixMasterBrowser),
		}
		mw := wire.MailslotWrite{Name: mailslotPrefix + browseSlot, Class: wire.ClassUnreliable, Data: data}
		b, err := wire.AppendMailslotDatagram(nil, &dg, &mw)
		if err != nil {
			d.log.Warn("encode host announcement", "name", d.cfg.Name, "err", err)
			return
		}
		to := netip.AddrPortFrom(ifc.Broadcast, uint16(d.cfg.DgramPort))
		if _, err := d.dgram[i].WriteToUDPAddrPort(b, to); err != nil {
			d.log.Warn("send host announcement", "name", d.cfg.Name, "workgroup", d.cfg.Workgroup, "interface", ifc.Name, "err", err)
			continue
		}
		if i == d.mcastOut {
			// Browsers on the subnets the group reaches hear it too.
			if err := d.sendMulticast(b); err != nil {
				d.log.Warn("send host announcement to the multicast group", "group", d.multicastGroup(), "err", err)
			}
		}
		d.c.announcements.Add(1)
		d.log.Debug("sent host announcement", "interface", ifc.Name, "to", d.group.WithSuffix(wire.SuffixMasterBrowser).String())
	}
}

// browserFrame looks at a record for \MAILSLOT\BROWSE: an
// AnnouncementRequest to our workgroup makes us announce ourselves. The
// record still goes to a local slot of that name, if one is served.
func (d *Daemon) browserFrame(path string, dg *wire.Datagram, data []byte) {
	if !d.cfg.Announce || !strings.EqualFold(path, browseSlot) || len(data) == 0 ||
		wire.BrowserOpcode(data[0]) != wire.OpAnnouncementRequest {
		return
	}
	// To WORKGROUP<00> it asks every member (nmbd, as a new master
	// browser, asks WORKGROUP<1e>); to WORKGROUP<1d>, only the master
	// browser, which we are not.
	if dg.Type == wire.DirectGroup && (!strings.EqualFold(dg.DestinationName.Name(), d.group.Name()) ||
		dg.DestinationName.Suffix() == wire.SuffixMasterBrowser) {
		return
	}
	d.log.Debug("announcement requested", "by", dg.SourceName.String())
	d.requestAnnouncement()
}
