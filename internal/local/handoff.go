//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/unix"
)

// Hand-over: a server passes its slot to another process, as a Windows
// server passes an inheritable mailslot handle to a program it starts.
//
// Transfer stops this Server and returns one end of a fresh socket pair.
// Waiting in that pair are messages carrying, as SCM_RIGHTS, the slot's
// listening socket, a file (a memfd on Linux) holding its settings, every
// record queued in memory and, for each writer, who it is and how far its
// ring has been read, the slot's waker and, on the portable transport,
// the name's lock file; then the writers' connections and rings, a batch
// a message.
// Writers go on writing into their rings meanwhile: the new holder reads
// on from the recorded heads, so order is kept and nothing is lost. While
// the messages wait, the kernel holds the sockets, so the name stays
// taken; whoever receives the file (a child through ExtraFiles, or any
// process over a Unix socket) calls Adopt and serves the slot from there.

// ErrNotHandoff is returned by Adopt for a file that carries no slot.
var ErrNotHandoff = errors.New("file does not carry a mailslot hand-over")

// Transfer hands the slot over; see above. The Server is closed afterwards,
// whether or not Transfer succeeds.
func (s *Server) Transfer(label string) (_ *os.File, err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errs.Closed
	}
	s.closed = true // the rings' closed flags stay clear: writers go on
	s.signalLocked()
	close(s.wake)
	// Wake the goroutines without closing the sockets.
	past := time.Unix(1, 0)
	_ = s.ln.SetDeadline(past)
	for w := range s.conns {
		_ = w.conn.SetReadDeadline(past)
	}
	s.mu.Unlock()
	s.wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	// Writers with a ring move; half-done handshakes end here.
	for w := range s.conns {
		if w.r == nil {
			w.conn.Close()
		}
	}
	moving := append([]*writer(nil), s.writers...)
	defer func() {
		for len(s.writers) > 0 {
			if err != nil {
				s.removeLocked(s.writers[0]) // nobody reads on: writers learn it
			} else {
				s.forgetLocked(s.writers[0]) // read on in the process that adopts the slot
			}
		}
		s.q.Reset()
		s.ln.Close()
		if err != nil {
			s.claim.release() // the name is free
		} else {
			s.claim.drop() // the new holder has it
		}
		if s.wk != nil {
			s.wk.close()
			s.wk = nil
		}
	}()
	state, err := s.snapshotLocked(label, moving)
	if err != nil {
		return nil, err
	}
	defer state.Close()
	lnF, err := s.ln.File()
	if err != nil {
		return nil, fmt.Errorf("duplicate the slot's socket: %w", err)
	}
	defer lnF.Close()

	pair, err := socketpair(handoffType)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	setPairBuffers(pair[0])
	setPairBuffers(pair[1])
	first := []int{int(lnF.Fd()), int(state.Fd())}
	first = append(first, s.claim.fds()...)
	if s.wk != nil {
		first = append(first, s.wk.fds()...) // the writers wake it
	}
	err = unix.Sendmsg(pair[0], []byte(handoffMagic), unix.UnixRights(first...), nil, 0)
	for batch := range slices.Chunk(moving, writerBatch) {
		if err != nil {
			break
		}
		var fds []int
		var files []*os.File
		for _, w := range batch {
			f, ferr := w.conn.File()
			if ferr != nil {
				// A writer gone before the hand-over: its connection is
				// closed, its ring may hold records. A socket pair stands
				// in, closed at once, so the new holder sees it gone.
				var p [2]int
				if p, ferr = socketpair(SockType); ferr != nil {
					err = ferr
					break
				}
				unix.Close(p[1])
				f = os.NewFile(uintptr(p[0]), "mailslot-gone-writer")
			}
			files = append(files, f)
			fds = append(fds, int(f.Fd()), int(w.memfd.Fd()))
		}
		if err == nil {
			err = unix.Sendmsg(pair[0], []byte("W"), unix.UnixRights(fds...), nil, 0)
		}
		for _, f := range files {
			f.Close()
		}
	}
	unix.Close(pair[0])
	if err != nil {
		unix.Close(pair[1])
		return nil, fmt.Errorf("send slot: %w", err)
	}
	return os.NewFile(uintptr(pair[1]), "mailslot-handoff:"+label), nil
}

// enc and dec write and read the state file's fields.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) str(v string) { e.u32(uint32(len(v))); e.b = append(e.b, v...) }
func (e *enc) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

type dec struct {
	b   []byte
	bad bool
}

