package local

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/unix"
)

// Hand-over: a server passes its slot to another process, as a Windows
// server passes an inheritable mailslot handle to a program it starts.
//
// Transfer stops this Server and returns one end of a fresh socket pair.
// Waiting in that pair is a single message carrying, as SCM_RIGHTS, the
// slot's data socket, its control socket, and a memfd holding the slot's
// settings and every record queued in memory. Records still in the data
// socket's kernel queue travel with the socket itself, behind them, so the
// order is kept and nothing is lost. While that message waits, the kernel
// holds the sockets, so the name stays taken; whoever receives the file
// (a child through ExtraFiles, or any process over a Unix socket) calls
// Adopt and serves the slot from there.

const handoffMagic = "MAILSLOT-HANDOFF-2\n"

// sessionBatch is how many writers' descriptors travel in one message.
const sessionBatch = 200

// Transfer hands the slot over; see above. The Server is closed afterwards,
// whether or not Transfer succeeds.
func (s *Server) Transfer(label string) (*os.File, error) {
	if !s.stop(true) {
		return nil, errs.Closed
	}
	// Wake the goroutines without closing the sockets.
	past := time.Unix(1, 0)
	_ = s.data.SetReadDeadline(past)
	_ = s.ctl.SetDeadline(past)
	s.mu.Lock()
	for ss := range s.sessions {
		_ = ss.conn.SetReadDeadline(past)
	}
	s.mu.Unlock()
	s.wg.Wait()
	// A drain begun by Info before the stop may still be receiving: let it
	// finish, and keep any other from starting, while the state is copied.
	s.rmu.Lock()
	defer s.rmu.Unlock()
	// Registered writers move with the slot; half-done handshakes end here.
	var moving []*session
	for ss := range s.sessions {
		if ss.addr != "" && s.writers[ss.addr] == ss.id {
			moving = append(moving, ss)
		}
	}
	// Writers that have gone may have records still in the kernel queue,
	// which travels with the data socket: their registrations move too.
	var gone []movedWriter
	for _, r := range s.retired {
		if id, ok := s.writers[r.addr]; ok && id.gen == r.gen {
			gone = append(gone, movedWriter{addr: r.addr, id: id})
		}
	}
	defer func() {
		for ss := range s.sessions {
			ss.conn.Close()
		}
		s.data.Close()
		s.ctl.Close()
		s.mu.Lock()
		s.q.Reset()
		s.mu.Unlock()
		s.rb = nil
	}()

	state, err := s.snapshot(label, moving, gone)
	if err != nil {
		return nil, err
	}
	defer state.Close()
	dataF, err := s.data.File()
	if err != nil {
		return nil, fmt.Errorf("duplicate data socket: %w", err)
	}
	defer dataF.Close()
	ctlF, err := s.ctl.File()
	if err != nil {
		return nil, fmt.Errorf("duplicate control socket: %w", err)
	}
	defer ctlF.Close()

	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	rights := unix.UnixRights(int(dataF.Fd()), int(ctlF.Fd()), int(state.Fd()))
	err = unix.Sendmsg(pair[0], []byte(handoffMagic), rights, nil, 0)
	// Then the writers' control connections, a batch a message (the
	// kernel takes at most 253 descriptors in one).
	for i := 0; err == nil && i < len(moving); i += sessionBatch {
		j := min(i+sessionBatch, len(moving))
		var files []*os.File
		var fds []int
		for _, ss := range moving[i:j] {
			f, ferr := ss.conn.File()
			if ferr != nil {
				err = ferr
				break
			}
			files = append(files, f)
			fds = append(fds, int(f.Fd()))
		}
		if err == nil {
			err = unix.Sendmsg(pair[0], []byte("S"), unix.UnixRights(fds...), nil, 0)
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

// snapshot writes the settings and queued records into a memfd.
func (s *Server) snapshot(label string, moving []*session, gone []movedWriter) (*os.File, error) {
	fd, err := unix.MemfdCreate("mailslot-queue", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "mailslot-queue")
	var b bytes.Buffer
	b.WriteString(handoffMagic)
	putStr := func(v string) {
		binary.Write(&b, binary.LittleEndian, uint16(len(v)))
		b.WriteString(v)
	}
	putStr(label)
	putStr(s.cfg.Key)
	p := s.cfg.Policy
	anyUser := uint8(0)
	if p.AnyUser {
		anyUser = 1
	}
	for _, v := range []any{
		int64(s.cfg.MaxMessageSize), int64(s.cfg.Quota), int64(s.readTimeout),
		p.Owner, anyUser, uint32(len(p.UIDs)),
	} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	binary.Write(&b, binary.LittleEndian, p.UIDs)
	binary.Write(&b, binary.LittleEndian, uint32(len(p.GIDs)))
	binary.Write(&b, binary.LittleEndian, p.GIDs)
	putWriter := func(addr string, id writerID) {
		putStr(addr)
		relay := uint8(0)
		if id.relay {
			relay = 1
		}
		binary.Write(&b, binary.LittleEndian, id.pid)
		binary.Write(&b, binary.LittleEndian, id.uid)
		binary.Write(&b, binary.LittleEndian, relay)
	}
	binary.Write(&b, binary.LittleEndian, uint32(len(moving)))
	for _, ss := range moving {
		putWriter(ss.addr, ss.id)
	}
	binary.Write(&b, binary.LittleEndian, uint32(len(gone)))
	for _, w := range gone {
		putWriter(w.addr, w.id)
	}
	binary.Write(&b, binary.LittleEndian, uint64(s.q.Len()))
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return nil, fmt.Errorf("write slot state: %w", err)
	}
	var werr error
	var hdr [recHeader]byte
	s.q.Each(func(payload []byte, m Meta) {
		if werr != nil {
			return
		}
		binary.LittleEndian.PutUint32(hdr[0:], uint32(len(payload)))
		binary.LittleEndian.PutUint16(hdr[4:], uint16(len(m.Origin)))
		binary.LittleEndian.PutUint32(hdr[8:], uint32(m.PID))
		binary.LittleEndian.PutUint32(hdr[12:], m.UID)
		binary.LittleEndian.PutUint64(hdr[16:], uint64(m.Time))
		if _, werr = f.Write(hdr[:]); werr == nil {
			if _, werr = io.WriteString(f, m.Origin); werr == nil {
				_, werr = f.Write(payload)
			}
		}
	})
	if werr != nil {
		f.Close()
		return nil, fmt.Errorf("write queued records: %w", werr)
	}
	return f, nil
}

// ErrNotHandoff is returned by Adopt for a file that carries no slot.
var ErrNotHandoff = errors.New("file does not carry a mailslot hand-over")

// Adopt takes over a slot that Transfer handed over through f. It returns
// the label Transfer was given. f is closed.
func Adopt(f *os.File) (*Server, string, error) {
	defer f.Close()
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, "", err
	}
	buf := make([]byte, len(handoffMagic)+1)
	oob := make([]byte, unix.CmsgSpace(3*4))
	var n, oobn int
	var rerr error
	if err := raw.Control(func(fd uintptr) {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
	}); err != nil {
		return nil, "", err
	}
	if rerr != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrNotHandoff, rerr)
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for i := range msgs {
			if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if string(buf[:n]) != handoffMagic || len(fds) != 3 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, "", ErrNotHandoff
	}
	dataF := os.NewFile(uintptr(fds[0]), "mailslot-data")
	ctlF := os.NewFile(uintptr(fds[1]), "mailslot-control")
	state := os.NewFile(uintptr(fds[2]), "mailslot-queue")
	defer dataF.Close()
	defer ctlF.Close()
	defer state.Close()

	cfg, q, label, ws, gone, err := restore(state)
	if err != nil {
		return nil, "", err
	}
	conns, err := receiveSessions(raw, len(ws))
	if err != nil {
		return nil, "", err
	}
	dc, err := net.FileConn(dataF)
	if err != nil {
		return nil, "", fmt.Errorf("adopt data socket: %w", err)
	}
	data, ok := dc.(*net.UnixConn)
	if !ok {
		dc.Close()
		return nil, "", ErrNotHandoff
	}
	lc, err := net.FileListener(ctlF)
	if err != nil {
		data.Close()
		return nil, "", fmt.Errorf("adopt control socket: %w", err)
	}
	ctl, ok := lc.(*net.UnixListener)
	if !ok {
		data.Close()
		lc.Close()
		return nil, "", ErrNotHandoff
	}
	// The deadlines set to stop the previous holder live in that process's
	// poller, not in the socket; nothing to clear here.
	// The writers are registered before the slot's goroutines start, so
	// that none of their records waiting in the data socket is refused.
	s, err := start(cfg, data, ctl, q, func(s *Server) {
		for _, w := range gone {
			s.gen++
			w.id.gen = s.gen
			s.writers[w.addr] = w.id
			s.retired = append(s.retired, retiredWriter{w.addr, s.gen})
		}
		for i, c := range conns {
			s.gen++
			ws[i].id.gen = s.gen
			ss := &session{conn: c, addr: ws[i].addr, id: ws[i].id}
			s.sessions[ss] = struct{}{}
			s.writers[ss.addr] = ss.id
			s.wg.Add(1)
			go s.serveSession(ss, true)
		}
	})
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return nil, "", err
	}
	return s, label, nil
}

