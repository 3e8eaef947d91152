//go:build !windows

package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/netif"
	"github.com/mailslot-go/mailslot/internal/remote"
)

// NetResult is one network measurement, ours and the baseline.
type NetResult struct {
	What             string
	Records, Size    int
	Ours, Baseline   time.Duration // time to move the records that arrived
	OursGot, BaseGot int           // records that arrived (datagrams may be lost)
	PeakRSSKiB       int           // mailslotd's peak resident memory meanwhile (0: not sampled)
	// Floor and FloorGot are the stream's relay floor (zero for the
	// others): raw TCP to a process that passes each record on to a
	// reader in a third process over a Unix socket before it answers,
	// which is the shape of mailslotd's path without mailslotd.
	Floor    time.Duration
	FloorGot int
	// Rounds holds, once the best runs are chosen (bestOf), the ratio of
	// each round's own pair of runs, which saw the same moment of the
	// machine.
	Rounds []float64
}

// RoundRange returns the lowest and highest ratio of a round's pair of
// runs (0, 0 without rounds).
func (r NetResult) RoundRange() (lo, hi float64) { return roundRange(r.Rounds) }

// roundsNote is the table's mention of the rounds' range, if any.
func (r NetResult) roundsNote() string {
	if len(r.Rounds) < 2 {
		return ""
	}
	lo, hi := r.RoundRange()
	return fmt.Sprintf(" (rounds %.2f-%.2fx)", lo, hi)
}

// Rate returns records/s for a duration and count.
func Rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

// FloorRatio is our records/s over the relay floor's (0 without one).
func (r NetResult) FloorRatio() float64 {
	if r.FloorGot == 0 {
		return 0
	}
	return Rate(r.OursGot, r.Ours) / Rate(r.FloorGot, r.Floor)
}

// Ratio is our records/s over the baseline's.
func (r NetResult) Ratio() float64 {
	return Rate(r.OursGot, r.Ours) / Rate(r.BaseGot, r.Baseline)
}

// Net measures, between hosts a and b of a lab LAN where b runs mailslotd
// (pid daemonPid): 100-byte records as datagrams against a raw UDP loop
// sending the same bytes, paced (PacedRate records a second) and as a flood
// (no pause), and 64 KiB records over the stream port against a raw TCP
// loop that also waits for a one-byte answer per record. Each runs three
// times, ours and the baseline in turn, and each side keeps its best run
// (as Local does): short runs swing with the machine's moods.
func Net(a, b *lab.Host, daemonPid int, records int) ([]NetResult, error) {
	var out []NetResult
	for _, paced := range []bool{true, false} {
		var rs []NetResult
		for i := 0; i < 3; i++ {
			r, err := netDatagrams(a, b, daemonPid, records, paced)
			if err != nil {
				return nil, err
			}
			rs = append(rs, r)
		}
		out = append(out, bestOf(rs))
	}
	var rs []NetResult
	for i := 0; i < 3; i++ {
		r, err := netStream(a, b, max(records/20, 1000))
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return append(out, bestOf(rs)), nil
}

// bestOf keeps the fastest run of ours and of the baseline, each with the
// records that arrived in it, and the highest peak memory.
func bestOf(rs []NetResult) NetResult {
	best := rs[0]
	best.Rounds = nil
	for _, r := range rs {
		best.Rounds = append(best.Rounds, r.Ratio())
	}
	for _, r := range rs[1:] {
		if Rate(r.OursGot, r.Ours) > Rate(best.OursGot, best.Ours) {
			best.Ours, best.OursGot = r.Ours, r.OursGot
		}
		if Rate(r.BaseGot, r.Baseline) > Rate(best.BaseGot, best.Baseline) {
			best.Baseline, best.BaseGot = r.Baseline, r.BaseGot
		}
		if r.FloorGot > 0 && (best.FloorGot == 0 || Rate(r.FloorGot, r.Floor) > Rate(best.FloorGot, best.Floor)) {
			best.Floor, best.FloorGot = r.Floor, r.FloorGot
		}
		best.PeakRSSKiB = max(best.PeakRSSKiB, r.PeakRSSKiB)
	}
	return best
}

// counter serves a slot on host h and counts what arrives.
type counter struct {
	s     *mailslot.Slot
	got   atomic.Int64
	first atomic.Int64 // unix nanos of the first record
	last  atomic.Int64
	done  chan struct{}
}

func serveCounter(h *lab.Host, name string) (*counter, error) {
	c := &counter{done: make(chan struct{})}
	err := h.Run(func() (err error) {
		c.s, err = mailslot.Create(name, mailslot.WithReadTimeout(mailslot.WaitForever), mailslot.WithNetwork())
		return err
	})
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(c.done)
		buf := make([]byte, 70000)
		for {
			if _, err := c.s.Read(buf); err != nil {
				return
			}
			c.mark()
		}
	}()
	return c, nil
}

