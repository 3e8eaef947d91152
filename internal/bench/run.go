//go:build !windows

package bench

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// LocalSettings sizes each part of RunLocal.
type LocalSettings struct {
	Plan          Plan // throughput runs
	RoundTrips    int  // ping-pong samples, each way
	Wakes         int  // wake samples, each way
	WakeGap       time.Duration
	LatencyRounds int // latency rounds, ours and the baseline alternating
	IdleSlots     int
	Queued        int // records of 100 B for the queued-record overhead
	// Progress, if set, gets a line naming each measurement as it starts
	// (tables go to RunLocal's writer only once measured).
	Progress io.Writer
}

// FullLocal and QuickLocal are `mailslot bench local` without and with
// --quick.
var (
	FullLocal = LocalSettings{Plan: FullPlan, RoundTrips: 20_000, Wakes: 2_000, WakeGap: 200 * time.Microsecond,
		LatencyRounds: 2, IdleSlots: 10_000, Queued: 1_000_000}
	QuickLocal = LocalSettings{Plan: QuickPlan, RoundTrips: 1_000, Wakes: 200, WakeGap: 200 * time.Microsecond,
		LatencyRounds: 1, IdleSlots: 1_000, Queued: 20_000}
)

// pingSize is the record size of the round-trip measurement.
const pingSize = 100

// RunLocal measures local mailslots against raw Unix datagram sockets and
// writes each table to w as soon as it is measured: throughput with
// writers in other processes, then with writers as goroutines, round-trip
// and wake latency, the cost of idle slots, and the cost of a queued
// record. A part that fails is reported in its place and the others still
// run; the error returned names every failed part.
func RunLocal(w io.Writer, s LocalSettings) error {
	note := func(format string, args ...any) {
		if s.Progress != nil {
			fmt.Fprintf(s.Progress, "bench local: measuring "+format+"...\n", args...)
		}
	}
	s.Plan.Progress = func(what string) { note("%s", what) }
	var failed []error
	fail := func(part string, err error) {
		fmt.Fprintf(w, "%s: failed: %v\n\n", part, err)
		failed = append(failed, fmt.Errorf("%s: %w", part, err))
	}
	// The workers are this binary again (see Child).
	ws, err := StartWorkers(4)
	if err != nil {
		fail("writer processes", err)
	} else {
		rs, err := LocalProcs(ws, ProcCases(), s.Plan)
		if len(rs) > 0 {
			Print(w, "throughput, writers in other processes, reader in this one", "raw Unix datagram sockets, a connected one per writer process", s.Plan.Runs, rs)
			fmt.Fprintln(w)
		}
		if err != nil {
			fail("throughput, writer processes", err)
		}
	}
	rs, err := Local(DefaultLocalCases(), s.Plan)
	if len(rs) > 0 {
		Print(w, "throughput, writers as goroutines in this process", "raw Unix datagram socket loop, a connected socket per goroutine", s.Plan.Runs, rs)
		fmt.Fprintln(w)
	}
	if err != nil {
		fail("throughput, writer goroutines", err)
	}
	if ws != nil {
		note("round-trip latency")
		var ls []Latency
		for _, warm := range []int{RingPass(pingSize), PingWarm} {
			if l, err := PingPong(ws[0], pingSize, s.RoundTrips, s.LatencyRounds, warm); err != nil {
				fail("round trip", err)
			} else {
				ls = append(ls, l)
			}
		}
		if len(ls) > 0 {
			PrintLatency(w, "round-trip latency: a writer process writes to slot A, this process reads and answers into slot B, which the writer serves", "the same with raw Unix datagram sockets", ls)
			fmt.Fprintln(w)
		}
		note("wake latency")
		if l, err := Wake(ws[0], s.Wakes, s.WakeGap, s.LatencyRounds); err != nil {
			fail("wake", err)
		} else {
			PrintLatency(w, "wake latency: a Read blocked on an empty slot, from just before a writer process's write (CLOCK_MONOTONIC) until Read returns", "a blocked read on a raw Unix datagram socket", []Latency{l})
			fmt.Fprintln(w)
		}
		StopWorkers(ws)
	}
	limit, err := RaiseNoFile()
	if err != nil {
		fmt.Fprintf(w, "raising RLIMIT_NOFILE: %v\n", err)
	}
	note("the cost of %d idle slots", s.IdleSlots)
	ours := IdleSlots(Ours, s.IdleSlots)
	base := IdleSlots(Raw, s.IdleSlots)
	PrintIdle(w, limit, ours, base)
	fmt.Fprintln(w)
	note("the cost of %d queued records", s.Queued)
	per, err := QueueOverhead(s.Queued, 100)
	if err != nil {
		fail("queued-record overhead", err)
	} else {
		fmt.Fprintf(w, "queued-record overhead: %.1f bytes/record beyond the payload (%d records of 100 B)\n", per, s.Queued)
	}
	return errors.Join(failed...)
}
