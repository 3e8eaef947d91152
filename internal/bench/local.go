//go:build !windows

// Package bench measures mailslots against the raw sockets beneath them, in
// the same run, and reports ratios: the figures behind `mailslot bench` and
// the package benchmarks. Writers that should live in other processes run
// in workers: the benchmark's own binary started again (see Child).
package bench

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/mailslot-go/mailslot"
)

// Case is one measurement: W writers sending records of Size bytes.
type Case struct {
	Writers int
	Size    int
}

// Result is a case measured both ways. Records is how many records each
// run moved; OursRecords, when set, is how many ours moved (each side
// may be given a count that makes its run last about as long). Ours and
// Baseline are each side's best run; Rounds holds the ratio of each
// round's pair of runs, which saw the same moment of the machine.
type Result struct {
	Case
	Records     int
	OursRecords int
	Ours        time.Duration
	Baseline    time.Duration
	Rounds      []float64
}

func (r Result) oursN() int {
	if r.OursRecords > 0 {
		return r.OursRecords
	}
	return r.Records
}

// RecordsPerSec returns throughput for a duration of the baseline's
// count of records.
func (r Result) RecordsPerSec(d time.Duration) float64 { return float64(r.Records) / d.Seconds() }

// MBPerSec returns payload megabytes (10^6) per second for a duration of
// the baseline's count of records.
func (r Result) MBPerSec(d time.Duration) float64 {
	return float64(r.Records) * float64(r.Size) / d.Seconds() / 1e6
}

// OursRate and BaselineRate return each side's records per second.
func (r Result) OursRate() float64     { return float64(r.oursN()) / r.Ours.Seconds() }
func (r Result) BaselineRate() float64 { return float64(r.Records) / r.Baseline.Seconds() }

// Ratio is our throughput over the baseline's.
func (r Result) Ratio() float64 { return r.OursRate() / r.BaselineRate() }

// RoundRange returns the lowest and highest ratio of a round's pair of
// runs (0, 0 without rounds): how far the machine's moods moved the ratio.
func (r Result) RoundRange() (lo, hi float64) { return roundRange(r.Rounds) }

// roundRange returns the lowest and highest of rounds' ratios (0, 0 for
// none).
func roundRange(rounds []float64) (lo, hi float64) {
	if len(rounds) == 0 {
		return 0, 0
	}
	return slices.Min(rounds), slices.Max(rounds)
}

// DefaultLocalCases are the throughput cases with writers as goroutines:
// 1, 4 and 16 writers, records of 16 B, 100 B, 4 KiB and 64 KiB.
func DefaultLocalCases() []Case {
	var cs []Case
	for _, w := range []int{1, 4, 16} {
		for _, s := range []int{16, 100, 4096, 65536} {
			cs = append(cs, Case{w, s})
		}
	}
	return cs
}

