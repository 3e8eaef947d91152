//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe" // also for go:linkname

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/sockdir"
	"golang.org/x/sys/unix"
)

// nanotime is the runtime's CLOCK_MONOTONIC reading (through the vDSO):
// the same clock in every process of the computer, so stamps of different
// writers compare.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// handshakeTimeout bounds each step of Open's handshake. A live server
// answers at once from its own goroutine, whatever its queue.
const handshakeTimeout = 5 * time.Second

// fullRetry is how often a writer blocked on a full ring reminds the
// server: when nothing has read since the last reminder, the server moves
// the ring's records into its queue.
const fullRetry = 10 * time.Millisecond

// DialConfig says how to open a slot.
type DialConfig struct {
	// Relay marks mailslotd handing on records from the network: each
	// record carries an origin. Only a daemon user may relay, and only to
	// slots that take network records.
	Relay bool
	// TrustUIDs are the users whose servers this client writes to,
	// besides its own user and root. TrustAny trusts every server.
	TrustUIDs []uint32
	TrustAny  bool
	// RingSize overrides the ring's data area (0: RingSize of the slot's
	// maximum record). SmallRing asks for the smallest ring that takes
	// the slot's largest record (a relay to many slots keeps its memory
	// down so). MaxRing, a power of two, caps RingSize's choice, but
	// never below the smallest ring (0: no cap).
	RingSize  int
	SmallRing bool
	MaxRing   int
}

// Conn is the writing end of a local slot.
type Conn struct {
	conn *net.UnixConn
	raw  syscall.RawConn
	max  int
	cfg  DialConfig

	ringSize int // the ring's data area

	mu   sync.Mutex // one record at a time into the ring
	r    *ring
	tail uint64 // ours; published after each record
	// faulted is how much of the ring's data area is mapped ahead of
	// the tail during its first pass (ring.faultAhead).
	faulted uint64
	head    uint64 // the server's, as last loaded
	fetched uint64 // the ring's lines are prefetched up to here (see prefetchAhead)

	alive   []byte      // the server process's page (alive_linux.go), or nil
	efd     int         // where to write wake-ups (the slot's eventfd, or its pipe), or -1
	asking  bool        // the page's holder has ended: ask the connection at each record
	dead    atomic.Bool // the connection has ended
	closing atomic.Bool // Close began
}

// Dial opens the slot with the given key for writing. It fails with
// errs.NotFound when nothing serves the name, and errs.Permission when the
// server's user is not one this client trusts or the server refuses this
// process's user.
func Dial(key string, cfg DialConfig) (*Conn, error) {
	fd, err := dialSlot(key)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, errs.NotFound
		}
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ETIMEDOUT) {
			return nil, fmt.Errorf("%w: the server's backlog of new writers stayed full for %v", errs.Timeout, handshakeTimeout)
		}
		return nil, fmt.Errorf("connect to the server: %w", err)
	}
	// Who serves the name: the kernel's word, from when the server's
	// socket began listening.
	cred, err := sockdir.PeerCred(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("server credentials: %w", err)
	}
	if !cfg.trusts(cred.UID) {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: the name is served by uid %d (pid %d), a user this client does not trust", errs.Permission, cred.UID, cred.Pid)
	}
	f := os.NewFile(uintptr(fd), "mailslot-writer")
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("connection: %w", err)
	}
	conn := fc.(*net.UnixConn)
	c, err := handshake(conn, cfg, cred.UID, time.Now().Add(handshakeTimeout))
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// sharesWaker reports whether the slot's waker (its eventfd, or pipe) is
// shared with a process of this user, the server handing it to a writer
// or a writer writing to the one its server handed: only with this
// process's own user or root. The waker's open file is one for all who
// hold it, and its holders can make it block (clear O_NONBLOCK, fill the
// counter): a writer of another user could then stall the server's Read,
// a server of another user the writer (mailslotd among them) for good.
// Others wake a sleeping reader with a message on their connection, which
// never blocks.
func sharesWaker(uid uint32) bool { return selfOrRoot(uid) }

// selfOrRoot reports whether uid is this process's own user or root: the
// users a process gives nothing by trusting (root may do anything to it,
// its own user may ptrace it).
func selfOrRoot(uid uint32) bool { return uid == 0 || uid == uint32(os.Geteuid()) }

