//go:build !windows

package bench

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/natslab"
	"github.com/mailslot-go/mailslot/internal/remote"
)

// NATSResult is the NATS bridge measured against raw NATS pub/sub on the
// same cluster, in the same run: a flood's records/s, and the latency of
// a paced stream.
type NATSResult struct {
	Flood NetResult // records/s, best of the runs on each side
	// WriterRate is the records/s the writer alone managed in the flood
	// that counted: each group record is a broadcast datagram, one
	// system call.
	WriterRate float64
	Latency    Latency   // paced, from just before the write or publish to the read
	Rate       int       // the paced stream's records/s
	Paced      NetResult // the paced stream's records/s as they arrived
	// Floor holds the relay floor's latencies at the paced rate (see
	// NATSFloor), and FloorGot its arrivals.
	Floor    []time.Duration
	FloorGot int
	// FloorFlood is the relay floor's flood (its best of 3): its time
	// and arrivals.
	FloorFlood    time.Duration
	FloorFloodGot int
}

// NATS measures group records from host a on one site to a reader on
// host b of another, both running mailslotd bridged to their site's node
// (workgroup wg): a writer in this process writes `\\WG\mailslot\bench\nats`
// (a broadcast that a's mailslotd bridges), a slot on b reads. The
// baseline is `nats bench`-style raw pub/sub on the same nodes: a
// publisher connected from a to a's node, a subscriber from b to b's.
// Each record (size bytes, at least 8) carries its send time. The flood
// runs three times on each side, alternating, and each keeps its best;
// latency is measured at a paced rate (records/s), once a side.
func NATS(a, b *lab.Host, sa, sb *natslab.Site, wg string, records, size, rate int) (NATSResult, error) {
	res := NATSResult{Rate: rate, Flood: NetResult{What: "group flood", Records: records, Size: size}}
	size = max(size, 8)
	var rs []NetResult
	for i := 0; i < 3; i++ {
		r := res.Flood
		var err error
		if r.Ours, r.OursGot, _, err = natsOurs(a, b, wg, records, size, 0); err != nil {
			return res, err
		}
		if i == 0 || Rate(r.OursGot, r.Ours) > Rate(res.Flood.OursGot, res.Flood.Ours) {
			res.Flood.Ours, res.Flood.OursGot = r.Ours, r.OursGot
			res.WriterRate = Rate(records, time.Duration(lastSend.Load()))
		}
		if r.Baseline, r.BaseGot, _, err = natsRaw(a, b, sa, sb, records, size, 0); err != nil {
			return res, err
		}
		rs = append(rs, r)
		d, got, _, err := NATSFloor(a, b, sa, sb, records, size, 0)
		if err != nil {
			return res, err
		}
		if res.FloorFloodGot == 0 || Rate(got, d) > Rate(res.FloorFloodGot, res.FloorFlood) {
			res.FloorFlood, res.FloorFloodGot = d, got
		}
	}
	res.Flood = bestOf(rs)
	n := max(rate*2, 1000) // two seconds' worth
	res.Latency.What = fmt.Sprintf("%d B at %d rec/s", size, rate)
	p := &res.Paced
	*p = NetResult{What: fmt.Sprintf("paced %d/s", rate), Records: n, Size: size}
	var err error
	if p.Ours, p.OursGot, res.Latency.Ours, err = natsOurs(a, b, wg, n, size, rate); err != nil {
		return res, err
	}
	if p.Baseline, p.BaseGot, res.Latency.Base, err = natsRaw(a, b, sa, sb, n, size, rate); err != nil {
		return res, err
	}
	if _, res.FloorGot, res.Floor, err = NATSFloor(a, b, sa, sb, n, size, rate); err != nil {
		return res, err
	}
	return res, nil
}

// lastSend is how long the last flood of ours took to send.
var lastSend atomic.Int64

// stamped counts arrivals, and their latency from the send time in a
// record's first 8 bytes (one clock: the hosts share a machine).
type stamped struct {
	counter
	mu   sync.Mutex
	lats []time.Duration
}

func (s *stamped) mark(rec []byte) {
	now := time.Now().UnixNano()
	s.markAt(now)
	if len(rec) >= 8 {
		s.mu.Lock()
		s.lats = append(s.lats, time.Duration(now-int64(binary.LittleEndian.Uint64(rec))))
		s.mu.Unlock()
	}
}

