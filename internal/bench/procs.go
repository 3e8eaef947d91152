//go:build !windows

package bench

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/local"
)

// What a measurement runs through.
const (
	Ours = "ours" // local mailslots, through the public API
	Raw  = "raw"  // the baseline: a bare Unix datagram socket on an abstract address
)

// receiver and sender are the two ends of either: a *mailslot.Slot and a
// *mailslot.Client, or a bound and a connected *net.UnixConn.
type receiver interface {
	Read([]byte) (int, error)
	Close() error
}

type sender interface {
	Write([]byte) (int, error)
	Close() error
}

var seq atomic.Int64

// newAddr returns a fresh slot name or abstract socket address.
func newAddr(impl string) string {
	n := seq.Add(1)
	if impl == Raw {
		return fmt.Sprintf("@mailslot-bench-raw/%d/%d", os.Getpid(), n)
	}
	return fmt.Sprintf(`\\.\mailslot\bench\%d\%d`, os.Getpid(), n)
}

func listen(impl, addr string) (receiver, error) {
	if impl == Raw {
		return net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	}
	return mailslot.Create(addr)
}

func dial(impl, addr string) (sender, error) {
	if impl == Raw {
		return net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	}
	return mailslot.Open(addr)
}

func atoi(args []string, i int) (int, error) {
	if i >= len(args) {
		return 0, fmt.Errorf("missing argument %d", i+1)
	}
	return strconv.Atoi(args[i])
}

// taskWrite: IMPL ADDR SIZE COUNT. Writes COUNT records of SIZE bytes.
func taskWrite(args []string, ready func() error) (string, error) {
	size, err := atoi(args, 2)
	if err != nil {
		return "", err
	}
	count, err := atoi(args, 3)
	if err != nil {
		return "", err
	}
	s, err := dial(args[0], args[1])
	if err != nil {
		return "", err
	}
	defer s.Close()
	if err := ready(); err != nil {
		return "", err
	}
	rec := make([]byte, size)
	for i := 0; i < count; i++ {
		if _, err := s.Write(rec); err != nil {
			return "", fmt.Errorf("write %d of %d: %w", i+1, count, err)
		}
	}
	return "", nil
}

// PingWarm round trips at least open each ping-pong run unmeasured: the
// parent connects back during the first.
const PingWarm = 20

// RingPass is how many round trips of size-byte records take a fresh
// connection's rings (those of a slot of records up to local.MaxRecord)
// once around. Until then each 4 KiB of a ring is touched for the first
// time by the writer and by the reader, which costs a page fault on each
// side (several µs, tens where faults trap to a hypervisor); from then on
// no more.
func RingPass(size int) int {
	return local.RingSize(local.MaxRecord)/local.RecordSpace(size) + 1
}

// taskPingPong: IMPL ADDR-A ADDR-B SIZE COUNT WARM. Serves B, writes a
// record to A and waits for the answer on B, COUNT times (after WARM
// unmeasured ones), and returns each round trip in nanoseconds.
func taskPingPong(args []string, ready func() error) (string, error) {
	size, err := atoi(args, 3)
	if err != nil {
		return "", err
	}
	count, err := atoi(args, 4)
	if err != nil {
		return "", err
	}
	warm, err := atoi(args, 5)
	if err != nil {
		return "", err
	}
	r, err := listen(args[0], args[2])
	if err != nil {
		return "", err
	}
	defer r.Close()
	s, err := dial(args[0], args[1])
	if err != nil {
		return "", err
	}
	defer s.Close()
	if err := ready(); err != nil {
		return "", err
	}
	rec, buf := make([]byte, size), make([]byte, size+1)
	rtt := make([]int64, count)
	for i := -warm; i < count; i++ {
		t0 := time.Now()
		if _, err := s.Write(rec); err != nil {
			return "", err
		}
		if _, err := r.Read(buf); err != nil {
			return "", err
		}
		if i >= 0 {
			rtt[i] = int64(time.Since(t0))
		}
	}
	return joinInts(rtt), nil
}

