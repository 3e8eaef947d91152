//go:build !windows

// Package lab builds a LAN of computers out of Linux network namespaces,
// for tests: a bridge in a namespace of its own (the switch), and hosts,
// each a namespace joined to the bridge by a veth pair, with an address in
// 10.213.N.0/24 that exists only inside these namespaces. Nothing is sent
// to any other network; the root namespace is not touched. Tests run real
// programs in the hosts (mailslotd, nmbd, the mailslot CLI) with
// Host.Command and Host.Start, and Go code with Host.Run.
//
// NewRouter joins LANs into a routed network: a namespace that forwards
// IPv4 between them, with an address on each, as the default gateway of
// their hosts; it can run a multicast router (smcroute) too.
//
// Everything is torn down at the test's cleanup, even when it fails.
// Names carry the test process's pid, so that packages testing at the
// same time never meet; New removes leftovers of dead processes.
package lab

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mailslot-go/mailslot/internal/testenv"
	"golang.org/x/sys/unix"
)

const prefix = "mslab"

// T is the part of T the lab uses; a *testing.T or *testing.B
// is one. Programs outside tests (mailslot bench net) pass their own.
type T interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

var lanSeq atomic.Int32

// LAN is a bridge and the hosts on it.
type LAN struct {
	t      T
	id     string // prefix + pid + seq
	sw     string // the switch's namespace
	subnet int    // third octet of the LAN's addresses
	mu     sync.Mutex
	hosts  []*Host
	gw     netip.Addr // the default gateway of its hosts (NewRouter), if any
	ports  int        // the switch's ports, one per host or attached interface
}

// Host is one computer of the LAN.
type Host struct {
	Name      string
	NS        string       // network namespace name
	Addr      netip.Addr   // its address
	Prefix    netip.Prefix // the LAN's subnet
	Broadcast netip.Addr
	Iface     string // its interface (eth0)
	lan       *LAN
	ifaces    atomic.Int32 // interfaces beyond Iface that Attach added
}

// New builds an empty LAN, torn down at t's cleanup. Without root or
// namespaces it skips (fails under CI) with the reason.
func New(t T) *LAN {
	t.Helper()
	testenv.Root(t)
	testenv.LookPath(t, "ip")
	cleanLeftovers()
	seq := lanSeq.Add(1)
	l := &LAN{
		t:      t,
		id:     fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), seq),
		subnet: int(seq%200) + 1,
	}
	l.sw = l.id + "-sw"
	t.Cleanup(l.teardown)
	if out, err := exec.Command("ip", "netns", "add", l.sw).CombinedOutput(); err != nil {
		testenv.Missing(t, fmt.Sprintf("cannot create a network namespace: %v: %s", err, out))
	}
	l.ip(l.sw, "link", "add", "br0", "type", "bridge")
	l.ip(l.sw, "link", "set", "br0", "up")
	l.ip(l.sw, "link", "set", "lo", "up")
	return l
}

// ip runs `ip -n ns args...` (ns "" for none) and fails the test on error.
func (l *LAN) ip(ns string, args ...string) {
	l.t.Helper()
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// AddHost adds a computer to the LAN.
func (l *LAN) AddHost(name string) *Host {
	l.t.Helper()
	l.mu.Lock()
	n := l.ports
	l.ports++
	l.mu.Unlock()
	h := &Host{
		Name:  name,
		NS:    fmt.Sprintf("%s-%d", l.id, n),
		Iface: "eth0",
		lan:   l,
	}
	h.Addr = netip.AddrFrom4([4]byte{10, 213, byte(l.subnet), byte(10 + n)})
	h.Prefix = netip.PrefixFrom(h.Addr, 24).Masked()
	h.Broadcast = netip.AddrFrom4([4]byte{10, 213, byte(l.subnet), 255})
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	port := fmt.Sprintf("p%d", n)
	l.ip("", "netns", "add", h.NS)
	l.ip(h.NS, "link", "add", h.Iface, "type", "veth", "peer", "name", port, "netns", l.sw)
	l.ip(l.sw, "link", "set", port, "master", "br0", "up")
	l.ip(h.NS, "addr", "add", h.Addr.String()+"/24", "brd", h.Broadcast.String(), "dev", h.Iface)
	l.ip(h.NS, "link", "set", h.Iface, "up")
	l.ip(h.NS, "link", "set", "lo", "up")
	l.mu.Lock()
	gw := l.gw
	l.mu.Unlock()
	if gw.IsValid() {
		l.ip(h.NS, "route", "add", "default", "via", gw.String())
	}
	return h
}

// Subnet is the LAN's IPv4 subnet (10.213.N.0/24).
func (l *LAN) Subnet() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(l.subnet), 0}), 24)
}

// Attach joins a host of another LAN to this one too, as a router's or a
// server's second network card: an interface (eth1, eth2, ...) with an
// address in this LAN's subnet, which it returns. The host does not
// forward between its LANs (a namespace starts with forwarding off), so
// the hosts of one LAN reach the other's only at this host's services.
// The host stays the other LAN's: its namespace goes with that LAN.
func (l *LAN) Attach(h *Host) netip.Addr {
	l.t.Helper()
	l.mu.Lock()
	n := l.ports
	l.ports++
	l.mu.Unlock()
	addr := netip.AddrFrom4([4]byte{10, 213, byte(l.subnet), byte(10 + n)})
	brd := netip.AddrFrom4([4]byte{10, 213, byte(l.subnet), 255})
	ifc := fmt.Sprintf("eth%d", h.ifaces.Add(1))
	port := fmt.Sprintf("p%d", n)
	l.ip(h.NS, "link", "add", ifc, "type", "veth", "peer", "name", port, "netns", l.sw)
	l.ip(l.sw, "link", "set", port, "master", "br0", "up")
	l.ip(h.NS, "addr", "add", addr.String()+"/24", "brd", brd.String(), "dev", ifc)
	l.ip(h.NS, "link", "set", ifc, "up")
	return addr
}

