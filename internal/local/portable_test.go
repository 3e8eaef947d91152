//go:build darwin || freebsd || netbsd || openbsd || dragonfly || (linux && mailslot_portable)

package local

// What the portable transport (sys_portable.go, package sockdir) does
// differently from the Linux one, and the attacks that difference
// invites: a slot is a file of a shared directory (its rules, a stale
// socket after kill -9, a second user who would squat or replace it), a
// ring is a file its writer can cut short, and no page says the server
// lives.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/asuser"
	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/sockdir"
	"github.com/mailslot-go/mailslot/internal/testenv"
	"golang.org/x/sys/unix"
)

// transportHelper runs the helper roles of these tests (see runHelper).
func transportHelper(role, key string) (int, bool) {
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	switch role {
	case "squat-dir":
		// As another user, try everything that would take or spoil the
		// name another user serves; print one line per attempt.
		path := Addr(key)
		say("unlink %v", errName(unix.Unlink(path)))
		say("unlink-lock %v", errName(unix.Unlink(path+".lock")))
		tmp := filepath.Join(filepath.Dir(path), ".squat-"+fmt.Sprint(os.Getpid()))
		if fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0); err == nil {
			_ = unix.Bind(fd, &unix.SockaddrUnix{Name: tmp})
			say("rename %v", errName(unix.Rename(tmp, path)))
			say("bind %v", errName(unix.Bind(fd, &unix.SockaddrUnix{Name: path})))
			unix.Unlink(tmp)
			unix.Close(fd)
		}
		_, err := Listen(Config{Key: key, Policy: Policy{Owner: uint32(os.Geteuid())}})
		say("listen %v", errName(err))
		return 0, true
	case "junk":
		// Leave junk where a slot's socket and lock file go: a socket
		// bound but not listening, a lock file nobody else may open.
		path := Addr(key)
		if _, err := sockdir.Dir(true); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 2, true
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrUnix{Name: path})
		}
		if err == nil {
			err = os.WriteFile(path+".lock", nil, 0)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			return 2, true
		}
		say("junk")
		return 0, true
	case "listen":
		s, err := Listen(Config{Key: key, Policy: Policy{Owner: uint32(os.Geteuid())}})
		if err == nil {
			s.Close()
		}
		say("listen %v", err)
		return 0, true
	}
	return 0, false
}

// errName names an attempt's outcome: "ok", an errno's name, or the
// error's sentinel.
func errName(err error) string {
	var en syscall.Errno
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, errs.AlreadyExists):
		return "already-exists"
	case errors.As(err, &en):
		return unix.ErrnoName(en)
	}
	return err.Error()
}

