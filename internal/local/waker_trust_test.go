//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/asuser"
	"golang.org/x/sys/unix"
)

// wakerHelper plays the roles of the waker tests: "waker-writer" opens
// the slot as a writer, says whether it was handed the slot's waker and
// the server's page, and writes one record.
//
// "serve-fd0-page" and "serve-fd0-waker" serve the slot from a process
// whose descriptor 0 was free (started with its standard input closed),
// so that the server's page, or the slot's waker, is descriptor 0. Any
// user may write.
func wakerHelper(role, key string) (int, bool) {
	fail := func(err error) (int, bool) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2, true
	}
	switch role {
	case "serve-fd0-page", "serve-fd0-waker":
		if role == "serve-fd0-page" {
			unix.Close(0)
			if f := aliveFile(); f == nil || f.Fd() != 0 {
				return fail(fmt.Errorf("the page is not descriptor 0"))
			}
		}
		s, err := Listen(Config{Policy: Policy{Owner: uint32(os.Geteuid()), AnyUser: true}, Key: key, ReadTimeout: -1})
		if err != nil {
			return fail(err)
		}
		defer s.Close()
		if role == "serve-fd0-waker" {
			unix.Close(0)
			s.mu.Lock()
			s.wakerLocked()
			fd := -1
			if s.wk != nil {
				fd = s.wk.wfd()
			}
			s.mu.Unlock()
			if fd != 0 {
				return fail(fmt.Errorf("the waker is descriptor %d, not 0", fd))
			}
		}
		fmt.Println("ready")
		select {}
	case "waker-writer":
	default:
		return 0, false
	}
	c, err := Dial(key, DialConfig{})
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	fmt.Printf("waker %v page %v\n", c.efd >= 0, c.alive != nil)
	if err := c.Write([]byte("from another user"), "", -1); err != nil {
		return fail(err)
	}
	return 0, true
}

// A server hands its waker only to writers of its own user or root: a
// writer of another user, who could make the waker's shared open file
// block and so stall the server, is not given it, and its record still
// reaches a Read that sleeps (it wakes the slot over its connection).
func TestWakerNotHandedToOtherUsers(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: Policy{Owner: uint32(os.Geteuid()), AnyUser: true}, Key: key, ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	own, err := Dial(key, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if own.efd < 0 {
		t.Fatalf("a writer of the server's own user was not handed the waker")
	}
	// The page that says the server lives is handed to every writer
	// (where the transport has one).
	page := aliveFile() != nil
	if (own.alive != nil) != page {
		t.Fatalf("a writer of the server's own user holds the page: %v, want %v", own.alive != nil, page)
	}

	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 100)
		_, n, _, err := s.Read(context.Background(), buf, false)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(buf[:n])
	}()
	writeAsOtherUser(t, key, page)
	select {
	case r := <-got:
		if r != "from another user" {
			t.Fatalf("Read: %q", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the record of a writer without the waker did not reach the sleeping Read")
	}
}

// writeAsOtherUser runs the "waker-writer" helper as nobody on key and
// checks that it was handed no waker, and the server's page if page.
func writeAsOtherUser(t *testing.T, key string, page bool) {
	t.Helper()
	cmd := asuser.Command(t, asuser.Nobody, asuser.Nobody, "waker-writer", key)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := asuser.Start(t, cmd)(); err != nil {
		t.Fatalf("writer as uid %d: %v\n%s", asuser.Nobody, err, errb.String())
	}
	if o, want := strings.TrimSpace(out.String()), fmt.Sprintf("waker false page %v", page); o != want {
		t.Fatalf("writer of another user: %q, want %q", o, want)
	}
}

// A writer uses the waker of a server of its own user or root only: from
// a server of another user it takes none, and writes all the same.
func TestWakerOfOtherUsersServerRefused(t *testing.T) {
	key := testKey(t)
	cmd := asuser.Command(t, asuser.Nobody, asuser.Nobody, "serve", key)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	asuser.Start(t, cmd)
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("server as uid %d said %q", asuser.Nobody, line)
	}
	c, err := Dial(key, DialConfig{TrustAny: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.efd >= 0 {
		t.Fatalf("a writer kept the waker of a server of uid %d", asuser.Nobody)
	}
	if err := c.Write([]byte("to another user's slot"), "", time.Second); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func TestSharesWaker(t *testing.T) {
	self := uint32(os.Geteuid())
	other := uint32(asuser.Nobody)
	if self == other {
		other = 12345
	}
	for _, tc := range []struct {
		uid  uint32
		want bool
	}{{0, true}, {self, true}, {other, false}} {
		if got := sharesWaker(tc.uid); got != tc.want {
			t.Errorf("sharesWaker(%d) = %v, want %v (this process's uid %d)", tc.uid, got, tc.want, self)
		}
	}
}
