//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/sockdir"
	"github.com/mailslot-go/mailslot/internal/trust"
	"golang.org/x/sys/unix"
)

// Config describes a slot to serve.
type Config struct {
	Key            string        // canonical name; hashed into the socket address
	MaxMessageSize int           // 0 = up to MaxRecord
	Quota          int           // queue byte quota; 0 = DefaultQuota
	ReadTimeout    time.Duration // <0 waits forever
	Policy         Policy
	// Network lets mailslotd (a daemon user: see package trust) relay
	// records from the network into the slot. Without it, relays are
	// refused at connect.
	Network bool
}

// Stats counts what a slot has seen since it was created (or adopted).
type Stats struct {
	Records     uint64 // records taken
	Bytes       uint64 // payload bytes taken
	Refused     uint64 // writers refused at connect: their user may not write, or a relay to a slot without Network
	Oversize    uint64 // records dropped: over the maximum message size
	Malformed   uint64 // writers dropped for breaking the ring's format
	QuotaWaits  uint64 // times a writer was told the queue is full
	QueuedBytes int    // bytes in the queue now, per-record headers included (records still in writers' rings are not counted)
}

// sleepRecheck bounds how long a Read sleeps on the slot's eventfd before
// it looks at the rings again (see sleepLocked).
const sleepRecheck = 100 * time.Millisecond

// An empty Read keeps looking at the rings for a while before it sleeps:
// a wake-up through the kernel costs 10 µs and more, and its tail far
// more, so a record that comes within that while is taken without one.
// The while adapts between spinMin and spinMax: a sleep into which a
// record came within the while (as its writer says, see cameLocked)
// doubles it (spinning twice as long would have caught the record), a
// longer one halves it. Records that come further
// apart than twice the spin are taken after a sleep, and the spin costs
// little beside them: a reader that spun until each came would keep a CPU
// busy for a slot whose writers send a record every 100 µs, which on a
// small machine is the CPU those writers (or the mailslotd relaying to
// it) need.
//
// A spin offers the CPU to any other thread of the computer that waits
// for it (sched_yield) at each turn while the writer that last woke it
// shares its CPU (see cameLocked). Past spinYieldAfter, each turn does so
// too when the last record read was large (spinYieldSize or more): a writer of large
// records needs the CPU for a while to copy the next one in, on a small
// machine perhaps this very CPU, and a spin that kept it would delay the
// record it waits for (4 writer processes of 64 KiB records went 1.45-1.86
// times as fast as raw sockets with the yield, 1.39-1.52 without, on 2
// CPUs). After small records it does not yield: Linux's scheduler (EEVDF)
// takes a yield as the end of the thread's slice and runs it after every
// other runnable thread of its CPU, so a reader that had yielded took a
// record that the relaying mailslotd had put in its ring 571 µs later at
// the median, against 63 µs without. A record that comes within
// spinYieldAfter, such as the answer of a ping-pong, is taken without the
// system call either way.
//
// The spin offers the CPU to the process's other goroutines
// (runtime.Gosched) only when the process runs Go code on one thread
// (GOMAXPROCS 1), where a writer goroutine of the same process could not
// run otherwise. With more, the others have threads of their own, and a
// Gosched also wakes an idle one to look for work (the runtime's wakep):
// that thread takes a CPU a writer may need, and a Read that had spun so
// was woken 26-30 µs after the write on a 2-CPU machine, 19 µs without,
// where a bare socket's took 20 µs.
const (
	spinMin        = 20 * time.Microsecond
	spinMax        = 100 * time.Microsecond
	spinYieldAfter = 5 * time.Microsecond
	spinYieldSize  = 4096
)

// A Read that has taken every record the rings were known to hold waits
// a little before it loads their tails again, when the last load found
// fewer than lazyBatch records: each load of a tail takes its cache line
// from the writer's CPU, and the writer's next publish takes it back, so
// a reader that looked again at once, and found one record at a time,
// made every record cost both CPUs a transfer of that line (and the
// writer the wait for it). Waiting lazyPause lets a writer that keeps
// writing put a batch in the ring meanwhile: one writer process of
// 100-byte records went from 3.3-3.8 to 4.6-5.1 million records a second
// on 2 CPUs, and with writers' prefetching (see writeAhead) from 4.4-13.7
// to 10.5-12.6 million, much steadier. A record that comes to a slot
// whose Read rests waits for it at most lazyPause (a ping-pong's answer,
// say: 2.3 µs at the median against 1.6); a Read that may not wait (read
// timeout 0) looks at once.
const (
	lazyBatch = 16
	lazyPause = 2 * time.Microsecond
)

// nextSpin returns the spin after a sleep into which a writer's record
// came d after the sleep began (see cameLocked).
func nextSpin(spin, d time.Duration) time.Duration {
	spin = max(spin, spinMin)
	if d < spin {
		return min(2*spin, spinMax)
	}
	return max(spin/2, spinMin)
}

