//go:build linux && !mailslot_portable

package local

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/asuser"
	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/unix"
)

// The writer's side of the connection protocol, against a server played
// by hand on the other end of a socket pair: what the writer makes of
// each answer, which descriptors it keeps, and what it sends.

// connPair returns the two ends of a connected pair of the slots' socket
// type, closed at cleanup.
func connPair(t *testing.T) (client, server *net.UnixConn) {
	t.Helper()
	fds, err := socketpair(SockType)
	if err != nil {
		t.Fatal(err)
	}
	var cs [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c.(*net.UnixConn)
		t.Cleanup(func() { cs[i].Close() })
	}
	return cs[0], cs[1]
}

// answerMsg is a server's answer: verdict, flags and maximum record size.
func answerMsg(verdict, flags byte, max uint32) []byte {
	b := []byte{protoVersion, verdict, flags, 0, 0, 0, 0, 0}
	put32(b[4:], max)
	return b
}

// wakePipe stands in for the slot's waker: the writer gets its write
// end, the test reads the other. The test's own copy of the write end is
// closed once sent, so the read end sees the end of the pipe exactly
// when the writer has closed its copy.
type wakePipe struct{ r, w int }

func newWakePipe(t *testing.T) *wakePipe {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[0]) })
	return &wakePipe{r: p[0], w: p[1]}
}

// state reads what the writer has written: the bytes, or -1 when the
// writer has closed its end, or 0 when it holds it and wrote nothing.
func (p *wakePipe) state() int {
	var b [64]byte
	n, err := unix.Read(p.r, b[:])
	switch {
	case err == unix.EAGAIN:
		return 0
	case err == nil && n == 0:
		return -1
	}
	return n
}

// aliveMaps counts this process's mappings of the test's stand-in for a
// server's page.
func aliveMaps(t *testing.T) int { return memfdMaps(t, "test-alive") }

// memfdMaps counts this process's mappings of memfds of the given name.
func memfdMaps(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "memfd:"+name+" ")
}

// testAlive returns a descriptor of a file that passes for a server's
// page, with the given seals, closed at cleanup.
func testAlive(t *testing.T, seals int) int {
	t.Helper()
	fd, err := unix.MemfdCreate("test-alive", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, aliveSize); err != nil {
		t.Fatal(err)
	}
	if seals != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
			t.Fatal(err)
		}
	}
	return fd
}

// fakeServer is the server's end of a writer's connection after the
// handshake, with the server's mapping of the writer's ring.
type fakeServer struct {
	conn *net.UnixConn
	r    *ring
}

// fakeDial runs a writer's handshake against answer, sent with fds (and,
// when ack, followed by the server's acknowledgement of the ring), then
// closes the test's copies of fds. It returns the writer (closed at
// cleanup) and the server's end, whose ring is mapped when the
// handshake succeeded. before, if any, run just before the handshake.
func fakeDial(t *testing.T, cfg DialConfig, answer []byte, fds []int, ack bool, before ...func()) (*Conn, *fakeServer, error) {
	t.Helper()
	return fakeDialFrom(t, uint32(os.Geteuid()), cfg, answer, fds, ack, before...)
}