// receiveSessions reads the n writers' control connections that follow
// the first hand-over message.
func receiveSessions(raw syscall.RawConn, n int) ([]*net.UnixConn, error) {
	var conns []*net.UnixConn
	fail := func(err error) ([]*net.UnixConn, error) {
		for _, c := range conns {
			c.Close()
		}
		return nil, fmt.Errorf("%w: writers: %v", ErrNotHandoff, err)
	}
	oob := make([]byte, unix.CmsgSpace(sessionBatch*4))
	buf := make([]byte, 8)
	for len(conns) < n {
		var fds []int
		var rerr error
		if err := raw.Control(func(fd uintptr) {
			var oobn int
			_, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
			if rerr != nil {
				return
			}
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				rerr = err
				return
			}
			for i := range msgs {
				if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
					fds = append(fds, got...)
				}
			}
		}); err != nil {
			return fail(err)
		}
		if rerr != nil {
			return fail(rerr)
		}
		if len(fds) == 0 {
			return fail(errors.New("a message without descriptors"))
		}
		for _, fd := range fds {
			f := os.NewFile(uintptr(fd), "mailslot-writer")
			c, err := net.FileConn(f)
			f.Close()
			if err != nil {
				return fail(err)
			}
			uc, ok := c.(*net.UnixConn)
			if !ok {
				c.Close()
				return fail(errors.New("not a Unix socket"))
			}
			conns = append(conns, uc)
		}
	}
	return conns, nil
}

