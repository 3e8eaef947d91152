//go:build !windows

// Package hostinfo tells clients on a computer who that computer is on
// the LAN: the NetBIOS name, workgroup and ports of the mailslotd running
// there. On Linux mailslotd answers on an abstract Unix socket, which
// belongs to the network namespace, so each namespace (each computer of a
// test LAN) has its own; on macOS and the BSDs, on a socket of the
// directory package sockdir keeps (mailslotd-info, mailslotd-status).
// With no mailslotd, Lookup falls back to the host name and WORKGROUP.
//
// Any local user may take either name first, so the name proves nothing:
// a client believes the answer only if the kernel says (SO_PEERCRED,
// LOCAL_PEERCRED) the answering process runs as a user mailslotd may run
// as (package trust: root, or MAILSLOT_DAEMON_USER), or as the client's
// own user. Otherwise it uses the defaults, and LookupChecked says who
// squats the name. A mailslotd that finds the name taken says who holds
// it.
package hostinfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/mailslot-go/mailslot/internal/sockdir"
	"github.com/mailslot-go/mailslot/internal/trust"
)

// Listener answers Lookup with an Info until closed.
type Listener struct {
	ln    *net.UnixListener
	claim *sockdir.Claim // what holds the name besides the socket (not on Linux)
	done  chan struct{}
}

// Listen starts answering; the caller closes the Listener. If another
// process holds the address, the error is a *HeldError naming it.
func Listen(info Info) (*Listener, error) {
	b, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	return listen(Addr, func(uint32) []byte { return b })
}

// ListenStatus answers AskStatus on StatusAddr with what answer returns
// for the asking process's user (as the kernel tells it), so that the
// answer can leave out what that user may not see; the caller closes the
// Listener. If another process holds the address, the error is a
// *HeldError naming it.
func ListenStatus(answer func(peerUID uint32) []byte) (*Listener, error) {
	return listen(StatusAddr, answer)
}

// listen answers each connection to addr with answer(its peer's uid),
// one connection at a time, each write bounded by a second.
func listen(addr string, answer func(peerUID uint32) []byte) (*Listener, error) {
	ln, claim, err := listenSock(addr)
	if err != nil {
		return nil, err
	}
	l := &Listener{ln: ln, claim: claim, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if _, uid, err := PeerCred(c); err == nil {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write(answer(uid))
			}
			c.Close()
		}
	}()
	return l, nil
}

// Close stops answering and waits for the answering goroutine.
func (l *Listener) Close() error {
	err := l.ln.Close()
	l.claim.Release()
	<-l.done
	return err
}

// HeldError names the process holding the info socket: from Listen, one
// that holds the address mailslotd wanted; from LookupChecked, one that
// answered but runs as a user mailslotd does not run as. The process's
// name is left out on purpose: its owner chooses it.
type HeldError struct {
	Pid     int32  // the process (for a listening socket, the one that made it listen)
	UID     uint32 // its user
	Trusted bool   // UID is a mailslotd user (trust.IsDaemonUID)
	Deaf    bool   // the socket is bound but accepts no connections
	InUse   bool   // from Listen: the address was taken
	Addr    string // the socket (Addr when empty)
}

func (e *HeldError) Error() string {
	addr := e.Addr
	if addr == "" {
		addr = Addr
	}
	what := "info"
	if addr == StatusAddr {
		what = "status"
	}
	who := "not a mailslotd user"
	if e.Trusted {
		who = "a mailslotd user"
	}
	if e.Deaf {
		who += ", not accepting connections"
	}
	if !e.InUse {
		return fmt.Sprintf("the mailslotd %s socket %s is held by pid %d (uid %d, %s; mailslotd runs as root or as %s): not believing its answer",
			what, addr, e.Pid, e.UID, who, trust.DaemonUserEnv)
	}
	why := "another mailslotd runs in this network namespace, or a local user took the name first"
	if e.Trusted {
		why = "another mailslotd runs in this network namespace"
	}
	return fmt.Sprintf("the mailslotd %s socket %s is already held by pid %d (uid %d, %s): %s", what, addr, e.Pid, e.UID, who, why)
}

// Unwrap gives EADDRINUSE for an error from Listen.
func (e *HeldError) Unwrap() error {
	if e.InUse {
		return syscall.EADDRINUSE
	}
	return nil
}

// holder returns the error of a Listen that found Addr taken, naming the
// process that holds it. A process that listens is asked for its
// credentials; one that only bound the name is looked for in /proc
// (which shows other users' processes' sockets only to root).
func holder(addr string) error {
	if c, err := net.DialTimeout("unix", addr, time.Second); err == nil {
		pid, uid, err := PeerCred(c.(*net.UnixConn))
		c.Close()
		if err == nil {
			return &HeldError{Pid: pid, UID: uid, Trusted: trust.IsDaemonUID(uid), InUse: true, Addr: addr}
		}
	}
	if pid, uid, ok := boundBy(addr); ok {
		return &HeldError{Pid: pid, UID: uid, Trusted: trust.IsDaemonUID(uid), Deaf: true, InUse: true, Addr: addr}
	}
	return fmt.Errorf("the mailslotd socket %s is already bound by a process that accepts no connections and is hidden from this user: a local user may have taken the name first: %w",
		addr, syscall.EADDRINUSE)
}

