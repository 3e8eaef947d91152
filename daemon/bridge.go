//go:build !windows

package daemon

import (
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/mailslot-go/mailslot/daemon/natsbridge"
	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/printable"
	"github.com/mailslot-go/mailslot/internal/stream"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// The NATS bridge (Config.NATS, package natsbridge) joins mailslotd hosts
// on several sites:
//
//   - a group datagram that a writer on this computer broadcast to its
//     workgroup (this daemon hears it like any member) goes to the bridge
//     too, which hands it to every bridged mailslotd of the workgroup;
//     each delivers what it gets to its own slots only, never to a LAN.
//     A member on the writer's own site gets the record twice, over the
//     LAN and over NATS: both copies carry the sender's address, name and
//     datagram id, so the dedup filter drops the second.
//   - records that a writer here cannot send on its LAN come to this
//     daemon's stream port with op relay (a computer not found on the
//     LAN: a NATS request that computer's mailslotd answers) or op group
//     (a group record over the datagram limit: NATS only).
//   - with Durable, messenger records for this computer that find its
//     messenger down are kept in JetStream until it is back.

// messengerKey is the local key of the messenger slot (\MAILSLOT\MESSNGR),
// whose records the durable messenger keeps.
var messengerKey = local.Key("MESSNGR")

// siteBridge is what the daemon asks of its NATS bridge: a
// *natsbridge.Bridge, or a fake in the in-process tests.
type siteBridge interface {
	Site() string
	Stats() natsbridge.Stats
	PublishGroup(r *natsbridge.Record) error
	Request(r *natsbridge.Record, timeout time.Duration) stream.Response
	Hold(r *natsbridge.Record) error
	Duplicate()
	Close()
}

var _ siteBridge = (*natsbridge.Bridge)(nil)

// bridgeHandler delivers what the bridge brings.
type bridgeHandler struct{ d *Daemon }

// startBridge connects the daemon to NATS when its config asks.
func (d *Daemon) startBridge() error {
	if !d.cfg.NATS.Enabled() {
		return nil
	}
	d.bridgeOrigins = map[originKey]string{}
	b, err := natsbridge.New(d.cfg.NATS, d.cfg.Name, d.cfg.Workgroup, d.log, bridgeHandler{d})
	if err != nil {
		return err
	}
	d.bridge = b
	return nil
}

// BridgeStats returns the NATS bridge's counters (ok false without one).
func (d *Daemon) BridgeStats() (natsbridge.Stats, bool) {
	if d.bridge == nil {
		return natsbridge.Stats{}, false
	}
	return d.bridge.Stats(), true
}

// bridgedPath reports whether group records for a slot go over the
// bridge: not those of the browser protocol, which is the LAN's own
// (each LAN elects its own master browser).
func bridgedPath(path string) bool {
	return !strings.EqualFold(path, "BROWSE") && !strings.EqualFold(path, "LANMAN")
}

// ownAddr reports whether a is an address of one of the daemon's
// interfaces: a datagram from there was sent on this computer.
func (d *Daemon) ownAddr(a netip.Addr) bool {
	for _, ifc := range d.ifaces {
		if ifc.Addr == a {
			return true
		}
	}
	return false
}

// bridgeDatagram hands a workgroup datagram that a writer on this
// computer sent to the bridge.
func (d *Daemon) bridgeDatagram(dg *wire.Datagram, path string, data []byte, from netip.Addr) {
	if dg.DestinationName == msBrowse || !d.ownAddr(from) || !bridgedPath(path) {
		return
	}
	// A writer with several interfaces broadcast the record on each (one
	// datagram id): it goes to the bridge once. The key has no address
	// (the copies differ in theirs), which no datagram's key has.
	if d.dedup.seen(recordKey(netip.Addr{}, dg.SourceName, dg.ID, mailslotPrefix+path, data), time.Now()) {
		return
	}
	r := natsbridge.Record{
		Target: strings.ToUpper(dg.DestinationName.Name()), Path: path, Source: dg.SourceName.Name(), Suffix: dg.SourceName.Suffix(),
		Site: d.bridge.Site(), Addr: from, ID: dg.ID, Data: data,
	}
	if err := d.bridge.PublishGroup(&r); err != nil {
		d.log.Debug("group record not bridged", "slot", path, "err", err)
	}
}

// bridgeOtherGroup hands the bridge a datagram that a writer on this
// computer sent to another workgroup (which this daemon does not
// deliver): that workgroup's members on other sites get it.
func (d *Daemon) bridgeOtherGroup(dg *wire.Datagram, w *wire.MailslotWrite, from netip.Addr) {
	if len(w.Name) <= len(mailslotPrefix) || !strings.EqualFold(w.Name[:len(mailslotPrefix)], mailslotPrefix) {
		return
	}
	d.bridgeDatagram(dg, w.Name[len(mailslotPrefix):], w.Data, from)
}

// bridgeOrigin is where a bridged record came from, for its reader:
// `\\NAME (address at SITE)`.
func bridgeOrigin(r *natsbridge.Record) string {
	if r.Origin != "" {
		return r.Origin
	}
	addr := r.Addr.String()
	if !r.Addr.IsValid() {
		addr = "?"
	}
	if r.Site != "" {
		addr += " at " + r.Site
	}
	return printable.Origin(r.Source, addr, local.MaxOrigin)
}

// Group delivers a group record another site's mailslotd sent, unless
// this daemon delivered it already (it came over the LAN too).
func (h bridgeHandler) Group(r *natsbridge.Record) {
	d := h.d
	if !strings.EqualFold(r.Target, d.cfg.Workgroup) || r.Path == "" {
		return
	}
	src, err := wire.NewName(r.Source, r.Suffix)
	if err != nil {
		return
	}
	if d.dedup.seen(recordKey(r.Addr, src, r.ID, mailslotPrefix+r.Path, r.Data), time.Now()) {
		d.bridge.Duplicate()
		return
	}
	d.queues.enqueueOrigin(local.Key(r.Path), r.Path, r.Data, h.origin(r))
}

// origin is bridgeOrigin, kept for the senders met lately (Group runs on
// one goroutine: the bridge's group subscription's).
func (h bridgeHandler) origin(r *natsbridge.Record) string {
	k := originKey{r.Source, r.Site, r.Addr}
	if o, ok := h.d.bridgeOrigins[k]; ok && r.Origin == "" {
		return o
	}
	o := bridgeOrigin(r)
	if r.Origin == "" {
		if len(h.d.bridgeOrigins) >= 1024 {
			clear(h.d.bridgeOrigins)
		}
		h.d.bridgeOrigins[k] = o
	}
	return o
}

type originKey struct {
	source, site string
	addr         netip.Addr
}

// Direct delivers a record another site's writer sent to this computer
// by name, and says what became of it, as the stream port does.
func (h bridgeHandler) Direct(r *natsbridge.Record) stream.Response {
	return h.d.deliverAnswer(r.Path, r.Data, bridgeOrigin(r))
}

// deliverAnswer delivers a record its writer waits for (stream port,
// bridge) and returns the answer.
func (d *Daemon) deliverAnswer(path string, data []byte, origin string) stream.Response {
	key := local.Key(path)
	wake, err := d.deliverHeld(key, data, origin, d.cfg.StreamWait)
	err = d.holdMessenger(key, data, origin, err)
	d.queues.count(key, path, err)
	if wake != nil {
		defer wake.Wake()
	}
	return d.streamResult(path, err)
}

// Held delivers a messenger record the durable stream kept.
func (h bridgeHandler) Held(r *natsbridge.Record) error {
	return h.d.deliverKey(messengerKey, r.Data, bridgeOrigin(r), h.d.cfg.StreamWait)
}

// MessengerServed reports whether the messenger slot has a reader.
func (h bridgeHandler) MessengerServed() bool {
	_, err := h.d.slots.get(messengerKey)
	return err == nil
}

// holdMessenger keeps a messenger record that found no reader in the
// durable stream (Config.NATS.Durable) and returns nil once it is kept;
// any other record, or outcome, it returns as it is.
func (d *Daemon) holdMessenger(key string, data []byte, origin string, err error) error {
	if err == nil || d.bridge == nil || !d.cfg.NATS.Durable || key != messengerKey || !errors.Is(err, errs.NotFound) {
		return err
	}
	r := natsbridge.Record{Target: d.cfg.Name, Path: "MESSNGR", Origin: origin, Data: data}
	if herr := d.bridge.Hold(&r); herr != nil {
		d.log.Warn("durable messenger: record not kept", "from", origin, "err", herr)
		return err
	}
	d.log.Debug("durable messenger: record kept until the messenger is back", "from", origin)
	return nil
}

// isLocal reports whether a stream connection comes from this computer.
func (d *Daemon) isLocal(a netip.Addr) bool { return a.IsLoopback() || d.ownAddr(a) }

// forward answers a stream request with op relay or group: a writer on
// this computer asks the daemon to carry a record over the bridge.
func (d *Daemon) forward(req *stream.Request, host netip.Addr) stream.Response {
	if !d.isLocal(host) {
		return stream.Response{Status: stream.Refused, Message: "mailslotd forwards records for writers on its own computer only"}
	}
	if d.bridge == nil {
		return stream.Response{Status: stream.Unreachable, Message: "mailslotd on " + d.cfg.Name + " is not bridged to other sites (mailslotd --nats)"}
	}
	target, path, ok := strings.Cut(req.Name, `\`)
	if !ok || target == "" || path == "" {
		return stream.Response{Status: stream.BadRequest, Message: `name is not HOST\PATH`}
	}
	target = strings.ToUpper(target)
	src, err := wire.NewName(req.Source, 0)
	if err != nil {
		return stream.Response{Status: stream.BadRequest, Message: "source is not a NetBIOS name"}
	}
	r := natsbridge.Record{
		Target: target, Path: path, Source: src.Name(), Site: d.bridge.Site(), Addr: d.ifaces[0].Addr,
		ID: uint16(d.nextID.Add(1)), Data: req.Data,
	}
	if req.Op == stream.OpRelay {
		if target == d.cfg.Name {
			return d.deliverAnswer(path, req.Data, bridgeOrigin(&r))
		}
		return d.bridge.Request(&r, d.cfg.StreamWait+5*time.Second)
	}
	// A group record: to every bridged mailslotd of the workgroup, this
	// one too when it is a member (it does not hear its own).
	if err := d.bridge.PublishGroup(&r); err != nil {
		return stream.Response{Status: stream.Unreachable, Message: "the group record was not bridged to other sites: " + err.Error()}
	}
	if target == d.cfg.Workgroup {
		d.queues.enqueueOrigin(local.Key(path), path, req.Data, bridgeOrigin(&r))
	}
	return stream.Response{Status: stream.OK}
}