// restore reads what snapshot wrote.
type movedWriter struct {
	addr string
	id   writerID
}

func restore(f *os.File) (Config, *queue, string, []movedWriter, []movedWriter, error) {
	var cfg Config
	bad := func(what string) (Config, *queue, string, []movedWriter, []movedWriter, error) {
		return Config{}, nil, "", nil, nil, fmt.Errorf("%w: bad %s", ErrNotHandoff, what)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return bad("state file")
	}
	all, err := io.ReadAll(f)
	if err != nil {
		return bad("state file")
	}
	r := bytes.NewReader(all)
	magic := make([]byte, len(handoffMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != handoffMagic {
		return bad("state magic")
	}
	getStr := func() (string, bool) {
		var l uint16
		if binary.Read(r, binary.LittleEndian, &l) != nil {
			return "", false
		}
		b := make([]byte, l)
		_, err := io.ReadFull(r, b)
		return string(b), err == nil
	}
	label, ok1 := getStr()
	key, ok2 := getStr()
	if !ok1 || !ok2 {
		return bad("names")
	}
	cfg.Key = key
	var maxMsg, quota, timeout int64
	var anyUser uint8
	var nu, ng uint32
	if binary.Read(r, binary.LittleEndian, &maxMsg) != nil ||
		binary.Read(r, binary.LittleEndian, &quota) != nil ||
		binary.Read(r, binary.LittleEndian, &timeout) != nil ||
		binary.Read(r, binary.LittleEndian, &cfg.Policy.Owner) != nil ||
		binary.Read(r, binary.LittleEndian, &anyUser) != nil ||
		binary.Read(r, binary.LittleEndian, &nu) != nil || nu > 1<<16 {
		return bad("settings")
	}
	cfg.Policy.UIDs = make([]uint32, nu)
	if binary.Read(r, binary.LittleEndian, cfg.Policy.UIDs) != nil ||
		binary.Read(r, binary.LittleEndian, &ng) != nil || ng > 1<<16 {
		return bad("users")
	}
	cfg.Policy.GIDs = make([]uint32, ng)
	var nw uint32
	if binary.Read(r, binary.LittleEndian, cfg.Policy.GIDs) != nil ||
		binary.Read(r, binary.LittleEndian, &nw) != nil || nw > 1<<20 {
		return bad("groups")
	}
	getWriters := func(n uint32) ([]movedWriter, bool) {
		var ws []movedWriter
		for i := uint32(0); i < n; i++ {
			var w movedWriter
			var ok bool
			var relay uint8
			if w.addr, ok = getStr(); !ok ||
				binary.Read(r, binary.LittleEndian, &w.id.pid) != nil ||
				binary.Read(r, binary.LittleEndian, &w.id.uid) != nil ||
				binary.Read(r, binary.LittleEndian, &relay) != nil {
				return nil, false
			}
			w.id.relay = relay == 1
			ws = append(ws, w)
		}
		return ws, true
	}
	ws, ok := getWriters(nw)
	var ng2 uint32
	if !ok || binary.Read(r, binary.LittleEndian, &ng2) != nil || ng2 > 1<<20 {
		return bad("writers")
	}
	gone, ok := getWriters(ng2)
	if !ok {
		return bad("writers")
	}
	var count uint64
	if binary.Read(r, binary.LittleEndian, &count) != nil {
		return bad("record count")
	}
	cfg.MaxMessageSize, cfg.Quota, cfg.ReadTimeout = int(maxMsg), int(quota), time.Duration(timeout)
	cfg.Policy.AnyUser = anyUser != 0
	q := new(queue)
	rest := all[len(all)-r.Len():]
	for i := uint64(0); i < count; i++ {
		if len(rest) < recHeader {
			return bad("record header")
		}
		n := int(binary.LittleEndian.Uint32(rest[0:]))
		on := int(binary.LittleEndian.Uint16(rest[4:]))
		if len(rest) < recHeader+on+n {
			return bad("record")
		}
		m := Meta{
			PID:    int32(binary.LittleEndian.Uint32(rest[8:])),
			UID:    binary.LittleEndian.Uint32(rest[12:]),
			Time:   int64(binary.LittleEndian.Uint64(rest[16:])),
			Origin: string(rest[recHeader : recHeader+on]),
		}
		q.Push(rest[recHeader+on:recHeader+on+n], m)
		rest = rest[recHeader+on+n:]
	}
	return cfg, q, label, ws, gone, nil
}
