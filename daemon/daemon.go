//go:build !windows

// Package daemon is mailslotd as a library: the host service that gives a
// computer's local mailslots to the LAN. It receives mailslot datagrams
// (NetBIOS datagram service, UDP 138) for the computer's name, its
// workgroup and broadcasts, and records too large for a datagram on its
// stream port, and hands each record to the local slot it names. It
// answers NetBIOS name queries for its names, and tells local clients who
// the computer is, so that their datagrams carry its name.
//
//	d, err := daemon.New(daemon.Config{Name: "HOSTA", Workgroup: "LABGROUP"})
//	if err != nil { ... }
//	defer d.Close()
//	d.Serve() // until Close
package daemon

import (
	"errors"
	"fmt"
	"github.com/mailslot-go/mailslot/internal/netif"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/trust"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// Stats counts what a daemon has seen since it started.
type Stats struct {
	Datagrams     uint64 // mailslot datagrams received for this host
	Delivered     uint64 // records handed to a local slot (datagram and stream)
	NoSlot        uint64 // records for a slot nobody serves here
	LocalOnly     uint64 // records for a slot that takes no records from the network (mailslot.WithNetwork, read --network)
	QueueFull     uint64 // records dropped: the slot's queue or the slot stayed full, or its process did not answer
	Duplicates    uint64 // datagrams dropped as copies of one already delivered
	NotForUs      uint64 // datagrams to another computer's or workgroup's name
	Malformed     uint64 // datagrams and name packets that did not decode
	NameQueries   uint64 // name queries answered
	StreamRecords uint64 // records received on the stream port
	StreamErrors  uint64 // stream connections ended by a malformed, slow or cut request
	StreamRefused uint64 // stream connections closed at once: over MaxStreamConns or MaxStreamConnsPerHost
	Announcements uint64 // host announcements sent (one per interface)
}

type counters struct {
	datagrams, delivered, noSlot, localOnly, queueFull, duplicates, notForUs, malformed,
	nameQueries, streamRecords, streamErrors, streamRefused, announcements atomic.Uint64
}

// Daemon serves one computer's mailslots on the network.
type Daemon struct {
	cfg    Config
	log    *slog.Logger
	ifaces []Iface
	name   wire.Name // our computer name, suffix 0
	group  wire.Name // our workgroup, suffix 0

	dgram  []*dgramSock // one per interface, index as ifaces
	nbns   []*net.UDPConn
	stream *net.TCPListener
	info   *hostinfo.Listener
	status *hostinfo.Listener // nil if another process took its name
	wins   *winsClient        // nil without WINS servers

	mcast      netip.AddrPort // the multicast group; invalid when none
	mcastConns []mcastConn    // sockets of the group's own port
	mcastOut   int            // index of the datagram socket its copies go out by

	slots       *slotCache
	queues      *slotQueues
	started     time.Time
	dedup       *deduper
	c           counters
	nextID      atomic.Uint32 // datagram IDs of what the daemon sends
	announceReq chan struct{} // AnnouncementRequests for announceLoop
	bridge      siteBridge    // nil without Config.NATS
	// bridgeOrigins: the origins of bridged group records' senders
	// (bridgeHandler.origin).
	bridgeOrigins map[originKey]string

	mu      sync.Mutex
	conns   map[net.Conn]struct{} // open stream connections
	perHost map[netip.Addr]int    // open stream connections by remote address
	closed  bool
	serving bool
	wg      sync.WaitGroup
	done    chan struct{}
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("mailslotd closed")

// New binds the daemon's sockets; Serve starts answering them. Binding the
// standard ports needs root or CAP_NET_BIND_SERVICE: without, the error
// (ErrPrivilegedPort) says so; a port another program holds gives
// ErrPortInUse naming that program.
func New(cfg Config) (*Daemon, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ifaces, err := Interfaces(cfg.Interfaces)
	if err != nil {
		return nil, err
	}
	if !perInterface && len(ifaces) > 1 && (cfg.DgramPort > 0 || cfg.NamePort > 0) {
		names := make([]string, len(ifaces))
		for i, ifc := range ifaces {
			names[i] = ifc.Name
		}
		return nil, fmt.Errorf("on %s mailslotd serves one interface (a socket cannot be tied to an interface there, so sockets of two cannot share a port): choose one with --interface (found %s)", runtime.GOOS, strings.Join(names, ", "))
	}
	d := &Daemon{
		cfg:         cfg,
		log:         cfg.Logger,
		ifaces:      ifaces,
		slots:       newSlotCache(),
		started:     time.Now(),
		dedup:       newDeduper(cfg.DedupWindow, 4096),
		conns:       map[net.Conn]struct{}{},
		perHost:     map[netip.Addr]int{},
		done:        make(chan struct{}),
		announceReq: make(chan struct{}, 1),
	}
	d.queues = newSlotQueues(dgramSink{d})
	d.name, _ = wire.NewName(cfg.Name, 0)
	d.group, _ = wire.NewName(cfg.Workgroup, 0)
	ok := false
	defer func() {
		if !ok {
			d.closeSockets()
		}
	}()
	for _, ifc := range ifaces {
		if cfg.DgramPort > 0 {
			c, err := listenDgram(ifc, cfg.DgramPort, cfg.SharePorts)
			if err != nil {
				return nil, err
			}
			d.dgram = append(d.dgram, c)
			if got := recvBufSize(c); got < rcvBuf && len(d.dgram) == 1 {
				d.log.Warn("the system caps the datagram receive buffer: a burst of datagrams may be dropped; "+recvBufHint,
					"interface", ifc.Name, "buffer_bytes", got, "wanted_bytes", rcvBuf)
			}
		}
		if cfg.NamePort > 0 {
			c, err := listenUDP(ifc, cfg.NamePort, cfg.SharePorts)
			if err != nil {
				return nil, err
			}
			d.nbns = append(d.nbns, c)
		}
	}
	if cfg.Multicast != "" {
		if err := d.setupMulticast(); err != nil {
			return nil, err
		}
	}
	if cfg.StreamPort > 0 {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{Port: cfg.StreamPort})
		if err != nil {
			return nil, bindError("tcp", cfg.StreamPort, err)
		}
		d.stream = ln
	}
	if len(cfg.WINS) > 0 {
		if d.wins, err = newWINSClient(cfg, ifaces, d.name, d.group, d.log); err != nil {
			return nil, err
		}
	}
	// Local clients believe the info socket only from a mailslotd user.
	if err := trust.Check(); err != nil {
		d.log.Warn("ignoring "+trust.DaemonUserEnv, "err", err)
	}
	if uid := uint32(os.Geteuid()); !trust.IsDaemonUID(uid) {
		d.log.Warn("running as neither root nor "+trust.DaemonUserEnv+": clients of other users will not believe this computer name and workgroup", "uid", uid)
	}
	// The error names the process holding the socket.
	d.info, err = hostinfo.Listen(hostinfo.Info{
		Name: cfg.Name, Workgroup: cfg.Workgroup,
		NamePort: cfg.NamePort, DgramPort: cfg.DgramPort, StreamPort: cfg.StreamPort,
		WINS: strings.Join(cfg.WINS, ","), Node: cfg.NodeType, Multicast: cfg.Multicast, MulticastTTL: cfg.MulticastTTL,
		Bridge: cfg.NATS.Enabled() && cfg.StreamPort > 0,
	})
	if err != nil {
		return nil, err
	}
	// The status socket is for operators: taken by another process, it
	// costs `mailslot status`, not the service.
	d.status, err = hostinfo.ListenStatus(d.statusAnswer)
	if err != nil {
		d.log.Warn("mailslot status will not work", "err", err)
	}
	if err := d.startBridge(); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

// dgramLoop receives the datagrams of one interface's socket, in batches
// (see dgramBatch), until it closes.
func (d *Daemon) dgramLoop(ifc Iface, c *dgramSock) {
	defer d.wg.Done()
	b, err := newDgramBatch(c)
	if err != nil {
		d.log.Error("receive datagrams", "interface", ifc.Name, "err", err)
		return
	}
	d.receiveDatagrams(ifc, b)
}

// Config returns the daemon's configuration, defaults filled in.
func (d *Daemon) Config() Config { return d.cfg }

// Interfaces returns the interfaces the daemon serves.
func (d *Daemon) Interfaces() []Iface { return d.ifaces }

// Serve answers the sockets until Close; it returns ErrClosed then.
func (d *Daemon) Serve() error {
	d.mu.Lock()
	if d.closed || d.serving {
		d.mu.Unlock()
		return ErrClosed
	}
	d.serving = true
	for i, c := range d.dgram {
		d.wg.Add(1)
		go d.dgramLoop(d.ifaces[i], c)
	}
	for _, m := range d.mcastConns {
		d.wg.Add(1)
		go d.dgramLoop(m.ifc, m.c)
	}
	for i, c := range d.nbns {
		d.wg.Add(1)
		go d.nameLoop(d.ifaces[i], c)
	}
	if d.stream != nil {
		d.wg.Add(1)
		go d.acceptLoop()
	}
	if d.cfg.Announce && len(d.dgram) > 0 {
		d.wg.Add(1)
		go d.announceLoop()
	}
	if d.wins != nil {
		d.wins.run()
	}
	d.mu.Unlock()
	var names []string
	for _, ifc := range d.ifaces {
		names = append(names, ifc.Name+"="+ifc.Addr.String())
	}
	d.log.Info("mailslotd serving", "name", d.cfg.Name, "workgroup", d.cfg.Workgroup,
		"interfaces", names, "dgram_port", d.cfg.DgramPort, "name_port", d.cfg.NamePort,
		"stream_port", d.cfg.StreamPort, "share_ports", d.cfg.SharePorts, "announce", d.cfg.Announce,
		"wins", d.cfg.WINS, "node_type", d.cfg.NodeType, "multicast", d.cfg.Multicast)
	<-d.done
	d.wg.Wait()
	return ErrClosed
}

// Close stops the daemon and waits for its goroutines.
func (d *Daemon) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.closed = true
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	if d.wins != nil {
		d.wins.close() // releases our names while the name port still answers
	}
	d.closeSockets()
	close(d.done)
	d.wg.Wait()
	if d.bridge != nil {
		d.bridge.Close()
	}
	d.slots.close() // a delivery waiting for room ends
	d.queues.close()
	return nil
}

func (d *Daemon) closeSockets() {
	for _, c := range d.dgram {
		c.Close()
	}
	for _, c := range d.nbns {
		c.Close()
	}
	for _, m := range d.mcastConns {
		m.c.Close()
	}
	if d.stream != nil {
		d.stream.Close()
	}
	if d.info != nil {
		d.info.Close()
	}
	if d.status != nil {
		d.status.Close()
	}
	if d.wins != nil {
		d.wins.conn.Close()
	}
}

// Stats returns the daemon's counters.
func (d *Daemon) Stats() Stats {
	c := &d.c
	return Stats{
		Datagrams: c.datagrams.Load(), Delivered: c.delivered.Load(), NoSlot: c.noSlot.Load(),
		LocalOnly: c.localOnly.Load(),
		QueueFull: c.queueFull.Load(), Duplicates: c.duplicates.Load(), NotForUs: c.notForUs.Load(),
		Malformed: c.malformed.Load(), NameQueries: c.nameQueries.Load(),
		StreamRecords: c.streamRecords.Load(), StreamErrors: c.streamErrors.Load(), StreamRefused: c.streamRefused.Load(),
		Announcements: c.announcements.Load(),
	}
}

// SlotStats returns, for each slot records from the network went to
// lately (at most 1024 of them), what became of them and how many wait in
// its queue, sorted by path.
func (d *Daemon) SlotStats() []SlotStats { return d.queues.stats() }

// StreamAddr returns the stream listener's address (nil when off).
func (d *Daemon) StreamAddr() net.Addr {
	if d.stream == nil {
		return nil
	}
	return d.stream.Addr()
}

// ifaceFor returns the interface whose subnet holds ip, else the first.
func (d *Daemon) ifaceFor(ip net.IP) Iface {
	if a, ok := netipFrom(ip); ok {
		if ifc, ok := netif.For(d.ifaces, a); ok {
			return ifc
		}
	}
	return d.ifaces[0]
}
