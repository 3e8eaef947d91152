package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/unix"
)

// Config describes a slot to serve.
type Config struct {
	Key            string        // canonical name; hashed into the socket addresses
	MaxMessageSize int           // 0 = up to MaxRecord
	Quota          int           // queue byte quota; 0 = DefaultQuota
	ReadTimeout    time.Duration // <0 waits forever
	Policy         Policy
}

// Stats counts what a slot has seen since it was created (or adopted).
type Stats struct {
	Records     uint64 // records queued
	Bytes       uint64 // payload bytes queued
	Refused     uint64 // records dropped: the writer's user may not write
	Oversize    uint64 // records dropped: over the maximum message size
	Malformed   uint64 // datagrams dropped: bad framing
	QuotaWaits  uint64 // times the reader paused because the quota was full
	QueuedBytes int    // bytes queued now, per-record headers included (a record over ~35 KB counts the whole ~70 KB buffer it was received into)
}

// Server is the serving end of one slot.
type Server struct {
	cfg     Config
	check   *checker
	data    *net.UnixConn
	dataRaw syscall.RawConn
	ctl     *net.UnixListener

	// rmu serializes taking records off the data socket and guards rb; it
	// is taken before mu, so that the queue (mu) is never held across a
	// system call and records keep their order between the reader
	// goroutine and synchronous drains.
	rmu sync.Mutex
	rb  *recvBatch

	mu          sync.Mutex
	q           queue
	readTimeout time.Duration
	closed      bool // Close or Transfer began
	handing     bool // Transfer began: records received now still count
	wake        chan struct{}
	waiters     int
	space       chan struct{}
	spaceWait   bool
	stats       Stats
	sessions    map[*session]struct{}
	writers     map[string]writerID // registered data address → writer
	retired     []retiredWriter     // gone, to forget once the kernel queue is empty
	gen         uint64              // last registration number

	wg sync.WaitGroup
}

// Listen binds the slot's sockets and starts serving. It fails with
// errs.AlreadyExists when another process (or this one) serves the name.
func Listen(cfg Config) (*Server, error) {
	dataAddr, ctlAddr := Addrs(cfg.Key)
	data, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: dataAddr, Net: "unixgram"})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, errs.AlreadyExists
		}
		return nil, fmt.Errorf("bind data socket: %w", err)
	}
	ctl, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: ctlAddr, Net: "unixpacket"})
	if err != nil {
		data.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			// Another server bound the data name and is between its two binds,
			// or a stale pair from an interrupted hand-over: either way taken.
			return nil, errs.AlreadyExists
		}
		return nil, fmt.Errorf("bind control socket: %w", err)
	}
	return start(cfg, data, ctl, nil, nil)
}

// start serves the slot on the given sockets; setup, when not nil, runs
// before the goroutines start, with mu held.
func start(cfg Config, data *net.UnixConn, ctl *net.UnixListener, q *queue, setup func(*Server)) (*Server, error) {
	if cfg.Quota <= 0 {
		cfg.Quota = DefaultQuota
	}
	raw, err := data.SyscallConn()
	if err != nil {
		data.Close()
		ctl.Close()
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		check:       newChecker(cfg.Policy),
		data:        data,
		dataRaw:     raw,
		ctl:         ctl,
		readTimeout: cfg.ReadTimeout,
		wake:        make(chan struct{}),
		space:       make(chan struct{}),
		sessions:    make(map[*session]struct{}),
		writers:     make(map[string]writerID),
	}
	if q != nil {
		s.q = *q
	}
	if setup != nil {
		s.mu.Lock()
		setup(s)
		s.mu.Unlock()
	}
	s.wg.Add(2)
	go s.readLoop()
	go s.acceptLoop()
	return s, nil
}

// MaxMessageSize returns the largest record the slot accepts.
func (s *Server) MaxMessageSize() int {
	if s.cfg.MaxMessageSize > 0 {
		return s.cfg.MaxMessageSize
	}
	return MaxRecord
}