func (c *counter) mark() { c.markAt(time.Now().UnixNano()) }

// markAt counts an arrival at now (unix nanos).
func (c *counter) markAt(now int64) {
	c.first.CompareAndSwap(0, now)
	c.last.Store(now)
	c.got.Add(1)
}

// settle waits until n have arrived or nothing arrived for idle.
func (c *counter) settle(n int, idle time.Duration) (int, time.Duration) {
	prev, since := int64(-1), time.Now()
	for {
		got := c.got.Load()
		if got >= int64(n) {
			break
		}
		if got != prev {
			prev, since = got, time.Now()
		} else if time.Since(since) > idle {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return int(c.got.Load()), time.Duration(c.last.Load() - c.first.Load())
}

// PacedRate is the rate of the paced datagram case, records per second:
// one that a 2-core machine's raw UDP loop keeps up with, with no loss.
const PacedRate = 50_000

// pacer holds a paced sender to PacedRate, 64 records at a time: a steady
// stream, not a burst the kernel must drop. It waits with nanosleep, as
// time.Sleep may wait a whole millisecond for a shorter gap (its timer
// waits in the runtime's poller, in milliseconds, unless a busy thread of
// the process happens to run it), which made the paced rate depend on
// what else the process did. A flood sends without pause.
type pacer struct {
	paced bool
	start time.Time
}

func newPacer(paced bool) *pacer { return &pacer{paced: paced, start: time.Now()} }

// pace is called after record i is sent.
func (p *pacer) pace(i int) {
	if !p.paced || i%64 != 63 {
		return
	}
	due := p.start.Add(time.Duration(i+1) * time.Second / PacedRate)
	if d := time.Until(due); d > 0 {
		preciseSleep(d)
	}
}

func netDatagrams(a, b *lab.Host, daemonPid, n int, paced bool) (NetResult, error) {
	res := NetResult{What: "dgram flood", Records: n, Size: 100}
	if paced {
		res.What = "dgram paced"
	}
	rec := make([]byte, 100)

	// Ours: the library on a, mailslotd on b, a slot on b.
	cnt, err := serveCounter(b, `\\.\mailslot\bench\net`)
	if err != nil {
		return res, err
	}
	defer cnt.s.Close()
	var w *remote.Writer
	if err := a.Run(func() (err error) { w, err = remote.Open(b.Name, `bench\net`); return err }); err != nil {
		return res, err
	}
	defer w.Close()
	w.DatagramsOnly = true
	stopRSS := sampleRSS(daemonPid, &res.PeakRSSKiB)
	if err := a.Run(func() error {
		p := newPacer(paced)
		for i := 0; i < n; i++ {
			if err := w.Write(rec, -1); err != nil {
				return err
			}
			p.pace(i)
		}
		return nil
	}); err != nil {
		return res, err
	}
	res.OursGot, res.Ours = cnt.settle(n, time.Second)
	stopRSS()

	// Baseline: the same datagram bytes, raw UDP from a to a socket on b.
	var ifaces []netif.Iface
	if err := a.Run(func() (err error) { ifaces, err = netif.List([]string{a.Iface}); return err }); err != nil {
		return res, err
	}
	frame, err := w.Datagram(rec, ifaces[0], 1)
	if err != nil {
		return res, err
	}
	raw := &counter{done: make(chan struct{})}
	var rc *net.UDPConn
	if err := b.Run(func() (err error) { rc, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 7138}); return err }); err != nil {
		return res, err
	}
	defer rc.Close()
	_ = rc.SetReadBuffer(212992)
	go func() {
		defer close(raw.done)
		buf := make([]byte, 2048)
		for {
			if _, _, err := rc.ReadFromUDP(buf); err != nil {
				return
			}
			raw.mark()
		}
	}()
	var sc *net.UDPConn
	if err := a.Run(func() (err error) { sc, err = net.ListenUDP("udp4", nil); return err }); err != nil {
		return res, err
	}
	defer sc.Close()
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.Addr, 7138))
	p := newPacer(paced)
	for i := 0; i < n; i++ {
		if _, err := sc.WriteToUDP(frame, to); err != nil {
			return res, err
		}
		p.pace(i)
	}
	res.BaseGot, res.Baseline = raw.settle(n, time.Second)
	return res, nil
}