// Server is the serving end of one slot.
type Server struct {
	cfg   Config
	check *checker
	ln    *net.UnixListener
	claim *claim // what else holds the name (sys_*.go)

	mu          sync.Mutex
	q           queue
	writers     []*writer            // connected writers with a ring (and gone ones with records left)
	conns       map[*writer]struct{} // every connection being served
	readTimeout time.Duration
	closed      bool // Close or Transfer began
	wake        chan struct{}
	waiters     int
	stats       Stats
	reads       uint64    // Read calls so far
	quotaWait   bool      // a writer was told msgQuotaFull: move records once the queue has room
	drops       []*writer // writers to forget once the current scan is over
	scanTime    int64     // a time before the current scan's first load of a tail (0: none yet)

	// The slot's waker (wake.go), made when the first writer comes:
	// writers write to it to wake a sleeping Read. One Read sleeps on it
	// at a time (sleeping); others wait for wake.
	wk       *waker
	sleeping bool
	sleptAt  int64         // when the current sleep began (nanotime)
	spin     time.Duration // how long an empty Read spins; see nextSpin
	shared   bool          // the writer that last woke a Read did so from the CPU the Read woke on; see cameLocked
	taken    int           // records taken since the rings were last all looked at afresh
	lazyTill int64         // until then (nanotime) a Read need not look at the rings again; see restingLocked
	lastSize int           // the size of the last record Read returned

	// The wall clock's offset from the monotonic one, and when it was
	// read (monotonic); see clockBaseLocked.
	wallOff, wallAt int64

	wg sync.WaitGroup
}

// writer is one connected writer, as the server sees it.
type writer struct {
	conn  *net.UnixConn
	raw   syscall.RawConn
	pid   int32
	uid   uint32
	gid   uint32
	relay bool

	// Set once the ring is mapped; guarded by the server's mu.
	r        *ring
	memfd    *os.File // kept to hand the ring on with the slot
	h, t     uint64   // our head, and the writer's tail as last validated
	faulted  uint64   // the data area mapped ahead of h in the first pass (ring.faultAhead)
	last     int64    // the stamp of the last record taken
	load     int64    // a time before the last load of the tail (with other writers)
	prevLoad int64    // the same for the load before it
	gone     bool     // the connection has ended: forget the ring once empty
	drop     bool     // marked to forget (dropLaterLocked)

	// The record at the head, once found.
	has   bool
	body  []byte
	stamp int64
	nh    uint64

	readsAtFull uint64 // the server's reads when the writer last said it was full
	fullAt      int64  // and when that was (nanotime)
}

// Listen binds the slot's socket and starts serving. It fails with
// errs.AlreadyExists when another process (or this one) serves the name.
func Listen(cfg Config) (*Server, error) {
	ln, cl, err := listenSlot(cfg.Key)
	if err != nil {
		return nil, err
	}
	return start(cfg, ln, cl, nil), nil
}

