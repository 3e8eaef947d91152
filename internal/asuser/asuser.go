//go:build !windows

// Package asuser lets a test run code as a second local user: the
// attacker of a security test, or a client the policy under test should
// refuse. It copies the running test binary where that user can execute
// it and returns a command that re-runs the copy under the user's uid and
// gid, with MAILSLOT_TEST_HELPER naming a role. The package's TestMain
// sees the role and runs the helper code instead of the tests:
//
//	func TestMain(m *testing.M) {
//		if role := asuser.Role(); role != "" {
//			os.Exit(runHelper(role, os.Args[len(os.Args)-1]))
//		}
//		os.Exit(m.Run())
//	}
//
//	func TestRefused(t *testing.T) {
//		cmd := asuser.Command(t, asuser.Nobody, asuser.Nobody, "write", name)
//		cmd.Env = append(cmd.Env, "MAILSLOT_TEST_COUNT=1")
//		out, err := cmd.CombinedOutput()
//		...
//	}
//
// Changing user needs root. Without it Command skips the test with the
// reason, or fails it under CI or MAILSLOT_STRICT=1 (see testenv.Strict),
// where a security test that did not run must not pass unnoticed.
package asuser

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/mailslot-go/mailslot/internal/testenv"
)

// Nobody is the uid, and gid, of user nobody (and group nogroup or
// nobody) on Linux distributions, also the kernel's overflow uid.
const Nobody = 65534

// RoleEnv is the environment variable that carries the helper's role to
// the re-run binary.
const RoleEnv = "MAILSLOT_TEST_HELPER"

// TB is the part of testing.TB the package uses; *testing.T is one.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Role returns the role this process was started for by Command, or ""
// when it runs as the tests themselves.
func Role() string { return os.Getenv(RoleEnv) }

// Command returns a command that runs a copy of the test binary as uid
// and gid, with no supplementary groups, the environment of this process
// plus RoleEnv=role, and the arguments "-test.run=^$" and args (so that,
// should the role be unknown to TestMain, no test runs twice). The caller
// may add to cmd.Env, set its output and start it. The process gets
// SIGKILL if the thread that started it ends: a test that starts it from
// a goroutine locked to its OS thread must wait for it before returning.
//
// The copy lives in a directory of its own, removed at t's cleanup, which
// every user may enter; a test that calls Command several times shares
// one copy.
func Command(t TB, uid, gid uint32, role string, args ...string) *exec.Cmd {
	t.Helper()
	needRoot(t, os.Geteuid())
	exe := copyBinary(t)
	cmd := exec.Command(exe, append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), RoleEnv+"="+role)
	if os.Getenv("GOCOVERDIR") != "" {
		// A coverage run: the copy writes its counts on exit, and the
		// test's directory for them is closed to the other user.
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+coverDir(t))
	}
	// The test's working directory (the package's source) may be closed
	// to the other user; the copy's directory is not.
	cmd.Dir = filepath.Dir(exe)
	cmd.SysProcAttr = sysProcAttr(&syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}})
	return cmd
}

// coverDir returns a directory every user may write coverage counts to,
// removed at t's cleanup.
func coverDir(t TB) string {
	dir, err := os.MkdirTemp("", "asuser-cover-")
	if err != nil {
		t.Fatalf("coverage directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatalf("coverage directory: %v", err)
	}
	return dir
}

// Start starts cmd, and at t's cleanup kills it (if it still runs) and
// waits for it, so that no helper outlives its test. It returns cmd's
// error from Wait through the returned function, which waits too.
func Start(t TB, cmd *exec.Cmd) (wait func() error) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		who := ""
		if a := cmd.SysProcAttr; a != nil && a.Credential != nil {
			who = fmt.Sprintf(" as uid %d", a.Credential.Uid)
		}
		t.Fatalf("start %s%s: %v", cmd.Path, who, err)
	}
	var once sync.Once
	var werr error
	wait = func() error {
		once.Do(func() { werr = cmd.Wait() })
		return werr
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // fails only if it has been waited for
		_ = wait()
	})
	return wait
}

// needRoot skips t, or fails it under CI, unless euid is root.
func needRoot(t TB, euid int) {
	t.Helper()
	if euid != 0 {
		testenv.Missing(t, "needs root to run a process as another user")
	}
}

// copies holds each test's copy of the binary.
var copies sync.Map // TB -> string

// copyBinary copies the running binary into a new directory that every
// user may enter and returns the copy's path.
func copyBinary(t TB) string {
	t.Helper()
	if p, ok := copies.Load(t); ok {
		return p.(string)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("find the test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", "asuser-")
	if err != nil {
		t.Fatalf("make a directory for the test binary: %v", err)
	}
	t.Cleanup(func() {
		copies.Delete(t)
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("open %s to other users: %v", dir, err)
	}
	// Every directory above must let others pass through.
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatalf("stat %s: %v", d, err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			t.Fatalf("other users cannot enter %s (mode %v), so they cannot run the test binary copied below it: set TMPDIR to a directory they can reach", d, st.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	exe := filepath.Join(dir, filepath.Base(self))
	if err := copyFile(exe, self); err != nil {
		t.Fatalf("copy the test binary: %v", err)
	}
	copies.Store(t, exe)
	return exe
}

// copyFile writes a copy of src, executable by all, to dst. It holds
// syscall.ForkLock while dst is open for writing: a process forked
// meanwhile by another goroutine would hold the writable descriptor until
// it execs, and running dst then would fail with "text file busy".
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// The umask may have taken bits away.
	if err := os.Chmod(dst, 0o755); err != nil {
		return fmt.Errorf("make %s executable by all: %w", dst, err)
	}
	return nil
}