func netStream(a, b *lab.Host, n int) (NetResult, error) {
	const size = 64 << 10
	res := NetResult{What: "stream", Records: n, Size: size}
	rec := make([]byte, size)
	cnt, err := serveCounter(b, `\\.\mailslot\bench\stream`)
	if err != nil {
		return res, err
	}
	defer cnt.s.Close()
	var w *remote.Writer
	if err := a.Run(func() (err error) { w, err = remote.Open(b.Name, `bench\stream`); return err }); err != nil {
		return res, err
	}
	defer w.Close()
	// The connection is made at the first write, inside a's namespace;
	// the timed records then go from an ordinary goroutine, as the
	// baseline's do (a goroutine locked to its thread, as inside Run,
	// pays two thread switches each time it waits for an answer).
	if err := a.Run(func() error { return w.Write(rec, -1) }); err != nil {
		return res, err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := w.Write(rec, -1); err != nil {
			return res, err
		}
	}
	res.Ours, res.OursGot = time.Since(start), n

	// Baseline: raw TCP between two processes, as between the writer and
	// mailslotd: a worker on b reads each record and answers with a byte.
	// Then the relay floor: the same worker also passes each record to a
	// reader in this process over a Unix socket before it answers, as
	// mailslotd passes it to the slot's reader.
	var ws []*Worker
	if err := b.Run(func() (err error) { ws, err = StartWorkers(1); return err }); err != nil {
		return res, err
	}
	defer StopWorkers(ws)
	if res.Baseline, err = tcpRun(a, b, ws[0], rec, n, false); err != nil {
		return res, err
	}
	res.BaseGot = n
	if res.Floor, err = tcpRun(a, b, ws[0], rec, n, true); err != nil {
		return res, err
	}
	res.FloorGot = n
	return res, nil
}

// tcpRun sends n records over raw TCP from a to a worker on b, waiting for
// each one's answer, and returns the time they took. With relay, the
// worker passes each record to a reader in this process, over a Unix
// packet socket in b's namespace, before answering; tcpRun returns once
// that reader has them all.
func tcpRun(a, b *lab.Host, w *Worker, rec []byte, n int, relay bool) (time.Duration, error) {
	args := []string{strconv.Itoa(tcpSinkPort), strconv.Itoa(n)}
	read := make(chan error, 1)
	if relay {
		addr := newAddr(Raw) + "/relay"
		var ln *net.UnixListener
		if err := b.Run(func() (err error) {
			ln, err = net.ListenUnix("unixpacket", &net.UnixAddr{Name: addr, Net: "unixpacket"})
			return err
		}); err != nil {
			return 0, err
		}
		defer ln.Close()
		args = append(args, addr)
		go func() { read <- relayReader(ln, len(rec), n) }()
	} else {
		read <- nil
	}
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(rec)))
	frame = append(frame, rec...)
	var (
		c       net.Conn
		elapsed time.Duration
	)
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	send := func() error {
		if err := a.Run(func() (err error) {
			c, err = net.Dial("tcp4", net.JoinHostPort(b.Addr.String(), strconv.Itoa(tcpSinkPort)))
			return err
		}); err != nil {
			return err
		}
		var ack [1]byte
		start := time.Now()
		for i := 0; i < n; i++ {
			if _, err := c.Write(frame); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, ack[:]); err != nil {
				return err
			}
		}
		elapsed = time.Since(start)
		return nil
	}
	if _, _, err := Drive([]*Worker{w}, "tcpsink", [][]string{args}, send, func() {
		if c != nil {
			c.Close()
		}
	}); err != nil {
		return 0, err
	}
	select {
	case err := <-read:
		return elapsed, err
	case <-time.After(lostAfter):
		return 0, fmt.Errorf("the relay floor's reader still waits after %v: records lost", lostAfter)
	}
}