// Local measures each case through local mailslots and through a raw Unix
// datagram socket loop (one socket read by one goroutine, written by W
// goroutines with a connected socket each), writers and reader all in this
// process, alternating the two so that both see the same machine.
func Local(cases []Case, p Plan) ([]Result, error) {
	var out []Result
	for i, c := range cases {
		p.note("throughput, %s, %d B (case %d of %d)", plural(c.Writers, "writer goroutine", "writer goroutines"), c.Size, i+1, len(cases))
		r, err := measure(c, p, func(impl string, n int) (time.Duration, error) {
			if impl == Raw {
				return localRaw(c, n)
			}
			return localOurs(c, n)
		})
		if err != nil {
			return out, fmt.Errorf("%d writer goroutines, %d B: %w", c.Writers, c.Size, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func benchName() string { return newAddr(Ours) }

func localOurs(c Case, n int) (time.Duration, error) {
	name := benchName()
	s, err := mailslot.Create(name)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	writers := make([]func([]byte) error, c.Writers)
	for i := range writers {
		cl, err := mailslot.Open(name)
		if err != nil {
			return 0, err
		}
		defer cl.Close()
		writers[i] = func(p []byte) error { _, err := cl.Write(p); return err }
	}
	return pump(writers, func(p []byte) error { _, err := s.Read(p); return err }, c.Size, n)
}

func localRaw(c Case, n int) (time.Duration, error) {
	addr := &net.UnixAddr{Name: newAddr(Raw), Net: "unixgram"}
	srv, err := net.ListenUnixgram("unixgram", addr)
	if err != nil {
		return 0, err
	}
	defer srv.Close()
	writers := make([]func([]byte) error, c.Writers)
	for i := range writers {
		cn, err := net.DialUnix("unixgram", nil, addr)
		if err != nil {
			return 0, err
		}
		defer cn.Close()
		writers[i] = func(p []byte) error { _, err := cn.Write(p); return err }
	}
	return pump(writers, func(p []byte) error { _, err := srv.Read(p); return err }, c.Size, n)
}

// pump runs the writers, each in its goroutine sending its share of n
// records of size bytes, while read takes all n, and returns the time
// from the first write to the last read.
func pump(writers []func([]byte) error, read func([]byte) error, size, n int) (time.Duration, error) {
	per := n / len(writers)
	n = per * len(writers)
	rec := make([]byte, size)
	errc := make(chan error, len(writers))
	start := time.Now()
	for _, w := range writers {
		go func() {
			for i := 0; i < per; i++ {
				if err := w(rec); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	buf := make([]byte, size+1)
	var rerr error
	for i := 0; i < n && rerr == nil; i++ {
		rerr = read(buf)
	}
	el := time.Since(start)
	if rerr != nil {
		// The writers stop with an error when the caller closes the
		// sockets; errc has room for all of them.
		return 0, rerr
	}
	for range writers {
		if err := <-errc; err != nil {
			return 0, err
		}
	}
	return el, nil
}

// QueueOverhead queues n records of size bytes without reading them and
// returns the heap bytes each record costs beyond its payload. The slot
// takes records of up to size bytes, so that the writer's ring (sized by
// the slot's largest record, see local.RingSize) holds few of them: the
// records it holds are in shared memory, not on the heap.
func QueueOverhead(n, size int) (float64, error) {
	name := benchName()
	s, err := mailslot.Create(name, mailslot.WithQueueQuota(1<<40), mailslot.WithReadTimeout(0), mailslot.WithMaxMessageSize(size))
	if err != nil {
		return 0, err
	}
	defer s.Close()
	c, err := mailslot.Open(name)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	before := heap()
	rec := make([]byte, size)
	for i := 0; i < n; i++ {
		if _, err := c.Write(rec); err != nil {
			return 0, err
		}
	}
	info, err := s.Info() // moves the last records from the kernel
	if err != nil {
		return 0, err
	}
	if info.MessageCount != n {
		return 0, fmt.Errorf("queued %d records, want %d", info.MessageCount, n)
	}
	after := heap()
	runtime.KeepAlive(s)
	return float64(int64(after)-int64(before))/float64(n) - float64(size), nil
}

func heap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Print writes results as a table; runs says of how many runs each figure
// is the best. The last column is the range of the rounds' own ratios.
func Print(w io.Writer, title, baseline string, runs int, rs []Result) {
	fmt.Fprintf(w, "%s (baseline: %s, measured in the same run; best of %d; ratio ours/baseline, higher is better; rounds: the lowest and highest ratio of a round's two runs)\n", title, baseline, runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "writers\tsize\trecords\tours rec/s\tours MB/s\tbaseline records\tbaseline rec/s\tratio\trounds\t")
	for _, r := range rs {
		lo, hi := r.RoundRange()
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%.1f\t%d\t%.0f\t%.2fx\t%.2f-%.2fx\t\n", r.Writers, r.Size, r.oursN(),
			r.OursRate(), r.OursRate()*float64(r.Size)/1e6, r.Records, r.BaselineRate(), r.Ratio(), lo, hi)
	}
	tw.Flush()
}

// LocalOnce moves n records through local mailslots and then through the
// raw socket loop, returning both durations: for `go test -bench`.
func LocalOnce(c Case, n int) (ours, raw time.Duration, err error) {
	if ours, err = localOurs(c, n); err != nil {
		return 0, 0, err
	}
	raw, err = localRaw(c, n)
	return ours, raw, err
}