// Read removes the oldest record into p (or, with alloc, into a new slice
// of its size, returned as out, with the origin filled in), waiting as the
// slot's read timeout and ctx allow. When p is too small it returns
// errs.BufferTooSmall and n is the record's size; the record stays queued.
func (s *Server) Read(ctx context.Context, p []byte, alloc bool) (out []byte, n int, m Meta, err error) {
	var (
		start   time.Time
		timer   *time.Timer
		drained bool
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return nil, 0, Meta{}, errs.Closed
		}
		if s.q.Len() == 0 && (!drained || s.dueLocked(start)) {
			// Before waiting, and again before timing out, take what
			// writers have already handed to the kernel ourselves: under
			// load this saves a hand-off through the reader goroutine
			// for every batch, and a timeout never misses a record
			// whose Write has returned.
			drained = true
			s.mu.Unlock()
			s.drain()
			s.mu.Lock()
			if s.closed {
				continue
			}
			if s.q.Len() == 0 && s.dueLocked(start) {
				s.mu.Unlock()
				return nil, 0, Meta{}, errs.Timeout
			}
		}
		if s.q.Len() > 0 {
			out, n, m, fit := s.q.Pop(p, alloc)
			if !fit {
				s.mu.Unlock()
				return nil, n, Meta{}, errs.BufferTooSmall
			}
			s.poppedLocked()
			s.mu.Unlock()
			return out, n, m, nil
		}
		d := s.readTimeout
		var tc <-chan time.Time
		if d > 0 {
			now := time.Now()
			if start.IsZero() {
				start = now
			}
			left := start.Add(d).Sub(now)
			if left <= 0 {
				continue // dueLocked now holds
			}
			if timer == nil {
				timer = time.NewTimer(left)
			} else {
				timer.Reset(left)
			}
			tc = timer.C
		} else if start.IsZero() {
			start = time.Now()
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
		if cerr != nil {
			s.mu.Unlock()
			return nil, 0, Meta{}, cerr
		}
	}
}

// dueLocked reports whether a read that began at start (zero: now) must
// stop waiting.
func (s *Server) dueLocked(start time.Time) bool {
	d := s.readTimeout
	if d == 0 {
		return true
	}
	return d > 0 && !start.IsZero() && time.Since(start) >= d
}

// poppedLocked wakes the reader goroutine when a pop made room under the
// quota.
func (s *Server) poppedLocked() {
	if s.spaceWait && s.q.Bytes() < s.cfg.Quota {
		s.spaceWait = false
		close(s.space)
		s.space = make(chan struct{})
	}
}

// wakeLocked wakes every blocked Read.
func (s *Server) wakeLocked() {
	if s.waiters > 0 {
		close(s.wake)
		s.wake = make(chan struct{})
	}
}

// Info returns the size of the next record (-1 when none), the number of
// records queued and the read timeout. Records whose Write has returned are
// counted: the kernel's part of the queue is moved in first.
func (s *Server) Info() (next, count int, timeout time.Duration, err error) {
	s.drain()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, 0, errs.Closed
	}
	return s.q.NextSize(), s.q.Len(), s.readTimeout, nil
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
	if !s.stop(false) {
		return errs.Closed
	}
	s.data.Close()
	s.ctl.Close()
	s.mu.Lock()
	for ss := range s.sessions {
		ss.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	s.q.Reset()
	s.mu.Unlock()
	s.rmu.Lock()
	if s.rb != nil {
		s.rb.release()
		s.rb = nil
	}
	s.rmu.Unlock()
	return nil
}

// stop marks the server closed and wakes everything that waits; it reports
// whether this call did it.
func (s *Server) stop(handing bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	s.handing = handing
	close(s.wake)
	close(s.space)
	return true
}

// drain moves records from the data socket into the queue without
// blocking, while the quota allows. The caller must not hold mu.
func (s *Server) drain() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	_ = s.dataRaw.Control(func(fd uintptr) {
		for s.roomForMore() {
			if n, drained := s.recv(int(fd)); n == 0 || drained {
				return
			}
		}
	})
}

// roomForMore reports whether the slot is open and under its quota.
func (s *Server) roomForMore() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.q.Bytes() < s.cfg.Quota
}