// relayReader takes one connection on ln and reads n records of size bytes
// from it, each into the same buffer, as a slot's reader does.
func relayReader(ln *net.UnixListener, size, n int) error {
	_ = ln.SetDeadline(time.Now().Add(lostAfter))
	c, err := ln.AcceptUnix()
	if err != nil {
		return fmt.Errorf("relay floor: %w", err)
	}
	defer c.Close()
	buf := make([]byte, size+1)
	for i := 0; i < n; i++ {
		_ = c.SetReadDeadline(time.Now().Add(lostAfter))
		m, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("relay floor: record %d of %d: %w", i+1, n, err)
		}
		if m != size {
			return fmt.Errorf("relay floor: record %d of %d has %d bytes, want %d", i+1, n, m, size)
		}
	}
	return nil
}

// tcpSinkPort is where the stream baseline's worker listens.
const tcpSinkPort = 7139

// taskTCPSink: PORT COUNT [RELAY]. Listens on PORT, takes one connection
// and reads COUNT records from it, each a 4-byte big-endian length and
// that many bytes, answering each with one byte once it is in whole; with
// RELAY (a Unix packet socket's address), once it has also passed the
// record on to RELAY.
func taskTCPSink(args []string, ready func() error) (string, error) {
	port, err := atoi(args, 0)
	if err != nil {
		return "", err
	}
	count, err := atoi(args, 1)
	if err != nil {
		return "", err
	}
	var relay *net.UnixConn
	if len(args) > 2 {
		relay, err = net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: args[2], Net: "unixpacket"})
		if err != nil {
			return "", err
		}
		defer relay.Close()
	}
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{Port: port})
	if err != nil {
		return "", err
	}
	defer ln.Close()
	if err := ready(); err != nil {
		return "", err
	}
	c, err := ln.Accept()
	if err != nil {
		return "", err
	}
	defer c.Close()
	rd := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	var hdr [4]byte
	for i := 0; i < count; i++ {
		if _, err := io.ReadFull(rd, hdr[:]); err != nil {
			return "", err
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n > 1<<20 {
			return "", fmt.Errorf("a record of %d bytes", n)
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		if _, err := io.ReadFull(rd, buf[:n]); err != nil {
			return "", err
		}
		if relay != nil {
			if _, err := relay.Write(buf[:n]); err != nil {
				return "", err
			}
		}
		if _, err := c.Write([]byte{0}); err != nil {
			return "", err
		}
	}
	return "", nil
}

// sampleRSS records the peak VmRSS of pid until the returned func is called.
func sampleRSS(pid int, peak *int) func() {
	if pid <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if kb := rssKiB(pid); kb > *peak {
				*peak = kb
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}

func rssKiB(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.Atoi(f[1])
				return kb
			}
		}
	}
	return 0
}

// PrintNet writes network results as a table.
func PrintNet(w io.Writer, rs []NetResult) {
	fmt.Fprintln(w, "network, host to host on a namespace LAN (baselines measured in the same run)")
	for _, r := range rs {
		base := "raw UDP loop, same bytes; best of 3"
		if r.What == "stream" {
			base = "raw TCP loop, 1-byte answer per record; best of 3"
		}
		fmt.Fprintf(w, "  %-11s %6d B: ours %8.0f rec/s %7.1f MB/s (%d/%d arrived) | %s %8.0f rec/s %7.1f MB/s (%d/%d) | ratio %.2fx%s\n",
			r.What, r.Size, Rate(r.OursGot, r.Ours), Rate(r.OursGot, r.Ours)*float64(r.Size)/1e6, r.OursGot, r.Records,
			base, Rate(r.BaseGot, r.Baseline), Rate(r.BaseGot, r.Baseline)*float64(r.Size)/1e6, r.BaseGot, r.Records, r.Ratio(), r.roundsNote())
		if r.FloorGot > 0 {
			fmt.Fprintf(w, "  %-11s %6s   relay floor (raw TCP to a process that passes each record to a reader process over a Unix socket, then answers; best of 3) %8.0f rec/s %7.1f MB/s | ours/floor %.2fx, floor/raw TCP %.2fx\n",
				"", "", Rate(r.FloorGot, r.Floor), Rate(r.FloorGot, r.Floor)*float64(r.Size)/1e6, r.FloorRatio(), Rate(r.FloorGot, r.Floor)/Rate(r.BaseGot, r.Baseline))
		}
		if r.PeakRSSKiB > 0 {
			fmt.Fprintf(w, "  mailslotd peak resident memory meanwhile: %.1f MiB\n", float64(r.PeakRSSKiB)/1024)
		}
	}
}
