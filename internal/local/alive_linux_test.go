//go:build linux && !mailslot_portable

// The Linux transport only: the page that says the server lives is a
// robust futex in a memfd, which macOS and the BSDs do not have. The
// portable transport's writers ask their connection instead
// (TestPortableServerDeathSeenAtNextWrite).

package local

import (
	"errors"
	"syscall"
	"testing"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/unix"
)

// When the serving process is killed, the kernel marks its page before
// it has closed its sockets: by the time the process has been waited
// for, a writer sees the mark without waiting for any goroutine of its
// own, and its next Write fails.
func TestServerDeathIsSeenAtOnce(t *testing.T) {
	key := testKey(t)
	cmd := startServer(t, key)
	c, err := Dial(key, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.alive == nil {
		t.Fatal("the server sent no page that says it lives")
	}
	if ownerDied(c.alive) {
		t.Fatal("a live server's page says it died")
	}
	if err := c.Write([]byte("before"), "", -1); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if !ownerDied(c.alive) {
		t.Fatal("the killed server's page does not say so")
	}
	if err := c.Write([]byte("after"), "", -1); !errors.Is(err, errs.NotFound) {
		t.Fatalf("write after the server was killed = %v, want NotFound", err)
	}
}

// A slot handed to another process outlives the process whose page its
// writers hold: when that process ends, writers ask their connection, and
// go on writing to the new holder.
func TestHandedOverSlotOutlivesThePage(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := Dial(key, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// As if the page's process had ended: a page whose word says so.
	dead := make([]byte, aliveSize)
	dead[aliveWord+3] = futexOwnerDied >> 24
	c.mu.Lock()
	c.alive = dead
	c.mu.Unlock()
	if err := c.Write([]byte("still here"), "", -1); err != nil {
		t.Fatalf("write with the page marked but the connection open: %v", err)
	}
	if !c.asking {
		t.Fatal("the writer does not ask its connection after the page was marked")
	}
	c.mu.Lock()
	c.alive = nil // not a mapping: Close must not unmap it
	c.mu.Unlock()
	data, _ := read(t, s)
	if string(data) != "still here" {
		t.Fatalf("read %q", data)
	}
}

// A writer maps a server's page only if the server cannot cut it short:
// a page that is no memfd sealed against shrinking is refused (the writer
// then asks its connection), since a load from a mapping past the end of
// its file would kill the writer with SIGBUS. The server's own page is
// taken.
func TestMapAliveNeedsShrinkSeal(t *testing.T) {
	page := func(seals int) int { return testAlive(t, seals) }
	for _, tc := range []struct {
		name  string
		seals int
		want  bool
	}{
		{"unsealed", 0, false},
		{"sealed against growing only", unix.F_SEAL_GROW, false},
		{"sealed against shrinking", unix.F_SEAL_SHRINK, true},
	} {
		fd := page(tc.seals)
		mem := mapAlive(fd)
		if (mem != nil) != tc.want {
			t.Errorf("%s: mapped %v, want %v", tc.name, mem != nil, tc.want)
		}
		if mem != nil {
			unix.Munmap(mem)
		}
	}

	// An unsealed page the server cuts short after the fact: refused, so
	// the writer never touches it.
	fd := page(0)
	if mem := mapAlive(fd); mem != nil {
		unix.Munmap(mem)
		t.Fatal("an unsealed page was mapped")
	}
	if err := unix.Ftruncate(fd, 0); err != nil {
		t.Fatal(err)
	}

	f := aliveFile()
	if f == nil {
		t.Fatal("this kernel offers no alive page")
	}
	mem := mapAlive(int(f.Fd()))
	if mem == nil {
		t.Fatal("the server's own page was refused")
	}
	unix.Munmap(mem)
}
