//go:build !windows

package asuser

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	if role := Role(); role != "" {
		os.Exit(runHelper(role, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runHelper(role string, args []string) int {
	switch role {
	case "whoami": // print who this process is and what it was given
		groups, _ := syscall.Getgroups()
		fmt.Printf("uid=%d euid=%d gid=%d egid=%d groups=%v args=%q env=%s\n",
			syscall.Getuid(), syscall.Geteuid(), syscall.Getgid(), syscall.Getegid(),
			groups, args, os.Getenv("ASUSER_TEST_EXTRA"))
		return 0
	case "wait": // say "ready", then wait until killed
		fmt.Println("ready")
		select {}
	}
	fmt.Fprintln(os.Stderr, "unknown role", role)
	return 2
}

// The helper runs as the user asked for, with no group of root's left,
// in the role asked for, and runs no test.
func TestCommandRunsAsUser(t *testing.T) {
	cmd := Command(t, Nobody, Nobody, "whoami", "one", "two")
	cmd.Env = append(cmd.Env, "ASUSER_TEST_EXTRA=extra")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	want := fmt.Sprintf("uid=%d euid=%d gid=%d egid=%d groups=[] args=[\"-test.run=^$\" \"one\" \"two\"] env=extra\n",
		Nobody, Nobody, Nobody, Nobody)
	if string(out) != want {
		t.Fatalf("helper said %q, want %q", out, want)
	}
	// A second command of the same test shares the copy.
	if again := Command(t, 1, 1, "whoami"); again.Path != cmd.Path {
		t.Fatalf("second copy %s, first %s", again.Path, cmd.Path)
	}
}

// Start's cleanup ends a helper that would run forever.
func TestStartStopsAtCleanup(t *testing.T) {
	needRoot(t, os.Geteuid()) // here too: a skipped subtest would leave pid 0
	var pid int
	t.Run("helper", func(t *testing.T) {
		cmd := Command(t, Nobody, Nobody, "wait")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		Start(t, cmd)
		pid = cmd.Process.Pid
		line, err := bufio.NewReader(out).ReadString('\n')
		if line != "ready\n" {
			t.Fatalf("helper said %q: %v", line, err)
		}
	})
	if pid == 0 {
		t.Fatal("no helper ran")
	}
	// The cleanup has waited for it: the pid is gone, not a zombie.
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Fatalf("helper pid %d after its test: kill 0 = %v, want ESRCH", pid, err)
	}
}

// fakeTB records what a test would have been told.
type fakeTB struct{ fatal, skip string }

func (f *fakeTB) Helper()        {}
func (f *fakeTB) Cleanup(func()) {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	if f.fatal == "" && f.skip == "" {
		f.fatal = fmt.Sprintf(format, args...)
	}
}
func (f *fakeTB) Skipf(format string, args ...any) {
	if f.fatal == "" && f.skip == "" {
		f.skip = fmt.Sprintf(format, args...)
	}
}

// Without root, a test that needs a second user skips, but fails under CI
// or MAILSLOT_STRICT=1.
func TestNotRoot(t *testing.T) {
	for _, tc := range []struct {
		strict, ci string
		fail       bool
	}{
		{"", "", false},
		{"1", "", true},
		{"", "true", true},
		{"", "false", false},
	} {
		t.Setenv("MAILSLOT_STRICT", tc.strict)
		t.Setenv("CI", tc.ci)
		var f fakeTB
		needRoot(&f, 1000)
		got, msg := f.skip == "", f.fatal+f.skip
		if got != tc.fail || !strings.Contains(msg, "needs root to run a process as another user") {
			t.Errorf("MAILSLOT_STRICT=%q CI=%q: fatal %q, skip %q; want fail=%v", tc.strict, tc.ci, f.fatal, f.skip, tc.fail)
		}
		f = fakeTB{}
		needRoot(&f, 0)
		if f.fatal != "" || f.skip != "" {
			t.Errorf("as root: fatal %q, skip %q", f.fatal, f.skip)
		}
	}
}
