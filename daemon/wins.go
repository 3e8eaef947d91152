//go:build !windows

package daemon

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/netif"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// A WINS client (RFC 1001 §15, RFC 1002 §4.2): the daemon registers the
// computer's names and its workgroup's with each NetBIOS name server it
// is given, refreshes each before its TTL runs out, and releases them
// when it stops. What a server answers, it handles:
//
//   - positive: the name is ours for the TTL the server grants; a refresh
//     goes out when half of it has passed;
//   - wait for acknowledgement (WACK): the server is asking the name's
//     current owner, and answers within the WACK's TTL;
//   - end-node challenge: we ask the owner the server names ourselves; if
//     it does not claim the name, we overwrite the registration;
//   - negative: ACT_ERR (another computer holds the name) and CFT_ERR are
//     conflicts, logged as errors: the name stays served by broadcast on
//     our subnets, and is tried again later; other codes (RFS_ERR...) are
//     logged and tried again later;
//   - no answer: tried again later, after a growing delay.
//
// Requests go from a socket of their own (the server answers to its port),
// each waits for its answer by transaction id.

// Timing of the WINS client; tests shorten them.
var (
	winsTimeout      = 2 * time.Second // per try (RFC 1002: UCAST_REQ_RETRY_TIMEOUT, 5 s)
	winsTries        = 3               // UCAST_REQ_RETRY_COUNT
	winsMaxWACK      = 2 * time.Minute // the longest we wait after a WACK
	winsRetryFirst   = 10 * time.Second
	winsRetryMax     = 5 * time.Minute // the longest delay between tries at a silent server
	winsRetryRefused = 5 * time.Minute // after a negative answer or a conflict
	winsReleaseWait  = 2 * time.Second // the whole release at Close
)

// winsTTL is the TTL asked for (the server grants its own, between its
// minimum and maximum: nmbd's default is 6 days at most).
const winsTTL = nameTTL

// WINS name states, as Status shows them.
const (
	WINSRegistering = "registering"
	WINSRegistered  = "registered"
	WINSConflict    = "conflict"  // another computer holds the name
	WINSRefused     = "refused"   // a negative answer other than a conflict
	WINSNoAnswer    = "no answer" // the server did not answer
	WINSReleased    = "released"
)

// WINSName is the state of one name at one WINS server.
type WINSName struct {
	Server string `json:"server"` // ADDR:PORT
	Name   string `json:"name"`   // NAME<xx>
	Group  bool   `json:"group,omitempty"`
	State  string `json:"state"` // WINSRegistered, WINSConflict...
	// RCode is the server's last negative answer (ACT_ERR...), Owner the
	// address that holds the name in a conflict, when known.
	RCode string `json:"rcode,omitempty"`
	Owner string `json:"owner,omitempty"`
	// TTL is the time the server granted; Next when the name is
	// refreshed, or tried again.
	TTL  Duration  `json:"ttl,omitempty"`
	Next time.Time `json:"next,omitzero"`
}

type winsName struct {
	name  wire.Name
	group bool
}

// winsState is one name's state at one server.
type winsState struct {
	status string
	rcode  wire.RCode
	owner  netip.Addr
	ttl    time.Duration
	next   time.Time     // when to refresh, or try again
	delay  time.Duration // the last delay after no answer
}

type winsServer struct {
	addr  netip.AddrPort
	local wire.NBAddress // what we register: our address on the way to it
	mu    sync.Mutex
	state []winsState // by index of winsClient.names
}

type winsClient struct {
	log      *slog.Logger
	conn     *net.UDPConn
	ont      wire.NodeType
	namePort uint16 // where other nodes answer name queries
	names    []winsName
	servers  []*winsServer
	nextID   atomic.Uint32

	mu      sync.Mutex
	waiting map[uint16]waiter

	stop    chan struct{}
	stopped sync.Once
	loops   sync.WaitGroup // the server loops
	reader  sync.WaitGroup // readLoop
}

// waiter is a request waiting for its answer, which must come from the
// address the request went to.
type waiter struct {
	from netip.Addr
	ch   chan wire.NSReply
}