// PeerCred returns the process id and user of the process at the other
// end of c, as the kernel recorded them (SO_PEERCRED, LOCAL_PEERCRED: see
// sockdir.PeerCred): for a client's connection, those of the process that
// made the server's socket listen. On Linux the pid is as seen from this
// process's pid namespace (0 if the peer's is not visible from it), the
// uid as seen from its user namespace.
func PeerCred(c *net.UnixConn) (pid int32, uid uint32, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var cred sockdir.Cred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = sockdir.PeerCred(int(fd))
	}); err != nil {
		return 0, 0, err
	}
	if cerr != nil {
		return 0, 0, cerr
	}
	return cred.Pid, cred.UID, nil
}

// trustedDaemon reports whether a client believes a process of user uid
// to be mailslotd: a mailslotd user, or the client's own user (a process
// of one's own user can do anything one can, so trusting it risks
// nothing, and a mailslotd run by hand for testing stays usable).
func trustedDaemon(uid uint32) bool {
	return trust.IsDaemonUID(uid) || uid == uint32(os.Geteuid())
}

// Lookup asks the local mailslotd; with none, or with an answer it does
// not believe, it returns the defaults. LookupChecked says why.
func Lookup() Info {
	info, _ := LookupChecked()
	return info
}

// LookupChecked asks the local mailslotd who this computer is. With no
// mailslotd it returns Default() and nil. If the process answering runs
// as a user that is neither a mailslotd user nor the caller's own, it
// returns Default() without reading the answer, and a *HeldError naming
// the process and its user; if the answer does not decode, Default() and
// an error saying so.
func LookupChecked() (Info, error) {
	c, err := net.DialTimeout("unix", Addr, time.Second)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return Default(), nil // no mailslotd
		}
		return Default(), fmt.Errorf("ask mailslotd on %s: %w", Addr, err)
	}
	defer c.Close()
	pid, uid, err := PeerCred(c.(*net.UnixConn))
	if err != nil {
		return Default(), fmt.Errorf("ask mailslotd on %s: %w", Addr, err)
	}
	if !trustedDaemon(uid) {
		return Default(), &HeldError{Pid: pid, UID: uid}
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	var info Info
	if err := json.NewDecoder(io.LimitReader(c, 64<<10)).Decode(&info); err != nil {
		return Default(), fmt.Errorf("the answer of mailslotd (pid %d) on %s: %w", pid, Addr, err)
	}
	if info.Name == "" {
		return Default(), fmt.Errorf("mailslotd (pid %d) on %s answered with no computer name", pid, Addr)
	}
	info.Daemon = true
	return info, nil
}

// ErrNoDaemon is returned by AskStatus when no mailslotd answers.
var ErrNoDaemon = errors.New("no mailslotd runs in this network namespace")

// maxStatus bounds the answer AskStatus reads.
const maxStatus = 4 << 20

// AskStatus asks the local mailslotd for its status and returns the
// answer (JSON, see daemon.Status). It believes only a process that runs
// as a mailslotd user or as the caller's own user (a *HeldError names
// any other); with no mailslotd the error wraps ErrNoDaemon.
func AskStatus() ([]byte, error) {
	c, err := net.DialTimeout("unix", StatusAddr, time.Second)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("ask mailslotd on %s: %w", StatusAddr, ErrNoDaemon)
		}
		return nil, fmt.Errorf("ask mailslotd on %s: %w", StatusAddr, err)
	}
	defer c.Close()
	pid, uid, err := PeerCred(c.(*net.UnixConn))
	if err != nil {
		return nil, fmt.Errorf("ask mailslotd on %s: %w", StatusAddr, err)
	}
	if !trustedDaemon(uid) {
		return nil, &HeldError{Pid: pid, UID: uid, Addr: StatusAddr}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(io.LimitReader(c, maxStatus+1))
	if err != nil {
		return nil, fmt.Errorf("the answer of mailslotd (pid %d) on %s: %w", pid, StatusAddr, err)
	}
	if len(b) > maxStatus {
		return nil, fmt.Errorf("the answer of mailslotd (pid %d) on %s: over %d bytes", pid, StatusAddr, maxStatus)
	}
	return b, nil
}

// HostName returns this computer's host name as a NetBIOS name.
func HostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "LOCALHOST"
	}
	if i := strings.IndexByte(h, '.'); i > 0 {
		h = h[:i]
	}
	h = strings.ToUpper(h)
	if len(h) > 15 {
		h = h[:15]
	}
	return h
}
