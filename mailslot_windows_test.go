//go:build windows

package mailslot_test

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
	"golang.org/x/sys/windows"
)

// clockStep is how much earlier than its timeout a read may end, as Go's
// clock measures it: Windows counts a timeout in its own clock's
// milliseconds, and its waits may end up to a millisecond before Go's
// clock says the time has passed.
const clockStep = time.Millisecond

// blockedReadFrame is the function a Read sleeps in while it waits for
// its ReadFile, in a system call.
const blockedReadFrame = "mailslot.(*sysSlot).readInto("

// underWine reports whether this process runs under Wine, whose ntdll
// exports wine_get_version.
var underWine = windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil

// lacks reports whether this run lacks what: under Wine, each one named
// in the constants. The test log says which check was left out, and why
// (scripts/test prints these lines).
func lacks(t *testing.T, what string) bool {
	t.Helper()
	if underWine {
		if _, said := lacksSaid.LoadOrStore(t.Name()+"\x00"+what, true); !said {
			t.Logf("WINE LACKS %s", what)
		}
	}
	return underWine
}

// lacksSaid holds the test and lack pairs already logged.
var lacksSaid sync.Map

// platformHelper runs the roles of helper processes that only this
// platform has: none on Windows.
func platformHelper(role, arg string) (int, bool) { return 0, false }

// passSlot hands f, from Transfer, to the child cmd starts: the handle is
// inherited, and its value goes in MAILSLOT_TEST_HANDLE.
func passSlot(cmd *exec.Cmd, f *os.File) {
	cmd.SysProcAttr = &syscall.SysProcAttr{AdditionalInheritedHandles: []syscall.Handle{syscall.Handle(f.Fd())}}
	cmd.Env = append(cmd.Env, "MAILSLOT_TEST_HANDLE="+strconv.FormatUint(uint64(f.Fd()), 10))
}

// handedFile is the file passSlot handed to this process. Its name is not
// the slot's: FileSlot asks Windows for the name of the handle.
func handedFile() *os.File {
	h, _ := strconv.ParseUint(os.Getenv("MAILSLOT_TEST_HANDLE"), 10, 64)
	return os.NewFile(uintptr(h), "handoff")
}

// fromLocal is Message.From for a record written by a process of this
// computer: empty on Windows, which does not tell a mailslot's server who
// wrote a record.
func fromLocal(int) string { return "" }

// checkFrom fails the test unless from is empty: Windows does not tell a
// mailslot's server who wrote a record.
func checkFrom(t *testing.T, from string, _ map[int]bool) {
	t.Helper()
	if from != "" {
		t.Fatalf("From = %q; Windows does not tell the writer, so it must be empty", from)
	}
}

// clientSeesMax is Client.MaxMessageSize of a slot whose maximum is max:
// on Windows a client cannot learn a slot's maximum, so it is what one
// WriteFile carries, and WriteFile refuses a larger record.
func clientSeesMax(int) int { return 1<<31 - 1 }

// checkOverLocalMax writes rec, one byte over MaxLocalMessageSize, to a
// slot with no maximum of its own: on Windows such a slot takes a record
// of any size, and the record arrives whole.
func checkOverLocalMax(t *testing.T, s *mailslot.Slot, c *mailslot.Client, rec []byte) {
	t.Helper()
	if _, err := c.Write(rec); err != nil {
		t.Fatalf("Windows: 64 KiB + 1 write to a slot with no maximum: %v", err)
	}
	buf := make([]byte, len(rec))
	n, err := s.Read(buf)
	if lacks(t, lackBigRecords) {
		return
	}
	if err != nil || n != len(rec) {
		t.Fatalf("Windows: 64 KiB + 1 read: %d, %v", n, err)
	}
}

// checkTimeoutOfBlockedRead: on Windows, SetMailslotInfo sets the timeout
// of reads that begin later; a read blocked now keeps the one it began
// with, and a write completes it.
//
// The test sees the reading goroutine enter its system call, not the
// system start the read's wait: the timeout can change in between (under
// Wine, now and then), and the read then begins with the new one. A read
// that ended at once is begun again, a few times: one that stays blocked
// shows the rule, and a system that applied the timeout to blocked reads
// would end every one.
func checkTimeoutOfBlockedRead(t *testing.T, s *mailslot.Slot, c *mailslot.Client) {
	t.Helper()
	const attempts = 5
	var errc <-chan error
	for i := 0; ; i++ {
		if err := s.SetReadTimeout(mailslot.WaitForever); err != nil {
			t.Fatal(err)
		}
		errc = startBlockedRead(t, s)
		if err := s.SetReadTimeout(0); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, mailslot.ErrTimeout) || i == attempts-1 {
				t.Fatalf("Windows: a read blocked with no timeout ended at SetReadTimeout(0) (attempt %d of %d): %v", i+1, attempts, err)
			}
			continue
		case <-time.After(200 * time.Millisecond):
		}
		break
	}
	if _, err := c.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Windows: the blocked read, completed by a write: %v", err)
	}
	// A read that begins now has the new timeout.
	if _, err := s.Read(make([]byte, 10)); !errors.Is(err, mailslot.ErrTimeout) {
		t.Fatalf("Windows: a read after SetReadTimeout(0) = %v, want ErrTimeout", err)
	}
}