// nodeTypes turns a node type letter into the ONT bits.
var nodeTypes = map[string]wire.NodeType{hostinfo.NodeB: wire.BNode, hostinfo.NodeP: wire.PNode,
	hostinfo.NodeM: wire.MNode, hostinfo.NodeH: wire.HNode}

// newWINSClient opens the client's socket; it starts with run.
func newWINSClient(cfg Config, ifaces []Iface, name, group wire.Name, log *slog.Logger) (*winsClient, error) {
	c := &winsClient{
		log:      log,
		ont:      nodeTypes[cfg.NodeType],
		namePort: hostinfo.DefaultNamePort,
		waiting:  map[uint16]waiter{},
		stop:     make(chan struct{}),
	}
	for _, sfx := range []byte{wire.SuffixWorkstation, wire.SuffixMessenger, wire.SuffixServer} {
		c.names = append(c.names, winsName{name: name.WithSuffix(sfx)})
	}
	for _, sfx := range []byte{wire.SuffixWorkstation, wire.SuffixBrowserElect} {
		c.names = append(c.names, winsName{name: group.WithSuffix(sfx), group: true})
	}
	var err error
	if c.conn, err = net.ListenUDP("udp4", &net.UDPAddr{}); err != nil {
		return nil, fmt.Errorf("open the WINS client's socket: %w", err)
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	c.nextID.Store(uint32(b[0])<<8 | uint32(b[1]))
	for _, w := range cfg.WINS {
		ap, err := hostinfo.ParseAddrPort(w, hostinfo.DefaultNamePort)
		if err != nil {
			c.conn.Close()
			return nil, fmt.Errorf("WINS server: %w", err)
		}
		s := &winsServer{addr: ap, state: make([]winsState, len(c.names))}
		s.local = wire.NBAddress{IP: netif.Toward(ifaces, ap).Addr}
		for i := range s.state {
			s.state[i].status = WINSRegistering
		}
		c.servers = append(c.servers, s)
	}
	return c, nil
}

// run starts the receive loop and one loop per server.
func (c *winsClient) run() {
	c.reader.Add(1)
	go c.readLoop()
	c.loops.Add(len(c.servers))
	for _, s := range c.servers {
		go c.serverLoop(s)
	}
}

// readLoop hands each answer to the request waiting for its id, if it
// comes from where the request went (anyone else may send us packets).
func (c *winsClient) readLoop() {
	defer c.reader.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(acceptPauseMin) // an error that persists must not spin
			continue
		}
		r, err := wire.DecodeNSReply(buf[:n])
		if err != nil {
			c.log.Debug("WINS: dropped a packet", "from", from, "err", err)
			continue
		}
		c.mu.Lock()
		w, ok := c.waiting[r.TransactionID]
		c.mu.Unlock()
		if !ok || w.from != from.Addr().Unmap() {
			c.log.Debug("WINS: an answer nobody waits for", "from", from, "id", r.TransactionID)
			continue
		}
		// Copy what points into buf.
		r.Addrs = append([]wire.NBAddress(nil), r.Addrs...)
		select {
		case w.ch <- r:
		default:
		}
	}
}

var errNoAnswer = errors.New("no answer")

// request sends p (its transaction id set here) to addr up to tries
// times, winsTimeout apart, and returns the answer for its name; after a
// WACK it waits as long as the WACK says (at most winsMaxWACK). It gives
// up early when stop closes (nil: never).
func (c *winsClient) request(addr netip.AddrPort, p *wire.NameServicePacket, tries int, stop <-chan struct{}) (wire.NSReply, error) {
	id := uint16(c.nextID.Add(1))
	p.TransactionID = id
	b, err := wire.AppendNameService(nil, p)
	if err != nil {
		return wire.NSReply{}, err
	}
	ch := make(chan wire.NSReply, 4)
	c.mu.Lock()
	c.waiting[id] = waiter{from: addr.Addr(), ch: ch}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}()
	want := p.Questions[0].Name
	for try := 0; try < tries; try++ {
		if _, err := c.conn.WriteToUDPAddrPort(b, addr); err != nil {
			return wire.NSReply{}, err
		}
		timer := time.NewTimer(winsTimeout)
	wait:
		for {
			select {
			case r := <-ch:
				if r.Kind != wire.ReplyWACK && r.Name != want {
					continue // not about our name
				}
				if r.Kind == wire.ReplyWACK {
					d := min(time.Duration(r.TTL)*time.Second, winsMaxWACK)
					c.log.Debug("WINS: wait for acknowledgement", "server", addr, "name", want.String(), "wait", d)
					timer.Stop()
					timer = time.NewTimer(d + winsTimeout)
					try = tries // a WACK means the request arrived: no resending
					continue
				}
				timer.Stop()
				return r, nil
			case <-timer.C:
				break wait
			case <-stop:
				timer.Stop()
				return wire.NSReply{}, errNoAnswer
			}
		}
	}
	return wire.NSReply{}, errNoAnswer
}