// start serves the slot on a bound listener; setup, when not nil, runs
// before the accepting goroutine starts.
func start(cfg Config, ln *net.UnixListener, cl *claim, setup func(*Server)) *Server {
	if cfg.Quota <= 0 {
		cfg.Quota = DefaultQuota
	}
	s := &Server{
		cfg:         cfg,
		check:       newChecker(cfg.Policy),
		ln:          ln,
		claim:       cl,
		readTimeout: cfg.ReadTimeout,
		wake:        make(chan struct{}),
		conns:       make(map[*writer]struct{}),
	}
	if setup != nil {
		setup(s)
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

// MaxMessageSize returns the largest record the slot accepts.
func (s *Server) MaxMessageSize() int {
	if s.cfg.MaxMessageSize > 0 {
		return s.cfg.MaxMessageSize
	}
	return MaxRecord
}

// maxBody is the longest record a writer may put in its ring.
func (s *Server) maxBody(w *writer) int {
	if w.relay {
		return 1 + MaxOrigin + s.MaxMessageSize()
	}
	return s.MaxMessageSize()
}

// Read removes the oldest record into p (or, with alloc, into a new slice
// of its size, returned as out, with the origin and time filled in),
// waiting as the slot's read timeout and ctx allow. When p is too small it
// returns errs.BufferTooSmall and n is the record's size; the record stays
// queued.
func (s *Server) Read(ctx context.Context, p []byte, alloc bool) (out []byte, n int, m Meta, err error) {
	var (
		start time.Time
		timer *time.Timer
		spun  bool
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	s.mu.Lock()
	s.reads++
	for {
		if s.closed {
			s.mu.Unlock()
			return nil, 0, Meta{}, errs.Closed
		}
		if s.q.Len() > 0 {
			out, n, m, fit := s.q.Pop(p, alloc)
			if !fit {
				s.mu.Unlock()
				return nil, n, Meta{}, errs.BufferTooSmall
			}
			if s.quotaWait && s.q.Bytes() < s.cfg.Quota {
				s.quotaWait = false
				s.drainLocked()
			}
			s.lastSize = n
			s.mu.Unlock()
			return out, n, m, nil
		}
		if !spun && s.readTimeout != 0 && s.restingLocked() {
			spun = true
			s.spinLocked()
			continue
		}
		if w := s.headLocked(); w != nil {
			out, n, m, err, done := s.takeLocked(w, p, alloc)
			if !done {
				continue // dropped; look again
			}
			if err == nil {
				s.lastSize = n
			}
			s.mu.Unlock()
			return out, n, m, err
		}
		d := s.readTimeout
		if d == 0 {
			s.mu.Unlock()
			return nil, 0, Meta{}, errs.Timeout
		}
		now := time.Now()
		if start.IsZero() {
			start = now
		}
		var tc <-chan time.Time
		if d > 0 {
			left := start.Add(d).Sub(now)
			if left <= 0 {
				s.mu.Unlock()
				return nil, 0, Meta{}, errs.Timeout
			}
			if timer == nil {
				timer = time.NewTimer(left)
			} else {
				timer.Reset(left)
			}
			tc = timer.C
		}
		if !spun {
			// The lock is let go while spinning: look at everything
			// again (the timeout too) before sleeping.
			spun = true
			s.spinLocked()
			continue
		}
		// Ask every writer to wake us, then look once more: a record
		// published before a writer saw the flag is found now.
		s.armLocked(1)
		if s.headLocked() != nil {
			s.armLocked(0)
			continue
		}
		if s.wk != nil && !s.sleeping {
			var deadline time.Time
			if d > 0 {
				deadline = start.Add(d)
			}
			if err := s.sleepLocked(ctx, deadline); err != nil {
				s.mu.Unlock()
				return nil, 0, Meta{}, err
			}
			continue
		}
		wake := s.wake
		s.waiters++
		s.mu.Unlock()
		var cerr error
		select {
		case <-wake:
		case <-tc:
		case <-ctx.Done():
			cerr = ctx.Err()
		}
		s.mu.Lock()
		s.waiters--
		if !s.closed {
			s.armLocked(0)
		}
		if cerr != nil {
			s.mu.Unlock()
			return nil, 0, Meta{}, cerr
		}
	}
}

// sleepLocked waits on the slot's waker until a writer (or Close,
// SetReadTimeout, a waking writer's message, ctx) signals it or the
// deadline passes. It returns ctx's error when ctx ended.
func (s *Server) sleepLocked(ctx context.Context, deadline time.Time) error {
	s.sleeping = true
	slept := nanotime() // the sleep begins as it is announced: see cameLocked
	s.sleptAt = slept
	f, raw := s.wk.r, s.wk.raw
	// On Linux every writer holds the eventfd and could read it too,
	// taking the wake-ups other writers give: look at the rings again
	// after a while whatever happens, so that such a writer can delay
	// others' records by sleepRecheck at most, never make the slot deaf.
	if until := time.Now().Add(sleepRecheck); deadline.IsZero() || until.Before(deadline) {
		deadline = until
	}
	_ = f.SetReadDeadline(deadline)
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.signalLocked()
		s.mu.Unlock()
	})
	var b [64]byte // an eventfd's count, or a pipe's bytes: many at once
	err := raw.Read(func(fd uintptr) bool {
		_, err := nbRead(fd, b[:])
		return err != unix.EAGAIN
	})
	woke := nanotime()
	stop()
	s.mu.Lock()
	s.sleeping = false
	if err == nil && ctx.Err() == nil {
		s.spin = nextSpin(s.spin, time.Duration(s.cameLocked(slept, woke)))
	}
	if !s.closed {
		s.armLocked(0)
	}
	s.wakeLocked() // Reads waiting behind this one look again
	return ctx.Err()
}

// cameLocked returns how long after a sleep began at from a writer woke
// it, given that it ended at to: the earliest time a writer says it woke
// the slot at, if one says so within the sleep, else the whole sleep
// (the recheck, or a wake-up that said nothing). The sleep itself lasts
// longer by the kernel's wake-up, 20 µs and more on some machines, which
// made every record look late to a spin that compared the whole sleep
// with itself.
//
// It also notes whether that writer woke the slot from the CPU this Read
// now runs on (shared). Linux puts a thread woken by another on the
// waker's CPU when it finds no idle CPU near it, and two processes that
// answer each other through slots then stay on one CPU: each one's spin
// kept the other from running until the spin ran out, and their round
// trips took 120-240 µs (one or two spins and a wake-up) instead of 2 µs,
// for good once they got there. While shared, a spin offers the CPU at
// each turn (see spinLocked). What a writer says only moves the spin
// within spinMin and spinMax, or makes it yield.
func (s *Server) cameLocked(from, to int64) int64 {
	came := to
	var by *writer
	for _, w := range s.writers {
		if w.r == nil {
			continue
		}
		if at := int64(w.r.load64(offWokeAt)); at >= from && at < came {
			came, by = at, w
		}
	}
	s.shared = false
	if by != nil {
		cpu := curCPU()
		s.shared = cpu >= 0 && by.r.load32(offWokeCPU) == uint32(cpu+1)
	}
	return came - from
}

// signalLocked wakes the Read sleeping on the waker, if any.
func (s *Server) signalLocked() {
	if s.sleeping && s.wk != nil {
		one := [8]byte{1}
		_, _ = nbWrite(uintptr(s.wk.wfd()), one[:])
	}
}

// wakerLocked makes the slot's waker, on the first writer's arrival.
func (s *Server) wakerLocked() {
	if s.wk != nil {
		return
	}
	wk, err := newWaker()
	if err != nil {
		return // writers then wake the slot through their connections
	}
	s.wk = wk
	// Reads waiting now wait for a message on a connection; one of them
	// must sleep on the waker instead, which writers will use.
	s.wakeLocked()
}

// yieldGoroutines is runtime.Gosched, and yieldThread yieldCPU; tests
// count their calls.
var (
	yieldGoroutines = runtime.Gosched
	yieldThread     = yieldCPU
)

// spinLocked looks at the rings for a little while without sleeping; it
// reports whether something came (a record, or the slot's end).
func (s *Server) spinLocked() bool {
	start := nanotime()
	until := start + int64(max(s.spin, spinMin))
	share := runtime.GOMAXPROCS(0) == 1
	yield := s.lastSize >= spinYieldSize
	for now := start; now < until; now = nanotime() {
		s.mu.Unlock()
		if share {
			yieldGoroutines()
		}
		if s.shared || (yield && now-start >= int64(spinYieldAfter)) {
			yieldThread()
		}
		s.mu.Lock()
		if s.closed || s.q.Len() > 0 || (!s.restingLocked() && s.headLocked() != nil) {
			return true
		}
	}
	return false
}

// armLocked sets (1) or clears (0) every ring's readerWants flag.
func (s *Server) armLocked(v uint32) {
	for _, w := range s.writers {
		w.r.store32(offReaderWants, v)
	}
}

// testHookRingEmpty, set only by tests, runs (with mu held) each time
// headLocked first finds a ring empty: a test writes there to play a
// writer whose record lands just after the look.
var testHookRingEmpty func(*writer)

// headLocked finds the writer whose next record comes first: the oldest
// stamp among the records at the rings' heads.
func (s *Server) headLocked() *writer {
	s.scanTime = 0
	var best *writer
	found, empty, fresh := false, false, true
	for _, w := range s.writers {
		if w.known() {
			fresh = false
		}
		if !w.has {
			if s.peekLocked(w) {
				found = true
			} else {
				empty = true
				if testHookRingEmpty != nil {
					testHookRingEmpty(w)
				}
			}
		}
		if w.has && (best == nil || w.stamp < best.stamp) {
			best = w
		}
	}
	if found && empty {
		// A record just found may have been written after a record of a
		// ring seen empty a moment before it; look at those again (not
		// at a ring whose writer broke its format: it is counted once).
		for _, w := range s.writers {
			if !w.has && !w.drop && s.peekLocked(w) && w.stamp < best.stamp {
				best = w
			}
		}
	}
	if fresh {
		now := s.scanTime
		if now == 0 {
			now = nanotime()
		}
		s.lazyTill = 0
		if s.taken < lazyBatch {
			s.lazyTill = now + int64(lazyPause)
		}
		s.taken = 0
	}
	s.dropMarkedLocked()
	return best
}

// known reports whether the server knows of a record in w's ring that it
// has not taken: one peeked at, or one before the tail it last loaded.
func (w *writer) known() bool { return w.has || w.h != w.t }

// restingLocked reports whether a Read may wait before it looks at the
// rings' tails again: every record they were known to hold is taken, and
// the last look found fewer than lazyBatch records, less than lazyPause
// ago.
func (s *Server) restingLocked() bool {
	if s.lazyTill == 0 {
		return false
	}
	for _, w := range s.writers {
		if w.known() {
			return false
		}
	}
	if nanotime() >= s.lazyTill {
		s.lazyTill = 0
		return false
	}
	return true
}

// peekLocked looks for the record at w's head; a writer that broke the
// ring's format is dropped.
func (s *Server) peekLocked(w *writer) bool {
	if w.r == nil {
		return false
	}
	var before int64
	if w.h == w.t && len(s.writers) > 1 {
		// next loads the tail: a time before it, one for the whole scan.
		if s.scanTime == 0 {
			s.scanTime = nanotime()
		}
		before = s.scanTime
	}
	body, stamp, nh, nt, st := w.r.nextSafe(w.h, w.t, s.maxBody(w))
	if nt != w.t {
		w.prevLoad = w.load
		if before != 0 {
			w.load = before
		}
	}
	w.t = nt
	switch st {
	case ringRecord:
		if stamp < w.last {
			stamp = w.last // a writer's records keep their order
		}
		if stamp < w.prevLoad {
			// Found by this load of the tail, so published after the
			// previous load began: an honest stamp is later than that,
			// save for the instant between stamping and publishing, in
			// which no other writer's Write can begin and end. A writer
			// that stamps its records in the past gets them read before
			// others' by at most the records of one load.
			stamp = w.prevLoad
		}
		w.has, w.body, w.stamp, w.nh = true, body, stamp, nh
		return true
	case ringEmpty:
		if nh != w.h {
			w.h = nh // padding at the end of the area
			w.r.store64(offHead, nh)
		}
		if w.gone {
			s.dropLaterLocked(w)
		}
	case ringCorrupt:
		s.stats.Malformed++
		s.dropLaterLocked(w)
	}
	return false
}

// dropLaterLocked marks a writer to forget once the scan of the writers
// that found it is over (removing it then would skip the next writer).
func (s *Server) dropLaterLocked(w *writer) {
	if !w.drop {
		w.drop = true
		s.drops = append(s.drops, w)
	}
}

// dropMarkedLocked forgets the writers marked by dropLaterLocked.
func (s *Server) dropMarkedLocked() {
	for _, w := range s.drops {
		s.removeLocked(w)
	}
	clear(s.drops)
	s.drops = s.drops[:0]
}

// takeLocked takes the record at w's head into p. done is false when the
// record was dropped instead (oversize, or a broken relay framing).
func (s *Server) takeLocked(w *writer, p []byte, alloc bool) (out []byte, n int, m Meta, err error, done bool) {
	payload, origin, ok := s.split(w)
	if !ok {
		s.stats.Malformed++
		s.removeLocked(w)
		return nil, 0, Meta{}, nil, false
	}
	if len(payload) > s.MaxMessageSize() {
		s.stats.Oversize++
		s.commitLocked(w)
		return nil, 0, Meta{}, nil, false
	}
	if alloc {
		p = make([]byte, len(payload))
	} else if len(payload) > len(p) {
		return nil, len(payload), Meta{}, errs.BufferTooSmall, true
	}
	if !w.r.copyOut(p, payload) {
		s.stats.Malformed++ // the writer broke the ring's file under us
		s.removeLocked(w)
		return nil, 0, Meta{}, nil, false
	}
	n = len(payload)
	m = Meta{PID: w.pid, UID: w.uid}
	if alloc {
		m.Time = wallTime(w.stamp, s.clockBaseLocked())
		m.Origin = string(origin)
	}
	s.stats.Records++
	s.stats.Bytes += uint64(n)
	s.commitLocked(w)
	return p[:n], n, m, nil, true
}

// split cuts the record at w's head into payload and origin.
func (s *Server) split(w *writer) (payload, origin []byte, ok bool) {
	b := w.body
	if !w.relay {
		return b, nil, true
	}
	if len(b) == 0 {
		return nil, nil, false
	}
	b0, ok := w.r.byteAt(b, 0) // loaded once: the writer may change it
	if !ok {
		return nil, nil, false
	}
	on := int(b0)
	if 1+on > len(b) {
		return nil, nil, false
	}
	return b[1+on:], b[1 : 1+on], true
}

// wallRefresh is how often clockBaseLocked reads the wall clock: a step
// of it (settimeofday, an NTP step) shows in records' times within that.
const wallRefresh = 100 * time.Millisecond

// clockBaseLocked returns the wall-clock time and the monotonic time, now.
// It reads the monotonic clock only, and adds the two clocks' offset as it
// read it last, at most wallRefresh ago: reading the wall clock as well
// (time.Now) cost 70 ns of the 240 that taking a record with its time
// took.
func (s *Server) clockBaseLocked() [2]int64 {
	mono := nanotime()
	// wallAt 0 (never read) counts as old: the monotonic clock runs from
	// the computer's boot, long past wallRefresh by then.
	if mono-s.wallAt >= int64(wallRefresh) {
		s.wallOff = time.Now().UnixNano() - nanotime()
		s.wallAt = mono
	}
	return [2]int64{mono + s.wallOff, mono}
}

// wallTime turns a writer's monotonic stamp into wall-clock time, given a
// clockBase: never later than then; a record without a stamp gets then.
func wallTime(stamp int64, base [2]int64) int64 {
	if stamp > base[1] || stamp <= 0 {
		return base[0]
	}
	return base[0] - (base[1] - stamp)
}

// commitLocked moves w's head past the record at it, and wakes the writer
// when it waits for room and half the ring is free.
func (s *Server) commitLocked(w *writer) {
	w.h, w.has, w.body = w.nh, false, nil
	w.last = w.stamp
	s.taken++
	w.r.store64(offHead, w.h)
	if w.t-w.h <= w.r.size/2 && w.r.take32(offWriterWaits) {
		send(w.raw, msgSpace)
	}
	w.r.faultAhead(w.h, &w.faulted, false)
}

// drainLocked moves records from the rings into the queue, oldest first,
// while the quota allows: so that writers need not wait while nothing
// reads, and the slot can hand its records on.
func (s *Server) drainLocked() {
	// At most what the rings hold now: writers that keep writing must not
	// keep the slot here.
	budget := uint64(0)
	for _, w := range s.writers {
		budget += w.r.size
	}
	base := s.clockBaseLocked()
	for s.q.Bytes() < s.cfg.Quota && budget > 0 {
		w := s.headLocked()
		if w == nil {
			return
		}
		budget -= min(budget, w.nh-w.h)
		payload, origin, ok := s.split(w)
		if !ok {
			s.stats.Malformed++
			s.removeLocked(w)
			continue
		} else if len(payload) > s.MaxMessageSize() {
			s.stats.Oversize++
		} else {
			if !s.q.pushRing(w.r, payload, origin, Meta{PID: w.pid, UID: w.uid, Time: wallTime(w.stamp, base)}) {
				s.stats.Malformed++ // the writer broke the ring's file under us
				s.removeLocked(w)
				continue
			}
			s.stats.Records++
			s.stats.Bytes += uint64(len(payload))
		}
		s.commitLocked(w)
	}
}

// wakeLocked wakes every blocked Read.
func (s *Server) wakeLocked() {
	s.signalLocked()
	if s.waiters > 0 {
		close(s.wake)
		s.wake = make(chan struct{})
	}
}

// Info returns the size of the next record (-1 when none), the number of
// records waiting and the read timeout. Every record whose Write has
// returned is counted, in the queue and in the rings.
func (s *Server) Info() (next, count int, timeout time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, 0, errs.Closed
	}
	count = s.q.Len() + s.countRingsLocked()
	next = s.q.NextSize()
	if next < 0 {
		if w := s.headLocked(); w != nil {
			if payload, _, ok := s.split(w); ok {
				next = len(payload)
			}
		}
	}
	return next, count, s.readTimeout, nil
}

