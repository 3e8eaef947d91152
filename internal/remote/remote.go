// Package remote writes records to mailslots on other computers: as
// NetBIOS datagrams ([MS-MAIL] mailslot writes) that Windows, Samba and
// mailslotd hosts understand, or, for a record too large for a datagram,
// over mailslotd's stream port, where the far side says whether the
// record reached the slot.
package remote

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/netif"
	"github.com/mailslot-go/mailslot/internal/stream"
	"github.com/mailslot-go/mailslot/internal/wire"
	"golang.org/x/net/ipv4"
)

// MaxStreamRecord is the largest record sent over a connection.
const MaxStreamRecord = stream.MaxData

// Writer writes records to one remote name. It is safe for concurrent use.
type Writer struct {
	host, path string
	slot       string // `\MAILSLOT\` and path
	self       hostinfo.Info
	ifaces     []netif.Iface
	res        Resolution
	src, dst   wire.Name
	maxDgram   int
	udp        *net.UDPConn

	// DatagramsOnly sends every record that fits a datagram as one, even
	// to a computer whose mailslotd takes records over its stream port.
	DatagramsOnly bool

	// bridged: the computer was not found on the LAN, and this computer's
	// mailslotd is bridged to other sites (mailslotd --nats): records go
	// to it, on its stream port, to be relayed.
	bridged bool

	mu       sync.Mutex // guards conn and probed: one request at a time
	conn     net.Conn
	probed   bool        // whether the stream port was tried
	streamOK bool        // the far side's stream port took a connection
	head     []byte      // a request's head, reused
	vec      [2][]byte   // head and data for writev
	bufs     net.Buffers // w.vec[:] while it is written

	dgMu  sync.Mutex // guards dgBuf
	dgBuf []byte     // a unicast datagram, reused

	// mcast is the multicast group a group's datagrams also go to (see
	// hostinfo.Info.Multicast), once, from mcastIf; invalid when none.
	mcast   netip.AddrPort
	mcastIf netif.Iface
}

var nextID atomic.Uint32

// resolve is Resolve; tests replace it to see that it is not called.
var resolve = Resolve

func init() {
	var b [2]byte
	_, _ = rand.Read(b[:])
	nextID.Store(uint32(binary.BigEndian.Uint16(b[:])))
}

