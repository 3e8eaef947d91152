//go:build linux

package mailslot_test

// Attacks on the local transport by a second local user (Linux only: the
// hand-made attackers make Linux memfds; attack_other_test.go stands in
// elsewhere). The attacker's
// side runs as user nobody (asuser.Nobody) in a copy of this test binary,
// started by asuser.Command with one of the roles attackHelper knows; the
// tests themselves run as root (they fail under CI or MAILSLOT_STRICT=1
// when they cannot change user, and skip otherwise).
//
// Some attackers speak the transport's protocol by hand, with raw system
// calls, to try what the library would never send: a relay hello from a
// user who is not mailslotd, rings the server must not map, connections
// that end at every step of the handshake.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/asuser"
	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/trust"
	"golang.org/x/sys/unix"
)

// The local transport's protocol (internal/local: addr.go for the
// handshake, ring.go for the ring), spelled out as an attacker who speaks
// it by hand would.
const (
	wireVersion   = 2
	wireKindPlain = 0
	wireKindRelay = 1
	wireAnswerLen = 8

	wireVerdictAllowed   = 0
	wireVerdictDenied    = 1
	wireVerdictNotDaemon = 3

	wireRing = 'M'
	wireAck  = 'K'
	wireWake = 'W'

	wireRingHdr = 4096 // header page before the ring's data area
	wireRecHdr  = 16   // u32 length | u32 kind | i64 stamp
)

// keyOf returns the transport key of a local slot name.
func keyOf(name string) string {
	n, err := mailslot.ParseName(name)
	if err != nil {
		panic(err)
	}
	return local.Key(n.Path)
}

// framedRecords are records a plain writer sends that look like a relay's
// framing (an origin length byte, then an origin) or like a sender's
// description. They must arrive byte for byte, from the writer.
var framedRecords = [][]byte{
	[]byte("\x11local pid 1 uid 0hello"),
	[]byte("\x17\\\\ROOTPC <10.0.0.1:138>payload"),
	[]byte("local pid 1 uid 0"),
	{0},
	{0xff, 'x'},
	{},
}

// attackHelper runs the attacker's side of a role; ok is false for a role
// it does not know. arg is the slot's name.
func attackHelper(role, arg string) (code int, ok bool) {
	fail := func(err error) (int, bool) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2, true
	}
	switch role {
	case "raw-relay":
		if err := rawRelay(keyOf(arg)); err != nil {
			return fail(err)
		}
		return 0, true
	case "bad-ring":
		if err := badRings(keyOf(arg)); err != nil {
			return fail(err)
		}
		return 0, true
	case "flood":
		if err := flood(keyOf(arg)); err != nil {
			return fail(err)
		}
		return 0, true
	case "squat": // serve arg; once stdin ends, print what came
		s, err := mailslot.Create(arg, mailslot.WithReadTimeout(0))
		if err != nil {
			return fail(err)
		}
		defer s.Close()
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		n := 0
		for {
			m, err := s.ReadMessage(context.Background())
			if errors.Is(err, mailslot.ErrTimeout) {
				break
			}
			if err != nil {
				return fail(err)
			}
			fmt.Printf("got %q from %s\n", m.Data, m.From)
			n++
		}
		fmt.Printf("count %d\n", n)
		return 0, true
	case "dial-relay": // relay into arg through the library, as mailslotd does
		c, err := local.Dial(keyOf(arg), local.DialConfig{Relay: true})
		if err != nil {
			fmt.Println("error:", err)
			if errors.Is(err, mailslot.ErrPermission) {
				return 13, true
			}
			return 1, true
		}
		defer c.Close()
		if err := c.Write([]byte("relayed by nobody"), "local pid 1 uid 0", -1); err != nil {
			return fail(err)
		}
		fmt.Println("wrote a relayed record")
		return 0, true
	case "open-refused": // open arg MAILSLOT_TEST_COUNT times; tally the errors
		n, _ := strconv.Atoi(os.Getenv("MAILSLOT_TEST_COUNT"))
		tally := map[string]int{}
		var firstOther error
		for i := 0; i < n; i++ {
			c, err := mailslot.Open(arg)
			switch {
			case err == nil:
				c.Close()
				tally["opened"]++
			case errors.Is(err, mailslot.ErrPermission):
				tally["permission"]++
			default:
				tally["other"]++
				if firstOther == nil {
					firstOther = err
				}
			}
		}
		fmt.Printf("permission=%d other=%d opened=%d\n", tally["permission"], tally["other"], tally["opened"])
		if firstOther != nil {
			fmt.Println("first other error:", firstOther)
		}
		return 0, true
	case "write-framed": // write framedRecords; try an origin on a plain connection
		c, err := mailslot.Open(arg)
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		for _, r := range framedRecords {
			if _, err := c.Write(r); err != nil {
				return fail(err)
			}
		}
		pc, err := local.Dial(keyOf(arg), local.DialConfig{})
		if err != nil {
			return fail(err)
		}
		defer pc.Close()
		if err := pc.Write([]byte("with an origin"), `\\ROOTPC <10.0.0.1:138>`, -1); err != nil {
			fmt.Println("origin refused:", err)
		} else {
			fmt.Println("origin accepted")
		}
		return 0, true
	}
	return 0, false
}

