//go:build !windows

package bench

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailslot-go/mailslot/internal/local"
)

// TestMain lets this test binary serve as the bench's writer processes.
func TestMain(m *testing.M) {
	Child()
	os.Exit(m.Run())
}

// tiny is a plan for tests: they check that the measurements work, not
// what they find.
var tiny = Plan{Runs: 1, Target: time.Millisecond, MinRecords: 200, MaxRecords: 400}

func workers(t testing.TB, n int) []*Worker {
	t.Helper()
	ws, err := StartWorkers(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { StopWorkers(ws) })
	return ws
}

func checkResults(t *testing.T, rs []Result, want int) {
	t.Helper()
	if len(rs) != want {
		t.Fatalf("%d results, want %d", len(rs), want)
	}
	for _, r := range rs {
		if r.Ours <= 0 || r.Baseline <= 0 || r.Records < tiny.MinRecords-r.Writers {
			t.Fatalf("bad result %+v", r)
		}
		// One ratio a round; with one round, its pair is the best runs.
		if lo, hi := r.RoundRange(); len(r.Rounds) != tiny.Runs || lo <= 0 || lo > hi ||
			(tiny.Runs == 1 && math.Abs(r.Rounds[0]-r.Ratio()) > 1e-9*r.Ratio()) {
			t.Fatalf("rounds %v (best-run ratio %.3f) of %+v", r.Rounds, r.Ratio(), r)
		}
	}
}

// TestPrintShowsRounds checks the table's columns, the range of the
// rounds' ratios among them.
func TestPrintShowsRounds(t *testing.T) {
	r := Result{Case: Case{Writers: 4, Size: 100}, Records: 1000, OursRecords: 4000,
		Ours: time.Second, Baseline: time.Second, Rounds: []float64{3.5, 2.25, 4}}
	if lo, hi := r.RoundRange(); lo != 2.25 || hi != 4 {
		t.Fatalf("RoundRange = %v, %v", lo, hi)
	}
	if lo, hi := (Result{}).RoundRange(); lo != 0 || hi != 0 {
		t.Fatalf("RoundRange without rounds = %v, %v", lo, hi)
	}
	var b strings.Builder
	Print(&b, "t", "raw", 3, []Result{r})
	out := b.String()
	for _, want := range []string{"best of 3", "rounds", "4.00x", "2.25-4.00x", "4000", "1000"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestLocalRuns checks that the measurement itself works: every case moves
// all its records both ways and yields positive durations.
func TestLocalRuns(t *testing.T) {
	rs, err := Local([]Case{{Writers: 1, Size: 16}, {Writers: 4, Size: 100}}, tiny)
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, rs, 2)
	Print(os.Stderr, "local", "raw", tiny.Runs, rs)
}

// TestProcRuns is TestLocalRuns with the writers in worker processes.
func TestProcRuns(t *testing.T) {
	ws := workers(t, 4)
	rs, err := LocalProcs(ws, []Case{{Writers: 1, Size: 16}, {Writers: 4, Size: 65536}}, tiny)
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, rs, 2)
	Print(os.Stderr, "processes", "raw", tiny.Runs, rs)
}

// TestWorkersAfterFailure checks that a task that fails in a worker ends
// the round with its error, and that the workers serve the next round.
func TestWorkersAfterFailure(t *testing.T) {
	ws := workers(t, 2)
	args := [][]string{{Ours, `\\.\mailslot\bench\nobody\here`, "100", "10"}, {Ours, `\\.\mailslot\bench\nobody\here`, "100", "10"}}
	_, _, err := Drive(ws, "write", args, func() error { return nil }, func() {})
	if err == nil || !strings.Contains(err.Error(), "bench worker") {
		t.Fatalf("writing to a slot no one serves: %v", err)
	}
	if _, err := ProcOnce(ws, Raw, 100, 100); err != nil {
		t.Fatalf("the next round: %v", err)
	}
}