// Open resolves host ("*" is the primary domain) and returns a Writer for
// the slot path there.
func Open(host, path string) (*Writer, error) {
	self := hostinfo.Lookup()
	target := host
	if host == "*" {
		target = self.Workgroup
	}
	// The datagrams name the far computer or workgroup in NetBIOS form: a
	// name that has none (over 15 bytes, say) is refused before anything
	// else, and before any look-up.
	dst, err := wire.NewName(target, 0x00)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a NetBIOS computer or workgroup name: %v", errs.InvalidName, target, err)
	}
	ifaces, err := netif.List(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.Unreachable, err)
	}
	// Mailslot names are case-insensitive; on the wire they go in upper
	// case, as Windows writes them, and as Samba and Wireshark expect
	// the browser's \MAILSLOT\BROWSE.
	path = upperASCII(path)
	w := &Writer{host: host, path: path, self: self, ifaces: ifaces, dst: dst}
	if w.res, err = resolve(target, self, ifaces); err != nil {
		if !errors.Is(err, errs.Unreachable) || !bridge(self) {
			return nil, err
		}
		// Not on this LAN: perhaps on another site, which this
		// computer's mailslotd reaches through its bridge and asks.
		w.res = Resolution{Addr: netip.AddrFrom4([4]byte{127, 0, 0, 1}), Via: "bridge"}
		w.bridged = true
	}
	if w.src, err = wire.NewName(self.Name, 0x00); err != nil {
		return nil, fmt.Errorf("this computer's name %q: %w", self.Name, err)
	}
	slot := `\MAILSLOT\` + path
	if err := wire.CheckMailslotName(slot); err != nil {
		return nil, fmt.Errorf("%w: %v", errs.InvalidName, err)
	}
	w.maxDgram = wire.MaxMailslotData(slot, w.src, w.dst)
	w.slot = slot
	if w.udp, err = listenBroadcast(); err != nil {
		return nil, err
	}
	if group, ok := self.MulticastGroup(); ok && w.res.Group {
		if err := w.joinMulticast(group, self.MulticastTTL); err != nil {
			w.udp.Close()
			return nil, err
		}
	}
	return w, nil
}

// defaultMulticastTTL is the TTL of multicast datagrams when mailslotd
// names none.
const defaultMulticastTTL = 8

// joinMulticast readies the socket to send a group's datagrams to the
// multicast group too: from the interface the routing table takes to it
// (or the first), ttl hops, and not back to this computer, which hears
// the broadcast copy.
func (w *Writer) joinMulticast(group netip.AddrPort, ttl int) error {
	if ttl <= 0 {
		ttl = defaultMulticastTTL
	}
	w.mcast, w.mcastIf = group, netif.Toward(w.ifaces, group)
	ifi, err := net.InterfaceByIndex(w.mcastIf.Index)
	if err != nil {
		return fmt.Errorf("ready a socket for multicast group %s: interface %s: %w", group, w.mcastIf.Name, err)
	}
	p := ipv4.NewPacketConn(w.udp)
	if err := p.SetMulticastTTL(ttl); err != nil {
		return fmt.Errorf("ready a socket for multicast group %s: TTL %d: %w", group, ttl, err)
	}
	if err := p.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("ready a socket for multicast group %s: no loopback: %w", group, err)
	}
	if err := p.SetMulticastInterface(ifi); err != nil {
		return fmt.Errorf("ready a socket for multicast group %s on %s: %w", group, w.mcastIf.Name, err)
	}
	return nil
}

// Multicast returns the multicast group a group's datagrams also go to,
// and the interface they leave by; ok is false when there is none.
func (w *Writer) Multicast() (group netip.AddrPort, ifc netif.Iface, ok bool) {
	return w.mcast, w.mcastIf, w.mcast.IsValid()
}

// upperASCII upper-cases the ASCII letters of s, leaving other bytes as
// they are (so the name keeps its length in bytes).
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// listenBroadcast opens a UDP socket that may send broadcasts.
func listenBroadcast() (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = setBroadcast(fd)
		}); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", ":0")
	if err != nil {
		return nil, fmt.Errorf("open a UDP socket: %w", err)
	}
	return pc.(*net.UDPConn), nil
}

// bridge reports whether this computer's mailslotd is bridged to other
// sites and takes records for them on its stream port.
func bridge(self hostinfo.Info) bool { return self.Daemon && self.Bridge && self.StreamPort > 0 }

// Group reports whether records go to a group (broadcast).
func (w *Writer) Group() bool { return w.res.Group }

// Resolution returns how the host was resolved.
func (w *Writer) Resolution() Resolution { return w.res }

// MaxMessageSize is the datagram limit for a group, and the stream limit
// for a computer, and for a group when this computer's mailslotd is
// bridged to other sites (which then get a larger record, and this LAN
// none: see Write).
func (w *Writer) MaxMessageSize() int {
	if w.res.Group && !bridge(w.self) {
		return w.maxDgram
	}
	return MaxStreamRecord
}

// MaxDatagram is the largest record that goes as one datagram.
func (w *Writer) MaxDatagram() int { return w.maxDgram }

// Write sends one record: as a datagram when it fits one, else over the
// stream port, waiting for the far side's answer.
//
// To a computer, records go over mailslotd's stream port whenever it
// answers there, small ones included: the writer then learns that each
// record reached the slot, and records reach a mailslotd that shares
// UDP 138 with Samba's nmbd (which takes unicast datagrams there).
// Windows and Samba hosts, which have no stream port, get datagrams.
//
// A computer not found on the LAN, when this computer's mailslotd is
// bridged to other sites, is asked through the bridge: the record goes to
// that mailslotd's stream port, which answers what became of it there. A
// group record over the datagram limit goes the same way to the bridged
// mailslotd hosts of the group, on every site; the LAN's hosts that are
// not bridged do not get it (a datagram cannot carry it).
func (w *Writer) Write(p []byte, timeout time.Duration) error {
	if w.bridged {
		return w.sendStream(p, timeout)
	}
	if !w.res.Group && !w.DatagramsOnly && w.hasStream() {
		return w.sendStream(p, timeout)
	}
	if len(p) <= w.maxDgram {
		return w.sendDatagram(p)
	}
	if w.res.Group {
		if bridge(w.self) && len(p) <= MaxStreamRecord {
			return w.sendStream(p, timeout)
		}
		return fmt.Errorf("%w: %d bytes; a broadcast record fits one datagram, at most %d bytes here", errs.MessageTooLarge, len(p), w.maxDgram)
	}
	if w.DatagramsOnly {
		return fmt.Errorf("%w: %d bytes; records to %s go as datagrams only, at most %d bytes here", errs.MessageTooLarge, len(p), w.host, w.maxDgram)
	}
	// No mailslotd answers on the stream port: a Windows or Samba host,
	// which takes datagrams only.
	return fmt.Errorf("%w: %d bytes; %s has no mailslotd stream port (%s), so records go to it as datagrams, at most %d bytes here",
		errs.MessageTooLarge, len(p), w.host, w.streamAddr(), w.maxDgram)
}

// Datagram encodes the datagram for p as sent from ifc.
func (w *Writer) Datagram(p []byte, ifc netif.Iface, id uint16) ([]byte, error) {
	return w.appendDatagram(nil, p, ifc, id)
}

func (w *Writer) appendDatagram(dst, p []byte, ifc netif.Iface, id uint16) ([]byte, error) {
	typ := wire.DirectUnique
	if w.res.Group {
		typ = wire.DirectGroup
	}
	d := wire.Datagram{
		Type:            typ,
		Flags:           wire.NewDatagramFlags(wire.BNode) | wire.FlagFirst,
		ID:              id,
		SourceIP:        ifc.Addr,
		SourcePort:      uint16(w.self.DgramPort),
		SourceName:      w.src,
		DestinationName: w.dst,
	}
	mw := wire.MailslotWrite{Name: w.slot, Priority: 0, Class: wire.ClassUnreliable, Timeout: 1000, Data: p}
	return wire.AppendMailslotDatagram(dst, &d, &mw)
}

func (w *Writer) sendDatagram(p []byte) error {
	id := uint16(nextID.Add(1))
	port := uint16(w.self.DgramPort)
	if w.res.Group {
		var firstErr error
		sent := 0
		// One buffer for a writer's datagrams, and no address to allocate.
		w.dgMu.Lock()
		defer w.dgMu.Unlock()
		for _, ifc := range w.ifaces {
			b, err := w.appendDatagram(w.dgBuf[:0], p, ifc, id)
			if err != nil {
				return err
			}
			w.dgBuf = b
			if _, err := w.udp.WriteToUDPAddrPort(b, netip.AddrPortFrom(ifc.Broadcast, port)); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("broadcast on %s: %w", ifc.Name, err)
				}
				continue
			}
			sent++
		}
		if w.mcast.IsValid() {
			// Once to the multicast group, the same datagram as the
			// broadcast on its interface: a mailslotd that hears both
			// delivers it once (same sender, id and record).
			b, err := w.Datagram(p, w.mcastIf, id)
			if err != nil {
				return err
			}
			if _, err := w.udp.WriteToUDPAddrPort(b, w.mcast); err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("send to multicast group %s on %s: %w", w.mcast, w.mcastIf.Name, err)
				}
			} else {
				sent++
			}
		}
		if sent == 0 {
			return fmt.Errorf("%w: %v", errs.Unreachable, firstErr)
		}
		return nil
	}
	ifc, ok := netif.For(w.ifaces, w.res.Addr)
	if !ok {
		ifc = w.ifaces[0]
	}
	// One buffer for a writer's datagrams, and no address to allocate.
	w.dgMu.Lock()
	defer w.dgMu.Unlock()
	b, err := w.appendDatagram(w.dgBuf[:0], p, ifc, id)
	if err != nil {
		return err
	}
	w.dgBuf = b
	dst := netip.AddrPortFrom(w.res.Addr, port)
	if _, err := w.udp.WriteToUDPAddrPort(b, dst); err != nil {
		return fmt.Errorf("%w: send to %s: %v", errs.Unreachable, dst, err)
	}
	return nil
}

// streamProbe bounds how long the first write to a computer waits to
// learn whether a mailslotd answers on its stream port.
const streamProbe = 500 * time.Millisecond

// hasStream reports whether the far side takes records over its stream
// port, trying once.
func (w *Writer) hasStream() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.probed {
		w.probed = true
		c, err := net.DialTimeout("tcp", w.streamAddr(), streamProbe)
		if err == nil {
			w.conn, w.streamOK = c, true
		}
	}
	return w.streamOK
}

func (w *Writer) streamAddr() string {
	addr := w.res.Addr
	if w.res.Group {
		addr = netip.AddrFrom4([4]byte{127, 0, 0, 1}) // this computer's mailslotd, bridged
	}
	return net.JoinHostPort(addr.String(), strconv.Itoa(w.self.StreamPort))
}

// request returns the op and name of this writer's stream requests.
func (w *Writer) request() (uint8, string) {
	switch {
	case w.bridged:
		return stream.OpRelay, w.dst.Name() + `\` + w.path
	case w.res.Group:
		return stream.OpGroup, w.dst.Name() + `\` + w.path
	}
	return stream.OpWrite, w.path
}

// sendStream sends p over the stream port and returns the far side's
// answer as an error (nil: the record is in the slot's queue).
func (w *Writer) sendStream(p []byte, timeout time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	op, name := w.request()
	if w.head, err = stream.AppendRequestHeadOp(w.head[:0], op, name, w.self.Name, len(p)); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		fresh := w.conn == nil
		if fresh {
			addr := w.streamAddr()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return fmt.Errorf("%w: connect to mailslotd at %s: %v", errs.Unreachable, addr, err)
			}
			w.conn = c
		}
		resp, err := w.roundTrip(p, timeout)
		if err != nil {
			w.conn.Close()
			w.conn = nil
			if !fresh && attempt == 0 {
				continue // the far side closed an idle connection: once more
			}
			return fmt.Errorf("%w: %v", errs.Unreachable, err)
		}
		return statusErr(resp)
	}
}

// inlineData is the size up to which a record is copied behind the
// request's head and sent with one write(2); a larger one goes from where
// it lies, head and data in one writev(2).
const inlineData = 4 << 10

// roundTrip sends the request whose head is in w.head, with data p, and
// reads the answer. The caller holds mu.
func (w *Writer) roundTrip(p []byte, timeout time.Duration) (stream.Response, error) {
	wait := 15 * time.Second
	if timeout > 0 {
		wait = timeout + 5*time.Second
	}
	_ = w.conn.SetDeadline(time.Now().Add(wait))
	var err error
	if len(p) <= inlineData {
		n := len(w.head)
		w.head = append(w.head, p...)
		_, err = w.conn.Write(w.head)
		w.head = w.head[:n] // the head alone again, for a retry
	} else {
		w.vec = [2][]byte{w.head, p}
		w.bufs = w.vec[:]
		_, err = w.bufs.WriteTo(w.conn)
		w.vec, w.bufs = [2][]byte{}, nil // keep no reference to the caller's record
	}
	if err != nil {
		return stream.Response{}, err
	}
	return stream.ReadResponse(w.conn)
}

func statusErr(r stream.Response) error {
	var base error
	switch r.Status {
	case stream.OK:
		return nil
	case stream.NotFound:
		base = errs.NotFound
	case stream.TooLarge:
		base = errs.MessageTooLarge
	case stream.Busy:
		base = errs.Timeout
	case stream.Refused:
		base = errs.Permission
	case stream.Unreachable:
		base = errs.Unreachable
	default:
		base = errors.New(r.Status.String())
	}
	if r.Message == "" {
		return base
	}
	return fmt.Errorf("%w (the far side says: %s)", base, r.Message)
}

// Close releases the sockets.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
	w.mu.Unlock()
	return w.udp.Close()
}