func (d *dec) take(n int) []byte {
	if d.bad || n < 0 || len(d.b) < n {
		d.bad = true
		return make([]byte, n&0xffff)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) u8() uint8          { return d.take(1)[0] }
func (d *dec) u32() uint32        { return binary.LittleEndian.Uint32(d.take(4)) }
func (d *dec) u64() uint64        { return binary.LittleEndian.Uint64(d.take(8)) }
func (d *dec) str() string        { return string(d.take(int(d.u32()))) }
func (d *dec) bool() bool         { return d.u8() != 0 }
func (d *dec) count() int         { n := d.u32(); d.bad = d.bad || n >= 1<<24; return int(n & (1<<24 - 1)) }
func (d *dec) i64() int64         { return int64(d.u64()) }
func (d *dec) i32() int32         { return int32(d.u32()) }
func (d *dec) dur() time.Duration { return time.Duration(d.i64()) }

// snapshotLocked writes the settings, the writers' positions and the
// queued records into a file (newStateFile).
func (s *Server) snapshotLocked(label string, moving []*writer) (*os.File, error) {
	f, err := newStateFile()
	if err != nil {
		return nil, err
	}
	var e enc
	e.b = append(e.b, handoffMagic...)
	e.str(label)
	// How many descriptors of the first message, after the socket and
	// this file, are the claim's and the waker's.
	e.u8(uint8(len(s.claim.fds())))
	if s.wk != nil {
		e.u8(uint8(len(s.wk.fds())))
	} else {
		e.u8(0)
	}
	e.str(s.claim.encode())
	e.str(s.cfg.Key)
	e.u64(uint64(s.cfg.MaxMessageSize))
	e.u64(uint64(s.cfg.Quota))
	e.u64(uint64(s.readTimeout))
	e.bool(s.cfg.Network)
	p := s.cfg.Policy
	e.u32(p.Owner)
	e.bool(p.AnyUser)
	e.u32(uint32(len(p.UIDs)))
	for _, u := range p.UIDs {
		e.u32(u)
	}
	e.u32(uint32(len(p.GIDs)))
	for _, g := range p.GIDs {
		e.u32(g)
	}
	e.u32(uint32(len(moving)))
	for _, w := range moving {
		e.u32(uint32(w.pid))
		e.u32(w.uid)
		e.u32(w.gid)
		e.bool(w.relay)
		e.u32(uint32(w.r.size))
		e.u64(w.h)
		e.u64(uint64(w.last))
	}
	e.u32(uint32(s.q.Len()))
	s.q.Each(func(payload []byte, m Meta) {
		e.u32(uint32(m.PID))
		e.u32(m.UID)
		e.u64(uint64(m.Time))
		e.str(m.Origin)
		e.str(string(payload))
	})
	if _, err := f.Write(e.b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the slot's state: %w", err)
	}
	return f, nil
}

// movedWriter is a writer as the state file describes it.
type movedWriter struct {
	pid      int32
	uid, gid uint32
	relay    bool
	size     int
	h        uint64
	last     int64
}

// Adopt takes over a slot that Transfer handed over through f. It returns
// the label Transfer was given. f is closed.
func Adopt(f *os.File) (*Server, string, error) {
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, "", err
	}
	buf := make([]byte, len(handoffMagic))
	fds, n, err := recvFds(raw, buf, 8)
	if err != nil || string(buf[:n]) != handoffMagic || len(fds) < 2 {
		closeAll(fds)
		return nil, "", ErrNotHandoff
	}
	lnF := os.NewFile(uintptr(fds[0]), "mailslot-listener")
	state := os.NewFile(uintptr(fds[1]), "mailslot-state")
	defer lnF.Close()
	defer state.Close()
	extra := fds[2:]
	cfg, q, label, moved, st, err := restore(state)
	if err != nil || len(extra) != st.claimFds+st.wakeFds {
		closeAll(extra)
		if err == nil {
			err = fmt.Errorf("%w: %d descriptors with the slot beside its socket and state, want %d", ErrNotHandoff, len(extra), st.claimFds+st.wakeFds)
		}
		return nil, "", err
	}
	cl, err := adoptClaim(st.claim, extra[:st.claimFds])
	if err != nil {
		closeAll(extra)
		return nil, "", fmt.Errorf("%w: %v", ErrNotHandoff, err)
	}
	var wk *waker
	if st.wakeFds > 0 {
		if wk, err = adoptWaker(extra[st.claimFds:]); err != nil {
			cl.release()
			return nil, "", fmt.Errorf("%w: %v", ErrNotHandoff, err)
		}
	}
	adopted := false
	defer func() {
		if !adopted {
			cl.release()
			if wk != nil {
				wk.close()
			}
		}
	}()
	lc, err := net.FileListener(lnF)
	if err != nil {
		return nil, "", fmt.Errorf("adopt the slot's socket: %w", err)
	}
	ln, ok := lc.(*net.UnixListener)
	if !ok {
		lc.Close()
		return nil, "", ErrNotHandoff
	}
	ws, err := receiveWriters(raw, moved, cfg)
	if err != nil {
		ln.Close()
		return nil, "", err
	}
	// The deadline set to stop the previous holder lives in that
	// process's poller, not in the socket: nothing to clear here.
	adopted = true
	s := start(cfg, ln, cl, func(s *Server) {
		s.q = *q
		s.wk = wk
		for _, w := range ws {
			s.writers = append(s.writers, w)
			s.conns[w] = struct{}{}
			s.wg.Add(1)
			go s.serveWriter(w, true)
		}
	})
	return s, label, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// recvFds receives one message with up to max descriptors (on a stream,
// len(buf) bytes, the descriptors coming with the first).
func recvFds(raw syscall.RawConn, buf []byte, max int) (fds []int, n int, err error) {
	oob := make([]byte, unix.CmsgSpace(max*4))
	var rerr error
	cerr := raw.Control(func(fd uintptr) {
		var oobn int
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, recvCloexec|unix.MSG_DONTWAIT)
		if rerr != nil {
			return
		}
		fds = rights(oob[:oobn])
		for _, d := range fds {
			unix.CloseOnExec(d) // where MSG_CMSG_CLOEXEC is not to be had
		}
		n = recvRest(int(fd), buf, n)
	})
	if cerr != nil {
		return nil, 0, cerr
	}
	return fds, n, rerr
}

