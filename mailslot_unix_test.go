//go:build !windows

package mailslot_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/asuser"
)

// lacks reports whether this run lacks what: never on Linux.
func lacks(*testing.T, string) bool { return false }

// clockStep is how much earlier than its timeout a read may end, as the
// system's clock measures: none here.
const clockStep = 0

// blockedReadFrame is the function a Read sleeps in while it waits.
const blockedReadFrame = "internal/local.(*Server).Read("

// platformHelper runs the roles of helper processes that only this
// platform has.
func platformHelper(role, arg string) (int, bool) { return attackHelper(role, arg) }

// passSlot hands f, from Transfer, to the child cmd starts: as its fd 3.
func passSlot(cmd *exec.Cmd, f *os.File) { cmd.ExtraFiles = []*os.File{f} }

// handedFile is the file passSlot handed to this process.
func handedFile() *os.File { return os.NewFile(3, "handoff") }

// fromLocal is Message.From for a record written by process pid of this
// user.
func fromLocal(pid int) string { return fmt.Sprintf("local pid %d uid %d", pid, os.Geteuid()) }

// checkFrom fails the test unless from names one of the pids, and this
// user.
func checkFrom(t *testing.T, from string, pids map[int]bool) {
	t.Helper()
	var pid, uid int
	if _, err := fmt.Sscanf(from, "local pid %d uid %d", &pid, &uid); err != nil || !pids[pid] || uid != os.Geteuid() {
		t.Fatalf("From = %q, want one of the writers' pids and uid %d", from, os.Geteuid())
	}
}

// clientSeesMax is Client.MaxMessageSize of a slot whose maximum is max:
// the local transport tells the client.
func clientSeesMax(max int) int { return max }

// checkOverLocalMax writes rec, one byte over MaxLocalMessageSize, to a
// slot with no maximum of its own: the local transport refuses it.
func checkOverLocalMax(t *testing.T, s *mailslot.Slot, c *mailslot.Client, rec []byte) {
	t.Helper()
	if _, err := c.Write(rec); !errors.Is(err, mailslot.ErrMessageTooLarge) {
		t.Fatalf("64 KiB + 1 write = %v", err)
	}
}

// checkTimeoutOfBlockedRead: SetReadTimeout applies to reads already
// blocked (their wait is measured from when they began).
func checkTimeoutOfBlockedRead(t *testing.T, s *mailslot.Slot, _ *mailslot.Client) {
	t.Helper()
	errc := startBlockedRead(t, s)
	if err := s.SetReadTimeout(0); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, mailslot.ErrTimeout) {
		t.Fatalf("blocked read after SetReadTimeout(0) = %v, want ErrTimeout", err)
	}
}

func TestQuotaBoundsMemory(t *testing.T) {
	checkNoLeak(t)
	name := uniq(t)
	const quota = 64 << 10
	s := mustCreate(t, name, mailslot.WithQueueQuota(quota), mailslot.WithReadTimeout(0))
	c := mustOpen(t, name, mailslot.WithWriteTimeout(50*time.Millisecond))
	rec := make([]byte, 1000)
	accepted := 0
	var err error
	for accepted < 10000 {
		if _, err = c.Write(rec); err != nil {
			break
		}
		accepted++
	}
	if !errors.Is(err, mailslot.ErrTimeout) {
		t.Fatalf("after %d writes into a full slot: %v, want ErrTimeout", accepted, err)
	}
	st := s.Stats()
	// The reader stops once the quota is reached; one receive batch (8
	// records) may cross it.
	if st.QueuedBytes > quota+8*(len(rec)+24) {
		t.Fatalf("queue holds %d bytes, quota %d", st.QueuedBytes, quota)
	}
	// Every accepted record is readable; none was lost.
	got := 0
	for {
		_, err := s.Read(make([]byte, 2000))
		if err != nil {
			break
		}
		got++
	}
	if got != accepted {
		t.Fatalf("accepted %d records, read %d", accepted, got)
	}
	// With room again, writes go through.
	if _, err := c.Write(rec); err != nil {
		t.Fatalf("write after draining: %v", err)
	}
	// A zero write timeout never waits.
	c.SetWriteTimeout(0)
	for i := 0; i < 10000; i++ {
		if _, err = c.Write(rec); err != nil {
			break
		}
	}
	if !errors.Is(err, mailslot.ErrTimeout) {
		t.Fatalf("zero-timeout write to a full slot = %v", err)
	}
}

func TestPermissions(t *testing.T) {
	const nobody = asuser.Nobody
	// The writer runs as nobody: asuser.Command fails the test under CI
	// or MAILSLOT_STRICT=1 when it cannot (not root), and skips it
	// otherwise.
	run := func(name string) error {
		cmd := asuser.Command(t, nobody, nobody, "write", name)
		cmd.Env = append(cmd.Env, "MAILSLOT_TEST_COUNT=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	// Default: only the server's user (root here) may write; nobody is refused at Open.
	name := uniq(t)
	s := mustCreate(t, name, mailslot.WithReadTimeout(0))
	err := run(name)
	if err == nil || !strings.Contains(err.Error(), "exit status 13") || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("write as nobody to a default slot: %v; want a permission error at Open", err)
	}
	if st := s.Stats(); st.Records != 0 {
		t.Fatalf("refused writer queued %d records", st.Records)
	}
	for i, opt := range []mailslot.Option{mailslot.WithAnyUser(), mailslot.WithAllowUsers(nobody), mailslot.WithAllowGroups(nobody)} {
		name := fmt.Sprintf("%s-%d", uniq(t), i)
		s := mustCreate(t, name, opt, mailslot.WithReadTimeout(5*time.Second))
		if err := run(name); err != nil {
			t.Fatalf("option %d: write as nobody: %v", i, err)
		}
		m, err := s.ReadMessage(context.Background())
		if err != nil || !strings.HasSuffix(m.From, fmt.Sprintf("uid %d", nobody)) {
			t.Fatalf("option %d: read %q from %q: %v", i, m.Data, m.From, err)
		}
	}
}