// serverLoop keeps the names registered with one server until stop.
func (c *winsClient) serverLoop(s *winsServer) {
	defer c.loops.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		for i := range c.names {
			s.mu.Lock()
			due := !s.state[i].next.After(now)
			s.mu.Unlock()
			if due {
				c.keep(s, i)
			}
			select {
			case <-c.stop:
				return
			default:
			}
		}
		s.mu.Lock()
		next := time.Time{}
		for _, st := range s.state {
			if next.IsZero() || st.next.Before(next) {
				next = st.next
			}
		}
		s.mu.Unlock()
		timer.Reset(max(time.Until(next), 0))
	}
}

// keep registers or refreshes name i with s once, and sets when to next.
func (c *winsClient) keep(s *winsServer, i int) {
	n := c.names[i]
	addr := s.local
	addr.Flags = wire.NewNBFlags(n.group, c.ont)
	s.mu.Lock()
	refresh := s.state[i].status == WINSRegistered
	s.mu.Unlock()
	var p wire.NameServicePacket
	var err error
	if refresh {
		p, err = wire.NewNameRefresh(0, n.name, winsTTL, addr)
	} else {
		p, err = wire.NewNameServerRegistration(0, n.name, winsTTL, addr)
	}
	if err != nil {
		c.log.Error("WINS: cannot encode a registration", "name", n.name.String(), "err", err)
		return
	}
	r, err := c.request(s.addr, &p, winsTries, c.stop)
	if err == nil && r.Kind == wire.ReplyChallenge {
		r, err = c.challenge(s, n, addr, r)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.state[i]
	was := st.status
	log := c.log.With("server", s.addr.String(), "name", n.name.String())
	switch {
	case err != nil:
		// No answer, or the request could not be sent (no route).
		select {
		case <-c.stop:
			return
		default:
		}
		st.delay = min(max(2*st.delay, winsRetryFirst), winsRetryMax)
		st.next = now.Add(st.delay)
		if was != WINSNoAnswer {
			args := []any{"op", p.Opcode.String(), "retry_in", st.delay}
			if !errors.Is(err, errNoAnswer) {
				args = append(args, "err", err)
			}
			log.Warn("WINS server does not answer; serving the name by broadcast, trying again later", args...)
		}
		// Registered or not, the next try is a registration: a server
		// that forgot the name takes it so, and one that did not takes
		// a registration from its holder as a refresh.
		st.status = WINSNoAnswer
	case r.Kind == wire.ReplyPositive:
		st.delay = 0
		st.rcode, st.owner = 0, netip.Addr{}
		st.ttl = time.Duration(r.TTL) * time.Second
		if st.ttl <= 0 {
			st.ttl = winsTTL * time.Second
		}
		st.next = now.Add(max(st.ttl/2, time.Second))
		st.status = WINSRegistered
		if was != WINSRegistered {
			log.Info("registered with WINS", "group", n.group, "address", s.local.IP.String(), "ttl", st.ttl)
		} else {
			log.Debug("refreshed with WINS", "ttl", st.ttl)
		}
	case r.RCode == wire.RCodeActive || r.RCode == wire.RCodeConflict:
		st.rcode = r.RCode
		st.owner = netip.Addr{}
		for _, a := range r.Addrs {
			if a.IP != s.local.IP {
				st.owner = a.IP
				break
			}
		}
		st.status = WINSConflict
		st.next = now.Add(winsRetryRefused)
		if was != WINSConflict {
			args := []any{"rcode", r.RCode.String(), "retry_in", winsRetryRefused}
			if st.owner.IsValid() {
				args = append(args, "owner", st.owner.String())
			}
			log.Error("name conflict: the WINS server says another computer holds this name; serving it by broadcast only", args...)
		}
	default:
		st.rcode = r.RCode
		st.status = WINSRefused
		st.next = now.Add(winsRetryRefused)
		if was != WINSRefused {
			log.Warn("WINS server refused the name; serving it by broadcast, trying again later",
				"op", p.Opcode.String(), "rcode", r.RCode.String(), "retry_in", winsRetryRefused)
		}
	}
}

// challenge answers an end-node challenge (RFC 1001 §15.2.2.2): ask the
// owner the server named whether it still holds the name; if it does, the
// name is in conflict; if not, overwrite the registration.
func (c *winsClient) challenge(s *winsServer, n winsName, addr wire.NBAddress, r wire.NSReply) (wire.NSReply, error) {
	owner := r.Addrs[0].IP
	c.log.Info("WINS: challenging the name's owner", "server", s.addr.String(), "name", n.name.String(), "owner", owner.String())
	q := wire.NewNameQuery(0, n.name, false)
	q.Flags = 0 // to the owner itself: no recursion
	if a, err := c.request(netip.AddrPortFrom(owner, c.namePort), &q, winsTries, c.stop); err == nil &&
		a.Kind == wire.ReplyPositive {
		return wire.NSReply{TransactionID: r.TransactionID, Opcode: wire.OpRegistration, Kind: wire.ReplyNegative,
			RCode: wire.RCodeActive, Name: n.name, Addrs: a.Addrs}, nil
	}
	p, err := wire.NewNameOverwrite(0, n.name, winsTTL, addr, false)
	if err != nil {
		return wire.NSReply{}, err
	}
	return c.request(s.addr, &p, winsTries, c.stop)
}

// close stops the loops, releases every name a server holds for us, and
// closes the socket; it waits at most winsReleaseWait for the answers.
func (c *winsClient) close() {
	c.stopped.Do(func() {
		close(c.stop)
		// A loop's request ends at once; what it learnt counts.
		c.loops.Wait()
		var rel sync.WaitGroup
		deadline := make(chan struct{})
		timer := time.AfterFunc(winsReleaseWait, func() { close(deadline) })
		for _, s := range c.servers {
			for i, n := range c.names {
				s.mu.Lock()
				held := s.state[i].status == WINSRegistered
				s.mu.Unlock()
				if !held {
					continue
				}
				rel.Add(1)
				go func() {
					defer rel.Done()
					c.release(s, i, n, deadline)
				}()
			}
		}
		rel.Wait()
		timer.Stop()
		c.conn.Close()
		c.reader.Wait()
	})
}

// release releases name i at s.
func (c *winsClient) release(s *winsServer, i int, n winsName, deadline <-chan struct{}) {
	addr := s.local
	addr.Flags = wire.NewNBFlags(n.group, c.ont)
	p, err := wire.NewNameRelease(0, n.name, addr, false)
	if err != nil {
		return
	}
	log := c.log.With("server", s.addr.String(), "name", n.name.String())
	r, err := c.request(s.addr, &p, winsTries, deadline)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		log.Warn("WINS server did not answer the release of a name; it will forget it when its TTL runs out", "err", err)
	case r.Kind == wire.ReplyPositive:
		s.state[i].status = WINSReleased
		s.state[i].next = time.Time{}
		log.Info("released the name at the WINS server")
	default:
		log.Warn("WINS server refused the release of a name", "rcode", r.RCode.String())
	}
}

// status lists every name's state at every server, by server and name.
func (c *winsClient) status() []WINSName {
	if c == nil {
		return nil
	}
	var out []WINSName
	for _, s := range c.servers {
		s.mu.Lock()
		for i, n := range c.names {
			st := s.state[i]
			w := WINSName{Server: s.addr.String(), Name: n.name.String(), Group: n.group, State: st.status,
				TTL: Duration(st.ttl), Next: st.next}
			if st.rcode != 0 {
				w.RCode = st.rcode.String()
			}
			if st.owner.IsValid() {
				w.Owner = st.owner.String()
			}
			out = append(out, w)
		}
		s.mu.Unlock()
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Server < out[j].Server })
	return out
}