// readLoop is the slot's receiving goroutine: it waits for records on the
// data socket and queues them, pausing while the quota is full.
func (s *Server) readLoop() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		for !s.closed && s.q.Bytes() >= s.cfg.Quota {
			s.spaceWait = true
			s.stats.QuotaWaits++
			ch := s.space
			s.mu.Unlock()
			<-ch
			s.mu.Lock()
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return
		}
		err := s.dataRaw.Read(func(fd uintptr) bool {
			s.rmu.Lock()
			defer s.rmu.Unlock()
			for {
				if !s.roomForMore() {
					return true // closed, or quota full: look again above
				}
				n, drained := s.recv(int(fd))
				if drained {
					return false // wait for the next datagram
				}
				if n == 0 {
					return true
				}
			}
		})
		if err != nil {
			return // closed, or stopped by Transfer's deadline
		}
	}
}

// recvBatch holds the buffers for one recvmmsg call.
type recvBatch struct {
	msgs  []unix.Mmsghdr
	names []unix.RawSockaddrUnix
	iovs  []unix.Iovec
	areas [][]byte    // one per message, each starting on a page boundary
	owned []*recvArea // the area behind areas[i] when it is from areaPool
	bufs  [][]byte    // where each message lands: areas[i][shift:][:size]
	size  int
	last  int // the size of the last datagram received, to place the next
}

const batchLen = 8

// fullRecvBuf is the receive buffer of a slot that takes records of up to
// MaxRecord: the largest record with a relay's framing, and one byte more
// so that an oversize record shows as truncated.
const fullRecvBuf = 1 + MaxOrigin + MaxRecord + 1

// recvHeadroom is the room an area keeps in front of a datagram for the
// queue's record header.
const recvHeadroom = 64

// recvArea is the memory a full-size slot receives one datagram into: the
// datagram starts on a page boundary (or maxShift past it, see recvShift)
// at least recvHeadroom bytes in. A large record keeps its area as its
// block in the queue (queue.Adopt): the kernel's copy is its only one
// before the reader's.
type recvArea [recvHeadroom + pageSize - 1 + maxShift + fullRecvBuf]byte

var areaPool = sync.Pool{New: func() any { return new(recvArea) }}

// areaBase returns the index of the page boundary in a at which datagrams
// start (or maxShift past it).
func areaBase(a *recvArea) int { return recvHeadroom + AlignIndex(a[recvHeadroom:], 0) }

func newRecvBatch(bufSize int) *recvBatch {
	rb := &recvBatch{
		msgs:  make([]unix.Mmsghdr, batchLen),
		iovs:  make([]unix.Iovec, batchLen),
		areas: make([][]byte, batchLen),
		owned: make([]*recvArea, batchLen),
		bufs:  make([][]byte, batchLen),
		names: make([]unix.RawSockaddrUnix, batchLen),
		size:  bufSize,
	}
	for i := range rb.msgs {
		h := &rb.msgs[i].Hdr
		h.Iov = &rb.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&rb.names[i]))
	}
	if bufSize == fullRecvBuf {
		for i := range rb.areas {
			rb.setArea(i, areaPool.Get().(*recvArea))
		}
		return rb
	}
	// A slot for small records: one block, no record large enough to keep
	// its area.
	stride := (maxShift + bufSize + pageSize - 1) &^ (pageSize - 1)
	all := AlignedAt(make([]byte, batchLen*stride+pageSize-1), 0, batchLen*stride)
	for i := range rb.areas {
		rb.areas[i] = all[i*stride : (i+1)*stride : (i+1)*stride]
	}
	return rb
}

// setArea makes a the area message i is received into.
func (rb *recvBatch) setArea(i int, a *recvArea) {
	rb.owned[i] = a
	rb.areas[i] = a[areaBase(a):]
}

// release gives the areas back to areaPool.
func (rb *recvBatch) release() {
	for i, a := range rb.owned {
		if a != nil {
			areaPool.Put(a)
			rb.owned[i], rb.areas[i], rb.bufs[i] = nil, nil, nil
		}
	}
}

