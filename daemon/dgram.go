//go:build !windows

package daemon

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/loglimit"
	"github.com/mailslot-go/mailslot/internal/wire"
)

const mailslotPrefix = `\MAILSLOT\`

func netipFrom(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	return a.Unmap(), ok
}

// dgramReader receives datagrams in batches: a dgramBatch, or a fake in
// the in-process tests.
type dgramReader interface {
	// read waits for datagrams and returns how many arrived.
	read() (int, error)
	// msg returns datagram i of the last read, its sender, and whether it
	// was cut short.
	msg(i int) ([]byte, netip.AddrPort, bool)
}

// receiveDatagrams hands each datagram b receives on one interface to
// handleDatagram, until b's socket closes. A datagram cut short is
// counted as malformed and dropped.
func (d *Daemon) receiveDatagrams(ifc Iface, b dgramReader) {
	var logs loglimit.Limiter
	names := newNameTable(maxInternedNames).intern
	for {
		n, err := b.read()
		if err != nil {
			if d.receiveFailed(&logs, "receive datagram", ifc, err) {
				return
			}
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			data, from, cut := b.msg(i)
			if cut {
				d.c.malformed.Add(1)
				if d.debugOn() {
					d.log.Debug("dropped datagram: too large", "from", from, "interface", ifc.Name)
				}
				continue
			}
			d.handleDatagram(ifc, data, from, now, names)
		}
	}
}

// receiveFailed is what a receive loop on ifc does when a read of its
// socket fails: it reports true when the socket has closed (the loop
// ends); any other error it logs as what, at most once per
// acceptLogEvery (logs counts those held back), and pauses acceptPauseMin
// so that an error that persists does not spin.
func (d *Daemon) receiveFailed(logs *loglimit.Limiter, what string, ifc Iface, err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return true
	}
	if ok, more := logs.Allow(time.Now(), acceptLogEvery); ok {
		d.log.Warn(what, "interface", ifc.Name, "err", err, "failed_since_last_log", more)
	}
	time.Sleep(acceptPauseMin)
	return false
}

// handleDatagram checks one datagram, received at now, and queues its
// record for its slot; names makes the slot names' strings. Bad input is
// counted and logged at debug level, never more.
func (d *Daemon) handleDatagram(ifc Iface, b []byte, from netip.AddrPort, now time.Time, names wire.NameFunc) {
	dg, w, err := wire.DecodeMailslotDatagramNames(b, names)
	if err != nil {
		d.c.malformed.Add(1)
		if d.debugOn() {
			d.log.Debug("dropped datagram", "from", from, "interface", ifc.Name, "err", err)
		}
		return
	}
	if !d.forUs(&dg) {
		if d.bridge != nil && dg.Type == wire.DirectGroup {
			d.bridgeOtherGroup(&dg, &w, from.Addr()) // written here to another workgroup
		}
		d.c.notForUs.Add(1)
		if d.debugOn() {
			d.log.Debug("datagram for another name", "from", from, "to", dg.DestinationName.String())
		}
		return
	}
	d.c.datagrams.Add(1)
	if d.dedup.seen(dedupKey(from, &dg, &w), now) {
		d.c.duplicates.Add(1)
		if d.debugOn() {
			d.log.Debug("dropped duplicate datagram", "from", from, "id", dg.ID)
		}
		return
	}
	if len(w.Name) <= len(mailslotPrefix) || !strings.EqualFold(w.Name[:len(mailslotPrefix)], mailslotPrefix) {
		d.c.malformed.Add(1)
		if d.debugOn() {
			d.log.Debug("not a mailslot name", "from", from, "name", w.Name)
		}
		return
	}
	path := w.Name[len(mailslotPrefix):]
	d.browserFrame(path, &dg, w.Data)
	if d.bridge != nil && dg.Type == wire.DirectGroup {
		d.bridgeDatagram(&dg, path, w.Data, from.Addr())
	}
	d.queues.enqueue(local.Key(path), path, w.Data, dg.SourceName, from)
}

// debugOn reports whether debug records are logged. The datagram path
// asks before it logs one: the call's arguments would allocate even when
// the logger drops it, and a flood of junk must not cost a per-datagram
// allocation.
func (d *Daemon) debugOn() bool { return d.log.Enabled(context.Background(), slog.LevelDebug) }

// dgramSink hands queued datagram records to their slots for slotQueues.
type dgramSink struct{ d *Daemon }

func (s dgramSink) deliver(key string, data []byte, origin string, wait time.Duration) error {
	err := s.d.deliverKey(key, data, origin, wait)
	return s.d.holdMessenger(key, data, origin, err)
}

func (s dgramSink) tryDeliver(key string, data []byte, origin string) bool {
	c := s.d.slots.peek(key)
	if c == nil {
		return false
	}
	ok, err := c.TryWrite(data, origin)
	if ok {
		s.d.c.delivered.Add(1)
	}
	return ok && err == nil
}

// outcome counts what became of a datagram's record, and logs it at
// debug level.
func (s dgramSink) outcome(path, origin string, err error) {
	d := s.d
	if err == nil {
		return
	}
	debug := d.debugOn()
	if debug {
		origin = strings.Clone(origin) // the record's buffer goes back to its pool
	}
	switch {
	case errors.Is(err, errs.NotFound):
		d.c.noSlot.Add(1)
		if debug {
			d.log.Debug("no slot for datagram", "slot", path, "from", origin)
		}
	case errors.Is(err, errs.Permission):
		d.c.localOnly.Add(1)
		if debug {
			d.log.Debug("slot takes no records from the network, datagram dropped", "slot", path, "from", origin,
				"admit", "serve it with mailslot.WithNetwork() or mailslot read --network", "err", err)
		}
	case errors.Is(err, errs.Closed):
		// mailslotd is closing.
	default:
		// The slot's queue or the slot stayed full, or its process did
		// not answer.
		d.c.queueFull.Add(1)
		if debug {
			d.log.Debug("datagram dropped", "slot", path, "from", origin, "err", err)
		}
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

// maxInternedNames bounds a nameTable.
const maxInternedNames = 1024

// nameTable hands out one string per mailslot name seen, so that a
// datagram for a known slot costs no allocation. It forgets them all
// when full. One receive loop uses it.
type nameTable struct {
	max   int
	names map[string]string
}

func newNameTable(max int) *nameTable {
	return &nameTable{max: max, names: make(map[string]string)}
}

func (nt *nameTable) intern(b []byte) string {
	if s, ok := nt.names[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if len(nt.names) >= nt.max {
		clear(nt.names)
	}
	s := string(b)
	nt.names[s] = s
	return s
}

var dedupSeed = maphash.MakeSeed()

// dedupKey identifies a datagram: who sent it, its id, where to, and what.
func dedupKey(from netip.AddrPort, dg *wire.Datagram, w *wire.MailslotWrite) uint64 {
	return recordKey(from.Addr(), dg.SourceName, dg.ID, w.Name, w.Data)
}

// recordKey identifies a record by its sender's address and NetBIOS name,
// its datagram id, its mailslot name (`\MAILSLOT\...`) and its data: the
// same for the copy a datagram brought over the LAN and the copy the NATS
// bridge brought (see bridge.go).
func recordKey(addr netip.Addr, src wire.Name, id uint16, name string, data []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(dedupSeed)
	ip := addr.As16()
	h.Write(ip[:])
	b := src.Bytes()
	h.Write(b[:])
	h.Write([]byte{byte(id >> 8), byte(id)})
	h.WriteString(strings.ToUpper(name))
	h.WriteByte(0)
	h.Write(data)
	return h.Sum64()
}

// deduper remembers recent datagrams, at most max of them.
type deduper struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	seenAt map[uint64]time.Time
	// order is a ring of the keys, oldest first, for eviction: entry i
	// (i < n) is at order[(first+i)%len(order)]. It grows by doubling up
	// to max entries and is then reused: a deduper that keeps up with a
	// flood allocates nothing for it.
	order    []seenEntry
	first, n int
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
	for dd.n > 0 && now.Sub(dd.order[dd.first].t) >= dd.window {
		dd.forgetOldest()
	}
	if _, ok := dd.seenAt[k]; ok {
		return true
	}
	// Make room, the oldest first.
	for dd.n > 0 && dd.n >= dd.max {
		dd.forgetOldest()
	}
	if dd.n == len(dd.order) {
		dd.grow()
	}
	dd.seenAt[k] = now
	dd.order[(dd.first+dd.n)%len(dd.order)] = seenEntry{k, now}
	dd.n++
	return false
}

// grow doubles the ring (up to max entries, at least minDedupRing), the
// oldest entry first in the new one.
func (dd *deduper) grow() {
	size := max(min(2*len(dd.order), dd.max), minDedupRing)
	order := make([]seenEntry, size)
	for i := 0; i < dd.n; i++ {
		order[i] = dd.order[(dd.first+i)%len(dd.order)]
	}
	dd.order, dd.first = order, 0
}

// minDedupRing is the ring's first size.
const minDedupRing = 16

// forgetOldest drops the oldest entry (a key is in order once: a copy
// seen again is not added).
func (dd *deduper) forgetOldest() {
	delete(dd.seenAt, dd.order[dd.first].k)
	dd.first = (dd.first + 1) % len(dd.order)
	dd.n--
}

// slotCache keeps a relay connection to each local slot records went to,
// and remembers for a while the slots that refused one, so that a flood
// of records for such a slot costs it one refused connection a second.
type slotCache struct {
	mu      sync.Mutex
	conns   map[string]*local.Conn
	refused map[string]refusal
	large   int // connections with a full-size ring
	closed  bool
}

type refusal struct {
	at  time.Time
	err error
}

// The relay's rings: the first maxLargeRings slots open at once get a
// full-size ring (local.RingSize, up to maxRelayRing: 1 MiB for a slot
// of 64 KiB records, room for a burst while its reader is busy), the
// others the smallest (local.SmallRingSize: 256 KiB for 64 KiB records).
// At most 16 MiB + 240 x 256 KiB = 76 MiB of shared memory so.
const (
	maxCachedSlots = 256
	maxLargeRings  = 16
	maxRelayRing   = 1 << 20
	refusalMemory  = time.Second
)

func newSlotCache() *slotCache {
	return &slotCache{conns: map[string]*local.Conn{}, refused: map[string]refusal{}}
}

func (sc *slotCache) get(key string) (*local.Conn, error) {
	sc.mu.Lock()
	if sc.closed {
		sc.mu.Unlock()
		return nil, errs.Closed
	}
	c := sc.conns[key]
	r, wasRefused := sc.refused[key]
	sc.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if wasRefused && time.Since(r.at) < refusalMemory {
		return nil, r.err
	}
	sc.mu.Lock()
	small := sc.large >= maxLargeRings
	sc.mu.Unlock()
	c, err := local.Dial(key, local.DialConfig{Relay: true, TrustAny: true, SmallRing: small, MaxRing: maxRelayRing})
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
	if sc.closed {
		c.Close()
		return nil, errs.Closed
	}
	if old := sc.conns[key]; old != nil {
		c.Close()
		return old, nil
	}
	if len(sc.conns) >= maxCachedSlots {
		for k, old := range sc.conns { // any one: a cache, not a registry
			sc.removeLocked(k, old)
			break
		}
	}
	sc.conns[key] = c
	if isLarge(c) {
		sc.large++
	}
	return c, nil
}

func isLarge(c *local.Conn) bool { return c.RingSize() > local.SmallRingSize(c.MaxMessageSize()) }

// removeLocked closes and forgets a cached connection; sc.mu is held.
func (sc *slotCache) removeLocked(key string, c *local.Conn) {
	if sc.conns[key] == c {
		delete(sc.conns, key)
		if isLarge(c) {
			sc.large--
		}
	}
	c.Close()
}

func (sc *slotCache) len() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return len(sc.conns)
}

// peek returns the open connection to a slot, if the cache has one.
func (sc *slotCache) peek(key string) *local.Conn {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.conns[key]
}

func (sc *slotCache) drop(key string, c *local.Conn) {
	sc.mu.Lock()
	sc.removeLocked(key, c)
	sc.mu.Unlock()
}

func (sc *slotCache) close() {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.closed = true
	for k, c := range sc.conns {
		sc.removeLocked(k, c)
	}
}

// deliverKey hands a record to the local slot with this key (local.Key),
// as a relay naming origin; wait bounds the wait for room (0: none).
func (d *Daemon) deliverKey(key string, data []byte, origin string, wait time.Duration) error {
	c, err := d.deliverHeld(key, data, origin, wait)
	if c != nil {
		c.Wake()
	}
	return err
}

// deliverHeld is deliverKey that leaves waking the slot's reader to the
// caller: it returns the connection to call Wake on, if one is owed.
func (d *Daemon) deliverHeld(key string, data []byte, origin string, wait time.Duration) (*local.Conn, error) {
	for attempt := 0; ; attempt++ {
		c, err := d.slots.get(key)
		if err != nil {
			return nil, err
		}
		wake, err := c.WriteHeld(data, origin, wait)
		if err == nil {
			d.c.delivered.Add(1)
			if wake {
				return c, nil
			}
			return nil, nil
		}
		if (errors.Is(err, errs.NotFound) || errors.Is(err, errs.Closed)) && attempt == 0 {
			// The slot we knew has closed (or the cache let its
			// connection go); another may serve the name now.
			d.slots.drop(key, c)
			continue
		}
		return nil, err
	}
}