// TestRecordsLost checks that a reader still waiting for records once
// every worker has finished is stopped, with an error, not left waiting.
func TestRecordsLost(t *testing.T) {
	defer func(d time.Duration) { lostAfter = d }(lostAfter)
	lostAfter = 100 * time.Millisecond
	ws := workers(t, 1)
	addr := newAddr(Raw)
	r, err := listen(Raw, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The worker writes 10 records; the reader waits for 20.
	stopped := make(chan struct{})
	_, _, err = Drive(ws, "write", [][]string{{Raw, addr, "10", "10"}},
		func() error { return readAll(r, 10, 20) },
		func() { close(stopped); r.Close() })
	if err == nil || !strings.Contains(err.Error(), "records lost") {
		t.Fatalf("a reader short of records: %v", err)
	}
	<-stopped
}

func TestLatency(t *testing.T) {
	ws := workers(t, 1)
	pp, err := PingPong(ws[0], 100, 200, 2, PingWarm)
	if err != nil {
		t.Fatal(err)
	}
	if want := "round trip, 100 B, in the rings' first pass"; pp.What != want {
		t.Fatalf("round trips named %q, want %q", pp.What, want)
	}
	wk, err := Wake(ws[0], 50, 100*time.Microsecond, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []Latency{pp, wk} {
		if len(l.Ours) == 0 || len(l.Ours) != len(l.Base) {
			t.Fatalf("%s: %d samples ours, %d baseline", l.What, len(l.Ours), len(l.Base))
		}
		if Quantile(l.Ours, 0.5) <= 0 || Quantile(l.Base, 0.99) <= 0 {
			t.Fatalf("%s: non-positive latency", l.What)
		}
	}
	PrintLatency(os.Stderr, "latency", "raw", []Latency{pp, wk})
}

func TestIdleSlots(t *testing.T) {
	limit, err := RaiseNoFile()
	if err != nil {
		t.Fatal(err)
	}
	ours, base := IdleSlots(Ours, 200), IdleSlots(Raw, 200)
	for _, r := range []Idle{ours, base} {
		if r.Err != nil || r.Made != 200 {
			t.Fatalf("%s: made %d: %v", r.Impl, r.Made, r.Err)
		}
		// A slot holds at least one descriptor while it exists.
		if r.FDs < 0.99 {
			t.Fatalf("%s: %.2f descriptors per slot", r.Impl, r.FDs)
		}
	}
	var b bytes.Buffer
	PrintIdle(&b, limit, ours, base)
	if !strings.Contains(b.String(), "fds/slot") {
		t.Fatalf("no table:\n%s", b.String())
	}
}

// TestIdleSlotsPartial checks that running out of descriptors part-way is
// reported, with the count made, rather than ending the measurement.
func TestIdleSlotsPartial(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = limitOf(openFDs()+50, low.Cur)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	r := IdleSlots(Raw, 200)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if r.Err == nil || r.Made == 0 || r.Made >= 200 {
		t.Fatalf("made %d of 200 under a limit of %d descriptors: %v", r.Made, low.Cur, r.Err)
	}
	var b bytes.Buffer
	PrintIdle(&b, uint64(low.Cur), r, r)
	if !strings.Contains(b.String(), fmt.Sprintf("created %d of 200", r.Made)) {
		t.Fatalf("the failure is not reported:\n%s", b.String())
	}
}

func TestQueueOverhead(t *testing.T) {
	per, err := QueueOverhead(20000, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The figure itself is for the benchmark; a sane range proves it is
	// measured (a record costs its header and some slack, never kilobytes).
	if per < 0 || per > 256 {
		t.Fatalf("overhead %.1f bytes per record", per)
	}
}

// BenchmarkProcs moves b.N records from W writer processes to one slot,
// then the same through raw Unix datagram sockets, and reports both rates
// and their ratio (ours/raw: 1.0 is as fast as the bare socket).
func BenchmarkProcs(b *testing.B) {
	ws := workers(b, 4)
	for _, c := range ProcCases() {
		b.Run(fmt.Sprintf("writers=%d/size=%d", c.Writers, c.Size), func(b *testing.B) {
			n := max(b.N-b.N%c.Writers, c.Writers)
			ours, err := ProcOnce(ws[:c.Writers], Ours, c.Size, n)
			if err != nil {
				b.Fatal(err)
			}
			raw, err := ProcOnce(ws[:c.Writers], Raw, c.Size, n)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(c.Size))
			b.ReportMetric(float64(n)/ours.Seconds(), "rec/s")
			b.ReportMetric(float64(n)/raw.Seconds(), "raw-rec/s")
			b.ReportMetric(raw.Seconds()/ours.Seconds(), "ratio")
		})
	}
}

// limitOf converts n to the type of an rlimit's fields (uint64 on Linux
// and macOS, int64 on FreeBSD); like is any value of that type.
func limitOf[T int64 | uint64](n int, like T) T { return T(n) }

// TestBestOfKeepsRounds checks that the network figures keep each side's
// best run and the ratio of every round's own pair.
func TestBestOfKeepsRounds(t *testing.T) {
	rs := []NetResult{
		{What: "stream", Records: 100, Size: 1e6, Ours: 2 * time.Second, OursGot: 100, Baseline: time.Second, BaseGot: 100, PeakRSSKiB: 5, Floor: 5 * time.Second, FloorGot: 100},
		{What: "stream", Records: 100, Size: 1e6, Ours: time.Second, OursGot: 100, Baseline: 4 * time.Second, BaseGot: 100, PeakRSSKiB: 9216, Floor: 2 * time.Second, FloorGot: 100},
		{What: "stream", Records: 100, Size: 1e6, Ours: 4 * time.Second, OursGot: 100, Baseline: 2 * time.Second, BaseGot: 50, PeakRSSKiB: 7, Floor: 3 * time.Second, FloorGot: 100},
	}
	b := bestOf(rs)
	if b.Ours != time.Second || b.Baseline != time.Second || b.BaseGot != 100 || b.PeakRSSKiB != 9216 || b.Floor != 2*time.Second {
		t.Fatalf("best of the runs: %+v", b)
	}
	if want := []float64{0.5, 4, 1}; !slices.Equal(b.Rounds, want) {
		t.Fatalf("rounds %v, want %v", b.Rounds, want)
	}
	if lo, hi := b.RoundRange(); lo != 0.5 || hi != 4 {
		t.Fatalf("RoundRange = %v, %v", lo, hi)
	}
	var out strings.Builder
	PrintNet(&out, []NetResult{b})
	for _, want := range []string{
		"stream      1000000 B: ours      100 rec/s   100.0 MB/s (100/100 arrived) | raw TCP loop",
		"best of 3      100 rec/s   100.0 MB/s (100/100) | ratio 1.00x (rounds 0.50-4.00x)",
		"      50 rec/s    50.0 MB/s | ours/floor 2.00x, floor/raw TCP 0.50x",
		"peak resident memory meanwhile: 9.0 MiB",
	} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, out.String())
		}
	}
	rs[0].Floor, rs[0].FloorGot, rs[0].PeakRSSKiB = 0, 0, 0
	out.Reset()
	PrintNet(&out, rs[:1])
	if rs[0].FloorRatio() != 0 || strings.Contains(out.String(), "floor") || strings.Contains(out.String(), "resident") {
		t.Fatalf("a result without a relay floor or memory figure shows one: %v\n%s", rs[0].FloorRatio(), out.String())
	}
	if got := (NetResult{Rounds: []float64{0.5, 2}}).roundsNote(); got != " (rounds 0.50-2.00x)" {
		t.Fatalf("two rounds: %q", got)
	}
	if (NetResult{Rounds: []float64{2}}).roundsNote() != "" {
		t.Fatal("a single round is the ratio itself: no range to show")
	}
}