func (cfg *DialConfig) trusts(uid uint32) bool {
	return cfg.TrustAny || selfOrRoot(uid) || slices.Contains(cfg.TrustUIDs, uid)
}

// handshake says hello, learns the verdict and the maximum record size,
// and hands the server a new ring, giving up at deadline. server is the
// server's uid.
func handshake(conn *net.UnixConn, cfg DialConfig, server uint32, deadline time.Time) (*Conn, error) {
	_ = conn.SetDeadline(deadline)
	kind := byte(kindPlain)
	if cfg.Relay {
		kind = kindRelay
	}
	// The server may answer (a refusal) and close before reading our
	// hello: its answer is read even when the hello cannot be sent.
	_, herr := conn.Write([]byte{protoVersion, kind})
	var msg [answerLen]byte
	// Room for the two descriptors an answer may carry; the kernel
	// closes any more a server sends (MSG_CTRUNC).
	oob := make([]byte, unix.CmsgSpace(2*4))
	n, oobn, _, err := readMsg(conn, msg[:], oob)
	if errors.Is(err, syscall.ECONNRESET) {
		// The server closed before it read our hello: the kernel reports
		// the reset first, then what the server sent before it closed.
		n, oobn, _, err = readMsg(conn, msg[:], oob)
	}
	flags := msg[2] // 0 when the answer is shorter
	alive, efd := receiveAnswerFds(oob[:oobn], flags)
	if efd >= 0 && !sharesWaker(server) {
		// Wake-ups go over the connection instead (see sharesWaker).
		unix.Close(efd)
		efd = -1
	}
	ok := false
	defer func() {
		if !ok {
			if alive != nil {
				unix.Munmap(alive)
			}
			if efd >= 0 {
				unix.Close(efd)
			}
		}
	}()
	if err != nil || n == 0 {
		// The server closed between our connect and its answer. Both
		// errors are told: which of them the kernel gave says how.
		what := "read the server's answer: end of stream"
		if err != nil {
			what = "read the server's answer: " + err.Error()
		}
		if herr != nil {
			what += "; say hello: " + herr.Error()
			err = herr
		}
		return nil, notFoundIfGone(err, what)
	}
	if n != answerLen || msg[0] != protoVersion {
		return nil, fmt.Errorf("the server speaks another local protocol (version %d)", msg[0])
	}
	switch msg[1] {
	case verdictAllowed:
	case verdictDenied:
		return nil, fmt.Errorf("%w: the server does not let this user write", errs.Permission)
	case verdictNoNetwork:
		return nil, fmt.Errorf("%w: the slot does not take records from the network", errs.Permission)
	case verdictNotDaemon:
		return nil, fmt.Errorf("%w: only mailslotd may relay records", errs.Permission)
	default:
		return nil, fmt.Errorf("unknown verdict %d from the server", msg[1])
	}
	max := int(le32(msg[4:]))
	if max < 0 || max > MaxRecord {
		return nil, fmt.Errorf("the server announced a maximum record of %d bytes", max)
	}
	size := cfg.RingSize
	if size == 0 && cfg.SmallRing {
		size = SmallRingSize(max)
	} else if size == 0 {
		size = RingSize(max)
		if cfg.MaxRing > 0 && size > cfg.MaxRing {
			size = cfg.MaxRing
			if small := SmallRingSize(max); size < small {
				size = small
			}
		}
	}
	mem, mf, err := makeRing(size)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	defer func() {
		if !ok {
			unix.Munmap(mem)
		}
	}()
	var rm [5]byte
	rm[0] = msgRing
	put32(rm[1:], uint32(size))
	if _, _, err := conn.WriteMsgUnix(rm[:], unix.UnixRights(int(mf.Fd())), nil); err != nil {
		return nil, notFoundIfGone(err, "hand the ring to the server")
	}
	var ack [1]byte
	if n, _, _, err := readMsg(conn, ack[:], nil); err != nil || n != 1 || ack[0] != msgAck {
		return nil, notFoundIfGone(err, "the server did not take the ring")
	}
	_ = conn.SetDeadline(time.Time{})
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	c := &Conn{
		conn:     conn,
		raw:      raw,
		max:      max,
		cfg:      cfg,
		r:        newRing(mem),
		ringSize: size,
		alive:    alive,
		efd:      efd,
	}
	// Without the page that says the server lives, only the connection
	// can tell, and it is asked at every record.
	c.asking = alive == nil
	ok = true
	return c, nil
}

