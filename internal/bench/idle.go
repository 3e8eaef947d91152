//go:build !windows

package bench

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// Idle is what n idle slots (or baseline sockets) cost one process.
type Idle struct {
	Impl       string
	Want, Made int
	Err        error // why creation stopped before Want, if it did
	Elapsed    time.Duration
	Heap       float64 // heap bytes per slot, after a GC
	Stack      float64 // goroutine stack bytes per slot
	Goroutines float64 // goroutines per slot
	FDs        float64 // open descriptors per slot
}

// PerSlot is the creation time per slot.
func (r Idle) PerSlot() time.Duration {
	if r.Made == 0 {
		return 0
	}
	return r.Elapsed / time.Duration(r.Made)
}

// RaiseNoFile raises this process's soft limit on open descriptors to
// the hard limit and returns the limit now in force.
func RaiseNoFile() (uint64, error) {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return uint64(l.Cur), nil // int64 on FreeBSD
}

func openFDs() int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(es)
}

type snapshot struct {
	heap, stack uint64
	goroutines  int
	fds         int
}

func snap() snapshot {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return snapshot{heap: ms.HeapAlloc, stack: ms.StackInuse, goroutines: runtime.NumGoroutine(), fds: openFDs()}
}

// IdleSlots creates n slots through impl (Ours, or Raw: one bound socket
// each) in this process and measures what they cost while idle. When
// creation fails part-way it reports how many it made and the error.
func IdleSlots(impl string, n int) Idle {
	res := Idle{Impl: impl, Want: n}
	held := make([]receiver, 0, n)
	defer func() {
		for _, r := range held {
			r.Close()
		}
	}()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = newAddr(impl)
	}
	before := snap()
	start := time.Now()
	for _, a := range addrs {
		r, err := listen(impl, a)
		if err != nil {
			res.Err = err
			break
		}
		held = append(held, r)
	}
	res.Elapsed = time.Since(start)
	res.Made = len(held)
	after := snap()
	if res.Made > 0 {
		per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(res.Made) }
		res.Heap = per(after.heap, before.heap)
		res.Stack = per(after.stack, before.stack)
		res.Goroutines = float64(after.goroutines-before.goroutines) / float64(res.Made)
		res.FDs = float64(after.fds-before.fds) / float64(res.Made)
	}
	runtime.KeepAlive(held)
	return res
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// PrintIdle writes the idle-slot figures, ours and the baseline's, as a
// table, and says why creation stopped early if it did.
func PrintIdle(w io.Writer, limit uint64, ours, base Idle) {
	fmt.Fprintf(w, "idle slots, %d created in one process (RLIMIT_NOFILE %d; baseline: one bound raw Unix datagram socket per slot; ratio ours/baseline, lower is better)\n", ours.Want, limit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tcreated\ttime ms\tµs/slot\theap B/slot\tstack B/slot\tgoroutines/slot\tfds/slot\t")
	for _, r := range []Idle{ours, base} {
		name := "ours"
		if r.Impl == Raw {
			name = "baseline"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.0f\t%.0f\t%.2f\t%.2f\t\n", name, r.Made, float64(r.Elapsed)/1e6,
			float64(r.PerSlot())/1e3, r.Heap, r.Stack, r.Goroutines, r.FDs)
	}
	fmt.Fprintf(tw, "ratio\t\t\t%s\t%s\t%s\t%s\t%s\t\n", ratio(float64(ours.PerSlot()), float64(base.PerSlot())),
		ratio(ours.Heap, base.Heap), ratio(ours.Stack, base.Stack), ratio(ours.Goroutines, base.Goroutines), ratio(ours.FDs, base.FDs))
	tw.Flush()
	for _, r := range []Idle{ours, base} {
		if r.Err != nil {
			fmt.Fprintf(w, "%s: created %d of %d, then: %v\n", r.Impl, r.Made, r.Want, r.Err)
		}
	}
}