// fakeDialFrom is fakeDial with a server run by the user serverUID.
func fakeDialFrom(t *testing.T, serverUID uint32, cfg DialConfig, answer []byte, fds []int, ack bool, before ...func()) (*Conn, *fakeServer, error) {
	t.Helper()
	client, server := connPair(t)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if answer != nil {
		if _, _, err := server.WriteMsgUnix(answer, oob, nil); err != nil {
			t.Fatal(err)
		}
	}
	if ack {
		if _, err := server.Write([]byte{msgAck}); err != nil {
			t.Fatal(err)
		}
	}
	if answer == nil || !ack {
		server.CloseWrite()
	}
	for _, f := range before {
		f()
	}
	c, err := handshake(client, cfg, serverUID, time.Now().Add(5*time.Second))
	for _, fd := range fds {
		unix.Close(fd)
	}
	fs := &fakeServer{conn: server}
	if err != nil {
		return nil, fs, err
	}
	t.Cleanup(func() { c.Close() })
	var hello [2]byte
	if n, err := server.Read(hello[:]); err != nil || n != 2 || hello[0] != protoVersion {
		t.Fatalf("hello: %q, %v", hello[:n], err)
	}
	var rm [5]byte
	roob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, err := readMsg(server, rm[:], roob)
	got := rights(roob[:oobn])
	if err != nil || n != 5 || rm[0] != msgRing || len(got) != 1 {
		t.Fatalf("ring message: %q, %d descriptors, %v", rm[:n], len(got), err)
	}
	size := int(le32(rm[1:]))
	mem, err := unix.Mmap(got[0], 0, ringHdr+size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	unix.Close(got[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	fs.r = newRing(mem)
	return c, fs, nil
}

// What a writer makes of the server's answer: the verdicts, the maximum
// record size, the descriptors its flags name (mapped or kept) and the
// ring it then makes; a refusal or a server gone leaves it holding no
// descriptor and no mapping of the server's.
func TestHandshakeAnswers(t *testing.T) {
	const (
		noFds = iota
		wakeFd
		aliveFd
		bothFds
	)
	type want struct {
		err       error // nil: the handshake succeeds; errAny: fails otherwise
		alive     bool  // the writer maps the page
		wake      bool  // and keeps the waker
		max, ring int
	}
	errAny := errors.New("any error")
	ok := func(alive, wake bool, max, ring int) want { return want{nil, alive, wake, max, ring} }
	for _, tc := range []struct {
		name   string
		cfg    DialConfig
		answer []byte
		send   int // descriptors sent with the answer
		ack    bool
		want   want
	}{
		{"no descriptors", DialConfig{}, answerMsg(verdictAllowed, 0, 424), noFds, true, ok(false, false, 424, RingSize(424))},
		{"page and waker", DialConfig{}, answerMsg(verdictAllowed, answerAlive|answerWake, 424), bothFds, true, ok(true, true, 424, RingSize(424))},
		{"waker only", DialConfig{}, answerMsg(verdictAllowed, answerWake, 424), wakeFd, true, ok(false, true, 424, RingSize(424))},
		{"page only", DialConfig{}, answerMsg(verdictAllowed, answerAlive, 424), aliveFd, true, ok(true, false, 424, RingSize(424))},
		{"flags without descriptors", DialConfig{}, answerMsg(verdictAllowed, answerAlive|answerWake, 424), noFds, true, ok(false, false, 424, RingSize(424))},
		{"flags with one descriptor", DialConfig{}, answerMsg(verdictAllowed, answerAlive|answerWake, 424), aliveFd, true, ok(true, false, 424, RingSize(424))},
		{"descriptors no flag names", DialConfig{}, answerMsg(verdictAllowed, 0, 424), bothFds, true, ok(false, false, 424, RingSize(424))},
		{"largest maximum", DialConfig{}, answerMsg(verdictAllowed, 0, MaxRecord), noFds, true, ok(false, false, MaxRecord, RingSize(MaxRecord))},
		{"zero maximum", DialConfig{}, answerMsg(verdictAllowed, 0, 0), noFds, true, ok(false, false, 0, RingSize(0))},
		{"small ring", DialConfig{SmallRing: true}, answerMsg(verdictAllowed, 0, 424), noFds, true, ok(false, false, 424, SmallRingSize(424))},
		{"capped ring", DialConfig{MaxRing: 1 << 20}, answerMsg(verdictAllowed, 0, MaxRecord), noFds, true, ok(false, false, MaxRecord, 1<<20)},
		{"cap above the ring", DialConfig{MaxRing: 8 << 20}, answerMsg(verdictAllowed, 0, MaxRecord), noFds, true, ok(false, false, MaxRecord, RingSize(MaxRecord))},
		{"cap below the smallest ring", DialConfig{MaxRing: MinRing}, answerMsg(verdictAllowed, 0, MaxRecord), noFds, true, ok(false, false, MaxRecord, SmallRingSize(MaxRecord))},
		{"ring size asked", DialConfig{RingSize: 1 << 20, SmallRing: true}, answerMsg(verdictAllowed, 0, 424), noFds, true, ok(false, false, 424, 1<<20)},
		{"maximum too large", DialConfig{}, answerMsg(verdictAllowed, answerAlive|answerWake, MaxRecord+1), bothFds, true, want{err: errAny}},
		{"denied", DialConfig{}, answerMsg(verdictDenied, answerAlive|answerWake, 424), bothFds, false, want{err: errs.Permission}},
		{"no network", DialConfig{}, answerMsg(verdictNoNetwork, answerAlive|answerWake, 424), bothFds, false, want{err: errs.Permission}},
		{"not the daemon", DialConfig{}, answerMsg(verdictNotDaemon, 0, 424), noFds, false, want{err: errs.Permission}},
		{"unknown verdict", DialConfig{}, answerMsg(9, answerAlive|answerWake, 424), bothFds, false, want{err: errAny}},
		{"another version", DialConfig{}, append([]byte{protoVersion + 1}, answerMsg(0, 0, 424)[1:]...), noFds, false, want{err: errAny}},
		{"short answer", DialConfig{}, answerMsg(verdictAllowed, answerAlive|answerWake, 424)[:3], bothFds, false, want{err: errAny}},
		{"gone before answering", DialConfig{}, nil, noFds, false, want{err: errs.NotFound}},
		{"gone before taking the ring", DialConfig{}, answerMsg(verdictAllowed, answerAlive|answerWake, 424), bothFds, false, want{err: errs.NotFound}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maps := aliveMaps(t)
			wp := newWakePipe(t)
			var fds []int
			switch tc.send {
			case wakeFd:
				fds = []int{wp.w}
			case aliveFd:
				fds = []int{testAlive(t, unix.F_SEAL_SHRINK)}
			case bothFds:
				fds = []int{testAlive(t, unix.F_SEAL_SHRINK), wp.w}
			}
			if tc.send != wakeFd && tc.send != bothFds {
				unix.Close(wp.w)
			}
			c, _, err := fakeDial(t, tc.cfg, tc.answer, fds, tc.ack)
			w := tc.want
			if w.err != nil {
				if err == nil || (w.err != errAny && !errors.Is(err, w.err)) {
					t.Fatalf("handshake = %v, want %v", err, w.err)
				}
				if tc.answer == nil && (!strings.Contains(err.Error(), "read the server's answer: ") || !strings.Contains(err.Error(), "EOF")) {
					t.Errorf("handshake = %v: it does not say how the answer failed", err)
				}
				if n := aliveMaps(t); n != maps {
					t.Errorf("the writer that failed keeps %d mappings of the page", n-maps)
				}
				if st := wp.state(); st != -1 {
					t.Errorf("the writer that failed keeps the waker open (%d)", st)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.alive != nil; got != w.alive || aliveMaps(t) != maps+int(boolInt(w.alive)) {
				t.Errorf("page mapped %v, want %v", got, w.alive)
			}
			if c.asking != !w.alive {
				t.Errorf("asking %v: a writer asks its connection at each record exactly when it has no page", c.asking)
			}
			if got := c.efd >= 0; got != w.wake {
				t.Errorf("waker %v (efd %d), want %v", got, c.efd, w.wake)
			}
			if c.MaxMessageSize() != w.max || c.RingSize() != w.ring {
				t.Errorf("max %d, ring %d; want %d, %d", c.MaxMessageSize(), c.RingSize(), w.max, w.ring)
			}
			if w.wake {
				c.Wake()
				if st := wp.state(); st != 8 {
					t.Errorf("Wake wrote %d bytes to the waker, want 8", st)
				}
			} else if st := wp.state(); st != -1 {
				t.Errorf("the writer holds a descriptor it was not given as its waker (%d)", st)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if st := wp.state(); st != -1 {
				t.Errorf("Close left the waker open (%d)", st)
			}
			if n := aliveMaps(t); n != maps {
				t.Errorf("Close left %d mappings of the page", n-maps)
			}
		})
	}
}

// A writer wakes a reader that asked for it once per record it publishes:
// through the slot's waker when it has one, else with a message on its
// connection; WriteHeld leaves the wake-up to Wake, and a closed writer
// wakes nobody.
func TestWriterWakesTheReader(t *testing.T) {
	for _, withWaker := range []bool{true, false} {
		wp := newWakePipe(t)
		flags, fds := byte(answerWake), []int{wp.w}
		if !withWaker {
			flags, fds = 0, nil
			unix.Close(wp.w)
		}
		c, fs, err := fakeDial(t, DialConfig{}, answerMsg(verdictAllowed, flags, 424), fds, true)
		if err != nil {
			t.Fatal(err)
		}
		// woken reports whether the reader was woken since the last call.
		woken := func() bool {
			if withWaker {
				return wp.state() == 8
			}
			var b [16]byte
			_ = fs.conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n, _ := fs.conn.Read(b[:])
			return n == 1 && b[0] == msgWake
		}
		mustWrite(t, c, "not asked")
		if woken() {
			t.Fatalf("waker %v: a reader that did not ask was woken", withWaker)
		}
		fs.r.store32(offReaderWants, 1)
		mustWrite(t, c, "asked")
		if !woken() {
			t.Fatalf("waker %v: the reader that asked was not woken", withWaker)
		}
		mustWrite(t, c, "asked once")
		if woken() {
			t.Fatalf("waker %v: the reader was woken twice for one request", withWaker)
		}
		fs.r.store32(offReaderWants, 1)
		if wake, err := c.WriteHeld([]byte("held"), "", -1); err != nil || !wake {
			t.Fatalf("WriteHeld = %v, %v", wake, err)
		}
		if woken() {
			t.Fatalf("waker %v: WriteHeld woke the reader itself", withWaker)
		}
		c.Wake()
		if !woken() {
			t.Fatalf("waker %v: Wake did not wake the reader", withWaker)
		}
		c.Close()
		c.Wake()
		if withWaker && wp.state() != -1 {
			t.Fatal("a closed writer still holds the waker, or wrote to it")
		}
	}
}

// expect reads the writer's next message, waiting up to d, and fails the
// test unless it is m.
func (fs *fakeServer) expect(t *testing.T, m byte, d time.Duration) {
	t.Helper()
	var b [16]byte
	_ = fs.conn.SetReadDeadline(time.Now().Add(d))
	n, err := fs.conn.Read(b[:])
	if err != nil || n != 1 || b[0] != m {
		t.Fatalf("the writer sent %q, %v; want %q", b[:n], err, m)
	}
}

// free reads every record of the ring, as a server that took them.
func (fs *fakeServer) free() { fs.r.store64(offHead, fs.r.load64(offTail)) }

// A writer whose ring is full asks the server for room and waits as its
// timeout says: one that may not wait asks for an answer at once and
// waits for it, however late, and takes 'Q' for no; one that may wait
// reminds the server every fullRetry until there is room or its time is
// up; the server's end or the writer's Close ends the wait.
func TestWriterWaitsForRoom(t *testing.T) {
	rec := make([]byte, 1000)
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		server  func(t *testing.T, c *Conn, fs *fakeServer)
		want    error
	}{
		{"no wait, queue full", 0, func(t *testing.T, c *Conn, fs *fakeServer) {
			fs.expect(t, msgFullNow, 5*time.Second)
			send(rawOf(t, fs.conn), msgQuotaFull)
		}, errs.Timeout},
		{"no wait, stale answer first", 0, func(t *testing.T, c *Conn, fs *fakeServer) {
			fs.expect(t, msgFullNow, 5*time.Second)
			send(rawOf(t, fs.conn), msgQuotaFull)
		}, errs.Timeout},
		{"no wait, room late", 0, func(t *testing.T, c *Conn, fs *fakeServer) {
			fs.expect(t, msgFullNow, 5*time.Second)
			// An answer later than a reminder's period is still waited for.
			time.Sleep(3 * fullRetry)
			fs.free()
			send(rawOf(t, fs.conn), msgSpace)
		}, nil},
		{"wait, reminded", 5 * time.Second, func(t *testing.T, c *Conn, fs *fakeServer) {
			fs.expect(t, msgFull, 5*time.Second)
			fs.expect(t, msgFull, time.Second) // the reminder, long before the timeout
			fs.free()
			send(rawOf(t, fs.conn), msgSpace)
		}, nil},
		{"wait, timed out", 30 * time.Millisecond, func(t *testing.T, c *Conn, fs *fakeServer) {
			fs.expect(t, msgFull, 5*time.Second)
		}, errs.Timeout},
		{"server gone", -1, func(t *testing.T, c *Conn, fs *fakeServer) {
			fs.expect(t, msgFull, 5*time.Second)
			fs.conn.Close()
		}, errs.NotFound},
		{"writer closed", -1, func(t *testing.T, c *Conn, fs *fakeServer) {
			fs.expect(t, msgFull, 5*time.Second)
			c.Close()
		}, errs.Closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, fs, err := fakeDial(t, DialConfig{RingSize: MinRing}, answerMsg(verdictAllowed, 0, 1000), nil, true)
			if err != nil {
				t.Fatal(err)
			}
			fillRing(t, c, rec)
			if strings.Contains(tc.name, "stale") {
				// An answer to an earlier request, left unread.
				send(rawOf(t, fs.conn), msgSpace)
			}
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- c.Write(rec, "", tc.timeout) }()
			tc.server(t, c, fs)
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				c.Close()
				<-done
				t.Fatal("the Write still waits")
			}
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Write = %v, want %v", err, tc.want)
			}
			if tc.timeout == 0 && time.Since(start) > 2*time.Second {
				t.Errorf("a Write that may not wait took %v after the server's answer", time.Since(start))
			}
			if tc.timeout > 0 && tc.want != nil && time.Since(start) < tc.timeout {
				t.Errorf("the Write gave up after %v, before its timeout", time.Since(start))
			}
			if (tc.want == nil || tc.want == errs.Timeout) && fs.r.load32(offWriterWaits) != 0 {
				t.Error("the writer that stopped waiting still says it waits")
			}
		})
	}
}

