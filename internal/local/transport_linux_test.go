//go:build linux && !mailslot_portable

package local

import (
	"os"
	"strings"
	"syscall"
	"testing"
)

// transportHelper: the Linux transport's tests need no roles beyond
// runHelper's.
func transportHelper(role, key string) (int, bool) { return 0, false }

// The Linux transport's slot is an abstract socket name: nothing in any
// file system (so nothing a user could remove, replace or leave stale),
// and a server killed with SIGKILL frees the name the moment the kernel
// has closed its descriptors. (The portable transport's pathname sockets
// and their lock files: portable_test.go.)
func TestAbstractNameLeavesNothing(t *testing.T) {
	key := testKey(t)
	if a := Addr(key); !strings.HasPrefix(a, "@") {
		t.Fatalf("Addr(%q) = %q, want an abstract name", key, a)
	}
	cmd := startServer(t, key)
	if _, err := os.Lstat(Addr(key)[1:]); err == nil {
		t.Fatalf("a file named like the abstract address exists")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	s, err := Listen(Config{Policy: owner, Key: key})
	if err != nil {
		t.Fatalf("Listen right after the server was killed: %v", err)
	}
	s.Close()
}
