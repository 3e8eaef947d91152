//go:build !windows && !mailslot_unit

package daemon_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/netif"
	"github.com/mailslot-go/mailslot/internal/remote"
	"github.com/mailslot-go/mailslot/internal/stream"
)

// dgramSender sends mailslot datagrams from one host to another's
// mailslotd with a raw UDP socket, as a flood would.
type dgramSender struct {
	conn    *net.UDPConn
	to      *net.UDPAddr
	ifc     netif.Iface
	mu      sync.Mutex
	writers map[string]*remote.Writer
	id      atomic.Uint32
	from    *lab.Host
	toName  string
}

func newDgramSender(t *testing.T, from, to *lab.Host) *dgramSender {
	t.Helper()
	s := &dgramSender{writers: map[string]*remote.Writer{}, from: from, toName: to.Name,
		to: net.UDPAddrFromAddrPort(netip.AddrPortFrom(to.Addr, 138))}
	err := from.Run(func() error {
		ifaces, err := netif.List([]string{from.Iface})
		if err != nil {
			return err
		}
		s.ifc = ifaces[0]
		s.conn, err = net.ListenUDP("udp4", nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.conn.Close()
		for _, w := range s.writers {
			w.Close()
		}
	})
	return s
}

// send sends one datagram with data to path on the target host.
func (s *dgramSender) send(path string, data []byte) error {
	s.mu.Lock()
	w := s.writers[path]
	if w == nil {
		if err := s.from.Run(func() (err error) { w, err = remote.Open(s.toName, path); return err }); err != nil {
			s.mu.Unlock()
			return err
		}
		s.writers[path] = w
	}
	s.mu.Unlock()
	dg, err := w.Datagram(data, s.ifc, uint16(s.id.Add(1)))
	if err != nil {
		return err
	}
	_, err = s.conn.WriteToUDP(dg, s.to)
	return err
}

// sendUntilSeen sends a record until the reader has it (the LAN may drop
// a datagram).
func (s *dgramSender) sendUntilSeen(t *testing.T, path, data string, r *lab.Proc) {
	t.Helper()
	for i := 0; i < 20; i++ {
		if err := s.send(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		if r.WaitFor(data, time.Second) {
			return
		}
	}
	t.Fatalf("the reader of %s never got %q:\n%s", path, data, r.Output())
}

// markers sends n stamped records to path one after the other, each once
// the previous arrived (resending one the LAN lost), and returns how long
// each took from its send to the slot, and how many had to be resent.
func (s *dgramSender) markers(t *testing.T, path string, r *lab.Proc, tag string, n int) (lat []time.Duration, resent int) {
	t.Helper()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s-%d", tag, i)
		for try := 0; ; try++ {
			if try == 10 {
				t.Fatalf("marker %s for %s never arrived:\n%s", id, path, r.Output())
			}
			if try > 0 {
				resent++
			}
			if err := s.send(path, []byte(fmt.Sprintf("t=%d %s ", time.Now().UnixNano(), id))); err != nil {
				t.Fatal(err)
			}
			if r.WaitFor("LATENCY "+id+" ", 2*time.Second) {
				break
			}
		}
	}
	re := regexp.MustCompile(`LATENCY ` + tag + `-\d+ (-?\d+)`)
	for _, m := range re.FindAllStringSubmatch(r.Output(), -1) {
		ns, _ := strconv.ParseInt(m[1], 10, 64)
		lat = append(lat, time.Duration(ns))
	}
	slices.Sort(lat)
	return lat, resent
}

// markersDuringFlood floods paths (in turn) with at least 20000 records
// while it sends 100 markers to r's slot `load\ok`, and returns the
// markers' latencies, how many were resent, and how many flooded.
func (s *dgramSender) markersDuringFlood(t *testing.T, r *lab.Proc, paths []string, tag string) ([]time.Duration, int, int64) {
	t.Helper()
	stop := make(chan struct{})
	var flooded atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pad := make([]byte, 300)
		for i := 0; ; i++ {
			if i > 20000 {
				select {
				case <-stop:
					return
				default:
				}
			}
			if err := s.send(paths[i%len(paths)], append([]byte(fmt.Sprintf("%s %d ", tag, i)), pad...)); err != nil {
				t.Error(err)
				return
			}
			flooded.Add(1)
			if i%16 == 15 {
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
	lat, resent := s.markers(t, `load\ok`, r, tag, 100)
	close(stop)
	wg.Wait()
	return lat, resent, flooded.Load()
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[min(len(lat)-1, int(float64(len(lat))*p))]
}

// TestStalledSlotDelaysNoOther floods two stalled slots on a host (one
// whose reader was stopped after mailslotd had opened it, so that its
// ring fills; one whose reader was stopped before, so that the relay's
// handshake hangs) while another slot of the host takes stamped records:
// those arrive as promptly as without the flood, and the stalled slots'
// records are dropped and counted for them, not as records for no slot.
func TestStalledSlotDelaysNoOther(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")
	l := lab.New(t)
	a, b := l.AddHost("HOSTA"), l.AddHost("HOSTB")
	d := startDaemon(t, b, "WG", "--log-level", "info")
	full := startReader(t, b, `\\.\mailslot\load\full`)
	stalled := startReader(t, b, `\\.\mailslot\load\stalled`)
	ok := startReader(t, b, `\\.\mailslot\load\ok`)
	snd := newDgramSender(t, a, b)

	snd.sendUntilSeen(t, `load\full`, "warm up", full)
	for _, p := range []*lab.Proc{full, stalled} {
		if err := p.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Signal(syscall.SIGCONT) })
	}

	base, _ := snd.markers(t, `load\ok`, ok, "base", 30)

	// The same flood, first to a slot whose reader keeps up (the cost of
	// the flood itself on this machine), then to both stalled slots: a
	// few thousand records a second, and more than the full slot's ring
	// and queue hold (1 MiB, 2048 records) however long the markers take.
	startReader(t, b, `\\.\mailslot\load\sink`)
	healthy, _, _ := snd.markersDuringFlood(t, ok, []string{`load\sink`}, "healthyflood")
	under, resent, flooded := snd.markersDuringFlood(t, ok, []string{`load\full`, `load\stalled`}, "flood")

	t.Logf("healthy slot, record latency: no flood: p50 %v max %v; flood to a slot that keeps up: p50 %v p90 %v max %v; "+
		"flood of %d records to two stalled slots: p50 %v p90 %v max %v (%d of %d resent)",
		pct(base, .5), pct(base, 1), pct(healthy, .5), pct(healthy, .9), pct(healthy, 1),
		flooded, pct(under, .5), pct(under, .9), pct(under, 1), resent, len(under))
	if len(under) != 100 {
		t.Fatalf("%d of 100 markers measured", len(under))
	}
	// A bound far above the noise of a shared machine, far below the
	// 5 s a stalled handshake costs a loop that waits for it.
	if m := pct(under, 1); m > time.Second {
		t.Errorf("a record for the healthy slot took %v during the flood", m)
	}
	if resent > 10 {
		t.Errorf("%d of 100 records for the healthy slot were lost during the flood", resent)
	}

	d.Stop()
	out := d.Output()
	if !regexp.MustCompile(`no_slot=0\b`).MatchString(out) {
		t.Errorf("records for stalled slots counted as for no slot:\n%s", tail(out, 20))
	}
	for _, path := range []string{"full", "stalled"} {
		m := regexp.MustCompile(`(?i)msg=slot path="?load\\\\?` + path + `"? delivered=(\d+) dropped=(\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("no counters for the stalled slot %s:\n%s", path, tail(out, 20))
			continue
		}
		if dropped, _ := strconv.Atoi(m[2]); dropped == 0 {
			t.Errorf("the stalled slot %s dropped nothing: %s", path, m[0])
		}
	}
	if !regexp.MustCompile(`(?i)msg=slot path="?load\\\\?ok"? delivered=\d+ dropped=0\b`).MatchString(out) {
		t.Errorf("the healthy slot dropped records:\n%s", tail(out, 20))
	}
}

// vmKiB reads a VmXXX line (VmHWM: peak resident memory; VmRSS: now) of
// a process, in KiB.
func vmKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in /proc/%d/status", field, pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// attack opens n connections from h to the stream port at to, sends each
// the bytes of send, and watches them: ended counts those the other side
// closed or reset.
type attack struct {
	conns []net.Conn
	ended atomic.Int64
	wg    sync.WaitGroup
}

func openAttack(t *testing.T, h *lab.Host, to netip.AddrPort, n int, send []byte) *attack {
	t.Helper()
	at := &attack{}
	t.Cleanup(at.close)
	err := h.Run(func() error {
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp4", to.String(), 5*time.Second)
			if errors.Is(err, syscall.ECONNRESET) {
				at.ended.Add(1) // refused before the connect returned
				continue
			}
			if err != nil {
				return fmt.Errorf("connection %d: %w", i, err)
			}
			at.conns = append(at.conns, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range at.conns {
		at.wg.Add(1)
		go func() {
			defer at.wg.Done()
			if len(send) > 0 {
				if _, err := c.Write(send); err != nil {
					at.ended.Add(1)
					return
				}
			}
			var b [512]byte
			for {
				if _, err := c.Read(b[:]); err != nil {
					at.ended.Add(1)
					return
				}
			}
		}()
	}
	return at
}

func (at *attack) close() {
	for _, c := range at.conns {
		c.Close()
	}
	at.wg.Wait()
}

// waitEnded waits until at least n of the attack's connections ended.
func (at *attack) waitEnded(t *testing.T, n int, within time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for at.ended.Load() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d connections ended, want %d", what, at.ended.Load(), len(at.conns), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStreamPortUnderAttack floods a mailslotd's stream port with idle
// connections, then with requests that stop halfway, then its datagram
// port: connections over the caps are closed at once, slow ones when their
// deadline passes, mailslotd's peak memory stays under 64 MiB, and a
// record from another host gets through meanwhile.
func TestStreamPortUnderAttack(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")
	l := lab.New(t)
	a, b, c, e := l.AddHost("ATTACKER"), l.AddHost("HOSTB"), l.AddHost("HOSTC"), l.AddHost("ATTACKER2")
	const perHost, total = 300, 400
	d := startDaemon(t, b, "WG", "--log-level", "info",
		"--max-stream-conns", strconv.Itoa(total), "--max-stream-conns-per-host", strconv.Itoa(perHost),
		"--stream-idle", "8s", "--stream-body-timeout", "3s")
	r := startReader(t, b, `\\.\mailslot\attack\x`)
	to := netip.AddrPortFrom(b.Addr, 1138)
	big := make([]byte, 64<<10)
	legit := func(tag string) {
		t.Helper()
		copy(big, tag)
		if err := write(c, `\\HOSTB\mailslot\attack\x`, big); err != nil {
			t.Fatalf("%s: a legitimate 64 KiB write: %v", tag, err)
		}
		if err := write(c, `\\HOSTB\mailslot\attack\x`, []byte(tag)); err != nil {
			t.Fatalf("%s: a legitimate write: %v", tag, err)
		}
		waitRecv(t, r, tag)
	}
	legit("before")
	t.Logf("mailslotd at rest: VmRSS %d KiB", vmKiB(t, d.Pid(), "VmRSS"))

	t.Run("idle connections", func(t *testing.T) {
		const n = 5000
		start := time.Now()
		at := openAttack(t, a, to, n, nil)
		// Those over the per-host cap are closed at once...
		at.waitEnded(t, n-perHost, 5*time.Second, "over the per-host cap")
		if got := at.ended.Load(); got != n-perHost {
			t.Errorf("%d of %d idle connections closed before their deadline, want %d", got, n, n-perHost)
		}
		// ...the total cap holds against a second host...
		at2 := openAttack(t, e, to, 200, nil)
		at2.waitEnded(t, 200-(total-perHost), 5*time.Second, "over the total cap")
		// ...and legitimate writes still get through while the total is
		// full only once some close: here, from the same host as before.
		at2.close()
		legit("during idle flood")
		// The rest are cut once the idle deadline passes.
		at.waitEnded(t, n, 20*time.Second, "idle connections past the idle deadline")
		t.Logf("%d idle connections: all closed after %v; mailslotd peak VmHWM %d KiB, now VmRSS %d KiB",
			n, time.Since(start).Round(time.Millisecond), vmKiB(t, d.Pid(), "VmHWM"), vmKiB(t, d.Pid(), "VmRSS"))
	})

	t.Run("half-sent requests", func(t *testing.T) {
		const n = 3000
		req, err := stream.AppendRequest(nil, &stream.Request{Name: `attack\x`, Source: "ATTACKER", Data: big})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		at := openAttack(t, a, to, n, req[:len(req)/2])
		at.waitEnded(t, n-perHost, 10*time.Second, "over the per-host cap")
		legit("during half-sent flood")
		at.waitEnded(t, n, 20*time.Second, "half-sent requests past the body deadline")
		t.Logf("%d half-sent 64 KiB requests: all closed after %v; mailslotd peak VmHWM %d KiB, now VmRSS %d KiB",
			n, time.Since(start).Round(time.Millisecond), vmKiB(t, d.Pid(), "VmHWM"), vmKiB(t, d.Pid(), "VmRSS"))
	})

	t.Run("slow header", func(t *testing.T) {
		// A request's header a byte at a time, slower than the header
		// deadline (5 s) allows: the connection is cut before it is all in.
		req, err := stream.AppendRequest(nil, &stream.Request{Name: `attack\x`, Source: "ATTACKER", Data: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		var conn net.Conn
		if err := a.Run(func() (err error) { conn, err = net.Dial("tcp4", to.String()); return err }); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		sent := 0
		for ; sent < stream.ReqHeaderLen; sent++ {
			if _, err := conn.Write(req[sent : sent+1]); err != nil {
				break
			}
			// The read sees the cut (EOF or reset) once it comes.
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			var b [64]byte
			if _, err := conn.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
		}
		if sent == stream.ReqHeaderLen {
			t.Fatalf("a header sent a byte a second was taken whole")
		}
		legit("after a slow header")
	})

	t.Run("datagram flood", func(t *testing.T) {
		snd := newDgramSender(t, a, b)
		rec := make([]byte, 400)
		for i := 0; i < 30000; i++ {
			copy(rec, fmt.Sprintf("flood %d ", i))
			if err := snd.send(`attack\x`, rec); err != nil {
				t.Fatal(err)
			}
		}
		legit("during datagram flood")
		t.Logf("datagram flood: mailslotd peak VmHWM %d KiB, now VmRSS %d KiB", vmKiB(t, d.Pid(), "VmHWM"), vmKiB(t, d.Pid(), "VmRSS"))
	})

	if hwm := vmKiB(t, d.Pid(), "VmHWM"); hwm > 64<<10 {
		t.Errorf("mailslotd's peak resident memory under attack: %d KiB, over 64 MiB", hwm)
	}
	d.Stop()
	m := regexp.MustCompile(`stream_refused=(\d+)`).FindStringSubmatch(d.Output())
	if m == nil {
		t.Fatalf("mailslotd did not report refused connections:\n%s", tail(d.Output(), 20))
	}
	if n, _ := strconv.Atoi(m[1]); n < 5000-perHost+3000-perHost {
		t.Errorf("mailslotd refused %d connections, want at least %d", n, 5000-perHost+3000-perHost)
	}
}