// The socket directory: made mode 1777 when missing, the slot's socket
// and lock file in it while the slot is served, neither after Close.
// Refused: a symbolic link in its place, a directory others may write to
// that is not sticky (any user could remove others' sockets), and one
// owned by another user (that user could).
func TestPortableSocketDirectory(t *testing.T) {
	base := filepath.Join(shortTempDir(t), "slots")
	t.Setenv(sockdir.DirEnv, base)
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{base, filepath.Dir(Addr(key))} {
		st, err := os.Lstat(d)
		if err != nil || !st.IsDir() || st.Mode()&(os.ModePerm|os.ModeSticky) != 0o777|os.ModeSticky {
			t.Fatalf("the socket directory %s: %v (%v), want a directory of mode 1777", d, st.Mode(), err)
		}
	}
	st, err := os.Lstat(Addr(key))
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o777 {
		t.Fatalf("the slot's socket %s: %v (%v), want a socket every user may connect to", Addr(key), st.Mode(), err)
	}
	if _, err := os.Lstat(Addr(key) + ".lock"); err != nil {
		t.Fatalf("the slot's lock file: %v", err)
	}
	if !sockdir.Held(filepath.Base(Addr(key))) {
		t.Fatal("the lock of a served slot is not held")
	}
	mustWrite(t, mustDial(t, key), "through the directory")
	if data, _ := read(t, s); string(data) != "through the directory" {
		t.Fatalf("read %q", data)
	}
	s.Close()
	for _, p := range []string{Addr(key), Addr(key) + ".lock"} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after Close: %v", p, err)
		}
	}

	refused := func(what, dir string) {
		t.Helper()
		t.Setenv(sockdir.DirEnv, dir)
		s, err := Listen(Config{Policy: owner, Key: key})
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, errs.Permission) || !errors.Is(err, sockdir.ErrBadDir) {
			t.Errorf("Listen in %s: %v, want a permission error (unsafe socket directory)", what, err)
		}
		if _, err := Dial(key, DialConfig{}); !errors.Is(err, errs.NotFound) {
			t.Errorf("Dial in %s: %v, want NotFound", what, err)
		}
	}
	tmp := shortTempDir(t) // a socket's path must fit 104 bytes
	link := filepath.Join(tmp, "link")
	if err := os.Symlink(base, link); err != nil {
		t.Fatal(err)
	}
	refused("a symbolic link", link)
	open := filepath.Join(tmp, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	refused("a directory every user may write to, not sticky", open)

	// A private directory of one's own is fine.
	private := filepath.Join(tmp, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv(sockdir.DirEnv, private)
	s, err = Listen(Config{Policy: owner, Key: key})
	if err != nil {
		t.Fatalf("Listen in a private directory: %v", err)
	}
	s.Close()

	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root to give a directory to another user")
	}
	theirs := filepath.Join(tmp, "theirs")
	if err := os.Mkdir(theirs, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(theirs, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, asuser.Nobody, asuser.Nobody); err != nil {
		t.Fatal(err)
	}
	refused("a sticky directory owned by another user", theirs)
}

// A server killed by SIGKILL cannot remove its socket file, but the
// kernel drops its lock: the file is stale, a writer finds nothing there
// (NotFound, not a wait), and the next server removes it and serves.
func TestPortableStaleSocketAfterKill9(t *testing.T) {
	key := testKey(t)
	cmd := startServer(t, key)
	c := mustDial(t, key)
	mustWrite(t, c, "to the first server")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if st, err := os.Lstat(Addr(key)); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("after kill -9 the socket file is %v (%v), want it left behind", st, err)
	}
	if sockdir.Held(filepath.Base(Addr(key))) {
		t.Fatal("the killed server's lock is still held")
	}
	start := time.Now()
	if _, err := Dial(key, DialConfig{}); !errors.Is(err, errs.NotFound) {
		t.Fatalf("Dial of the stale socket: %v, want NotFound", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Dial of the stale socket took %v", d)
	}
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: -1})
	if err != nil {
		t.Fatalf("Listen over the stale socket: %v", err)
	}
	defer s.Close()
	mustWrite(t, mustDial(t, key), "to the second server")
	if data, _ := read(t, s); string(data) != "to the second server" {
		t.Fatalf("read %q", data)
	}
}

// No page tells a writer that the server died (that is Linux's robust
// futex, alive_linux.go): the writer asks its connection before each
// record, so its first Write after the server was killed fails, and no
// record goes into a ring nobody reads.
func TestPortableServerDeathSeenAtNextWrite(t *testing.T) {
	key := testKey(t)
	cmd := startServer(t, key)
	c := mustDial(t, key)
	if c.alive != nil || !c.asking {
		t.Fatal("a portable writer must ask its connection at every record")
	}
	mustWrite(t, c, "before")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if err := c.Write([]byte("after"), "", -1); !errors.Is(err, errs.NotFound) {
		t.Fatalf("write after the server was killed = %v, want NotFound", err)
	}
}

// A writer's ring is a file: its writer can cut it short under the
// server's mapping (on Linux a sealed memfd cannot shrink). The server's
// next look at it faults; the fault must cost the writer its connection
// (counted Malformed), never the serving process. Other writers go on,
// and the cut writer learns that its ring is broken.
func TestPortableRingCutShort(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cut := mustDial(t, key)
	honest := mustDial(t, key)
	mustWrite(t, cut, "cut-0")
	mustWrite(t, honest, "honest-0")
	mustWrite(t, cut, "cut-1")
	if data, _ := read(t, s); string(data) != "cut-0" {
		t.Fatalf("read %q", data)
	}
	// The file both sides map: cut it to nothing, as its writer could.
	s.mu.Lock()
	var f *os.File
	for _, w := range s.writers {
		if w.pid == int32(os.Getpid()) && w.memfd != nil && f == nil {
			f = w.memfd
		}
	}
	if f == nil {
		s.mu.Unlock()
		t.Fatal("no ring file")
	}
	err = f.Truncate(0)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		out, _, _, err := s.Read(context.Background(), nil, true)
		if errors.Is(err, errs.Timeout) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(out))
	}
	if strings.Join(got, ",") != "honest-0" {
		t.Errorf("after the ring was cut, read %q, want only the honest writer's record", got)
	}
	if st := s.Stats(); st.Malformed != 1 {
		t.Errorf("Stats = %+v, want the cut writer counted Malformed", st)
	}
	if err := cut.Write([]byte("cut-2"), "", -1); !errors.Is(err, errs.NotFound) {
		t.Errorf("the cut writer's next Write = %v, want NotFound", err)
	}
	mustWrite(t, honest, "honest-1")
	if data, _ := read(t, s); string(data) != "honest-1" {
		t.Fatalf("read %q", data)
	}
}