// rawConn is a connection to a slot made with system calls only.
type rawConn int

// rawDial connects to the slot's socket. Reads wait at most 20 seconds,
// so that a server that keeps a refused connection open shows as
// "timeout" rather than hanging the test.
func rawDial(key string) (rawConn, error) {
	fd, err := unix.Socket(unix.AF_UNIX, local.SockType|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	tv := unix.Timeval{Sec: 20}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: local.Addr(key)})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return rawConn(fd), nil
}

func (c rawConn) close() { unix.Close(int(c)) }

func (c rawConn) send(b []byte) error {
	_, err := unix.SendmsgN(int(c), b, nil, nil, unix.MSG_NOSIGNAL)
	return err
}

// recv reads one message: "closed" when the server has ended the
// connection, "timeout", or the bytes. A server that closes a connection
// with messages of ours unread makes the kernel report ECONNRESET before
// the messages the server sent first; those are still read.
func (c rawConn) recv() ([]byte, string) {
	var b [64]byte
	reset := false
	for {
		n, err := unix.Read(int(c), b[:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECONNRESET && !reset:
			reset = true
			continue
		case err == unix.EAGAIN:
			return nil, "timeout"
		case err == unix.ECONNRESET || err == unix.EPIPE || (err == nil && n == 0):
			return nil, "closed"
		case err != nil:
			return nil, err.Error()
		}
		return b[:n], ""
	}
}

// answer describes the server's reply to a hello: "none" when it closed
// without one.
func (c rawConn) answer() (desc string, max int) {
	b, what := c.recv()
	switch {
	case what == "closed":
		return "none", 0
	case what != "":
		return what, 0
	case len(b) == wireAnswerLen && b[0] == wireVersion:
		return fmt.Sprintf("verdict%d", b[1]), int(binary.LittleEndian.Uint32(b[4:]))
	}
	return fmt.Sprintf("bytes=%x", b), 0
}

// then describes what the server does after the attacker's last message:
// "ack" when it took a ring, "closed" when it ended the connection.
func (c rawConn) then() string {
	b, what := c.recv()
	switch {
	case what != "":
		return what
	case len(b) == 1 && b[0] == wireAck:
		return "ack"
	}
	return fmt.Sprintf("bytes=%x", b)
}

// sendRing sends a ring message with these descriptors.
func (c rawConn) sendRing(tag byte, size uint32, fds ...int) error {
	var m [5]byte
	m[0] = tag
	binary.LittleEndian.PutUint32(m[1:], size)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(int(c), m[:], oob, nil, unix.MSG_NOSIGNAL)
}

// goodRingSize is the smallest data area the server takes for records of
// up to max bytes of payload (plus a relay's framing).
func goodRingSize(max int) int {
	need := 2 * ((wireRecHdr + 1 + 255 + max + 7) &^ 7)
	n := 4096
	for n < need {
		n <<= 1
	}
	return n
}

// memRing is a ring the attacker made: a memfd and its mapping.
type memRing struct {
	fd  int
	mem []byte
}

// newMemRing makes a memfd of fileSize bytes with the given seals, maps
// it and, when it holds a data area, publishes one record holding body at
// the start of it: if the server ever takes this ring, the record shows.
func newMemRing(fileSize int, seals int, body []byte) (*memRing, error) {
	fd, err := unix.MemfdCreate("attacker-ring", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	if err := unix.Ftruncate(fd, int64(fileSize)); err != nil {
		unix.Close(fd)
		return nil, err
	}
	mem, err := unix.Mmap(fd, 0, fileSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	r := &memRing{fd: fd, mem: mem}
	if body != nil && fileSize >= wireRingHdr+wireRecHdr+len(body) {
		r.publish(0, body, monotonic())
	}
	if seals != 0 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
			r.close()
			return nil, err
		}
	}
	return r, nil
}

// publish writes a record at byte tail of the data area and publishes
// the tail behind it; it returns that tail.
func (r *memRing) publish(tail uint64, body []byte, stamp int64) uint64 {
	d := r.mem[wireRingHdr:]
	pos := tail & uint64(len(d)-1)
	binary.LittleEndian.PutUint32(d[pos:], uint32(len(body)))
	binary.LittleEndian.PutUint32(d[pos+4:], 0) // a record
	binary.LittleEndian.PutUint64(d[pos+8:], uint64(stamp))
	copy(d[pos+wireRecHdr:], body)
	tail += uint64((wireRecHdr + len(body) + 7) &^ 7)
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&r.mem[0])), tail)
	return tail
}