// RingPass takes a fresh connection's rings once around, and no fewer
// round trips do.
func TestRingPass(t *testing.T) {
	for _, size := range []int{0, 16, 100, 4096, 65536} {
		n := RingPass(size)
		ring := local.RingSize(local.MaxRecord)
		if room := local.RecordSpace(size); (n-1)*room > ring || n*room <= ring {
			t.Fatalf("%d B: %d round trips of %d bytes each for a ring of %d", size, n, room, ring)
		}
		if got := pingWhat(size, n); !strings.Contains(got, "after the rings' first pass") {
			t.Fatalf("%d B, %d warm: %q", size, n, got)
		}
		if got := pingWhat(size, n-1); !strings.Contains(got, "in the rings' first pass") {
			t.Fatalf("%d B, %d warm: %q", size, n-1, got)
		}
	}
}

// A paced sender goes no faster than PacedRate.
func TestPacerHoldsTheRate(t *testing.T) {
	p := newPacer(true)
	const n = 640
	for i := range n {
		p.pace(i)
	}
	if took, least := time.Since(p.start), n*time.Second/PacedRate; took < least {
		t.Fatalf("%d paced records in %v, less than the %v the rate allows", n, took, least)
	}
}

// A paced send spaces its records evenly: at 10,000 records/s most gaps
// are near 100 µs. A sender that slept with time.Sleep (a millisecond
// here for a shorter wait) sent bursts of about 11 back to back, so most
// of its gaps were near zero. A sender that is not given a CPU for a
// while (other tests running beside this one) catches up with a burst
// too, as it should: the best of three runs counts.
func TestSendSpacesRecords(t *testing.T) {
	const n, rate = 2000, 10_000
	var best time.Duration
	for range 3 {
		var at []time.Time
		if err := send(n, 8, rate, func([]byte) error { at = append(at, time.Now()); return nil }); err != nil {
			t.Fatal(err)
		}
		gaps := make([]time.Duration, 0, n-1)
		for i := 1; i < len(at); i++ {
			gaps = append(gaps, at[i].Sub(at[i-1]))
		}
		slices.Sort(gaps)
		if best = max(best, gaps[len(gaps)/2]); best >= 50*time.Microsecond {
			return
		}
	}
	t.Fatalf("median gap between paced records %v at best: sent in bursts, not at %d records/s", best, rate)
}
