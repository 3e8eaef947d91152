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
)

// wakerHelper plays the roles of the waker tests: "waker-writer" opens
// the slot as a writer, says whether it was handed the slot's waker, and
// writes one record.
func wakerHelper(role, key string) (int, bool) {
	if role != "waker-writer" {
		return 0, false
	}
	c, err := Dial(key, DialConfig{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2, true
	}
	defer c.Close()
	fmt.Printf("waker %v\n", c.efd >= 0)
	if err := c.Write([]byte("from another user"), "", -1); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2, true
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

	cmd := asuser.Command(t, asuser.Nobody, asuser.Nobody, "waker-writer", key)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
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
	if err := asuser.Start(t, cmd)(); err != nil {
		t.Fatalf("writer as uid %d: %v\n%s", asuser.Nobody, err, errb.String())
	}
	if o := strings.TrimSpace(out.String()); o != "waker false" {
		t.Fatalf("writer of another user: %q, want %q", o, "waker false")
	}
	select {
	case r := <-got:
		if r != "from another user" {
			t.Fatalf("Read: %q", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the record of a writer without the waker did not reach the sleeping Read")
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