// receiveWriters reads the writers' connections and rings that follow the
// first message, and maps each ring.
func receiveWriters(raw syscall.RawConn, moved []movedWriter, cfg Config) ([]*writer, error) {
	var ws []*writer
	fail := func(err error) ([]*writer, error) {
		for _, w := range ws {
			w.conn.Close()
			w.memfd.Close()
			unix.Munmap(w.r.mem)
		}
		return nil, fmt.Errorf("%w: writers: %v", ErrNotHandoff, err)
	}
	buf := make([]byte, 1)
	for len(ws) < len(moved) {
		fds, _, err := recvFds(raw, buf, 2*writerBatch)
		if err != nil {
			return fail(err)
		}
		if len(fds) == 0 || len(fds)%2 != 0 || len(ws)+len(fds)/2 > len(moved) {
			closeAll(fds)
			return fail(errors.New("a message with a wrong number of descriptors"))
		}
		for i := 0; i < len(fds); i += 2 {
			m := moved[len(ws)]
			w, err := adoptWriter(fds[i], fds[i+1], m)
			if err != nil {
				closeAll(fds[i+2:])
				return fail(err)
			}
			ws = append(ws, w)
		}
	}
	return ws, nil
}

func adoptWriter(connFd, ringFd int, m movedWriter) (*writer, error) {
	memfd := os.NewFile(uintptr(ringFd), "mailslot-ring")
	f := os.NewFile(uintptr(connFd), "mailslot-writer")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		memfd.Close()
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		memfd.Close()
		return nil, errors.New("not a Unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil || !validRingSize(m.size) {
		uc.Close()
		memfd.Close()
		return nil, errors.New("bad writer")
	}
	mem, err := unix.Mmap(int(memfd.Fd()), 0, ringHdr+m.size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		uc.Close()
		memfd.Close()
		return nil, fmt.Errorf("map a ring: %w", err)
	}
	return &writer{
		conn: uc, raw: raw, pid: m.pid, uid: m.uid, gid: m.gid, relay: m.relay,
		r: newRing(mem), memfd: memfd, h: m.h, t: m.h, last: m.last,
	}, nil
}

// stateFds is what the state file says of the first message's
// descriptors after the socket and the file: how many are the claim's
// and the waker's, and the claim's own record (a decoder positioned on it).
type stateFds struct {
	claimFds, wakeFds int
	claim             string // the claim's record (claim.encode)
}

// restore reads what snapshotLocked wrote.
func restore(f *os.File) (Config, *queue, string, []movedWriter, stateFds, error) {
	var st stateFds
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Config{}, nil, "", nil, st, fmt.Errorf("%w: state file: %v", ErrNotHandoff, err)
	}
	all, err := io.ReadAll(f)
	if err != nil || !strings.HasPrefix(string(all), handoffMagic) {
		return Config{}, nil, "", nil, st, fmt.Errorf("%w: bad state file", ErrNotHandoff)
	}
	d := &dec{b: all[len(handoffMagic):]}
	var cfg Config
	label := d.str()
	st.claimFds = int(d.u8())
	st.wakeFds = int(d.u8())
	st.claim = d.str()
	cfg.Key = d.str()
	cfg.MaxMessageSize = int(d.u64())
	cfg.Quota = int(d.u64())
	cfg.ReadTimeout = d.dur()
	cfg.Network = d.bool()
	cfg.Policy.Owner = d.u32()
	cfg.Policy.AnyUser = d.bool()
	for range d.count() {
		cfg.Policy.UIDs = append(cfg.Policy.UIDs, d.u32())
	}
	for range d.count() {
		cfg.Policy.GIDs = append(cfg.Policy.GIDs, d.u32())
	}
	var moved []movedWriter
	for range d.count() {
		moved = append(moved, movedWriter{
			pid: d.i32(), uid: d.u32(), gid: d.u32(), relay: d.bool(),
			size: int(d.u32()), h: d.u64(), last: d.i64(),
		})
	}
	q := new(queue)
	for range d.count() {
		m := Meta{PID: d.i32(), UID: d.u32(), Time: d.i64(), Origin: d.str()}
		data := d.take(int(d.u32()))
		if d.bad {
			break
		}
		q.Push(data, m)
	}
	if d.bad {
		return Config{}, nil, "", nil, st, fmt.Errorf("%w: truncated state file", ErrNotHandoff)
	}
	return cfg, q, label, moved, st, nil
}
