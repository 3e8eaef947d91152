package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
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
	QueuedBytes int    // bytes queued now, per-record headers included
}

// Server is the serving end of one slot.
type Server struct {
	cfg     Config
	check   *checker
	data    *net.UnixConn
	dataRaw syscall.RawConn
	ctl     *net.UnixListener

	mu          sync.Mutex
	q           queue
	readTimeout time.Duration
	closed      bool // Close or Transfer began
	wake        chan struct{}
	waiters     int
	space       chan struct{}
	spaceWait   bool
	stats       Stats
	rb          *recvBatch

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
	return start(cfg, data, ctl, nil)
}

func start(cfg Config, data *net.UnixConn, ctl *net.UnixListener, q *queue) (*Server, error) {
	if cfg.Quota <= 0 {
		cfg.Quota = DefaultQuota
	}
	raw, err := data.SyscallConn()
	if err != nil {
		data.Close()
		ctl.Close()
		return nil, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		data.Close()
		ctl.Close()
		return nil, fmt.Errorf("enable SO_PASSCRED: %w", err)
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
	}
	if q != nil {
		s.q = *q
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
		start time.Time
		timer *time.Timer
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
		if s.q.Len() == 0 {
			s.drainLocked()
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
		if d == 0 {
			s.mu.Unlock()
			return nil, 0, Meta{}, errs.Timeout
		}
		var tc <-chan time.Time
		if d > 0 {
			now := time.Now()
			if start.IsZero() {
				start = now
			}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, 0, errs.Closed
	}
	s.drainLocked()
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
	if !s.stop() {
		return errs.Closed
	}
	s.data.Close()
	s.ctl.Close()
	s.wg.Wait()
	s.mu.Lock()
	s.q.Reset()
	s.rb = nil
	s.mu.Unlock()
	return nil
}

// stop marks the server closed and wakes everything that waits; it reports
// whether this call did it.
func (s *Server) stop() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	close(s.wake)
	close(s.space)
	return true
}

// drainLocked moves records from the data socket into the queue without
// blocking, while the quota allows.
func (s *Server) drainLocked() {
	if s.q.Bytes() >= s.cfg.Quota {
		return
	}
	_ = s.dataRaw.Control(func(fd uintptr) {
		for s.q.Bytes() < s.cfg.Quota {
			if n, _ := s.recvLocked(int(fd)); n == 0 {
				return
			}
		}
	})
}

// readLoop is the slot's receiving goroutine: it waits for records on the
// data socket and queues them, pausing while the quota is full.
func (s *Server) readLoop() {
	defer s.wg.Done()
	var stopped atomic.Bool
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
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.closed {
				stopped.Store(true)
				return true
			}
			for s.q.Bytes() < s.cfg.Quota {
				n, again := s.recvLocked(int(fd))
				if again {
					return false
				}
				if n == 0 {
					return true
				}
			}
			return true // quota full: go wait for room
		})
		if err != nil || stopped.Load() {
			return
		}
	}
}

// recvBatch holds the buffers for one recvmmsg call.
type recvBatch struct {
	msgs []unix.Mmsghdr
	iovs []unix.Iovec
	bufs [][]byte
	oobs []byte
}

const (
	batchLen = 8
	oobLen   = 64 // room for SCM_CREDENTIALS (32 bytes), nothing else fits
)

func newRecvBatch(bufSize int) *recvBatch {
	rb := &recvBatch{
		msgs: make([]unix.Mmsghdr, batchLen),
		iovs: make([]unix.Iovec, batchLen),
		bufs: make([][]byte, batchLen),
		oobs: make([]byte, batchLen*oobLen),
	}
	all := make([]byte, batchLen*bufSize)
	for i := range rb.msgs {
		rb.bufs[i] = all[i*bufSize : (i+1)*bufSize : (i+1)*bufSize]
		rb.iovs[i].Base = &rb.bufs[i][0]
		rb.iovs[i].SetLen(bufSize)
		h := &rb.msgs[i].Hdr
		h.Iov = &rb.iovs[i]
		h.SetIovlen(1)
		h.Control = &rb.oobs[i*oobLen]
	}
	return rb
}

