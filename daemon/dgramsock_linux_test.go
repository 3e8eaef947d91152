package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/testenv"
	"golang.org/x/sys/unix"
)

// loopbackSock is a datagram socket of the daemon on lo, on a port the
// system picks, and that port.
func loopbackSock(t *testing.T) (*dgramSock, int) {
	t.Helper()
	testenv.Root(t) // SO_BINDTODEVICE
	s, err := listenDgram(Iface{Name: "lo"}, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var port int
	if err := sockopt(s, func(fd int) error {
		sa, err := unix.Getsockname(fd)
		if err == nil {
			port = sa.(*unix.SockaddrInet4).Port
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s, port
}

func sendTo(t *testing.T, port int, msgs ...string) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, m := range msgs {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// A receive waiting on an empty socket ends at Close, with net.ErrClosed,
// and nothing of it is left running.
func TestDgramSockCloseEndsReceive(t *testing.T) {
	before := runtime.NumGoroutine()
	s, _ := loopbackSock(t)
	b, err := newDgramBatch(s)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := b.read()
		done <- err
	}()
	// Close once the receive waits in the kernel; a Close before it
	// would end it too, through the closed flag.
	waitInSyscall(t, unix.SYS_RECVMMSG)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("a receive ended by Close returned %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting receive")
	}
	if err := s.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a second Close returned %v", err)
	}
	if _, err := s.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("127.0.0.1:9")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a send after Close returned %v", err)
	}
	testenv.WaitGoroutines(t, before)
}

// waitInSyscall waits until a thread of this process is in system call
// nr (the first field of its /proc/self/task/*/syscall).
func waitInSyscall(t *testing.T, nr int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, task := range tasks {
			b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/syscall")
			if err == nil && strings.HasPrefix(string(b), strconv.Itoa(nr)+" ") {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no thread is in system call %d", nr)
}

// The runtime's poller does not watch the socket: each datagram would
// wake its waiting thread, at the sender's cost. A socket of the
// standard library, which it does watch, shows that the check sees a
// watched one.
func TestDgramSockNotWatchedByPoller(t *testing.T) {
	s, _ := loopbackSock(t)
	var fd int
	sockopt(s, func(f int) error { fd = f; return nil })
	std, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer std.Close()
	var stdFD int
	sockopt(std, func(f int) error { stdFD = f; return nil })
	watched := pollerFDs(t)
	if !watched[stdFD] {
		t.Fatalf("the check does not see the standard library's socket %d among the poller's %v", stdFD, watched)
	}
	if watched[fd] {
		t.Fatalf("the poller watches the daemon's datagram socket %d", fd)
	}
}

// pollerFDs returns the descriptors that the process's epoll instances
// watch (their fdinfo's tfd lines).
func pollerFDs(t *testing.T) map[int]bool {
	t.Helper()
	fds := map[int]bool{}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if target, _ := os.Readlink("/proc/self/fd/" + e.Name()); target != "anon_inode:[eventpoll]" {
			continue
		}
		f, err := os.Open("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var tfd int
			if _, err := fmt.Sscanf(sc.Text(), "tfd: %d", &tfd); err == nil {
				fds[tfd] = true
			}
		}
		f.Close()
	}
	return fds
}

// A receive takes every datagram waiting, in one batch; after a batch of
// floodBatch or more, the next receive first pauses; after a batch of
// one, or a full one, it does not. A receive that finds nothing lets the goroutines
// that the loop readied run before it waits in the kernel, and only
// then.
func TestDgramBatchPausesAfterFlood(t *testing.T) {
	s, port := loopbackSock(t)
	b, err := newDgramBatch(s)
	if err != nil {
		t.Fatal(err)
	}
	var pauses, yields atomic.Int32
	savedSleep, savedYield := floodSleep, yieldBeforeWait
	floodSleep = func() { pauses.Add(1) }
	yieldBeforeWait = func() { yields.Add(1) }
	defer func() { floodSleep, yieldBeforeWait = savedSleep, savedYield }()
	read := func(want int) {
		t.Helper()
		if n, err := b.read(); err != nil || n != want {
			t.Fatalf("read = %d, %v; want %d datagrams", n, err, want)
		}
	}

	c := sendTo(t, port, "one", "two", "three")
	read(3)
	for i, want := range []string{"one", "two", "three"} {
		data, from, cut := b.msg(i)
		if string(data) != want || cut || from.Port() != uint16(c.LocalAddr().(*net.UDPAddr).Port) {
			t.Fatalf("datagram %d = %q from %v (cut %v), want %q from %v", i, data, from, cut, want, c.LocalAddr())
		}
	}
	if pauses.Load() != 0 || yields.Load() != 0 {
		t.Fatalf("a receive with datagrams waiting paused %d times and yielded %d", pauses.Load(), yields.Load())
	}
	c.Write([]byte("four"))
	read(1)
	if pauses.Load() != 1 {
		t.Fatalf("a receive after a batch of 3 paused %d times, want 1", pauses.Load())
	}
	c.Write([]byte("five"))
	read(1)
	if pauses.Load() != 1 || yields.Load() != 0 {
		t.Fatalf("a receive after a batch of 1 paused (%d pauses in all), or yielded %d times", pauses.Load(), yields.Load())
	}
	for i := 0; i < dgramBatchLen+5; i++ {
		c.Write([]byte{byte(i)})
	}
	read(dgramBatchLen)
	read(5)
	if pauses.Load() != 1 {
		t.Fatalf("a receive after a full batch paused (%d pauses in all)", pauses.Load())
	}
	c.Write([]byte("after five"))
	read(1)
	if pauses.Load() != 2 {
		t.Fatalf("a receive after a batch of 5 paused %d times in all, want 2", pauses.Load())
	}
	c.Write([]byte("a"))
	c.Write([]byte("b"))
	read(2)
	c.Write([]byte("after two"))
	read(1)
	if pauses.Load() != 3 {
		t.Fatalf("a receive after a batch of %d paused %d times in all, want 3", floodBatch, pauses.Load())
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		if n, err := b.read(); err != nil || n != 1 {
			t.Errorf("the receive that waited: read = %d, %v", n, err)
		}
	}()
	waitInSyscall(t, unix.SYS_RECVMMSG)
	if yields.Load() != 1 {
		t.Fatalf("a receive waits with the socket empty, and yielded %d times before, want 1", yields.Load())
	}
	c.Write([]byte("six"))
	<-done
	if data, _, _ := b.msg(0); string(data) != "six" {
		t.Fatalf("the receive that waited took %q", data)
	}
}

// The daemon's datagrams leave from the socket's port, to the address
// asked.
func TestDgramSockSendsFromItsPort(t *testing.T) {
	s, port := loopbackSock(t)
	r, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	to := r.LocalAddr().(*net.UDPAddr).AddrPort()
	if n, err := s.WriteToUDPAddrPort([]byte("announce"), to); err != nil || n != 8 {
		t.Fatalf("send = %d, %v", n, err)
	}
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, from, err := r.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "announce" || int(from.Port()) != port {
		t.Fatalf("got %q from %v (%v), want \"announce\" from port %d", buf[:n], from, err, port)
	}
	if _, err := s.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("[::1]:9")); err == nil {
		t.Fatal("a send to an IPv6 address succeeded")
	}
	// The kernel refuses port 0; its error reaches the caller.
	if n, err := s.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("127.0.0.1:0")); !errors.Is(err, unix.EINVAL) || n != 0 {
		t.Fatalf("a send to port 0 returned %d, %v; want EINVAL", n, err)
	}
}
