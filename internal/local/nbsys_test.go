//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The never-waiting calls move bytes, say EAGAIN when there are none, and
// report a bad descriptor.
func TestNonblockingCalls(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := uintptr(fds[0]), uintptr(fds[1])
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 8)
	if n, err := nbRecv(b, buf, unix.MSG_DONTWAIT); n != 0 || err != unix.EAGAIN {
		t.Fatalf("recv on an empty socket = %d, %v; want EAGAIN", n, err)
	}
	if n, err := nbSend(a, []byte("xy"), unix.MSG_DONTWAIT|msgNoSignal); n != 2 || err != nil {
		t.Fatalf("send = %d, %v", n, err)
	}
	if n, err := nbRecv(b, buf, 0); n != 2 || err != nil || string(buf[:n]) != "xy" {
		t.Fatalf("recv = %d %q, %v; want the 2 bytes sent", n, buf[:n], err)
	}
	if n, err := nbWrite(a, []byte("abc")); n != 3 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	if n, err := nbRead(b, buf); n != 3 || err != nil || string(buf[:n]) != "abc" {
		t.Fatalf("read = %d %q, %v; want the 3 bytes written", n, buf[:n], err)
	}
	if n, err := nbRead(b, buf); n != 0 || err != unix.EAGAIN {
		t.Fatalf("read on an empty socket = %d, %v; want EAGAIN", n, err)
	}
	closed, err := unix.Dup(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(closed)
	for name, call := range map[string]func() (int, error){
		"send":  func() (int, error) { return nbSend(uintptr(closed), []byte("x"), 0) },
		"recv":  func() (int, error) { return nbRecv(uintptr(closed), buf, 0) },
		"read":  func() (int, error) { return nbRead(uintptr(closed), buf) },
		"write": func() (int, error) { return nbWrite(uintptr(closed), []byte("x")) },
	} {
		if n, err := call(); n != 0 || !errors.Is(err, unix.EBADF) {
			t.Fatalf("%s on a closed descriptor = %d, %v; want EBADF", name, n, err)
		}
	}
}

// readMessage waits for a message as the read deadline allows, and says
// when the server has gone.
func TestReadMessage(t *testing.T) {
	s := listenT(t, Config{Policy: owner})
	c := dialT(t, DialConfig{})
	var b [16]byte
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if n, err := c.readMessage(b[:]); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("readMessage with nothing sent = %d, %v; want the deadline's error", n, err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	s.mu.Lock()
	for w := range s.conns {
		send(w.raw, msgSpace)
	}
	s.mu.Unlock()
	if n, err := c.readMessage(b[:]); n != 1 || err != nil || b[0] != msgSpace {
		t.Fatalf("readMessage = %d %q, %v; want the server's message", n, b[:n], err)
	}
	s.Close()
	if n, err := c.readMessage(b[:]); n != 0 || err != nil {
		t.Fatalf("readMessage after the server closed = %d, %v; want 0 bytes", n, err)
	}
}