// recvLocked receives up to a batch of datagrams and queues the good ones.
// n is the number of datagrams taken off the socket; again reports that
// the socket had none (EAGAIN).
func (s *Server) recvLocked(fd int) (n int, again bool) {
	if s.rb == nil {
		// Room for the largest acceptable record plus framing, and one byte
		// more so that an oversize record shows as truncated.
		s.rb = newRecvBatch(2 + MaxOrigin + s.MaxMessageSize() + 1)
	}
	rb := s.rb
	for i := range rb.msgs {
		rb.msgs[i].Hdr.SetControllen(oobLen)
		rb.msgs[i].Hdr.Flags = 0
	}
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&rb.msgs[0])), uintptr(len(rb.msgs)), unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		if e == unix.EAGAIN || e == unix.EINTR {
			return 0, e == unix.EAGAIN
		}
		return 0, false
	}
	n = int(r)
	now := time.Now().UnixNano()
	queued := false
	for i := 0; i < n; i++ {
		h := &rb.msgs[i].Hdr
		size := int(rb.msgs[i].Len)
		pid, uid, gid, ok := parseCreds(rb.oobs[i*oobLen : i*oobLen+int(h.Controllen)])
		if !ok {
			s.stats.Malformed++
			continue
		}
		if !s.check.allows(uid, gid) {
			s.stats.Refused++
			continue
		}
		if h.Flags&unix.MSG_TRUNC != 0 {
			s.stats.Oversize++
			continue
		}
		payload, origin, ok := parseRecord(rb.bufs[i][:size])
		if !ok {
			s.stats.Malformed++
			continue
		}
		if len(payload) > s.MaxMessageSize() {
			s.stats.Oversize++
			continue
		}
		s.q.Push(payload, Meta{PID: pid, UID: uid, Time: now, Origin: origin})
		s.stats.Records++
		s.stats.Bytes += uint64(len(payload))
		queued = true
	}
	if queued {
		s.wakeLocked()
	}
	return n, false
}

// parseCreds finds SCM_CREDENTIALS in a control buffer without allocating.
func parseCreds(oob []byte) (pid int32, uid, gid uint32, ok bool) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0, 0, 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_CREDENTIALS && l >= unix.SizeofCmsghdr+unix.SizeofUcred {
			c := (*unix.Ucred)(unsafe.Pointer(&oob[unix.SizeofCmsghdr]))
			return c.Pid, c.Uid, c.Gid, true
		}
		step := unix.CmsgSpace(l - unix.SizeofCmsghdr)
		if step > len(oob) {
			break
		}
		oob = oob[step:]
	}
	return 0, 0, 0, false
}

// parseRecord splits a datagram into payload and origin.
func parseRecord(b []byte) (payload []byte, origin string, ok bool) {
	if len(b) == 0 {
		return nil, "", false
	}
	switch b[0] {
	case kindPlain:
		return b[1:], "", true
	case kindOrigin:
		if len(b) < 2 || len(b) < 2+int(b[1]) {
			return nil, "", false
		}
		on := int(b[1])
		return b[2+on:], string(b[2 : 2+on]), true
	}
	return nil, "", false
}

// acceptLoop answers Open's handshake on the control socket.
func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ctl.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return
			}
			// EMFILE and the like: back off a little rather than spin.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		s.answer(c)
	}
}

// answer sends one handshake verdict and hangs up.
func (s *Server) answer(c *net.UnixConn) {
	defer c.Close()
	verdict := byte(verdictDenied)
	if uid, gid, err := peerCred(c); err == nil && s.check.allows(uid, gid) {
		verdict = verdictAllowed
	}
	var msg [ctlLen]byte
	msg[0] = ctlVersion
	msg[1] = verdict
	max := uint32(s.MaxMessageSize())
	msg[4], msg[5], msg[6], msg[7] = byte(max), byte(max>>8), byte(max>>16), byte(max>>24)
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Write(msg[:]) // a client that hung up learns nothing; nothing is lost
}

func peerCred(c *net.UnixConn) (uid, gid uint32, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, err
	}
	if cerr != nil {
		return 0, 0, cerr
	}
	return cred.Uid, cred.Gid, nil
}