// taskWake: IMPL ADDR COUNT GAP-NS. Writes COUNT records to ADDR, GAP-NS
// apart, each carrying CLOCK_MONOTONIC just before its write.
func taskWake(args []string, ready func() error) (string, error) {
	count, err := atoi(args, 2)
	if err != nil {
		return "", err
	}
	gap, err := atoi(args, 3)
	if err != nil {
		return "", err
	}
	s, err := dial(args[0], args[1])
	if err != nil {
		return "", err
	}
	defer s.Close()
	if err := ready(); err != nil {
		return "", err
	}
	rec := make([]byte, wakeSize)
	for i := 0; i < count; i++ {
		preciseSleep(time.Duration(gap))
		binary.LittleEndian.PutUint64(rec, uint64(monotonic()))
		if _, err := s.Write(rec); err != nil {
			return "", err
		}
	}
	return "", nil
}

// wakeSize is the size of a wake record: a stamp and some padding.
const wakeSize = 16

// monotonic returns CLOCK_MONOTONIC in nanoseconds: one clock for every
// process of the machine, unlike the monotonic part of time.Time.
func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(clockMonotonic, &ts)
	return ts.Nano()
}

func joinInts(v []int64) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(x, 10))
	}
	return b.String()
}

func parseDurations(s string) ([]time.Duration, error) {
	f := strings.Fields(s)
	out := make([]time.Duration, len(f))
	for i, x := range f {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return nil, err
		}
		out[i] = time.Duration(n)
	}
	return out, nil
}

// readAll reads n records of size bytes from r.
func readAll(r receiver, size, n int) error {
	buf := make([]byte, size+1)
	for i := 0; i < n; i++ {
		k, err := r.Read(buf)
		if err != nil {
			return fmt.Errorf("after %d of %d records: %w", i, n, err)
		}
		if k != size {
			return fmt.Errorf("record %d has %d bytes, want %d", i+1, k, size)
		}
	}
	return nil
}

// ProcOnce moves n records of size bytes from the workers, each in its
// process writing its share, to a reader in this process, through impl
// (Ours or Raw). The time runs from the workers' go (all connected and
// ready) until the reader has every record.
func ProcOnce(ws []*Worker, impl string, size, n int) (time.Duration, error) {
	addr := newAddr(impl)
	r, err := listen(impl, addr)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	per := n / len(ws)
	args := make([][]string, len(ws))
	for i := range ws {
		args[i] = []string{impl, addr, strconv.Itoa(size), strconv.Itoa(per)}
	}
	el, _, err := Drive(ws, "write", args, func() error { return readAll(r, size, per*len(ws)) }, func() { r.Close() })
	return el, err
}

// Plan says how long throughput runs last and how often they repeat.
// Each side moves as many records as its warm-up rate says fill about
// Target (at least MinFast's worth, at most MaxSlow's), so that both are
// measured in their steady state: a run of a few milliseconds mostly
// measures setting up (for ours, the first touch of the rings' pages).
type Plan struct {
	Runs       int           // rounds of ours and the baseline, alternating; the best of each counts
	Target     time.Duration // how long the slower side's run should last, roughly
	MinFast    time.Duration
	MaxSlow    time.Duration
	MinRecords int
	MaxRecords int
	// Progress, if set, is told what is measured next, before each case:
	// a long run shows it is alive.
	Progress func(what string)
}

// plural is "1 one" or "n many".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// note tells p.Progress, if any, what comes next.
func (p Plan) note(format string, args ...any) {
	if p.Progress != nil {
		p.Progress(fmt.Sprintf(format, args...))
	}
}

// FullPlan and QuickPlan are what `mailslot bench local` uses without and
// with --quick.
var (
	FullPlan = Plan{Runs: 3, Target: 300 * time.Millisecond, MinFast: 50 * time.Millisecond, MaxSlow: time.Second,
		MinRecords: 4000, MaxRecords: 2_000_000}
	QuickPlan = Plan{Runs: 1, Target: 15 * time.Millisecond, MinFast: 5 * time.Millisecond, MaxSlow: 40 * time.Millisecond,
		MinRecords: 1000, MaxRecords: 20_000}
)