func (r *memRing) close() {
	unix.Munmap(r.mem)
	unix.Close(r.fd)
}

func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// rawRelay tries to relay records as a user that is not mailslotd: a
// relay's records carry an origin, which the slot shows instead of the
// writer's pid and uid, so a relay could pass its records off as anyone's.
// Each case prints "case=NAME answer=... then=...".
func rawRelay(key string) error {
	forged := append([]byte{17}, "local pid 1 uid 0forged by relay"...)
	try := func(name string, version, kind byte, pipelined bool) error {
		c, err := rawDial(key)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer c.close()
		_ = c.send([]byte{version, kind}) // the answer below says what came of it
		size := goodRingSize(local.MaxRecord)
		ring, err := newMemRing(wireRingHdr+size, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL, forged)
		if err != nil {
			return err
		}
		defer ring.close()
		var ans string
		if pipelined {
			// The ring right behind the hello, before any verdict.
			_ = c.sendRing(wireRing, uint32(size), ring.fd)
			ans, _ = c.answer()
		} else {
			ans, _ = c.answer()
			_ = c.sendRing(wireRing, uint32(size), ring.fd)
		}
		then := c.then()
		if then == "ack" {
			_ = c.send([]byte{wireWake})
		}
		fmt.Printf("case=%s answer=%s then=%s\n", name, ans, then)
		return nil
	}
	for _, tc := range []struct {
		name          string
		version, kind byte
		pipelined     bool
	}{
		{"relay", wireVersion, wireKindRelay, false},
		{"relay-pipelined", wireVersion, wireKindRelay, true},
		{"kind-2", wireVersion, 2, false},
		{"kind-255", wireVersion, 255, false},
		{"version-1-relay", 1, wireKindRelay, false},
	} {
		if err := try(tc.name, tc.version, tc.kind, tc.pipelined); err != nil {
			return err
		}
	}
	return nil
}