func notFoundIfGone(err error, what string) error {
	if err == nil || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w (the server closed while we opened it: %s)", errs.NotFound, what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// MaxMessageSize returns the largest record the slot accepts.
func (c *Conn) MaxMessageSize() int { return c.max }

// RingSize returns the size of the connection's ring's data area.
func (c *Conn) RingSize() int { return c.ringSize }

// Write puts one record in the ring, waiting while the slot has no room:
// forever when timeout is negative, not at all when it is 0 (errs.Timeout
// once the server says its queue is full too), else up to timeout. A
// relay's origin says where the record came from; a plain writer's origin
// must be empty.
func (c *Conn) Write(p []byte, origin string, timeout time.Duration) error {
	var hdr [1 + MaxOrigin]byte
	pre, err := c.prefix(p, origin, hdr[:])
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	wake, err := c.writeLocked(pre, p, timeout)
	if wake {
		c.wake()
	}
	return err
}

// WriteHeld is Write that leaves waking the reader to the caller: when it
// reports a wake owed, the caller must call Wake soon after (having, say,
// answered its own client first, before the reader's wake-up takes the
// CPU).
func (c *Conn) WriteHeld(p []byte, origin string, timeout time.Duration) (wake bool, err error) {
	var hdr [1 + MaxOrigin]byte
	pre, err := c.prefix(p, origin, hdr[:])
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(pre, p, timeout)
}

// writeLocked puts a record in the ring, waiting for room as Write does,
// and publishes it; it reports whether the reader sleeps and must be
// woken. The caller holds mu.
func (c *Conn) writeLocked(pre, p []byte, timeout time.Duration) (wake bool, err error) {
	t, ok, err := c.tryPut(pre, p)
	if err != nil {
		return false, err
	}
	if !ok {
		if t, err = c.waitRoom(pre, p, timeout); err != nil {
			return false, err
		}
	}
	return c.publish(t), nil
}

// Wake wakes the slot's reader, as a WriteHeld that owed it must.
func (c *Conn) Wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.r != nil && !c.closing.Load() {
		c.wake()
	}
}

// TryWrite is Write that never waits: it puts the record in the ring if
// the ring has room now and no other Write of this connection is under
// way, and reports whether it did.
func (c *Conn) TryWrite(p []byte, origin string) (bool, error) {
	var hdr [1 + MaxOrigin]byte
	pre, err := c.prefix(p, origin, hdr[:])
	if err != nil {
		return false, err
	}
	if !c.mu.TryLock() {
		return false, nil
	}
	defer c.mu.Unlock()
	t, ok, err := c.tryPut(pre, p)
	if err != nil || !ok {
		return false, err
	}
	if c.publish(t) {
		c.wake()
	}
	return true, nil
}

// prefix checks a record and returns what goes before it in the ring: a
// relay's origin, in hdr.
func (c *Conn) prefix(p []byte, origin string, hdr []byte) ([]byte, error) {
	if len(p) > c.max {
		return nil, errs.MessageTooLarge
	}
	if !c.cfg.Relay {
		if origin != "" {
			return nil, errors.New("an origin needs a relay connection")
		}
		return nil, nil
	}
	origin = origin[:min(len(origin), MaxOrigin)]
	hdr[0] = byte(len(origin))
	copy(hdr[1:], origin)
	return hdr[:1+len(origin)], nil
}

// tryPut puts a record in the ring if it has room, and returns the new
// tail. The caller holds mu.
func (c *Conn) tryPut(pre, p []byte) (uint64, bool, error) {
	if c.r == nil || c.closing.Load() {
		return 0, false, errs.Closed
	}
	if err := c.gone(); err != nil {
		return 0, false, err
	}
	if t, ok := c.r.putSafe(c.tail, c.head, c.stamp(), pre, p); ok {
		return t, true, nil
	}
	c.head = c.r.load64(offHead)
	if c.tail-c.head > c.r.size || c.r.broken {
		return 0, false, c.brokenErr()
	}
	t, ok := c.r.putSafe(c.tail, c.head, c.stamp(), pre, p)
	if c.r.broken {
		return 0, false, c.brokenErr()
	}
	return t, ok, nil
}