// A ring cut short under a large record the writer is streaming in (the
// non-temporal copy of streamCopy, past the record's header) costs that
// writer its connection, as a cut under any record does: the fault in
// the copy is caught, the tail is not published, and the Write says the
// slot is gone. The honest writer beside it goes on.
func TestPortableRingCutMidStream(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: 0})
	cut := dialT(t, DialConfig{})
	honest := dialT(t, DialConfig{})
	s.mu.Lock()
	// The header page and the data area's first 8 KiB stay.
	err := s.writers[0].memfd.Truncate(int64(ringHdr + 8192))
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{7}, 60000)
	if err := cut.Write(big, "", -1); !errors.Is(err, errs.NotFound) {
		t.Fatalf("a Write of %d bytes into a ring cut at 8 KiB = %v, want NotFound", len(big), err)
	}
	if err := honest.Write(big, "", -1); err != nil {
		t.Fatal(err)
	}
	if data, _ := read(t, s); !bytes.Equal(data, big) {
		t.Fatalf("read %d bytes, want the honest writer's %d", len(data), len(big))
	}
}

// Rings the server must not map, handed over by hand (the protocol's
// steps, as Dial takes them): not a regular file, of another size than
// announced, on another file system than the socket directory's (on
// Linux, a memfd: portable_linux_test.go). The server ends each such
// connection without taking the ring; a proper ring, the control, is
// taken.
func TestPortableBadRings(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := RingSize(MaxRecord)
	for _, tc := range []struct {
		name     string
		announce int
		file     func(t *testing.T) *os.File
	}{
		{"pipe", good, func(t *testing.T) *os.File {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			return r
		}},
		{"smaller than announced", good, func(t *testing.T) *os.File { return ringFile(t, MinRing) }},
		{"larger than announced", good, func(t *testing.T) *os.File { return ringFile(t, 2*good) }},
		{"another file system", good, otherFSRing},
		{"control", good, func(t *testing.T) *os.File { return ringFile(t, good) }},
	} {
		f := tc.file(t)
		if f == nil {
			continue // none to be had here
		}
		then := handRing(t, key, tc.announce, f)
		f.Close()
		want := "closed"
		if tc.name == "control" {
			want = "ack"
		}
		if then != want {
			t.Errorf("ring %s: the server answered %q, want %q", tc.name, then, want)
		}
	}
}

// ringFile makes a file of the socket directory of ringHdr+size bytes,
// as makeRing does.
func ringFile(t *testing.T, size int) *os.File {
	t.Helper()
	f, err := tempFile("test-ring")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(ringHdr + size)); err != nil {
		t.Fatal(err)
	}
	return f
}

// handRing takes Dial's steps by hand, handing the server f as a ring of
// size bytes, and says what the server did: "ack" or "closed".
func handRing(t *testing.T, key string, size int, f *os.File) string {
	t.Helper()
	fd, err := dialSlot(key)
	if err != nil {
		t.Fatal(err)
	}
	cf := os.NewFile(uintptr(fd), "test-conn")
	fc, err := net.FileConn(cf)
	cf.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := fc.(*net.UnixConn)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte{protoVersion, kindPlain}); err != nil {
		t.Fatal(err)
	}
	var ans [answerLen]byte
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, err := readMsg(c, ans[:], oob)
	closeAll(rights(oob[:oobn]))
	if err != nil || n != answerLen || ans[1] != verdictAllowed {
		t.Fatalf("answer %x: %v", ans[:n], err)
	}
	var m [5]byte
	m[0] = msgRing
	put32(m[1:], uint32(size))
	if _, _, err := c.WriteMsgUnix(m[:], unix.UnixRights(int(f.Fd())), nil); err != nil {
		return "closed"
	}
	var b [1]byte
	if n, err := c.Read(b[:]); err == nil && n == 1 && b[0] == msgAck {
		return "ack"
	}
	return "closed"
}