// settle waits until n have arrived or nothing arrived for idle, and
// returns the arrivals, the time from first to last, and the sorted
// latencies.
func (s *stamped) settle(n int, idle time.Duration) (int, time.Duration, []time.Duration) {
	got, d := s.counter.settle(n, idle)
	s.mu.Lock()
	defer s.mu.Unlock()
	lats := slices.Clone(s.lats)
	slices.Sort(lats)
	return got, d, lats
}

// send sends n records of size bytes, each stamped, paced at rate
// records/s (0: as fast as it can). It waits with preciseSleep: at
// 10,000 records/s a time.Sleep of 100 µs took 1.1 ms here, which sent the
// records in bursts of 11 and measured how long the last of a burst
// waited behind the others, not a record's way at that rate.
func send(n, size, rate int, write func([]byte) error) error {
	rec := make([]byte, size)
	start := time.Now()
	for i := 0; i < n; i++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
				preciseSleep(d)
			}
		}
		binary.LittleEndian.PutUint64(rec, uint64(time.Now().UnixNano()))
		if err := write(rec); err != nil {
			return fmt.Errorf("record %d of %d: %w", i+1, n, err)
		}
	}
	return nil
}

// natsOurs: a group writer on a, a slot on b.
func natsOurs(a, b *lab.Host, wg string, n, size, rate int) (time.Duration, int, []time.Duration, error) {
	var slot *mailslot.Slot
	if err := b.Run(func() (err error) {
		slot, err = mailslot.Create(`\\.\mailslot\bench\nats`, mailslot.WithReadTimeout(mailslot.WaitForever), mailslot.WithNetwork())
		return err
	}); err != nil {
		return 0, 0, nil, err
	}
	st := &stamped{lats: make([]time.Duration, 0, n)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 70000)
		for {
			k, err := slot.Read(buf)
			if err != nil {
				return
			}
			st.mark(buf[:k])
		}
	}()
	defer func() { slot.Close(); <-done }()
	var w *remote.Writer
	if err := a.Run(func() (err error) { w, err = remote.Open(wg, `bench\nats`); return err }); err != nil {
		return 0, 0, nil, err
	}
	defer w.Close()
	t0 := time.Now()
	if err := send(n, size, rate, func(p []byte) error { return w.Write(p, -1) }); err != nil {
		return 0, 0, nil, err
	}
	sent := time.Since(t0)
	got, d, lats := st.settle(n, 2*time.Second)
	if rate == 0 {
		lastSend.Store(int64(sent))
	}
	return d, got, lats, nil
}

// natsRaw: a NATS publisher connected from a to sa's node, a subscriber
// from b to sb's.
func natsRaw(a, b *lab.Host, sa, sb *natslab.Site, n, size, rate int) (time.Duration, int, []time.Duration, error) {
	sub, err := sb.Connect(b)
	if err != nil {
		return 0, 0, nil, err
	}
	defer sub.Close()
	pub, err := sa.Connect(a)
	if err != nil {
		return 0, 0, nil, err
	}
	defer pub.Close()
	st := &stamped{lats: make([]time.Duration, 0, n)}
	s, err := sub.Subscribe("mailslot.bench.raw", func(m *nats.Msg) { st.mark(m.Data) })
	if err != nil {
		return 0, 0, nil, err
	}
	_ = s.SetPendingLimits(-1, -1)
	if err := sub.Flush(); err != nil {
		return 0, 0, nil, err
	}
	// The subscription's interest crosses the route: wait until a probe
	// arrives.
	probe, err := sub.SubscribeSync("mailslot.bench.probe")
	if err != nil {
		return 0, 0, nil, err
	}
	_ = sub.Flush()
	for i := 0; ; i++ {
		_ = pub.Publish("mailslot.bench.probe", nil)
		_ = pub.Flush()
		if _, err := probe.NextMsg(50 * time.Millisecond); err == nil {
			break
		}
		if i > 200 {
			return 0, 0, nil, fmt.Errorf("raw NATS: the subscriber's interest never reached the publisher's node")
		}
	}
	if err := send(n, size, rate, func(p []byte) error { return pub.Publish("mailslot.bench.raw", p) }); err != nil {
		return 0, 0, nil, err
	}
	if err := pub.FlushTimeout(time.Minute); err != nil {
		return 0, 0, nil, err
	}
	got, d, lats := st.settle(n, 2*time.Second)
	return d, got, lats, nil
}