// countRingsLocked counts the records in every ring without taking them.
func (s *Server) countRingsLocked() int {
	n := 0
	for _, w := range s.writers {
		if w.r == nil {
			continue
		}
		h, t := w.h, w.t
		for {
			_, _, nh, nt, st := w.r.nextSafe(h, t, s.maxBody(w))
			if st != ringRecord {
				break
			}
			n++
			h, t = nh, nt
		}
	}
	return n
}

// SetReadTimeout changes the timeout for later reads and reads blocked now.
func (s *Server) SetReadTimeout(d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errs.Closed
	}
	s.readTimeout = d
	s.wakeLocked()
	return nil
}

// Stats returns the slot's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.QueuedBytes = s.q.Bytes()
	return st
}

// Close stops serving: the name is free once every holder has closed, and
// unread records are discarded.
func (s *Server) Close() error {
	if !s.stop() {
		return errs.Closed
	}
	s.ln.Close()
	s.claim.release()
	s.mu.Lock()
	for w := range s.conns {
		w.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	for len(s.writers) > 0 {
		s.removeLocked(s.writers[0])
	}
	s.q.Reset()
	if s.wk != nil {
		s.wk.close() // a Read still sleeping on it returns, and sees closed
		s.wk = nil
	}
	s.mu.Unlock()
	return nil
}

// stop marks the server closed, tells every writer, and wakes everything
// that waits; it reports whether this call did it.
func (s *Server) stop() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	for _, w := range s.writers {
		w.r.store32(offClosed, 1)
	}
	s.signalLocked()
	close(s.wake)
	return true
}

