//go:build !windows

package lab

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Hosts reach each other by unicast and broadcast, and nothing else:
// each namespace has only lo and its own interface.
func TestLANCarriesUnicastAndBroadcast(t *testing.T) {
	l := New(t)
	a, b, c := l.AddHost("A"), l.AddHost("B"), l.AddHost("C")

	out, err := a.Command("ip", "-br", "addr").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 2 ||
		!strings.Contains(string(out), a.Addr.String()+"/24") {
		t.Fatalf("host A's interfaces:\n%s", out)
	}

	listen := func(h *Host) *net.UDPConn {
		var c *net.UDPConn
		if err := h.Run(func() (err error) {
			c, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 4000})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	rb, rc := listen(b), listen(c)
	send := func(to netip.Addr, msg string) { sendUDP(t, a, to, msg) }
	recv := func(c *net.UDPConn) string {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 100)
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return fmt.Sprint("error: ", err)
		}
		return string(buf[:n])
	}
	send(b.Addr, "unicast")
	if got := recv(rb); got != "unicast" {
		t.Fatalf("B got %q", got)
	}
	// A datagram may be dropped when the machine is busy (namespaces share
	// each CPU's receive backlog): send each a few times, expect one.
	for i := 0; i < 3; i++ {
		send(a.Broadcast, "broadcast")
	}
	if got := recv(rb); got != "broadcast" {
		t.Fatalf("B got %q", got)
	}
	if got := recv(rc); got != "broadcast" {
		t.Fatalf("C got %q", got)
	}
}

func TestProcessesAndTeardown(t *testing.T) {
	var names []string
	t.Run("lan", func(t *testing.T) {
		l := New(t)
		h := l.AddHost("A")
		p := h.Start(t, "sh", "-c", "echo started; sleep 60")
		if !p.WaitFor("started", 5*time.Second) {
			t.Fatalf("output %q", p.Output())
		}
		names = []string{h.NS, l.SwitchNS()}
	})
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.Contains(string(out), n) {
			t.Errorf("namespace %s left after cleanup", n)
		}
	}
}

// A router joins two LANs: unicast crosses it while it forwards, and
// stops when it does not; a broadcast stays on its LAN; a host added
// after the router routes through it too; the router goes at cleanup.
func TestRouterJoinsLANs(t *testing.T) {
	var rns string
	t.Run("routed", func(t *testing.T) {
		l1, l2 := New(t), New(t)
		a := l1.AddHost("A")
		r := NewRouter(t, l1, l2)
		b := l2.AddHost("B") // after the router
		rns = r.NS
		if l1.Subnet() == l2.Subnet() || !l1.Subnet().Contains(a.Addr) || !l2.Subnet().Contains(b.Addr) {
			t.Fatalf("subnets %v %v, hosts %v %v", l1.Subnet(), l2.Subnet(), a.Addr, b.Addr)
		}
		if len(r.Ifaces) != 2 || r.Ifaces[1].Addr != netip.AddrFrom4([4]byte{10, 213, l2.Subnet().Addr().As4()[2], 1}) {
			t.Fatalf("router interfaces %+v", r.Ifaces)
		}
		for _, h := range []*Host{a, b} {
			out, err := h.Command("ip", "route", "show", "default").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "via 10.213.") {
				t.Fatalf("%s: default route %q %v", h.Name, out, err)
			}
		}
		var rb *net.UDPConn
		if err := b.Run(func() (err error) {
			rb, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 4000})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer rb.Close()
		send := func(to netip.Addr, msg string) { sendUDP(t, a, to, msg) }
		recv := func(d time.Duration) string {
			rb.SetReadDeadline(time.Now().Add(d))
			buf := make([]byte, 100)
			n, _, err := rb.ReadFromUDP(buf)
			if err != nil {
				return ""
			}
			return string(buf[:n])
		}
		got := ""
		for i := 0; i < 3 && got == ""; i++ {
			send(b.Addr, "routed")
			got = recv(2 * time.Second)
		}
		if got != "routed" {
			t.Fatalf("B got %q across the router", got)
		}
		send(a.Broadcast, "broadcast")
		r.SetForwarding(t, false)
		send(b.Addr, "not forwarded")
		if got := recv(500 * time.Millisecond); got != "" {
			t.Fatalf("B got %q", got)
		}
	})
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if rns == "" || strings.Contains(string(out), rns) {
		t.Errorf("router namespace %q left after cleanup", rns)
	}
}

// sendUDP sends msg from h to port 4000 of to, which may be a broadcast
// address.
func sendUDP(t *testing.T, h *Host, to netip.Addr, msg string) {
	t.Helper()
	if err := h.Run(func() error {
		s, err := net.ListenUDP("udp4", nil)
		if err != nil {
			return err
		}
		defer s.Close()
		raw, _ := s.SyscallConn()
		raw.Control(func(fd uintptr) { setBroadcast(int(fd)) })
		_, err = s.WriteToUDP([]byte(msg), net.UDPAddrFromAddrPort(netip.AddrPortFrom(to, 4000)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