// publish makes the records up to tail t visible to the reader, and
// reports whether the reader sleeps and must be woken (once: the flag is
// taken). The caller holds mu.
func (c *Conn) publish(t uint64) bool {
	c.tail = t
	c.prefetchAhead(t)
	c.r.store64(offTail, t)
	wake := c.r.take32(offReaderWants)
	c.r.faultAhead(t, &c.faulted, true)
	return wake
}

// A writer asks the CPU to fetch for writing the ring's cache lines up to
// writeAhead bytes past its tail, as far as the reader has freed them.
// Those lines were last read by the reader's CPU, and writing one makes
// the writer's CPU take it from there first. Without the prefetch that
// happened when the record was written, and the writer waited for it at
// the publish (an atomic swap waits for every store before it). With it,
// the line is fetched while earlier records are written. One writer
// process of 100-byte records went from 4.0-5.0 to 10.0-10.7 million
// records a second on 2 CPUs (AMD EPYC), and four from 6.0-6.2 to
// 6.8-7.2 million. Large records gain nothing and lose nothing: a copy
// of kilobytes streams by itself.
const (
	writeAhead = 512
	lineSize   = 64
)

// prefetchAhead prefetches the ring's lines for writing after the writer
// published up to t (see writeAhead).
func (c *Conn) prefetchAhead(t uint64) {
	if !canPrefetchWrite {
		return
	}
	from, to := prefetchSpan(c.fetched, t, c.head, c.r.size)
	for a := from; a < to; a += lineSize {
		prefetchWrite(unsafe.Pointer(&c.r.data[a&c.r.mask]))
	}
	c.fetched = max(c.fetched, to)
}

// prefetchSpan returns the ring positions [from, to) whose lines to
// prefetch after the tail reached t, when those below fetched were
// prefetched already and the reader's head is at least head: up to
// writeAhead past t, never past the room the reader has freed (lines it
// is still to read stay with it). from is on a line's start.
func prefetchSpan(fetched, t, head, size uint64) (from, to uint64) {
	to = min(t+writeAhead, head+size)
	from = max(fetched, t) &^ (lineSize - 1)
	if to <= from {
		return from, from
	}
	return from, to
}

// brokenErr is the error of a write to a ring the server broke: it moved
// its head past our tail, or (portable transport) cut the ring's file
// under our mapping.
func (c *Conn) brokenErr() error {
	return fmt.Errorf("%w: the server broke the ring (head %d, tail %d)", errs.NotFound, c.head, c.tail)
}

// wake wakes the sleeping reader: through the slot's waker (eventfd or
// pipe), which the reader waits on itself, else with a message on the
// connection.
func (c *Conn) wake() {
	// The server learns from these how soon after it fell asleep a
	// record came, which its wake-up's own latency hides, and whether it
	// now shares this CPU (see cameLocked).
	c.r.store64(offWokeAt, uint64(nanotime()))
	c.r.store32(offWokeCPU, uint32(curCPU()+1))
	if c.efd < 0 {
		send(c.raw, msgWake)
		return
	}
	one := [8]byte{1}
	for {
		// EAGAIN: the counter is full, the reader has plenty to wake it.
		if _, err := nbWrite(uintptr(c.efd), one[:]); err != unix.EINTR {
			return
		}
	}
}

// stamp returns the record's stamp: the time, once the server asks for
// stamps (see ring.go), else 0.
func (c *Conn) stamp() int64 {
	if c.r.load32(offStamps) != 0 {
		return nanotime()
	}
	return 0
}

// gone reports a server that has stopped serving.
func (c *Conn) gone() error {
	if c.r.broken {
		return c.brokenErr()
	}
	if c.r.load32(offClosed) != 0 || c.dead.Load() {
		return fmt.Errorf("%w (the server reads this writer no more: the slot closed, or the writer broke its ring's format)", errs.NotFound)
	}
	if c.asking || (c.alive != nil && ownerDied(c.alive)) {
		// The process that served the slot has ended. The slot lives on
		// only if it was handed to another process: then the connection
		// does too.
		c.asking = true
		if !c.connAlive() {
			c.dead.Store(true)
			return fmt.Errorf("%w (the server's process has ended)", errs.NotFound)
		}
	}
	return nil
}