// removeLocked forgets a writer's ring and ends its connection. A writer
// still there (one cut off for breaking the format) learns at its next
// Write that nothing reads its ring.
func (s *Server) removeLocked(w *writer) {
	if w.r != nil {
		w.r.store32(offClosed, 1)
	}
	s.forgetLocked(w)
}

// forgetLocked forgets a writer's ring and ends this process's end of its
// connection, leaving the ring as it is (handed to another process, it
// is read on there).
func (s *Server) forgetLocked(w *writer) {
	for i, x := range s.writers {
		if x == w {
			s.writers = append(s.writers[:i], s.writers[i+1:]...)
			break
		}
	}
	if w.r != nil {
		unix.Munmap(w.r.mem)
		w.r, w.has, w.body = nil, false, nil
	}
	if w.memfd != nil {
		w.memfd.Close()
		w.memfd = nil
	}
	w.conn.Close()
}

// send sends a one-byte message on a writer's connection, from either end,
// without blocking; when the socket is full the peer has unread messages
// and will look at the ring anyway.
func send(raw syscall.RawConn, m byte) {
	b := [1]byte{m}
	_ = raw.Control(func(fd uintptr) {
		for {
			_, err := nbSend(fd, b[:], unix.MSG_DONTWAIT|msgNoSignal)
			if err != unix.EINTR {
				return
			}
		}
	})
}

