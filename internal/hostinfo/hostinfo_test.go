//go:build linux

// Linux only: each test runs in a network namespace of its own (unshare)
// and squats abstract socket names, which the other systems do not have.
// There hostinfo's sockets go through package sockdir (addr_bsd.go),
// whose Listen, Dial and lock files internal/local's portable tests
// exercise on Linux; addr_bsd.go itself is only built and vetted here.

package hostinfo

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/asuser"
	"github.com/mailslot-go/mailslot/internal/testenv"
	"github.com/mailslot-go/mailslot/internal/trust"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if role := asuser.Role(); role != "" {
		os.Exit(runHelper(role))
	}
	os.Exit(m.Run())
}

// fake is what a squatter tells clients: another computer's name, and
// ports where it might listen itself.
var fake = Info{Name: "EVILPC", Workgroup: "EVILGROUP", NamePort: 1137, DgramPort: 1138, StreamPort: 4444}

// runHelper runs the attacker's side, as another user (see asuser). It
// says "ready" once it holds the name, then holds it until killed.
func runHelper(role string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	switch role {
	case "squat": // listen on Addr, answering like mailslotd with fake
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: Addr, Net: "unix"})
		if err != nil {
			return fail(err)
		}
		b, _ := json.Marshal(fake)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write(b)
				c.Close()
			}
		}()
	case "squat-status": // listen on StatusAddr, answering with a made-up status
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: StatusAddr, Net: "unix"})
		if err != nil {
			return fail(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte(`{"name":"EVILPC"}`))
				c.Close()
			}
		}()
	case "ask-status": // ask the status socket once and print the answer
		b, err := AskStatus()
		if err != nil {
			return fail(err)
		}
		fmt.Printf("%s\n", b)
		return 0
	case "bind": // bind Addr without listening: nobody may have it, nobody can ask who holds it
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fail(err)
		}
		if err := unix.Bind(fd, &unix.SockaddrUnix{Name: Addr}); err != nil {
			return fail(err)
		}
	default:
		return fail(fmt.Errorf("unknown role %q", role))
	}
	fmt.Println("ready")
	select {}
}

// freshNetns moves the test into a new, empty network namespace, so that
// its abstract sockets meet neither a real mailslotd nor other tests: it
// locks the test's goroutine to its OS thread and moves that thread. The
// cleanups run on the same goroutine; the last of them moves the thread
// back home and unlocks it, after the earlier ones stopped the processes
// the test started from it (in the namespace too), so that the namespace
// ends with the test. The test must not start subtests, which run on
// other goroutines.
func freshNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root to make a network namespace and to run a process as another user")
	}
	runtime.LockOSThread()
	home, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open this thread's network namespace: %v", err)
	}
	homeName, _ := os.Readlink("/proc/thread-self/ns/net")
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		home.Close()
		runtime.UnlockOSThread()
		testenv.Missing(t, fmt.Sprintf("cannot make a network namespace: %v", err))
	}
	tid := unix.Gettid()
	t.Cleanup(func() {
		defer home.Close()
		if unix.Gettid() != tid {
			// Not the locked thread: nothing to restore here. The
			// locked one ends with its goroutine.
			t.Errorf("cleanup on thread %d, not the test's %d", unix.Gettid(), tid)
			return
		}
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			// Left locked, the thread ends with the goroutine.
			t.Errorf("back to the home network namespace: %v", err)
			return
		}
		runtime.UnlockOSThread()
	})
	if here, err := os.Readlink("/proc/thread-self/ns/net"); err != nil || here == homeName {
		t.Fatalf("not in a new network namespace: %s (%v), was in %s", here, err, homeName)
	}
}

// startAs runs role as uid (group the same number) in the test's
// namespace, waits until it says it is ready and returns its pid. It is
// killed at the test's cleanup.
func startAs(t *testing.T, uid uint32, role string) int {
	t.Helper()
	cmd := asuser.Command(t, uid, uid, role)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd.Stdout = w
	cmd.Stderr = os.Stderr
	asuser.Start(t, cmd)
	w.Close()
	r.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(r).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("%s as uid %d: said %q: %v", role, uid, line, err)
	}
	return cmd.Process.Pid
}