// measure runs one case through run: two warm-ups of each that also size
// the runs to the plan's target, then the plan's rounds, alternating the
// baseline and ours so that both see the same machine; the least
// disturbed run of each is the closest to the code's own cost.
func measure(c Case, p Plan, run func(impl string, n int) (time.Duration, error)) (Result, error) {
	n0 := max(p.MinRecords-p.MinRecords%c.Writers, c.Writers)
	do, err := run(Ours, n0)
	if err != nil {
		return Result{}, err
	}
	db, err := run(Raw, n0)
	if err != nil {
		return Result{}, err
	}
	count := func(rate float64) int {
		n := int(rate * p.Target.Seconds())
		n = max(n, int(rate*p.MinFast.Seconds()))
		n = min(n, int(rate*p.MaxSlow.Seconds()))
		n = min(max(n, p.MinRecords), p.MaxRecords)
		return max(n-n%c.Writers, c.Writers)
	}
	nb, no := count(float64(n0)/db.Seconds()), count(float64(n0)/do.Seconds())
	// A run that small mostly measures setting up: size again from a run
	// of the first estimate's length.
	if db, err = run(Raw, nb); err != nil {
		return Result{}, err
	}
	if do, err = run(Ours, no); err != nil {
		return Result{}, err
	}
	nb, no = count(float64(nb)/db.Seconds()), count(float64(no)/do.Seconds())
	r := Result{Case: c, Records: nb, OursRecords: no}
	for i := 0; i < p.Runs; i++ {
		b, err := run(Raw, nb)
		if err != nil {
			return Result{}, err
		}
		o, err := run(Ours, no)
		if err != nil {
			return Result{}, err
		}
		r.Rounds = append(r.Rounds, Rate(no, o)/Rate(nb, b))
		if r.Baseline == 0 || b < r.Baseline {
			r.Baseline = b
		}
		if r.Ours == 0 || o < r.Ours {
			r.Ours = o
		}
	}
	return r, nil
}

// ProcCases are the throughput cases with writers in other processes.
func ProcCases() []Case {
	var cs []Case
	for _, w := range []int{1, 4} {
		for _, s := range []int{16, 100, 4096, 65536} {
			cs = append(cs, Case{w, s})
		}
	}
	return cs
}