// acceptLoop takes connections and gives each a goroutine.
func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || isTimeout(err) {
				return // Close, or Transfer's deadline
			}
			// EMFILE and the like: back off a little rather than spin.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		raw, err := c.SyscallConn()
		if err != nil {
			c.Close()
			continue
		}
		w := &writer{conn: c, raw: raw}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[w] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveWriter(w, false)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// serveWriter runs the handshake (unless the writer came with the slot),
// then answers the writer's messages until it goes.
func (s *Server) serveWriter(w *writer, adopted bool) {
	defer s.wg.Done()
	if !adopted && !s.handshake(w) {
		s.mu.Lock()
		delete(s.conns, w)
		s.mu.Unlock()
		w.conn.Close()
		return
	}
	var b [16]byte
	for {
		n, err := w.conn.Read(b[:])
		if err != nil || n == 0 {
			s.mu.Lock()
			if s.closed {
				// Close ends every connection; Transfer hands them on.
				s.mu.Unlock()
				return
			}
			delete(s.conns, w)
			w.gone = true
			if w.r != nil && !w.has && !s.peekLocked(w) {
				s.removeLocked(w)
			}
			s.dropMarkedLocked()
			s.mu.Unlock()
			w.conn.Close()
			return
		}
		s.mu.Lock()
		for _, m := range b[:n] {
			s.messageLocked(w, m)
		}
		s.mu.Unlock()
	}
}

