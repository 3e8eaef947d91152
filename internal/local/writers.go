package local

import (
	"bytes"
	"crypto/rand"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// Who wrote a record. Asking the kernel for the writer's credentials on
// every datagram (SO_PASSCRED) costs a third of the throughput, so a
// writer is identified once, at Open:
//
//  1. the client connects to the control socket; the server reads its
//     credentials (SO_PEERCRED), applies the policy, and answers with the
//     verdict and the maximum record size;
//  2. the client binds its data socket to a kernel-chosen abstract address
//     (autobind), connects it to the slot, and sends that address on the
//     control connection ('R', or 'r' for a relay, whose records carry an
//     origin);
//  3. the server proves the client owns the address: it sends a random
//     nonce from the slot's data socket to that address, and the client
//     must echo it on the control connection ('N');
//  4. the server registers address → (pid, uid) and answers 'K'.
//
// Every datagram then carries its sender's address (the kernel fills it
// in; it cannot be forged), and a datagram from an unregistered address is
// refused and counted. The control connection stays open for the client's
// life; when it closes, the registration goes, so an address the kernel
// later hands to another process carries no stale identity.

const (
	msgRegister = 'R' // a plain writer
	msgRelay    = 'r' // a relay: its records carry an origin
	msgNonce    = 'N'
	msgOK       = 'K'
	msgFail     = 'F'
	nonceLen    = 16
)

// writerID is a registered writer.
type writerID struct {
	pid   int32
	uid   uint32
	gen   uint64 // registration number, unique in this slot
	relay bool   // records carry an origin
}

// session is one client's control connection.
type session struct {
	conn *net.UnixConn
	addr string // registered data address ("" until registered)
	id   writerID
}

// acceptLoop takes control connections and gives each a goroutine.
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
		ss := &session{conn: c}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.sessions[ss] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveSession(ss, false)
	}
}

// serveSession runs the handshake, then waits for the client to go and
// unregisters it. On Close the connection is closed; on Transfer its read
// deadline is set to the past, and the session, still registered, moves
// to the new holder.
func (s *Server) serveSession(ss *session, registered bool) {
	defer s.wg.Done()
	if !registered && !s.handshake(ss) {
		s.dropSession(ss)
		return
	}
	var b [1]byte
	for {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return
		}
		_, err := ss.conn.Read(b[:])
		if err == nil {
			continue // clients send nothing after the handshake; ignore
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return // Transfer: the session goes with the slot
			}
			continue
		}
		s.dropSession(ss)
		return
	}
}

// dropSession forgets a session and closes its connection, unless the
// slot is closing (Close or Transfer handles the sessions then).
func (s *Server) dropSession(ss *session) {
	s.mu.Lock()
	closed := s.closed
	if !closed {
		delete(s.sessions, ss)
		if ss.addr != "" {
			// Its last records may still wait in the kernel queue: forget
			// the address only once that queue has been seen empty.
			s.retired = append(s.retired, retiredWriter{ss.addr, ss.id.gen})
		}
	}
	s.mu.Unlock()
	if !closed {
		ss.conn.Close()
	}
}

// handshake runs steps 1 to 4 above; it reports whether the client is now
// a registered writer.
func (s *Server) handshake(ss *session) bool {
	c := ss.conn
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer c.SetDeadline(time.Time{})
	pid, uid, gid, err := peerCred(c)
	allowed := err == nil && s.check.allows(uid, gid)
	var msg [ctlLen]byte
	msg[0] = ctlVersion
	msg[1] = verdictDenied
	if allowed {
		msg[1] = verdictAllowed
	}
	max := uint32(s.MaxMessageSize())
	msg[4], msg[5], msg[6], msg[7] = byte(max), byte(max>>8), byte(max>>16), byte(max>>24)
	if _, err := c.Write(msg[:]); err != nil || !allowed {
		return false
	}
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	if err != nil || n < 2 || (buf[0] != msgRegister && buf[0] != msgRelay) || buf[1] != 0 {
		return false // only abstract addresses (leading NUL) are ours
	}
	relay := buf[0] == msgRelay
	addr := string(buf[1:n])
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return false
	}
	_ = s.data.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	if _, err := s.data.WriteToUnix(nonce[:], &net.UnixAddr{Name: "@" + addr[1:], Net: "unixgram"}); err != nil {
		c.Write([]byte{msgFail})
		return false
	}
	n, err = c.Read(buf)
	if err != nil || n != 1+nonceLen || buf[0] != msgNonce || !bytes.Equal(buf[1:n], nonce[:]) {
		c.Write([]byte{msgFail})
		return false
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if _, taken := s.writers[addr]; taken {
		// The kernel gives an address to one socket at a time; a second
		// registration means the first client has gone and its session
		// has not noticed yet. The proof above shows this one owns it.
		for other := range s.sessions {
			if other.addr == addr {
				other.addr = ""
			}
		}
	}
	s.gen++
	ss.addr = addr
	ss.id = writerID{pid: pid, uid: uid, gen: s.gen, relay: relay}
	s.writers[addr] = ss.id
	s.mu.Unlock()
	_, err = c.Write([]byte{msgOK})
	return err == nil
}

func peerCred(c *net.UnixConn) (pid int32, uid, gid uint32, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, 0, err
	}
	if cerr != nil {
		return 0, 0, 0, cerr
	}
	return cred.Pid, cred.Uid, cred.Gid, nil
}

// retiredWriter is a writer that has gone, whose records may still wait.
type retiredWriter struct {
	addr string
	gen  uint64
}

// forgetRetiredLocked drops the registrations of the first n writers that
// have gone; the caller has seen the data socket's queue empty since they
// went, so none of their records is left to attribute. (A writer's
// records are in the queue before it goes: it sends them, then closes its
// control connection, whose end makes it a retired writer.)
func (s *Server) forgetRetiredLocked(n int) {
	for _, r := range s.retired[:n] {
		if id, ok := s.writers[r.addr]; ok && id.gen == r.gen {
			delete(s.writers, r.addr)
		}
	}
	s.retired = append(s.retired[:0], s.retired[n:]...)
}