// PrintNATS writes the bridge's measurement as tables.
func PrintNATS(w io.Writer, r NATSResult) {
	fmt.Fprintln(w, "NATS bridge, group records site to site through a 3-node cluster (baseline: raw NATS pub/sub on the same nodes, measured in the same run)")
	for _, f := range []NetResult{r.Flood, r.Paced} {
		note := "best of 3"
		if f.What != r.Flood.What {
			note = "once"
		}
		fmt.Fprintf(w, "  %-13s %6d B: ours %8.0f rec/s %7.1f MB/s (%d/%d arrived) | raw pub/sub %8.0f rec/s %7.1f MB/s (%d/%d) | ratio %.2fx (%s)%s\n",
			f.What, f.Size, Rate(f.OursGot, f.Ours), Rate(f.OursGot, f.Ours)*float64(f.Size)/1e6, f.OursGot, f.Records,
			Rate(f.BaseGot, f.Baseline), Rate(f.BaseGot, f.Baseline)*float64(f.Size)/1e6, f.BaseGot, f.Records, f.Ratio(), note, f.roundsNote())
	}
	fmt.Fprintf(w, "  (our writer alone sent %.0f rec/s: each group record is a broadcast datagram, one system call; raw pub/sub publishes into a buffer)\n", r.WriterRate)
	if r.FloorFloodGot > 0 {
		fr := Rate(r.FloorFloodGot, r.FloorFlood)
		fmt.Fprintf(w, "  relay floor's flood (bare UDP broadcasts through the two relay processes below; best of 3): %.0f rec/s (%d/%d arrived) | ours/floor %.2fx, floor/raw pub/sub %.2fx\n",
			fr, r.FloorFloodGot, r.Flood.Records, Rate(r.Flood.OursGot, r.Flood.Ours)/fr, fr/Rate(r.Flood.BaseGot, r.Flood.Baseline))
	}
	PrintLatency(w, "  latency, group record from just before the write to the read on the other site", "raw pub/sub, publish to delivery", []Latency{r.Latency})
	if len(r.Floor) > 0 {
		f50, f99 := Quantile(r.Floor, 0.5), Quantile(r.Floor, 0.99)
		fmt.Fprintf(w, "  relay floor (a UDP broadcast to a process that publishes it, a subscriber process that passes it to the reader over a Unix socket; %d/%d arrived): p50 %s µs, p99 %s µs | ours/floor p50 %.2fx p99 %.2fx, floor/raw pub/sub p50 %.2fx p99 %.2fx\n",
			r.FloorGot, r.Paced.Records, us(f50), us(f99),
			float64(Quantile(r.Latency.Ours, 0.5))/float64(f50), float64(Quantile(r.Latency.Ours, 0.99))/float64(f99),
			float64(f50)/float64(Quantile(r.Latency.Base, 0.5)), float64(f99)/float64(Quantile(r.Latency.Base, 0.99)))
	}
}

// The relay floor: the shape of the bridge's path with nothing of ours in
// it. The writer broadcasts each record as a bare UDP datagram on a's
// LAN; a worker process on a (as a's mailslotd) receives it and
// publishes it to a's node; a worker on b (as b's mailslotd) subscribes
// at b's node and passes each message to a reader in this process over a
// Unix datagram socket. Two processes more than raw pub/sub, as ours.

// natsFloorPort is where the floor's receiving worker listens.
const natsFloorPort = 7140

func init() { Handle("natsrelay", taskNATSRelay) }

// taskNATSRelay: in PORT URL SUBJECT, or out URL SUBJECT ADDR: the floor's
// two relays (taskNATSIn, taskNATSOut).
func taskNATSRelay(args []string, ready func() error) (string, error) {
	if len(args) > 0 && args[0] == "in" {
		return taskNATSIn(args[1:], ready)
	}
	if len(args) > 0 && args[0] == "out" {
		return taskNATSOut(args[1:], ready)
	}
	return "", fmt.Errorf("natsrelay: want in or out, got %q", args)
}

// taskNATSIn: PORT URL SUBJECT. Publishes each UDP datagram that comes to
// PORT to SUBJECT until an empty one comes, which it publishes too.
func taskNATSIn(args []string, ready func() error) (string, error) {
	port, err := atoi(args, 0)
	if err != nil {
		return "", err
	}
	if len(args) < 3 {
		return "", fmt.Errorf("natsin: want PORT URL SUBJECT, got %q", args)
	}
	nc, err := nats.Connect(args[1], nats.Timeout(2*time.Second))
	if err != nil {
		return "", err
	}
	defer nc.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetReadBuffer(4 << 20) // as mailslotd's
	if err := ready(); err != nil {
		return "", err
	}
	buf := make([]byte, 65536)
	for {
		_ = c.SetReadDeadline(time.Now().Add(lostAfter))
		n, err := c.Read(buf)
		if err != nil {
			return "", err
		}
		if err := nc.Publish(args[2], buf[:n]); err != nil {
			return "", err
		}
		if n == 0 {
			return "", nc.FlushTimeout(lostAfter)
		}
	}
}