// messageLocked acts on a one-byte message from a writer (one message
// a packet on Linux's SOCK_SEQPACKET; several may come in one read from
// the portable transport's stream).
func (s *Server) messageLocked(w *writer, m byte) {
	switch m {
	case msgWake:
		s.wakeLocked()
	case msgFull:
		now := nanotime()
		if s.reads != w.readsAtFull || now-w.fullAt < int64(fullRetry) {
			// A reader is at work, or was when the writer last asked
			// (reminders pile up while this process does not run):
			// it wakes the writer at half a ring.
			if s.reads != w.readsAtFull {
				w.readsAtFull, w.fullAt = s.reads, now
			}
			break
		}
		s.drainLocked()
		if s.q.Bytes() >= s.cfg.Quota {
			// Below the quota, the drain made room and said so; a
			// writer waiting again has filled its ring since, and
			// its next reminder asks anew.
			s.answerFullLocked(w)
		}
	case msgFullNow:
		s.drainLocked()
		s.answerFullLocked(w)
	}
}

// answerFullLocked tells a writer that still waits for room that the
// queue is full too.
func (s *Server) answerFullLocked(w *writer) {
	if w.r == nil || w.r.load32(offWriterWaits) == 0 {
		return // answered with msgSpace already
	}

	s.quotaWait = true
	s.stats.QuotaWaits++
	send(w.raw, msgQuotaFull)
}