// badRings hands the server rings it must refuse, each holding a record
// "forged NAME" ready to be read, then, as a control, a proper ring with
// one record "control". Each case prints "case=NAME then=...".
//
// A ring the writer can shrink (not sealed) would let it truncate the
// memfd under the server's mapping, so that the server's next read of it
// faults (SIGBUS) and the serving process dies; one smaller than announced
// faults the same way; one too small for the largest record could never
// take it.
func badRings(key string) error {
	sealed := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	type ringCase struct {
		name     string
		tag      byte
		announce func(good int) int
		files    func(good int) ([]int, func(), error)
	}
	memfds := func(sizes []int, seals int, name string) ([]int, func(), error) {
		var fds []int
		var rings []*memRing
		done := func() {
			for _, r := range rings {
				r.close()
			}
		}
		for _, n := range sizes {
			r, err := newMemRing(n, seals, []byte("forged "+name))
			if err != nil {
				done()
				return nil, nil, err
			}
			rings = append(rings, r)
			fds = append(fds, r.fd)
		}
		return fds, done, nil
	}
	same := func(good int) int { return good }
	cases := []ringCase{
		{"unsealed", wireRing, same, func(g int) ([]int, func(), error) {
			return memfds([]int{wireRingHdr + g}, 0, "unsealed")
		}},
		{"shrinkable", wireRing, same, func(g int) ([]int, func(), error) {
			return memfds([]int{wireRingHdr + g}, unix.F_SEAL_GROW|unix.F_SEAL_SEAL, "shrinkable")
		}},
		{"growable", wireRing, same, func(g int) ([]int, func(), error) {
			return memfds([]int{wireRingHdr + g}, unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL, "growable")
		}},
		{"smaller-than-announced", wireRing, same, func(g int) ([]int, func(), error) {
			return memfds([]int{wireRingHdr + 4096}, sealed, "smaller-than-announced")
		}},
		{"larger-than-announced", wireRing, same, func(g int) ([]int, func(), error) {
			return memfds([]int{wireRingHdr + 2*g}, sealed, "larger-than-announced")
		}},
		{"too-small-for-a-record", wireRing, func(int) int { return 4096 }, func(g int) ([]int, func(), error) {
			return memfds([]int{wireRingHdr + 4096}, sealed, "too-small-for-a-record")
		}},
		{"not-a-power-of-two", wireRing, func(g int) int { return g + 4096 }, func(g int) ([]int, func(), error) {
			return memfds([]int{wireRingHdr + g + 4096}, sealed, "not-a-power-of-two")
		}},
		{"two-rings", wireRing, same, func(g int) ([]int, func(), error) {
			return memfds([]int{wireRingHdr + g, wireRingHdr + g}, sealed, "two-rings")
		}},
		{"no-ring", wireRing, same, func(g int) ([]int, func(), error) {
			return nil, func() {}, nil
		}},
		{"wrong-tag", 'X', same, func(g int) ([]int, func(), error) {
			return memfds([]int{wireRingHdr + g}, sealed, "wrong-tag")
		}},
		{"pipe", wireRing, same, func(g int) ([]int, func(), error) {
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				return nil, nil, err
			}
			return p[:1], func() { unix.Close(p[0]); unix.Close(p[1]) }, nil
		}},
	}
	for _, rc := range cases {
		c, err := rawDial(key)
		if err != nil {
			return fmt.Errorf("%s: %w", rc.name, err)
		}
		if err := c.send([]byte{wireVersion, wireKindPlain}); err != nil {
			c.close()
			return fmt.Errorf("%s: hello: %w", rc.name, err)
		}
		ans, max := c.answer()
		if ans != fmt.Sprintf("verdict%d", wireVerdictAllowed) {
			c.close()
			fmt.Printf("case=%s answer=%s\n", rc.name, ans)
			continue
		}
		good := goodRingSize(max)
		fds, done, err := rc.files(good)
		if err != nil {
			c.close()
			return fmt.Errorf("%s: %w", rc.name, err)
		}
		_ = c.sendRing(rc.tag, uint32(rc.announce(good)), fds...)
		then := c.then()
		if then == "ack" {
			_ = c.send([]byte{wireWake})
		}
		fmt.Printf("case=%s then=%s\n", rc.name, then)
		done()
		c.close()
	}

	// The control: the same steps with a proper ring are accepted, so the
	// refusals above are the server's checks, not a mistake of ours.
	c, err := rawDial(key)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.send([]byte{wireVersion, wireKindPlain}); err != nil {
		return err
	}
	ans, max := c.answer()
	if ans != fmt.Sprintf("verdict%d", wireVerdictAllowed) {
		fmt.Printf("case=control answer=%s\n", ans)
		return nil
	}
	good := goodRingSize(max)
	ring, err := newMemRing(wireRingHdr+good, sealed, nil)
	if err != nil {
		return err
	}
	defer ring.close()
	if err := c.sendRing(wireRing, uint32(good), ring.fd); err != nil {
		return err
	}
	then := c.then()
	if then == "ack" {
		ring.publish(0, []byte("control"), monotonic())
		_ = c.send([]byte{wireWake})
	}
	fmt.Printf("case=control then=%s\n", then)
	return nil
}

// flood connects to the slot over and over until its stdin ends: some
// connections close at once, some after a hello, some after reading the
// verdict. It prints "ready" after its first verdict, then, at the end,
// "connects=N denied=D other=O" (the verdicts it read).
func flood(key string) error {
	var stop atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	var connects, denied, other int
	ready := false
	for i := 0; !stop.Load() || !ready; i++ {
		c, err := rawDial(key)
		if err != nil {
			return fmt.Errorf("connect %d: %w", i, err)
		}
		connects++
		switch i % 3 {
		case 0: // hello, then wait for the verdict
			_ = c.send([]byte{wireVersion, wireKindPlain})
			ans, _ := c.answer()
			if ans == fmt.Sprintf("verdict%d", wireVerdictDenied) {
				denied++
			} else {
				other++
			}
			if !ready {
				ready = true
				fmt.Println("ready")
			}
		case 1: // hello, then leave
			_ = c.send([]byte{wireVersion, wireKindPlain})
		case 2: // leave at once
		}
		c.close()
	}
	fmt.Printf("connects=%d denied=%d other=%d\n", connects, denied, other)
	return nil
}

