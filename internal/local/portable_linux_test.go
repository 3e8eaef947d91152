//go:build linux && mailslot_portable

package local

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// otherFSRing is a ring on another file system than the socket
// directory's: a memfd, the Linux transport's kind of ring, of the right
// size.
func otherFSRing(t *testing.T) *os.File {
	t.Helper()
	fd, err := unix.MemfdCreate("test-ring", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "test-ring")
	if err := f.Truncate(int64(ringHdr + RingSize(MaxRecord))); err != nil {
		t.Fatal(err)
	}
	return f
}