// handshake identifies the writer, applies the policy, and maps its ring.
func (s *Server) handshake(w *writer) bool {
	c := w.conn
	// The deadline is cleared below under mu, where Transfer cannot have
	// set its own (which stops this goroutine) in between.
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	cred, err := peerCred(w.raw)
	if err != nil {
		return false
	}
	w.pid, w.uid, w.gid = cred.Pid, cred.UID, cred.GID
	var msg [answerLen]byte
	msg[0] = protoVersion
	put32(msg[4:], uint32(s.MaxMessageSize()))
	if !s.check.allows(w.uid, w.gid) && !trust.IsDaemonUID(w.uid) {
		// Refused before reading anything: a process that may not write
		// costs the slot this one connection, never a wait.
		msg[1] = verdictDenied
		s.refuse(c, msg)
		return false
	}
	var hello [2]byte
	if n, _, _, err := readMsg(c, hello[:], nil); err != nil || n != 2 || hello[0] != protoVersion || hello[1] > kindRelay {
		return false
	}
	w.relay = hello[1] == kindRelay
	verdict := byte(verdictAllowed)
	switch {
	case w.relay && !trust.IsDaemonUID(w.uid):
		verdict = verdictNotDaemon
	case w.relay && !s.cfg.Network:
		verdict = verdictNoNetwork
	case !w.relay && !s.check.allows(w.uid, w.gid):
		verdict = verdictDenied
	}
	msg[1] = verdict
	if verdict != verdictAllowed {
		s.refuse(c, msg)
		return false
	}
	// With the answer go the process's page that says it lives
	// (alive_linux.go; none on the portable transport) and the slot's
	// waker (the end writers write to), when there are and the writer
	// may share it (sharesWaker), in that order, each named by its flag.
	s.mu.Lock()
	s.wakerLocked()
	var fds []int
	if f := aliveFile(); f != nil {
		fds = append(fds, int(f.Fd()))
		msg[2] |= answerAlive
	}
	if s.wk != nil && sharesWaker(w.uid) {
		fds = append(fds, s.wk.wfd())
		msg[2] |= answerWake
	}
	s.mu.Unlock()
	var rights []byte
	if len(fds) > 0 {
		rights = unix.UnixRights(fds...)
	}
	if _, _, err := c.WriteMsgUnix(msg[:], rights, nil); err != nil {
		return false
	}
	r, memfd, err := s.receiveRing(c, s.maxBody(w))
	if err != nil {
		return false
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		unix.Munmap(r.mem)
		memfd.Close()
		return false
	}
	_ = c.SetDeadline(time.Time{})
	w.r, w.memfd = r, memfd
	if s.waiters > 0 || s.sleeping {
		// A Read sleeps: the writer's first record must wake it.
		r.store32(offReaderWants, 1)
	}
	s.writers = append(s.writers, w)
	if len(s.writers) > 1 {
		// Records of several writers are ordered by their stamps.
		for _, x := range s.writers {
			x.r.store32(offStamps, 1)
		}
	}
	s.mu.Unlock()
	if _, err := c.Write([]byte{msgAck}); err != nil {
		return false // serveWriter's read sees the end and forgets the ring
	}
	return true
}

// refuse counts a refused writer and tells it why, without waiting: the
// verdict fits in the socket's buffer, or the writer does without it.
func (s *Server) refuse(c *net.UnixConn, msg [answerLen]byte) {
	s.mu.Lock()
	s.stats.Refused++
	s.mu.Unlock()
	if raw, err := c.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			_, _ = nbSend(fd, msg[:], unix.MSG_DONTWAIT|msgNoSignal)
			// Closing with the writer's hello unread would reset the
			// connection, and the writer would see the reset before the
			// verdict: take what it has sent.
			var b [16]byte
			for range 8 { // a hello, or what else the writer sent at once
				if n, err := nbRecv(fd, b[:], unix.MSG_DONTWAIT); n <= 0 && err != unix.EINTR {
					return
				}
			}
		})
	}
}

// peerCred asks the kernel who is at the other end of a connection.
func peerCred(raw syscall.RawConn) (sockdir.Cred, error) {
	var cred sockdir.Cred
	var cerr error
	err := raw.Control(func(fd uintptr) {
		cred, cerr = sockdir.PeerCred(int(fd))
	})
	if err != nil {
		return sockdir.Cred{}, err
	}
	return cred, cerr
}

// receiveRing takes the writer's ring message: its size and the file
// holding the ring. Every descriptor that came with it is closed but the
// ring's, which must be one the server may map (checkRingFd: on Linux a
// sealed memfd) of exactly the announced size, big enough for the
// largest record twice.
func (s *Server) receiveRing(c *net.UnixConn, maxBody int) (*ring, *os.File, error) {
	var b [5]byte
	// Room for the ring's descriptor: the kernel closes any more a
	// writer sends, and says so (MSG_CTRUNC), which refuses the message.
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, flags, err := readMsg(c, b[:], oob)
	if err != nil {
		return nil, nil, err
	}
	fds := rights(oob[:oobn])
	keep := -1
	defer func() {
		for _, fd := range fds {
			if fd != keep {
				unix.Close(fd)
			}
		}
	}()
	if n != 5 || b[0] != msgRing || len(fds) != 1 || flags&(unix.MSG_CTRUNC|unix.MSG_TRUNC) != 0 {
		return nil, nil, errors.New("bad ring message")
	}
	size := int(le32(b[1:]))
	if !validRingSize(size) || size < 2*align8(recHdr+maxBody) {
		return nil, nil, fmt.Errorf("ring of %d bytes", size)
	}
	fd := fds[0]
	if err := s.checkRingFd(fd, size); err != nil {
		return nil, nil, err
	}
	mem, err := unix.Mmap(fd, 0, ringHdr+size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map the ring: %w", err)
	}
	keep = fd
	r := newRing(mem)
	// Our head starts where the writer's tail is now (zero for a new ring).
	return r, os.NewFile(uintptr(fd), "mailslot-ring"), nil
}