// runNobody runs role as user nobody to its end and returns its output
// (stdout, then stderr), its pid, and its exit error.
func runNobody(t *testing.T, role, arg string, env ...string) (out string, pid int, err error) {
	t.Helper()
	cmd := asuser.Command(t, asuser.Nobody, asuser.Nobody, role, arg)
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if cmd.Process != nil {
		pid = cmd.Process.Pid
	}
	return string(stdout) + stderr.String(), pid, err
}

// cases parses the "case=NAME rest" lines of a helper's output.
func cases(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if name, rest, ok := strings.Cut(strings.TrimPrefix(line, "case="), " "); ok && strings.HasPrefix(line, "case=") {
			m[name] = rest
		}
	}
	return m
}

// nobodyProc is a helper running as nobody that the test talks to while
// it runs: it reads the helper's lines and ends its stdin.
type nobodyProc struct {
	cmd    *exec.Cmd
	pid    int
	out    *os.File
	lines  *bufio.Reader
	stdin  io.WriteCloser
	wait   func() error
	stderr *bytes.Buffer
}

func startNobody(t *testing.T, role, arg string) *nobodyProc {
	t.Helper()
	cmd := asuser.Command(t, asuser.Nobody, asuser.Nobody, role, arg)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd.Stdout = w
	p := &nobodyProc{cmd: cmd, out: r, lines: bufio.NewReader(r), stdin: stdin, stderr: new(bytes.Buffer)}
	cmd.Stderr = p.stderr
	p.wait = asuser.Start(t, cmd)
	w.Close()
	p.pid = cmd.Process.Pid
	return p
}

// line returns the helper's next line, failing the test if none comes
// within a minute (a helper that hangs).
func (p *nobodyProc) line(t *testing.T) string {
	t.Helper()
	_ = p.out.SetReadDeadline(time.Now().Add(time.Minute))
	s, err := p.lines.ReadString('\n')
	if err != nil {
		_ = p.wait()
		t.Fatalf("helper %s: read its output: %v (said %q; stderr %q)", p.cmd.Args, err, s, p.stderr.String())
	}
	return strings.TrimSuffix(s, "\n")
}

// finish ends the helper's stdin and returns the rest of its output once
// it has exited successfully.
func (p *nobodyProc) finish(t *testing.T) string {
	t.Helper()
	p.stdin.Close()
	_ = p.out.SetReadDeadline(time.Now().Add(time.Minute))
	rest, err := io.ReadAll(p.lines)
	werr := p.wait()
	if err != nil || werr != nil {
		t.Fatalf("helper %s: %v, %v (said %q; stderr %q)", p.cmd.Args, err, werr, rest, p.stderr.String())
	}
	return string(rest)
}

// drain reads every record waiting in a slot whose read timeout is 0.
func drain(t *testing.T, s *mailslot.Slot) []mailslot.Message {
	t.Helper()
	var got []mailslot.Message
	for {
		m, err := s.ReadMessage(context.Background())
		if errors.Is(err, mailslot.ErrTimeout) {
			return got
		}
		if err != nil {
			t.Fatalf("after %d records: %v", len(got), err)
		}
		got = append(got, m)
	}
}

func localFrom(pid, uid int) string { return fmt.Sprintf("local pid %d uid %d", pid, uid) }

