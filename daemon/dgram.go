package daemon

import (
	"errors"
	"hash/maphash"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/printable"
	"github.com/mailslot-go/mailslot/internal/wire"
)

const mailslotPrefix = `\MAILSLOT\`

func netipFrom(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	return a.Unmap(), ok
}

// dgramLoop receives datagrams on one interface until its socket closes.
func (d *Daemon) dgramLoop(ifc Iface, c *net.UDPConn) {
	defer d.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			d.log.Warn("receive datagram", "interface", ifc.Name, "err", err)
			continue
		}
		d.handleDatagram(ifc, buf[:n], from)
	}
}

// handleDatagram checks one datagram and delivers its record. Bad input
// is counted and logged at debug level, never more.
func (d *Daemon) handleDatagram(ifc Iface, b []byte, from *net.UDPAddr) {
	dg, w, err := wire.DecodeMailslotDatagram(b)
	if err != nil {
		d.c.malformed.Add(1)
		d.log.Debug("dropped datagram", "from", from, "interface", ifc.Name, "err", err)
		return
	}
	if !d.forUs(&dg) {
		d.c.notForUs.Add(1)
		d.log.Debug("datagram for another name", "from", from, "to", dg.DestinationName.String())
		return
	}
	d.c.datagrams.Add(1)
	if d.dedup.seen(dedupKey(from, &dg, &w), time.Now()) {
		d.c.duplicates.Add(1)
		d.log.Debug("dropped duplicate datagram", "from", from, "id", dg.ID)
		return
	}
	if len(w.Name) <= len(mailslotPrefix) || !strings.EqualFold(w.Name[:len(mailslotPrefix)], mailslotPrefix) {
		d.c.malformed.Add(1)
		d.log.Debug("not a mailslot name", "from", from, "name", w.Name)
		return
	}
	path := w.Name[len(mailslotPrefix):]
	d.browserFrame(path, &dg, w.Data)
	origin := printable.Origin(dg.SourceName.Name(), hostPort(from), local.MaxOrigin)
	err = d.deliver(path, w.Data, origin, dgramWait)
	switch {
	case err == nil:
	case errors.Is(err, errs.NotFound):
		d.c.noSlot.Add(1)
		d.log.Debug("no slot for datagram", "slot", path, "from", origin)
	case errors.Is(err, errs.Permission):
		d.c.localOnly.Add(1)
		d.slotStats.dropped(path)
		d.log.Debug("slot takes no records from the network, datagram dropped", "slot", path, "from", origin,
			"admit", "serve it with mailslot.WithNetwork() or mailslot read --network", "err", err)
	case errors.Is(err, errs.Timeout):
		d.c.queueFull.Add(1)
		d.slotStats.dropped(path)
		d.log.Debug("slot full, datagram dropped", "slot", path, "from", origin)
	default:
		d.log.Debug("datagram not delivered", "slot", path, "from", origin, "err", err)
	}
}

// forUs reports whether a datagram is addressed to this computer: its
// name (any suffix) when unique, its workgroup (any suffix) or the master
// browsers' __MSBROWSE__ group (where they announce their workgroups)
// when group, and every broadcast.
func (d *Daemon) forUs(dg *wire.Datagram) bool {
	dst := dg.DestinationName
	switch dg.Type {
	case wire.DirectUnique:
		return strings.EqualFold(dst.Name(), d.name.Name())
	case wire.DirectGroup:
		return strings.EqualFold(dst.Name(), d.group.Name()) || dst == msBrowse
	case wire.BroadcastDatagram:
		return true
	}
	return false
}

var msBrowse = wire.BrowseMasterName()

var dedupSeed = maphash.MakeSeed()

// dedupKey identifies a datagram: who sent it, its id, where to, and what.
func dedupKey(from *net.UDPAddr, dg *wire.Datagram, w *wire.MailslotWrite) uint64 {
	var h maphash.Hash
	h.SetSeed(dedupSeed)
	h.Write(from.IP.To16())
	src := dg.SourceName.Bytes()
	h.Write(src[:])
	h.Write([]byte{byte(dg.ID >> 8), byte(dg.ID)})
	h.WriteString(strings.ToUpper(w.Name))
	h.WriteByte(0)
	h.Write(w.Data)
	return h.Sum64()
}

// deduper remembers recent datagrams, at most max of them.
type deduper struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	seenAt map[uint64]time.Time
	order  []seenEntry // oldest first, for eviction
}

type seenEntry struct {
	k uint64
	t time.Time
}

func newDeduper(window time.Duration, max int) *deduper {
	return &deduper{window: window, max: max, seenAt: make(map[uint64]time.Time)}
}

func (dd *deduper) setWindow(w time.Duration) {
	dd.mu.Lock()
	dd.window = w
	dd.mu.Unlock()
}

func (dd *deduper) getWindow() time.Duration {
	dd.mu.Lock()
	defer dd.mu.Unlock()
	return dd.window
}

func (dd *deduper) len() int {
	dd.mu.Lock()
	defer dd.mu.Unlock()
	return len(dd.seenAt)
}

// seen records k and reports whether it was seen within the window.
func (dd *deduper) seen(k uint64, now time.Time) bool {
	dd.mu.Lock()
	defer dd.mu.Unlock()
	if dd.window <= 0 {
		return false
	}
	// Forget what has aged out.
	for len(dd.order) > 0 && now.Sub(dd.order[0].t) >= dd.window {
		dd.forgetOldest()
	}
	if _, ok := dd.seenAt[k]; ok {
		return true
	}
	// Make room, the oldest first.
	for len(dd.order) > 0 && len(dd.order) >= dd.max {
		dd.forgetOldest()
	}
	dd.seenAt[k] = now
	dd.order = append(dd.order, seenEntry{k, now})
	return false
}

// forgetOldest drops the oldest entry (a key is in order once: a copy
// seen again is not added).
func (dd *deduper) forgetOldest() {
	delete(dd.seenAt, dd.order[0].k)
	dd.order = dd.order[1:]
}

// slotCache keeps a relay connection to each local slot records went to,
// and remembers for a while the slots that refused one, so that a flood
// of records for such a slot costs it one refused connection a second.
type slotCache struct {
	mu      sync.Mutex
	conns   map[string]*local.Conn
	refused map[string]refusal
}

type refusal struct {
	at  time.Time
	err error
}

const (
	maxCachedSlots = 256 // each holds a ring of up to 256 KiB (local.SmallRingSize)
	refusalMemory  = time.Second
)

func newSlotCache() *slotCache {
	return &slotCache{conns: map[string]*local.Conn{}, refused: map[string]refusal{}}
}

func (sc *slotCache) get(key string) (*local.Conn, error) {
	sc.mu.Lock()
	c := sc.conns[key]
	r, wasRefused := sc.refused[key]
	sc.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if wasRefused && time.Since(r.at) < refusalMemory {
		return nil, r.err
	}
	c, err := local.Dial(key, local.DialConfig{Relay: true, TrustAny: true, SmallRing: true})
	if err != nil {
		if errors.Is(err, errs.Permission) {
			sc.mu.Lock()
			if len(sc.refused) >= maxCachedSlots {
				clear(sc.refused)
			}
			sc.refused[key] = refusal{time.Now(), err}
			sc.mu.Unlock()
		}
		return nil, err
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	delete(sc.refused, key)
	if old := sc.conns[key]; old != nil {
		c.Close()
		return old, nil
	}
	if len(sc.conns) >= maxCachedSlots {
		for k, old := range sc.conns { // any one: a cache, not a registry
			old.Close()
			delete(sc.conns, k)
			break
		}
	}
	sc.conns[key] = c
	return c, nil
}

func (sc *slotCache) len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.conns)
}

func (sc *slotCache) drop(key string, c *local.Conn) {
	sc.mu.Lock()
	if sc.conns[key] == c {
		delete(sc.conns, key)
	}
	sc.mu.Unlock()
	c.Close()
}

func (sc *slotCache) close() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for k, c := range sc.conns {
		c.Close()
		delete(sc.conns, k)
	}
}

// deliver hands a record to the local slot with this path, as a relay
// naming origin; wait bounds the wait for room (0: none).
func (d *Daemon) deliver(path string, data []byte, origin string, wait time.Duration) error {
	key := local.Key(path)
	for attempt := 0; ; attempt++ {
		c, err := d.slots.get(key)
		if err != nil {
			return err
		}
		err = c.Write(data, origin, wait)
		if err == nil {
			d.c.delivered.Add(1)
			d.slotStats.delivered(path)
			return nil
		}
		if errors.Is(err, errs.NotFound) && attempt == 0 {
			// The slot we knew has closed; another may serve the name now.
			d.slots.drop(key, c)
			continue
		}
		return err
	}
}

// dgramWait is how long a datagram's record may wait for room in its
// slot. The socket between mailslotd and a slot holds only a few records
// (net.unix.max_dgram_qlen, 10 by default), so a slot whose reader is
// merely busy must not lose records to a burst; a slot that stays full
// costs at most this long per record before they are dropped and counted.
const dgramWait = 20 * time.Millisecond