// connAlive asks the kernel whether the server's end of the connection
// is still open.
func (c *Conn) connAlive() bool {
	alive := true
	_ = c.raw.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			alive = err != nil || n == 0 || fds[0].Revents&pollGone == 0
			return
		}
	})
	return alive
}

// receiveAnswerFds takes the descriptors that came with the server's
// answer, as its flags name them: the server process's page, mapped
// (nil without), and the slot's eventfd (-1 without). Any other
// descriptor is closed.
func receiveAnswerFds(oob []byte, flags byte) (alive []byte, efd int) {
	efd = -1
	fds := rights(oob)
	i := 0
	if flags&answerAlive != 0 && i < len(fds) {
		alive = mapAlive(fds[i])
		unix.Close(fds[i])
		i++
	}
	if flags&answerWake != 0 && i < len(fds) {
		efd = fds[i]
		i++
	}
	for _, fd := range fds[i:] {
		unix.Close(fd)
	}
	return alive, efd
}

// waitRoom waits until the record fits, then writes it and returns the
// new tail. It asks the server for room and waits for its answer on the
// connection itself: no goroutine stands between the two.
func (c *Conn) waitRoom(pre, p []byte, timeout time.Duration) (uint64, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	defer c.conn.SetReadDeadline(time.Time{})
	ask := byte(msgFull)
	if timeout == 0 {
		ask = msgFullNow // the server answers at once: room, or 'Q'
	}
	var b [16]byte
	for {
		// Forget answers to earlier requests, then ask.
		if err := c.drainMessages(); err != nil {
			return 0, err
		}
		c.r.store32(offWriterWaits, 1)
		c.head = c.r.load64(offHead)
		if t, ok := c.r.putSafe(c.tail, c.head, c.stamp(), pre, p); ok {
			c.r.store32(offWriterWaits, 0)
			return t, nil
		}
		if err := c.gone(); err != nil {
			return 0, err
		}
		send(c.raw, ask)
		wait := fullRetry
		if timeout == 0 {
			wait = handshakeTimeout
		}
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				c.r.store32(offWriterWaits, 0)
				return 0, errs.Timeout
			}
			wait = min(wait, left)
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(wait))
		n, err := c.readMessage(b[:])
		if err != nil && isTimeout(err) {
			if timeout == 0 {
				c.r.store32(offWriterWaits, 0)
				return 0, errs.Timeout
			}
		} else if err != nil || n == 0 {
			c.dead.Store(true)
			if c.closing.Load() {
				return 0, errs.Closed
			}
			return 0, c.gone()
		} else if b[n-1] == msgQuotaFull && timeout == 0 {
			c.r.store32(offWriterWaits, 0)
			if t, ok := c.r.putSafe(c.tail, c.r.load64(offHead), c.stamp(), pre, p); ok {
				return t, nil
			}
			return 0, errs.Timeout
		}
	}
}

// readMessage waits (as the connection's read deadline allows) for the
// server's messages and reads those there are into b; n is 0 when the
// server has closed the connection.
func (c *Conn) readMessage(b []byte) (n int, err error) {
	var rerr error
	err = c.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = nbRecv(fd, b, 0)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err == nil {
		err = rerr
	}
	return n, err
}

// drainMessages reads, without waiting, what the server has sent since
// the writer last waited; the connection's end marks the writer dead.
func (c *Conn) drainMessages() error {
	var b [16]byte
	var end bool
	_ = c.raw.Control(func(fd uintptr) {
		for {
			n, err := nbRecv(fd, b[:], unix.MSG_DONTWAIT)
			if err == unix.EINTR {
				continue
			} else if err == unix.EAGAIN {
				return
			} else if err != nil || n == 0 {
				end = true
				return
			}
		}
	})
	if end {
		c.dead.Store(true)
		return c.gone()
	}
	return nil
}

// Close closes the connection; records already written stay for the
// server to read. A Write blocked for room returns.
func (c *Conn) Close() error {
	if c.closing.Swap(true) {
		return errs.Closed
	}
	err := c.conn.Close() // a Write blocked for room returns
	c.mu.Lock()
	unix.Munmap(c.r.mem)
	c.r = nil
	if c.alive != nil {
		unix.Munmap(c.alive)
		c.alive = nil
	}
	if c.efd >= 0 {
		unix.Close(c.efd)
		c.efd = -1
	}
	c.mu.Unlock()
	return err
}