// A slot handed to another process takes its name with it: the lock file
// travels in the hand-over, so no other server takes the name meanwhile,
// and the new holder's Close frees it, files and all. A hand-over nobody
// adopts frees the name when its file is closed (the socket file stays,
// stale, and the next server removes it).
func TestPortableHandOverCarriesTheName(t *testing.T) {
	key := testKey(t)
	taken := func(when string) {
		t.Helper()
		if s, err := Listen(Config{Policy: owner, Key: key}); !errors.Is(err, errs.AlreadyExists) {
			if err == nil {
				s.Close()
			}
			t.Fatalf("Listen %s: %v, want AlreadyExists", when, err)
		}
	}
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := mustDial(t, key)
	mustWrite(t, c, "queued")
	f, err := s.Transfer("t")
	if err != nil {
		t.Fatal(err)
	}
	taken("while the hand-over is on its way")
	s2, label, err := Adopt(f)
	if err != nil || label != "t" {
		t.Fatalf("Adopt: %q %v", label, err)
	}
	taken("once adopted")
	if data, _ := read(t, s2); string(data) != "queued" {
		t.Fatalf("the new holder read %q", data)
	}
	mustWrite(t, c, "after")
	if data, _ := read(t, s2); string(data) != "after" {
		t.Fatalf("the new holder read %q", data)
	}
	s2.Close()
	for _, p := range []string{Addr(key), Addr(key) + ".lock"} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after the new holder's Close: %v", p, err)
		}
	}

	s, err = Listen(Config{Policy: owner, Key: key})
	if err != nil {
		t.Fatalf("Listen after the new holder closed: %v", err)
	}
	f, err = s.Transfer("dropped")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	s, err = Listen(Config{Policy: owner, Key: key})
	if err != nil {
		t.Fatalf("Listen after a hand-over was dropped: %v", err)
	}
	s.Close()
}

// A second local user (nobody) meets the socket directory, which every
// user shares. It can neither remove root's socket or lock file, nor put
// its own socket in the socket's place, nor serve the name; junk it
// leaves where a slot's files go does not keep root from serving that
// slot. The other way round is the portable transport's one weakness: a
// socket left by a server of root killed with SIGKILL keeps nobody from
// serving that name, since only root may remove it from the sticky
// directory, and Listen says so.
func TestPortableSecondUserCannotSquat(t *testing.T) {
	key := testKey(t)
	s, err := Listen(Config{Policy: Policy{Owner: uint32(os.Geteuid()), AnyUser: true}, Key: key, ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if os.Geteuid() != 0 {
		// asuser.Command skips, or fails under CI.
		asuser.Command(t, asuser.Nobody, asuser.Nobody, "squat-dir", key)
		return
	}
	out, err := asuser.Command(t, asuser.Nobody, asuser.Nobody, "squat-dir", key).CombinedOutput()
	if err != nil {
		t.Fatalf("nobody: %v: %s", err, out)
	}
	want := "unlink EPERM\nunlink-lock EPERM\nrename EPERM\nbind EADDRINUSE\nlisten already-exists\n"
	if string(out) != want {
		t.Errorf("nobody's attempts on root's slot:\n%s\nwant:\n%s", out, want)
	}
	mustWrite(t, mustDial(t, key), "still root's")
	if data, _ := read(t, s); string(data) != "still root's" {
		t.Fatalf("read %q", data)
	}

	junkKey := key + `\junk`
	out, err = asuser.Command(t, asuser.Nobody, asuser.Nobody, "junk", junkKey).CombinedOutput()
	if err != nil || string(out) != "junk\n" {
		t.Fatalf("nobody's junk: %v: %s", err, out)
	}
	sj, err := Listen(Config{Policy: owner, Key: junkKey})
	if err != nil {
		t.Fatalf("root's Listen over nobody's junk: %v", err)
	}
	sj.Close()

	staleKey := key + `\stale`
	cmd := startServer(t, staleKey)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	out, err = asuser.Command(t, asuser.Nobody, asuser.Nobody, "listen", staleKey).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already exists") || !strings.Contains(string(out), "left over from a server of uid 0") {
		t.Errorf("nobody's Listen over root's stale socket: %v: %s; want AlreadyExists naming uid 0's stale socket", err, out)
	}
	s3, err := Listen(Config{Policy: owner, Key: staleKey})
	if err != nil {
		t.Fatalf("root's Listen over its own stale socket: %v", err)
	}
	s3.Close()
}

// shortTempDir returns a new directory under /tmp with a short name,
// removed at the test's cleanup: t.TempDir's names are long, and a
// socket's whole path must fit 104 bytes.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "ms")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// A directory whose sockets' paths would not fit a socket address is
// refused with a message that says what to do.
func TestPortableSocketPathTooLong(t *testing.T) {
	t.Setenv(sockdir.DirEnv, filepath.Join(shortTempDir(t), strings.Repeat("d", 80)))
	_, err := Listen(Config{Policy: owner, Key: testKey(t)})
	if !errors.Is(err, errs.Permission) || !strings.Contains(fmt.Sprint(err), sockdir.DirEnv) {
		t.Fatalf("Listen with a socket path too long: %v, want a permission error naming %s", err, sockdir.DirEnv)
	}
}