// ask reads the info socket's answer as any client could, without
// checking who answers.
func ask(t *testing.T) Info {
	t.Helper()
	c, err := net.DialTimeout("unix", Addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var info Info
	if err := json.NewDecoder(c).Decode(&info); err != nil {
		t.Fatal(err)
	}
	return info
}

// User nobody takes the info socket's name and answers with another
// computer's name, workgroup and ports. Root's clients must not believe
// it, also when told to trust nobody, and must learn who squats.
func TestLookupIgnoresSquatter(t *testing.T) {
	freshNetns(t)
	t.Setenv(trust.DaemonUserEnv, "")
	pid := startAs(t, asuser.Nobody, "squat")
	if got := ask(t); got != fake {
		t.Fatalf("the squatter answers %+v, want %+v", got, fake)
	}
	want := Default()
	for _, setting := range []string{"", "nobody", strconv.Itoa(asuser.Nobody)} {
		t.Setenv(trust.DaemonUserEnv, setting)
		if got := Lookup(); got != want {
			t.Errorf("%s=%q: Lookup() = %+v, want the defaults %+v", trust.DaemonUserEnv, setting, got, want)
		}
		got, err := LookupChecked()
		if got != want {
			t.Errorf("%s=%q: LookupChecked() = %+v, want the defaults %+v", trust.DaemonUserEnv, setting, got, want)
		}
		var held *HeldError
		if !errors.As(err, &held) || held.UID != asuser.Nobody || held.Pid != int32(pid) || held.InUse {
			t.Fatalf("%s=%q: LookupChecked error %#v (%v), want a HeldError naming pid %d, uid %d", trust.DaemonUserEnv, setting, err, err, pid, asuser.Nobody)
		}
		msg := err.Error()
		for _, s := range []string{Addr, fmt.Sprintf("pid %d ", pid), "uid 65534,", "not a mailslotd user", "not believing"} {
			if !strings.Contains(msg, s) {
				t.Errorf("LookupChecked error %q does not say %q", msg, s)
			}
		}
	}
}

// A site that runs mailslotd as a user of its own names it in
// MAILSLOT_DAEMON_USER; without that, clients refuse that user too.
func TestLookupBelievesDaemonUser(t *testing.T) {
	u, err := user.Lookup("daemon")
	if err != nil {
		testenv.Missing(t, "this system has no user named daemon")
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	freshNetns(t)
	pid := startAs(t, uint32(uid), "squat")

	t.Setenv(trust.DaemonUserEnv, "")
	info, err := LookupChecked()
	var held *HeldError
	if info != Default() || !errors.As(err, &held) || held.UID != uint32(uid) || held.Pid != int32(pid) {
		t.Fatalf("no %s: LookupChecked() = %+v, %v; want the defaults and uid %d's pid %d named", trust.DaemonUserEnv, info, err, uid, pid)
	}
	for _, setting := range []string{"daemon", u.Uid} {
		t.Setenv(trust.DaemonUserEnv, setting)
		info, err = LookupChecked()
		want := fake
		want.Daemon = true
		if err != nil || info != want {
			t.Fatalf("%s=%s: LookupChecked() = %+v, %v; want %+v", trust.DaemonUserEnv, setting, info, err, want)
		}
	}
}

// Root's mailslotd is believed; with none, the defaults come without an
// error.
func TestLookupBelievesRoot(t *testing.T) {
	freshNetns(t)
	if info, err := LookupChecked(); err != nil || info != Default() || info.Daemon {
		t.Fatalf("no mailslotd: LookupChecked() = %+v, %v; want the defaults", info, err)
	}
	mine := Info{Name: "HOSTA", Workgroup: "LABGROUP", NamePort: 137, DgramPort: 138, StreamPort: 1138}
	l, err := Listen(mine)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	want := mine
	want.Daemon = true
	if info, err := LookupChecked(); err != nil || info != want {
		t.Fatalf("LookupChecked() = %+v, %v; want %+v", info, err, want)
	}
	if info := Lookup(); info != want {
		t.Fatalf("Lookup() = %+v, want %+v", info, want)
	}
}

// With user nobody holding the name, mailslotd does not start, and says
// who holds it.
func TestListenNamesSquatter(t *testing.T) {
	freshNetns(t)
	t.Setenv(trust.DaemonUserEnv, "")
	pid := startAs(t, asuser.Nobody, "squat")
	l, err := Listen(Info{Name: "HOSTA", Workgroup: "LABGROUP"})
	if err == nil {
		l.Close()
		t.Fatal("Listen took a name user nobody holds")
	}
	want := fmt.Sprintf("the mailslotd info socket @mailslotd/v1/info is already held by pid %d (uid 65534, not a mailslotd user): another mailslotd runs in this network namespace, or a local user took the name first", pid)
	if err.Error() != want {
		t.Fatalf("Listen error:\n%v\nwant:\n%s", err, want)
	}
	var held *HeldError
	if !errors.As(err, &held) || held.Pid != int32(pid) || held.UID != asuser.Nobody || held.Trusted || held.Deaf || !held.InUse {
		t.Fatalf("Listen error %#v", err)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Listen error %v is not EADDRINUSE", err)
	}
}

// A squatter that binds the name without listening cannot be asked who
// it is; mailslotd finds it in /proc. Clients meanwhile see no mailslotd.
func TestListenNamesDeafSquatter(t *testing.T) {
	freshNetns(t)
	t.Setenv(trust.DaemonUserEnv, "")
	pid := startAs(t, asuser.Nobody, "bind")
	if info, err := LookupChecked(); err != nil || info != Default() {
		t.Fatalf("LookupChecked() = %+v, %v; want the defaults", info, err)
	}
	l, err := Listen(Info{Name: "HOSTA", Workgroup: "LABGROUP"})
	if err == nil {
		l.Close()
		t.Fatal("Listen took a name user nobody holds")
	}
	want := fmt.Sprintf("the mailslotd info socket @mailslotd/v1/info is already held by pid %d (uid 65534, not a mailslotd user, not accepting connections): another mailslotd runs in this network namespace, or a local user took the name first", pid)
	if err.Error() != want {
		t.Fatalf("Listen error:\n%v\nwant:\n%s", err, want)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Listen error %v is not EADDRINUSE", err)
	}
}

// A second mailslotd in the same namespace is told of the first.
func TestListenTwice(t *testing.T) {
	freshNetns(t)
	l, err := Listen(Info{Name: "HOSTA", Workgroup: "LABGROUP"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l2, err := Listen(Info{Name: "HOSTB", Workgroup: "LABGROUP"})
	if err == nil {
		l2.Close()
		t.Fatal("two Listeners on one address")
	}
	want := fmt.Sprintf("the mailslotd info socket @mailslotd/v1/info is already held by pid %d (uid %d, a mailslotd user): another mailslotd runs in this network namespace", os.Getpid(), os.Geteuid())
	if err.Error() != want {
		t.Fatalf("Listen error:\n%v\nwant:\n%s", err, want)
	}
}

// The status socket: root's listener is believed and learns who asks; a
// squatter's answer is refused, naming it; with no mailslotd the error
// says so.
func TestAskStatus(t *testing.T) {
	freshNetns(t)
	t.Setenv(trust.DaemonUserEnv, "")
	if _, err := AskStatus(); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("no mailslotd: AskStatus() = %v, want ErrNoDaemon", err)
	}
	pid := startAs(t, asuser.Nobody, "squat-status")
	_, err := AskStatus()
	var held *HeldError
	if !errors.As(err, &held) || held.Pid != int32(pid) || held.UID != asuser.Nobody {
		t.Fatalf("AskStatus of a squatter = %v, want a HeldError naming pid %d", err, pid)
	}
	if msg := err.Error(); !strings.Contains(msg, "mailslotd status socket "+StatusAddr) || !strings.Contains(msg, "not believing") {
		t.Fatalf("AskStatus error %q", msg)
	}
	if l, err := ListenStatus(func(uint32) []byte { return nil }); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("status socket %s is already held by pid %d", StatusAddr, pid)) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("ListenStatus beside a squatter: %v", err)
	}
}

func TestListenStatusTellsAsker(t *testing.T) {
	freshNetns(t)
	l, err := ListenStatus(func(uid uint32) []byte { return []byte(fmt.Sprintf(`{"asker":%d}`, uid)) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if b, err := AskStatus(); err != nil || string(b) != fmt.Sprintf(`{"asker":%d}`, os.Geteuid()) {
		t.Fatalf("AskStatus() = %s, %v", b, err)
	}
	// User nobody asks: the answer is made for it, and it believes root.
	cmd := asuser.Command(t, asuser.Nobody, asuser.Nobody, "ask-status")
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) != `{"asker":65534}` {
		t.Fatalf("as nobody: %s, %v", out, err)
	}
}