// Root writes to a slot every user may write to, and leaves; then nobody
// writes, through the library and by hand. Every record shows who really
// wrote it: the slot learns the writer's pid and uid from the kernel when
// it connects, and nothing the writer sends can change them. By hand,
// nobody tries to relay (a relay's records show the origin it names, so
// a relay could claim to be root) and to hand the server rings it must not
// map; every attempt is refused without a record, and the slot goes on
// serving other writers.
func TestIdentityCannotBeTakenOver(t *testing.T) {
	t.Setenv(trust.DaemonUserEnv, "")
	name := uniq(t)
	// Every user may write, and the slot takes network records: relays
	// are welcome, from mailslotd.
	s := mustCreate(t, name, mailslot.WithAnyUser(), mailslot.WithNetwork(), mailslot.WithReadTimeout(0))
	me := os.Getpid()

	c := mustOpen(t, name)
	for i := 0; i < 3; i++ {
		if _, err := c.Write([]byte(fmt.Sprintf("root-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()

	out, writer, err := runNobody(t, "write", name, "MAILSLOT_TEST_COUNT=3")
	if err != nil {
		t.Fatalf("nobody's writer: %v: %s", err, out)
	}

	out, _, err = runNobody(t, "raw-relay", name)
	if err != nil {
		t.Fatalf("nobody's hand-made relay: %v: %s", err, out)
	}
	notDaemon := fmt.Sprintf("answer=verdict%d then=closed", wireVerdictNotDaemon)
	got := cases(out)
	for c, want := range map[string]string{
		"relay":           notDaemon,
		"relay-pipelined": notDaemon,
		"kind-2":          "answer=none then=closed",
		"kind-255":        "answer=none then=closed",
		"version-1-relay": "answer=none then=closed",
	} {
		if got[c] != want {
			t.Errorf("nobody's relay, case %s: %q, want %q (output %q)", c, got[c], want, out)
		}
	}
	relayHellos := uint64(2)

	// The hand-made rings are memfds, sealed or not: the Linux
	// transport's. The portable transport's rings are files of its
	// socket directory, which cannot be sealed; its own attacker tests
	// (internal/local, portable_test.go) hand it rings cut short, of
	// another file system, of the wrong size or kind.
	ringWriter := -1
	if !local.Portable {
		out, ringWriter, err = runNobody(t, "bad-ring", name)
		if err != nil {
			t.Fatalf("nobody's bad rings: %v: %s", err, out)
		}
		got = cases(out)
		for _, c := range []string{"unsealed", "shrinkable", "growable", "smaller-than-announced", "larger-than-announced", "too-small-for-a-record", "not-a-power-of-two", "two-rings", "no-ring", "wrong-tag", "pipe"} {
			if got[c] != "then=closed" {
				t.Errorf("ring %s: the server answered %q, want the connection closed (output %q)", c, got[c], out)
			}
		}
		if got["control"] != "then=ack" {
			t.Fatalf("the control ring was not taken: %q (output %q)", got["control"], out)
		}
	}

	// The slot still serves: root writes again.
	c2 := mustOpen(t, name)
	if _, err := c2.Write([]byte("root-after")); err != nil {
		t.Fatal(err)
	}
	c2.Close()

	want := []mailslot.Message{
		{Data: []byte("root-0"), From: localFrom(me, 0)},
		{Data: []byte("root-1"), From: localFrom(me, 0)},
		{Data: []byte("root-2"), From: localFrom(me, 0)},
		{Data: []byte(fmt.Sprintf("w%d-0", writer)), From: localFrom(writer, asuser.Nobody)},
		{Data: []byte(fmt.Sprintf("w%d-1", writer)), From: localFrom(writer, asuser.Nobody)},
		{Data: []byte(fmt.Sprintf("w%d-2", writer)), From: localFrom(writer, asuser.Nobody)},
		{Data: []byte("control"), From: localFrom(ringWriter, asuser.Nobody)},
		{Data: []byte("root-after"), From: localFrom(me, 0)},
	}
	if local.Portable {
		want = append(want[:6], want[7]) // no hand-made rings, no control
	}
	msgs := drain(t, s)
	for i := 0; i < max(len(msgs), len(want)); i++ {
		var g, w mailslot.Message
		if i < len(msgs) {
			g = msgs[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !bytes.Equal(g.Data, w.Data) || g.From != w.From {
			t.Errorf("record %d: %q from %q, want %q from %q", i, g.Data, g.From, w.Data, w.From)
		}
	}
	if st := s.Stats(); st.Refused != relayHellos || st.Malformed != 0 {
		t.Errorf("Stats = %+v, want %d refused (the relay hellos) and nothing malformed", st, relayHellos)
	}
}

// A user the slot's policy refuses is told so: every Open fails with
// ErrPermission, never with another error that would hide the refusal
// (ErrNotFound would send the user looking for a server that is there).
// The server refuses such a user as soon as it connects, before reading
// its hello, so each Open races the server's close.
func TestRefusedWriterIsToldPermission(t *testing.T) {
	name := uniq(t)
	s := mustCreate(t, name)
	const n = 200
	out, _, err := runNobody(t, "open-refused", name, "MAILSLOT_TEST_COUNT="+strconv.Itoa(n))
	if err != nil {
		t.Fatalf("nobody's opens: %v: %s", err, out)
	}
	if want := fmt.Sprintf("permission=%d other=0 opened=0\n", n); out != want {
		t.Errorf("%d opens by a refused user: %q, want %q", n, out, want)
	}
	if st := s.Stats(); st.Refused != n || st.Records != 0 {
		t.Errorf("Stats = %+v; want %d refused", st, n)
	}
}

// Relays put records into a slot whatever its policy, with whatever
// origin they like, so only mailslotd (a daemon user: root, or
// MAILSLOT_DAEMON_USER) may relay, and only into slots created
// WithNetwork. Nobody is refused even where every user may write and the
// network may deliver; root is refused where the slot takes no network
// records; where it does, root's relayed records show their origin.
func TestRelaysOnlyFromDaemonUsersIntoNetworkSlots(t *testing.T) {
	t.Setenv(trust.DaemonUserEnv, "")
	net := uniq(t) + `\net`
	sNet := mustCreate(t, net, mailslot.WithAnyUser(), mailslot.WithNetwork(), mailslot.WithReadTimeout(0))

	out, _, err := runNobody(t, "dial-relay", net)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 13 || !strings.Contains(out, "only mailslotd may relay") {
		t.Errorf("nobody relays into a network slot every user may write to: %v: %q; want a permission error (only mailslotd relays)", err, out)
	}
	if st := sNet.Stats(); st.Refused != 1 || st.Records != 0 {
		t.Errorf("after nobody's relay, Stats = %+v; want 1 refused, no records", st)
	}
	if msgs := drain(t, sNet); len(msgs) != 0 {
		t.Errorf("nobody's relay delivered %d records: first %q from %q", len(msgs), msgs[0].Data, msgs[0].From)
	}

	plain := uniq(t) + `\plain`
	sPlain := mustCreate(t, plain, mailslot.WithAnyUser(), mailslot.WithReadTimeout(0))
	before := sPlain.Stats().Refused
	rc, err := local.Dial(keyOf(plain), local.DialConfig{Relay: true})
	if err == nil {
		rc.Write([]byte("relayed"), `\\FARPC <192.0.2.7:138>`, -1)
		rc.Close()
	}
	if !errors.Is(err, mailslot.ErrPermission) || !errors.Is(err, fs.ErrPermission) || !strings.Contains(fmt.Sprint(err), "does not take records from the network") {
		t.Errorf("root relays into a slot created without WithNetwork: %v; want a permission error", err)
	}
	if after := sPlain.Stats().Refused; after != before+1 {
		t.Errorf("Refused went from %d to %d on a refused relay, want +1", before, after)
	}
	if msgs := drain(t, sPlain); len(msgs) != 0 {
		t.Errorf("a relay delivered %d records into a slot without WithNetwork: first %q from %q", len(msgs), msgs[0].Data, msgs[0].From)
	}

	rc, err = local.Dial(keyOf(net), local.DialConfig{Relay: true})
	if err != nil {
		t.Fatalf("root relays into a network slot: %v", err)
	}
	defer rc.Close()
	const origin = `\\FARPC <192.0.2.7:138>`
	if err := rc.Write([]byte("from afar"), origin, -1); err != nil {
		t.Fatal(err)
	}
	msgs := drain(t, sNet)
	if len(msgs) != 1 || string(msgs[0].Data) != "from afar" || msgs[0].From != origin {
		t.Fatalf("relayed records: %+v; want one, \"from afar\" from %q", msgs, origin)
	}
}

// Nobody takes the name of root's slot first. Root's Open refuses the
// squatter, naming its uid and pid, and no record reaches it; only a
// client told to trust that user (WithServerUsers) or any server
// (WithAnyServer) writes to it.
func TestSquatterGetsNothing(t *testing.T) {
	name := uniq(t) + `\secrets`
	sq := startNobody(t, "squat", name)
	if l := sq.line(t); l != "ready" {
		t.Fatalf("the squatter said %q", l)
	}
	if _, err := mailslot.Create(name); !errors.Is(err, mailslot.ErrAlreadyExists) {
		t.Errorf("Create of the squatted name: %v, want ErrAlreadyExists", err)
	}

	for _, opts := range [][]mailslot.Option{nil, {mailslot.WithServerUsers(12345)}} {
		c, err := mailslot.Open(name, opts...)
		if err == nil {
			c.Write([]byte("the secret"))
			c.Close()
		}
		if !errors.Is(err, mailslot.ErrPermission) || !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Open(%d options) of a name nobody serves: %v, want ErrPermission", len(opts), err)
			continue
		}
		for _, s := range []string{"uid 65534", fmt.Sprintf("pid %d", sq.pid), name} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Open's error %q does not say %q", err, s)
			}
		}
	}

	for i, opt := range []mailslot.Option{mailslot.WithServerUsers(asuser.Nobody), mailslot.WithAnyServer()} {
		c, err := mailslot.Open(name, opt)
		if err != nil {
			t.Fatalf("Open with trust option %d: %v", i, err)
		}
		if _, err := c.Write([]byte(fmt.Sprintf("knowingly %d", i))); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}

	rest := sq.finish(t)
	me := os.Getpid()
	want := fmt.Sprintf("got \"knowingly 0\" from %s\ngot \"knowingly 1\" from %s\ncount 2\n", localFrom(me, 0), localFrom(me, 0))
	if rest != want {
		t.Fatalf("the squatter read:\n%s\nwant:\n%s", rest, want)
	}
}

// Nobody, allowed to write, tries to pass its records off as someone
// else's: a plain writer's bytes that look like a relay's framing or like
// a sender stay its data, the library has no way to attach an origin to a
// plain connection, and a relay connection is refused (see
// TestRelaysOnlyFromDaemonUsersIntoNetworkSlots). Every record shows
// nobody's real pid.
func TestForgedSenders(t *testing.T) {
	t.Setenv(trust.DaemonUserEnv, "")
	name := uniq(t)
	s := mustCreate(t, name, mailslot.WithAnyUser(), mailslot.WithNetwork(), mailslot.WithReadTimeout(0))
	out, pid, err := runNobody(t, "write-framed", name)
	if err != nil {
		t.Fatalf("nobody's writer: %v: %s", err, out)
	}
	if !strings.Contains(out, "origin refused") {
		t.Errorf("a plain connection took an origin: %q", out)
	}
	msgs := drain(t, s)
	if len(msgs) != len(framedRecords) {
		t.Errorf("%d records arrived, want %d", len(msgs), len(framedRecords))
	}
	for i, m := range msgs {
		if i < len(framedRecords) && !bytes.Equal(m.Data, framedRecords[i]) {
			t.Errorf("record %d = %q, want %q", i, m.Data, framedRecords[i])
		}
		if m.From != localFrom(pid, asuser.Nobody) {
			t.Errorf("record %d (%q) is from %q, want %q", i, m.Data, m.From, localFrom(pid, asuser.Nobody))
		}
	}
	if st := s.Stats(); st.Malformed != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// Nobody floods a slot that only root may write to with connections:
// closed at once, closed after a hello, closed after the verdict. Each
// costs the flooder a connection and the server one refusal; meanwhile a
// root writer, which connects during the flood, has every record of a
// long run arrive in order and intact.
func TestJunkConnectionsDoNotDisturbWriters(t *testing.T) {
	name := uniq(t)
	s := mustCreate(t, name)
	fl := startNobody(t, "flood", name)
	if l := fl.line(t); l != "ready" {
		t.Fatalf("the flooder said %q", l)
	}
	c := mustOpen(t, name, mailslot.WithWriteTimeout(mailslot.WaitForever))

	// At least n records, and on until the server has refused many junk
	// connections meanwhile; then an empty record ends the run.
	const n, junk, most = 50000, 1000, 5000000
	record := func(i int) []byte {
		b := make([]byte, 8+i%200)
		binary.LittleEndian.PutUint64(b, uint64(i))
		for j := 8; j < len(b); j++ {
			b[j] = byte(i + j)
		}
		return b
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var readErr error
	read := 0
	go func() {
		defer wg.Done()
		buf := make([]byte, 1024)
		for ; ; read++ {
			k, err := s.Read(buf)
			if err != nil {
				readErr = fmt.Errorf("record %d: %v", read, err)
				return
			}
			if k == 0 {
				return
			}
			if !bytes.Equal(buf[:k], record(read)) {
				readErr = fmt.Errorf("record %d = %x, want %x", read, buf[:k], record(read))
				return
			}
		}
	}()
	written := 0
	for ; written < n || (written < most && (written%1000 != 0 || s.Stats().Refused < junk)); written++ {
		if _, err := c.Write(record(written)); err != nil {
			t.Fatalf("write %d: %v", written, err)
		}
	}
	if _, err := c.Write(nil); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	if read != written {
		t.Fatalf("wrote %d records, read %d", written, read)
	}

	tally := fl.finish(t)
	var connects, denied, other uint64
	if _, err := fmt.Sscanf(tally, "connects=%d denied=%d other=%d", &connects, &denied, &other); err != nil {
		t.Fatalf("the flooder said %q: %v", tally, err)
	}
	t.Logf("during %d records: %d junk connections, %d verdicts read", written, connects, denied+other)
	if denied == 0 || other != 0 {
		t.Errorf("the flooder read %d denials and %d other answers; want only denials", denied, other)
	}
	// Every connection is refused, once the server has got to it.
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().Refused < connects && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := s.Stats(); st.Refused != connects || st.Records != uint64(written)+1 || st.Malformed != 0 {
		t.Errorf("Stats = %+v; want %d refused (one per connection), %d records", st, connects, written+1)
	}
}