// recv receives up to a batch of datagrams and queues the good ones. The
// caller holds rmu, not mu. n is the number of datagrams taken off the
// socket; drained reports that the socket had no more: none at all
// (EAGAIN), or fewer than a batch, which recvmmsg(2) returns only when
// the next receive would block (or failed, which the next call reports),
// so the caller need not ask again before the socket is readable.
func (s *Server) recv(fd int) (n int, drained bool) {
	if s.rb == nil {
		// Room for the largest acceptable record plus framing, and one byte
		// more so that an oversize record shows as truncated.
		s.rb = newRecvBatch(1 + MaxOrigin + s.MaxMessageSize() + 1)
	}
	rb := s.rb
	shift := recvShift(rb.last) // datagrams in a burst tend to be alike
	for i := range rb.msgs {
		rb.bufs[i] = rb.areas[i][shift : shift+rb.size]
		rb.iovs[i].Base = &rb.bufs[i][0]
		rb.iovs[i].SetLen(rb.size)
		rb.msgs[i].Hdr.Namelen = unix.SizeofSockaddrUnix
		rb.msgs[i].Hdr.Flags = 0
	}
	// Writers gone by now have all their records in the socket: once it
	// is seen empty below, their registrations can go.
	s.mu.Lock()
	gone := len(s.retired)
	s.mu.Unlock()
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&rb.msgs[0])), uintptr(len(rb.msgs)), unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		if e == unix.EAGAIN {
			if gone > 0 {
				s.mu.Lock()
				s.forgetRetiredLocked(gone)
				s.mu.Unlock()
			}
			return 0, true
		}
		return 0, false
	}
	n = int(r)
	if n > 0 {
		rb.last = int(rb.msgs[n-1].Len)
	}
	drained = n < len(rb.msgs)
	now := time.Now().UnixNano()
	queued := false
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed && !s.handing {
		return n, drained // the slot and its records are gone
	}
	for i := 0; i < n; i++ {
		h := &rb.msgs[i].Hdr
		size := int(rb.msgs[i].Len)
		id, ok := s.writers[string(sender(&rb.names[i], h.Namelen))]
		if !ok {
			s.stats.Refused++ // not a writer that passed Open's check

			continue
		}
		if h.Flags&unix.MSG_TRUNC != 0 {
			s.stats.Oversize++
			continue
		}
		payload, origin, gap := rb.bufs[i][:size], []byte(nil), 0
		if id.relay {
			if payload, origin, ok = parseRecord(payload); !ok {
				s.stats.Malformed++
				continue
			}
			gap = 1 // the origin's length byte
		}
		if len(payload) > s.MaxMessageSize() {
			s.stats.Oversize++
			continue
		}
		m := Meta{PID: id.pid, UID: id.uid, Time: now}
		if a := rb.owned[i]; a != nil && recHeader+len(origin)+len(payload) >= len(a)/2 {
			// A large record keeps the area it was received into, its
			// header written in the room in front.
			s.q.Adopt(a, areaBase(a)+shift-recHeader, gap, len(origin), len(payload), m)
			rb.setArea(i, areaPool.Get().(*recvArea))
		} else {
			s.q.pushBytes(payload, origin, m)
		}
		s.stats.Records++
		s.stats.Bytes += uint64(len(payload))
		queued = true
	}
	if queued {
		s.wakeLocked()
	}
	if drained && gone > 0 {
		s.forgetRetiredLocked(gone) // their last records were in this batch
	}
	return n, drained
}

// sender returns the address bytes the kernel filled in for a datagram.
func sender(sa *unix.RawSockaddrUnix, namelen uint32) []byte {
	n := int(namelen) - 2 // less sun_family
	if n <= 0 || n > len(sa.Path) {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), n)
}

// parseRecord splits a relay's datagram into origin and payload.
func parseRecord(b []byte) (payload, origin []byte, ok bool) {
	if len(b) == 0 || len(b) < 1+int(b[0]) {
		return nil, nil, false
	}
	on := int(b[0])
	return b[1+on:], b[1 : 1+on], true
}