func rawOf(t *testing.T, c *net.UnixConn) syscall.RawConn {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A waker the writer receives as descriptor 0 (a process may run with its
// standard input closed) is used, and closed, as any other.
func TestWakerOnDescriptorZero(t *testing.T) {
	saved, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := unix.Dup3(saved, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	defer unix.Close(saved)
	for _, verdict := range []byte{verdictAllowed, verdictDenied} {
		wp := newWakePipe(t)
		c, fs, err := fakeDial(t, DialConfig{}, answerMsg(verdict, answerWake, 424), []int{wp.w}, verdict == verdictAllowed, func() { unix.Close(0) })
		if verdict == verdictDenied {
			if err == nil {
				t.Fatal("a denied writer's handshake succeeded")
			}
			if st := wp.state(); st != -1 {
				t.Errorf("the writer that failed keeps the waker open (%d)", st)
			}
			restore()
			continue
		}
		if err != nil {
			restore()
			t.Fatal(err)
		}
		if c.efd != 0 {
			c.Close()
			restore()
			t.Fatalf("the waker came as descriptor %d, not 0", c.efd)
		}
		fs.r.store32(offReaderWants, 1)
		mustWrite(t, c, "wake")
		if st := wp.state(); st != 8 {
			t.Errorf("the writer wrote %d bytes to its waker, want 8", st)
		}
		c.Close()
		st := wp.state()
		restore()
		if st != -1 {
			t.Errorf("Close left the waker open (%d)", st)
		}
	}

	// From a server of another user the waker is closed at once, on
	// descriptor 0 as on any other.
	wp := newWakePipe(t)
	c, _, err := fakeDialFrom(t, asuser.Nobody, DialConfig{TrustAny: true}, answerMsg(verdictAllowed, answerWake, 424), []int{wp.w}, true, func() { unix.Close(0) })
	st := wp.state()
	restore()
	if err != nil {
		t.Fatal(err)
	}
	if c.efd != -1 || st != -1 {
		t.Errorf("a writer kept the waker of a server of uid %d on descriptor 0 (efd %d, waker state %d)", asuser.Nobody, c.efd, st)
	}
}

// A server that never answers: the handshake gives up at its deadline
// and says so, which is not a server gone.
func TestHandshakeSilentServer(t *testing.T) {
	client, _ := connPair(t)
	_, err := handshake(client, DialConfig{}, uint32(os.Geteuid()), time.Now().Add(20*time.Millisecond))
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, errs.NotFound) {
		t.Fatalf("handshake with a silent server = %v, want its deadline", err)
	}
}

// A ring the server refuses is closed whatever its descriptor's number,
// even 1 (a process may run with its standard output closed).
func TestRefusedRingOnDescriptorOne(t *testing.T) {
	s := listenT(t, Config{Policy: owner})
	fd, err := dialSlot(testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte{protoVersion, kindPlain}); err != nil {
		t.Fatal(err)
	}
	// readable waits up to 5 s for the server's next message or end.
	readable := func() {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, 5000); n != 1 {
			t.Fatalf("the server said nothing: %v", err)
		}
	}
	var answer [answerLen]byte
	oob := make([]byte, unix.CmsgSpace(2*4))
	readable()
	if _, oobn, _, _, err := unix.Recvmsg(fd, answer[:], oob, 0); err != nil {
		t.Fatal(err)
	} else {
		closeAll(rights(oob[:oobn]))
	}
	_, rf, err := makeRing(MinRing)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	var rm [5]byte
	rm[0] = msgRing
	put32(rm[1:], MinRing+1) // not a size the server takes
	saved, err := unix.Dup(1)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(saved)
	unix.Close(1) // the server receives the ring as descriptor 1
	err = unix.Sendmsg(fd, rm[:], unix.UnixRights(int(rf.Fd())), nil, 0)
	// The server ends the connection once it has refused the ring.
	var b [16]byte
	var n int
	var rerr error
	if err == nil {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, rerr = unix.Poll(fds, 5000)
		if rerr == nil {
			n, rerr = unix.Read(fd, b[:])
		}
	}
	_, still := unix.FcntlInt(1, unix.F_GETFD, 0)
	if derr := unix.Dup3(saved, 1, 0); derr != nil {
		t.Fatal(derr)
	}
	if err != nil || n != 0 || rerr != nil {
		t.Fatalf("send the ring: %v; then read %d bytes, %v", err, n, rerr)
	}
	if still == nil {
		t.Fatal("the refused ring's descriptor is still open")
	}
	if st := s.Stats(); st.Records != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A writer waiting for the server's message learns of a connection the
// server reset (it closed with the writer's own message unread): the
// error, not an empty read that would say the server merely closed.
func TestReadMessageReset(t *testing.T) {
	c, fs, err := fakeDial(t, DialConfig{}, answerMsg(verdictAllowed, 0, 424), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	send(c.raw, msgFull) // left unread
	fs.conn.Close()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [16]byte
	if n, err := c.readMessage(b[:]); n != 0 || !errors.Is(err, unix.ECONNRESET) {
		t.Fatalf("readMessage after the server reset the connection = %d, %v; want ECONNRESET", n, err)
	}
}