// Hosts returns the LAN's hosts.
func (l *LAN) Hosts() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Host(nil), l.hosts...)
}

// SwitchNS is the namespace holding the bridge (br0), where a capture
// sees every packet of the LAN.
func (l *LAN) SwitchNS() string { return l.sw }

func (l *LAN) teardown() {
	l.mu.Lock()
	hosts := l.hosts
	l.mu.Unlock()
	for _, h := range hosts {
		killNamespace(h.NS)
	}
	killNamespace(l.sw)
}

// killNamespace ends every process in ns and deletes it.
func killNamespace(ns string) {
	if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_ = exec.Command("ip", "netns", "del", ns).Run()
}

// cleanLeftovers deletes namespaces of earlier test processes that died
// before their cleanup ran.
func cleanLeftovers() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(f[0], prefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			killNamespace(f[0])
		}
	}
}

// Command returns a command that runs in the host's namespace.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Proc is a long-running process in a host.
type Proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs a process in the host, its output collected (and logged if
// the test fails); it is stopped at cleanup: SIGTERM, then SIGKILL.
func (h *Host) Start(t T, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{cmd: h.Command(name, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	// Its own process group, so that Stop reaches its children too.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.cmd.WaitDelay = 3 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s on %s: %v", name, h.Name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("output of %s on %s:\n%s", name, h.Name, p.Output())
		}
	})
	return p
}

// Output returns what the process has written so far.
func (p *Proc) Output() string { return p.out.String() }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit, up to d, and returns its error.
func (p *Proc) Wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("still running after %v", d)
	}
}

// Stop ends the process and its children: SIGTERM, then SIGKILL after 5 s.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// WaitFor waits up to d for s to appear in the output.
func (p *Proc) WaitFor(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Output(), s) {
			return true
		}
		select {
		case <-p.done:
			return strings.Contains(p.Output(), s)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// Router is a namespace joined to several LANs that forwards IPv4 between
// them. Its Host is its interface on the first LAN; Ifaces lists them all.
// Programs run in it with Command and Start, as on a host.
type Router struct {
	*Host
	Ifaces []RouterIface
}

// RouterIface is one of a router's interfaces.
type RouterIface struct {
	Name string     // eth0, eth1, ... in the order of the LANs
	Addr netip.Addr // .1 of the LAN's subnet
	LAN  *LAN
}

var routerSeq atomic.Int32

// NewRouter joins the LANs through a new router namespace: an interface
// on each LAN's bridge with address .1 of its subnet, IPv4 forwarding on,
// and that address as the default route of every host of the LAN, those
// added later too. The LANs' bridges stop IGMP snooping and flood
// multicast to every port, so that a multicast router in the namespace
// (smcroute) sees every group without taking part in IGMP. It is torn
// down at t's cleanup.
func NewRouter(t T, lans ...*LAN) *Router {
	t.Helper()
	if len(lans) == 0 {
		t.Fatalf("lab: a router needs a LAN")
	}
	seq := routerSeq.Add(1)
	ns := fmt.Sprintf("%s%d-r%d", prefix, os.Getpid(), seq)
	l0 := lans[0]
	t.Cleanup(func() { killNamespace(ns) })
	l0.ip("", "netns", "add", ns)
	l0.ip(ns, "link", "set", "lo", "up")
	r := &Router{}
	for i, l := range lans {
		ifc := fmt.Sprintf("eth%d", i)
		port := fmt.Sprintf("r%d", seq)
		sub := l.Subnet().Addr().As4()
		addr := netip.AddrFrom4([4]byte{sub[0], sub[1], sub[2], 1})
		bcast := netip.AddrFrom4([4]byte{sub[0], sub[1], sub[2], 255})
		l.ip(ns, "link", "add", ifc, "type", "veth", "peer", "name", port, "netns", l.sw)
		l.ip(l.sw, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0")
		l.ip(l.sw, "link", "set", port, "master", "br0", "up")
		l.ip(ns, "addr", "add", addr.String()+"/24", "brd", bcast.String(), "dev", ifc)
		l.ip(ns, "link", "set", ifc, "up")
		r.Ifaces = append(r.Ifaces, RouterIface{Name: ifc, Addr: addr, LAN: l})
		l.mu.Lock()
		l.gw = addr
		hosts := append([]*Host(nil), l.hosts...)
		l.mu.Unlock()
		for _, h := range hosts {
			l.ip(h.NS, "route", "replace", "default", "via", addr.String())
		}
	}
	first := r.Ifaces[0]
	r.Host = &Host{Name: "router", NS: ns, Addr: first.Addr, Prefix: l0.Subnet(),
		Broadcast: netip.AddrFrom4([4]byte{10, 213, byte(l0.subnet), 255}), Iface: first.Name, lan: l0}
	r.SetForwarding(t, true)
	return r
}

// SetForwarding turns the router's IPv4 forwarding on or off (unicast;
// multicast is forwarded only while a multicast router runs).
func (r *Router) SetForwarding(t T, on bool) {
	t.Helper()
	v := "0"
	if on {
		v = "1"
	}
	if out, err := r.Command("sh", "-c", "echo "+v+" >/proc/sys/net/ipv4/ip_forward").CombinedOutput(); err != nil {
		t.Fatalf("router: net.ipv4.ip_forward=%s: %v: %s", v, err, out)
	}
}

func setBroadcast(fd int) { _ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1) }