// LocalProcs measures each case with c.Writers of the workers writing, in
// their own processes, to a reader in this one, through local mailslots
// and through the raw socket baseline.
func LocalProcs(ws []*Worker, cases []Case, p Plan) ([]Result, error) {
	var out []Result
	for i, c := range cases {
		p.note("throughput, %s, %d B (case %d of %d)", plural(c.Writers, "writer process", "writer processes"), c.Size, i+1, len(cases))
		if c.Writers > len(ws) {
			return out, fmt.Errorf("%d writers, but only %d workers", c.Writers, len(ws))
		}
		r, err := measure(c, p, func(impl string, n int) (time.Duration, error) {
			return ProcOnce(ws[:c.Writers], impl, c.Size, n)
		})
		if err != nil {
			return out, fmt.Errorf("%d writer processes, %d B: %w", c.Writers, c.Size, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Latency is a latency measurement, ours and the baseline's samples.
type Latency struct {
	What       string
	Ours, Base []time.Duration
}

// Quantile returns the q-quantile (0..1) of sorted samples.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)))
	return sorted[min(i, len(sorted)-1)]
}

// pingPongOnce runs count round trips with worker w through impl, after
// warm unmeasured ones (at least PingWarm): the worker writes to slot A,
// this process reads and answers into slot B, which the worker serves and
// reads.
func pingPongOnce(w *Worker, impl string, size, count, warm int) ([]time.Duration, error) {
	warm = max(warm, PingWarm)
	a, b := newAddr(impl), newAddr(impl)
	r, err := listen(impl, a)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var s sender
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	consume := func() error {
		var err error
		// The worker serves B from its ready on; its first round trips
		// (PingWarm) wait for this connection and are not measured.
		if s, err = dial(impl, b); err != nil {
			return err
		}
		buf := make([]byte, size+1)
		for i := 0; i < count+warm; i++ {
			k, err := r.Read(buf)
			if err != nil {
				return err
			}
			if _, err := s.Write(buf[:k]); err != nil {
				return err
			}
		}
		return nil
	}
	_, res, err := Drive([]*Worker{w}, "pingpong", [][]string{{impl, a, b, strconv.Itoa(size), strconv.Itoa(count), strconv.Itoa(warm)}}, consume, func() { r.Close() })
	if err != nil {
		return nil, err
	}
	return parseDurations(res[0])
}

// wakeOnce has worker w write count records gap apart while this process
// waits in Read on an empty slot, and returns, for each, the time from
// just before the write until Read returned.
func wakeOnce(w *Worker, impl string, count int, gap time.Duration) ([]time.Duration, error) {
	a := newAddr(impl)
	r, err := listen(impl, a)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	lat := make([]time.Duration, 0, count)
	consume := func() error {
		buf := make([]byte, wakeSize+1)
		for i := 0; i < count; i++ {
			k, err := r.Read(buf)
			now := monotonic()
			if err != nil {
				return err
			}
			if k != wakeSize {
				return fmt.Errorf("wake record of %d bytes, want %d", k, wakeSize)
			}
			lat = append(lat, time.Duration(now-int64(binary.LittleEndian.Uint64(buf))))
		}
		return nil
	}
	_, _, err = Drive([]*Worker{w}, "wake", [][]string{{impl, a, strconv.Itoa(count), strconv.Itoa(int(gap))}}, consume, func() { r.Close() })
	return lat, err
}

// alternate runs a short warm-up of each, then rounds of ours and the
// baseline in turn, each of count/rounds samples, and pools the samples.
func alternate(what string, count, rounds int, once func(impl string, n int) ([]time.Duration, error)) (Latency, error) {
	l := Latency{What: what}
	warm := max(count/20, 10)
	for _, impl := range []string{Ours, Raw} {
		if _, err := once(impl, warm); err != nil {
			return l, fmt.Errorf("%s: %w", impl, err)
		}
	}
	per := max(count/rounds, 1)
	for i := 0; i < rounds; i++ {
		for _, impl := range []string{Raw, Ours} {
			s, err := once(impl, per)
			if err != nil {
				return l, fmt.Errorf("%s: %w", impl, err)
			}
			if impl == Ours {
				l.Ours = append(l.Ours, s...)
			} else {
				l.Base = append(l.Base, s...)
			}
		}
	}
	slices.Sort(l.Ours)
	slices.Sort(l.Base)
	return l, nil
}

// PingPong measures count round trips of size-byte records between this
// process and worker w, through local mailslots and through raw sockets,
// each run of them after warm unmeasured ones: RingPass(size) or more to
// measure connections in their steady state, less to measure the first
// pass of their rings.
func PingPong(w *Worker, size, count, rounds, warm int) (Latency, error) {
	return alternate(pingWhat(size, warm), count, rounds, func(impl string, n int) ([]time.Duration, error) {
		return pingPongOnce(w, impl, size, n, warm)
	})
}

// pingWhat names a round-trip measurement.
func pingWhat(size, warm int) string {
	if warm < RingPass(size) {
		return fmt.Sprintf("round trip, %d B, in the rings' first pass", size)
	}
	return fmt.Sprintf("round trip, %d B, after the rings' first pass", size)
}

// Wake measures count wakes of a Read blocked on an empty slot by a write
// from worker w, gap apart, through local mailslots and raw sockets.
func Wake(w *Worker, count int, gap time.Duration, rounds int) (Latency, error) {
	return alternate(fmt.Sprintf("wake, %v gaps", gap), count, rounds, func(impl string, n int) ([]time.Duration, error) {
		return wakeOnce(w, impl, n, gap)
	})
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e3) }

// PrintLatency writes latency results as a table, in microseconds.
func PrintLatency(w io.Writer, title, baseline string, ls []Latency) {
	fmt.Fprintf(w, "%s (baseline: %s, measured in the same run; ratio ours/baseline, lower is better)\n", title, baseline)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "what\tsamples\tours p50 µs\tours p99 µs\tbaseline p50 µs\tbaseline p99 µs\tratio p50\tratio p99\t")
	for _, l := range ls {
		o50, o99 := Quantile(l.Ours, 0.50), Quantile(l.Ours, 0.99)
		b50, b99 := Quantile(l.Base, 0.50), Quantile(l.Base, 0.99)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.2fx\t%.2fx\t\n", l.What, len(l.Ours), us(o50), us(o99), us(b50), us(b99),
			float64(o50)/float64(b50), float64(o99)/float64(b99))
	}
	tw.Flush()
}
