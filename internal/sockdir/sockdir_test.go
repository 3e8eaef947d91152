//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package sockdir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// shortDir points DirEnv at a new directory with a short path (a socket's
// path must fit 104 bytes), removed at the test's cleanup.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	t.Setenv(DirEnv, filepath.Join(d, "s"))
	return d
}

// A name is held from Listen to Release: a second Listen is refused
// (ErrHeld) and Held says so; a client connects and learns who serves;
// after Release the socket and lock files are gone and the name is free.
func TestListenHoldRelease(t *testing.T) {
	shortDir(t)
	ln, c, err := Listen("n", unix.SOCK_STREAM)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !Held("n") {
		t.Fatal("Held is false for a name being served")
	}
	if _, _, err := Listen("n", unix.SOCK_STREAM); !errors.Is(err, ErrHeld) {
		t.Fatalf("second Listen: %v, want ErrHeld", err)
	}
	fd, err := Dial("n", unix.SOCK_STREAM, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := PeerCred(fd)
	unix.Close(fd)
	if err != nil || cred.UID != uint32(os.Geteuid()) {
		t.Fatalf("PeerCred = %+v, %v; want uid %d", cred, err, os.Geteuid())
	}
	ln.Close()
	c.Release()
	for _, p := range []string{Path("n"), Path("n") + ".lock"} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Release: %v", p, err)
		}
	}
	if Held("n") {
		t.Fatal("Held is true after Release")
	}
	if _, err := Dial("n", unix.SOCK_STREAM, time.Second); err != unix.ENOENT {
		t.Fatalf("Dial after Release: %v, want ENOENT", err)
	}
	ln2, c2, err := Listen("n", unix.SOCK_STREAM)
	if err != nil {
		t.Fatalf("Listen after Release: %v", err)
	}
	ln2.Close()
	c2.Release()
}

// Something left where the socket goes (a socket bound but never
// listening, as a killed server leaves) is removed by the next Listen,
// which holds the lock; a client meanwhile is refused at once, not made
// to wait.
func TestStaleSocketRemoved(t *testing.T) {
	shortDir(t)
	if _, err := Dir(true); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: Path("n")}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	start := time.Now()
	if _, err := Dial("n", unix.SOCK_STREAM, 5*time.Second); err != unix.ECONNREFUSED {
		t.Fatalf("Dial of a stale socket: %v, want ECONNREFUSED", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Dial of a stale socket took %v", d)
	}
	ln, c, err := Listen("n", unix.SOCK_STREAM)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
	c.Release()
}

// The directory's rules: made mode 1777; a symbolic link, or a directory
// others may write to without the sticky bit, refused.
func TestDirRules(t *testing.T) {
	d := shortDir(t)
	got, err := Dir(true)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(d, "s")
	if st, err := os.Lstat(base); err != nil || st.Mode()&(os.ModePerm|os.ModeSticky) != 0o777|os.ModeSticky {
		t.Fatalf("made %s: %v (%v)", base, st.Mode(), err)
	}
	if filepath.Dir(got) != base && got != base {
		t.Fatalf("Dir = %s, not in %s", got, base)
	}
	link := filepath.Join(d, "l")
	if err := os.Symlink(base, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv(DirEnv, link)
	if _, err := Dir(true); !errors.Is(err, ErrBadDir) {
		t.Errorf("Dir through a symbolic link: %v, want ErrBadDir", err)
	}
	open := filepath.Join(d, "o")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Setenv(DirEnv, open)
	if _, err := Dir(true); !errors.Is(err, ErrBadDir) {
		t.Errorf("Dir in a directory every user may write to, not sticky: %v, want ErrBadDir", err)
	}
}