// taskNATSOut: URL SUBJECT ADDR. Subscribes to SUBJECT and sends each
// message to the Unix datagram socket ADDR, until an empty one comes.
func taskNATSOut(args []string, ready func() error) (string, error) {
	if len(args) < 3 {
		return "", fmt.Errorf("natsout: want URL SUBJECT ADDR, got %q", args)
	}
	nc, err := nats.Connect(args[0], nats.Timeout(2*time.Second))
	if err != nil {
		return "", err
	}
	defer nc.Close()
	out, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: args[2], Net: "unixgram"})
	if err != nil {
		return "", err
	}
	defer out.Close()
	end := make(chan error, 1)
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	sub, err := nc.Subscribe(args[1], func(m *nats.Msg) {
		last.Store(time.Now().UnixNano())
		if _, err := out.Write(m.Data); err != nil || len(m.Data) == 0 {
			select {
			case end <- err:
			default:
			}
		}
	})
	if err != nil {
		return "", err
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		return "", err
	}
	if err := ready(); err != nil {
		return "", err
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-end:
			return "", err
		case <-tick.C:
			if time.Since(time.Unix(0, last.Load())) > lostAfter {
				return "", fmt.Errorf("natsout: nothing for %v, and no end", lostAfter)
			}
		}
	}
}

// NATSFloor measures the relay floor: n records of size bytes at rate,
// from a writer on a to a reader on b. It returns the time from the first
// arrival to the last, the arrivals, and their latencies.
func NATSFloor(a, b *lab.Host, sa, sb *natslab.Site, n, size, rate int) (time.Duration, int, []time.Duration, error) {
	subject := fmt.Sprintf("mailslot.bench.floor.%d", seq.Add(1))
	addr := newAddr(Raw) + "/floor"
	var in *net.UnixConn
	if err := b.Run(func() (err error) {
		in, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
		return err
	}); err != nil {
		return 0, 0, nil, err
	}
	_ = in.SetReadBuffer(4 << 20)
	var probed atomic.Bool
	st := &stamped{lats: make([]time.Duration, 0, n)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			k, err := in.Read(buf)
			if err != nil {
				return
			}
			switch {
			case k >= 8:
				st.mark(buf[:k])
			case k > 0:
				probed.Store(true)
			}
		}
	}()
	defer func() { in.Close(); <-done }()

	var wa, wb []*Worker
	if err := a.Run(func() (err error) { wa, err = StartWorkers(1); return err }); err != nil {
		return 0, 0, nil, err
	}
	defer StopWorkers(wa)
	if err := b.Run(func() (err error) { wb, err = StartWorkers(1); return err }); err != nil {
		return 0, 0, nil, err
	}
	defer StopWorkers(wb)
	var out *net.UDPConn
	if err := a.Run(func() (err error) {
		out, err = net.ListenUDP("udp4", nil)
		return err
	}); err != nil {
		return 0, 0, nil, err
	}
	defer out.Close()
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(a.Broadcast, natsFloorPort))
	var (
		d    time.Duration
		got  int
		lats []time.Duration
	)
	consume := func() error {
		// The subscription's interest crosses the route: probe until
		// a probe arrives.
		for i := 0; !probed.Load(); i++ {
			if i > 400 {
				return fmt.Errorf("relay floor: no probe crossed the cluster")
			}
			if _, err := out.WriteToUDP([]byte{'p'}, to); err != nil {
				return err
			}
			time.Sleep(25 * time.Millisecond)
		}
		if err := send(n, size, rate, func(p []byte) error { _, err := out.WriteToUDP(p, to); return err }); err != nil {
			return err
		}
		got, d, lats = st.settle(n, 2*time.Second)
		// The end: an empty datagram, sent a few times in case one is
		// lost; the receiving worker stops at the first.
		for range 3 {
			if _, err := out.WriteToUDP(nil, to); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	args := [][]string{
		{"in", strconv.Itoa(natsFloorPort), sa.URL(), subject},
		{"out", sb.URL(), subject, addr},
	}
	if _, _, err := Drive([]*Worker{wa[0], wb[0]}, "natsrelay", args, consume, func() {}); err != nil {
		return 0, 0, nil, err
	}
	return d, got, lats, nil
}
