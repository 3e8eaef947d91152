//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

// Package sockdir keeps the names of this computer's local sockets where
// Linux's abstract socket names are not to be had (macOS and the BSDs, and
// Linux with the build tag mailslot_portable): pathname Unix sockets in one
// directory, with a lock file beside each that says which process holds
// the name.
//
// The directory, /tmp/.mailslot by default ($MAILSLOT_DIR instead), is
// shared by every local user: any of them may serve a name, and any may
// connect (who may write is the server's business, decided on the
// kernel's word about the peer, not by file modes). It must be a real
// directory (not a symbolic link) owned by root or by the user itself,
// and when others may write to it, sticky (mode 1777, as /tmp): then a
// user can remove or replace only its own entries, so no user can take
// a name another serves. The first program that needs it makes it, mode
// 1777; a directory owned by another user is refused (that user could
// remove other users' sockets). On a computer where several users serve
// names, have root make it at boot (install -d -m 1777 /tmp/.mailslot).
// On Linux each network namespace has a directory of its own below it
// (net-INODE), as each has its own abstract names.
//
// One server per name: Listen takes an exclusive flock(2) of NAME.lock
// before it binds NAME, and keeps it as long as it serves. The kernel
// drops the lock when the holder dies, even by kill -9; the next Listen
// then takes the lock, finds the socket file left behind and removes it
// before binding its own. Only the user who made a file can remove it
// from the sticky directory, so a stale socket of another user stays
// until that user (any of its programs that serve the name) or root
// comes: ErrStale says so.
package sockdir

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DirEnv names a directory to use instead of DefaultDir. Programs that
// should meet must agree on it.
const DirEnv = "MAILSLOT_DIR"

// DefaultDir is where names live unless DirEnv says otherwise. It is
// short: a socket's path must fit 104 bytes on macOS and the BSDs.
const DefaultDir = "/tmp/.mailslot"

// ErrHeld is returned by Listen when another process holds the name.
var ErrHeld = errors.New("the name is held by another process")

// ErrBadDir is wrapped by the errors of a directory that cannot be used
// safely.
var ErrBadDir = errors.New("unsafe socket directory")

// ErrStale is wrapped by StaleError.
var ErrStale = errors.New("a stale socket of another user holds the name")

// StaleError is returned by Listen when the name is free but a socket
// file left by a server of another user (killed, so that it could not
// remove it) is in the way: the sticky directory lets only that user or
// root remove it.
type StaleError struct {
	Path string
	UID  uint32
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("%s is left over from a server of uid %d that ended without removing it; only that user or root may remove it (rm %s)", e.Path, e.UID, e.Path)
}

func (e *StaleError) Unwrap() error { return ErrStale }

// Dir returns the directory of this computer's (on Linux: this network
// namespace's) names, checked, and made if create is set and it is
// missing; without create, a missing directory is an error wrapping
// fs.ErrNotExist.
func Dir(create bool) (string, error) {
	base := os.Getenv(DirEnv)
	if base == "" {
		base = DefaultDir
	}
	if err := ensure(base, create); err != nil {
		return "", err
	}
	sub := nsDir()
	if sub == "" {
		return base, nil
	}
	d := filepath.Join(base, sub)
	if err := ensure(d, create); err != nil {
		return "", err
	}
	return d, nil
}

// ensure checks that d is a directory safe to keep names in, making it
// (mode 1777) when it is missing and create is set.
func ensure(d string, create bool) error {
	made := false
	var st unix.Stat_t
	err := unix.Lstat(d, &st)
	if err == unix.ENOENT && create {
		switch err = unix.Mkdir(d, 0o700); err {
		case nil:
			made = true
		case unix.EEXIST: // made meanwhile
		default:
			return fmt.Errorf("make the socket directory %s: %w", d, err)
		}
		err = unix.Lstat(d, &st)
	}
	if err != nil {
		return fmt.Errorf("socket directory %s: %w", d, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%w: %s is not a directory (a symbolic link or a file is refused: another user may have made it)", ErrBadDir, d)
	}
	me := uint32(os.Geteuid())
	if st.Uid != 0 && st.Uid != me {
		return fmt.Errorf("%w: %s is owned by uid %d, which could remove or replace other users' sockets in it; have root remove it (root may make it: install -d -m 1777 %s)", ErrBadDir, d, st.Uid, d)
	}
	if made {
		// The mode Mkdir got was cut by the umask.
		if err := unix.Chmod(d, 0o1777); err != nil {
			return fmt.Errorf("socket directory %s: %w", d, err)
		}
		return nil
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("%w: %s (mode %o) may be written by other users but is not sticky: any of them could remove other users' sockets; make it mode 1777", ErrBadDir, d, st.Mode&0o7777)
	}
	return nil
}

// maxPath is the longest socket path every system takes (sun_path holds
// 104 bytes on macOS and the BSDs, 108 on Linux, the final NUL included).
const maxPath = 103

// checkLen refuses a socket path too long for a socket address.
func checkLen(path string) error {
	if len(path) > maxPath {
		return fmt.Errorf("%w: the socket path %s is %d bytes long, more than a socket address holds (%d): set %s to a shorter directory", ErrBadDir, path, len(path), maxPath, DirEnv)
	}
	return nil
}

// Path returns the path of name in the directory (which need not exist).
func Path(name string) string {
	base := os.Getenv(DirEnv)
	if base == "" {
		base = DefaultDir
	}
	if sub := nsDir(); sub != "" {
		base = filepath.Join(base, sub)
	}
	return filepath.Join(base, name)
}

// Claim is a name held by this process: the lock file, and the socket
// file to remove when the name is given up.
type Claim struct {
	lock     *os.File
	path     string
	dev, ino uint64
}

// Listen takes name for this process and returns a socket of type typ
// (SOCK_STREAM, or SOCK_SEQPACKET where the system has it) bound to it
// and listening, and the Claim that holds the name. It fails with an
// error wrapping ErrHeld when another process holds the name, with a
// *StaleError when another user's stale socket is in the way.
func Listen(name string, typ int) (*net.UnixListener, *Claim, error) {
	dir, err := Dir(true)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, name)
	if err := checkLen(path); err != nil {
		return nil, nil, err
	}
	lock, err := lockName(path + ".lock")
	if err != nil {
		return nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
		}
	}()
	fd, err := Socket(typ)
	if err != nil {
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close() // FileListener dups it
	sa := &unix.SockaddrUnix{Name: path}
	for tries := 0; ; tries++ {
		err = unix.Bind(fd, sa)
		if err != unix.EADDRINUSE || tries == 3 {
			break
		}
		// Something is at the path. The lock is ours, so a server that
		// answers there holds the name without its lock (its lock file
		// was removed under it): leave it. Anything else is left over.
		if alive(path, typ) {
			return nil, nil, fmt.Errorf("%w: %s answers though nobody holds %s.lock", ErrHeld, path, name)
		}
		if err := unix.Unlink(path); err != nil && err != unix.ENOENT {
			var st unix.Stat_t
			if unix.Lstat(path, &st) == nil {
				return nil, nil, &StaleError{Path: path, UID: st.Uid}
			}
			return nil, nil, fmt.Errorf("remove the stale socket %s: %w", path, err)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("bind %s: %w", path, err)
	}
	// Every user may connect; the server decides whom it serves.
	if err := unix.Chmod(path, 0o777); err != nil {
		unix.Unlink(path)
		return nil, nil, fmt.Errorf("open %s to every user: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		unix.Unlink(path)
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if err := unix.Listen(fd, listenBacklog()); err != nil {
		unix.Unlink(path)
		return nil, nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	fl, err := net.FileListener(f)
	if err != nil {
		unix.Unlink(path)
		return nil, nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln, isUnix := fl.(*net.UnixListener)
	if !isUnix {
		fl.Close()
		unix.Unlink(path)
		return nil, nil, fmt.Errorf("listen on %s: not a Unix socket", path)
	}
	ok = true
	return ln, &Claim{lock: lock, path: path, dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// lockName opens (making it if need be) a lock file and takes an
// exclusive lock on it without waiting.
func lockName(lockPath string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		fd, err := openNoFollow(lockPath, unix.O_RDONLY|unix.O_CREAT, 0o444)
		if err != nil {
			if err == unix.EACCES || err == unix.ELOOP || err == unix.EMLINK {
				var st unix.Stat_t
				_ = unix.Lstat(lockPath, &st)
				return nil, fmt.Errorf("%w: the lock file %s (uid %d) cannot be opened: %v", ErrHeld, lockPath, st.Uid, err)
			}
			return nil, fmt.Errorf("open the lock file %s: %w", lockPath, err)
		}
		f := os.NewFile(uintptr(fd), lockPath)
		var fst, pst unix.Stat_t
		if err := unix.Fstat(fd, &fst); err != nil || fst.Mode&unix.S_IFMT != unix.S_IFREG {
			f.Close()
			return nil, fmt.Errorf("%w: %s is not a regular file", ErrHeld, lockPath)
		}
		err = flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == unix.EWOULDBLOCK {
			f.Close()
			// A client that found the socket dead takes a shared lock
			// for an instant to learn whether a server is on its way
			// (Held): try a few times before saying the name is held.
			if attempt < 20 {
				time.Sleep(500 * time.Microsecond)
				continue
			}
			return nil, ErrHeld
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", lockPath, err)
		}
		// The file locked must still be the one at the path: its owner
		// may have removed it (and another process locked a new one).
		if unix.Stat(lockPath, &pst) != nil || pst.Dev != fst.Dev || pst.Ino != fst.Ino {
			f.Close()
			if attempt < 20 {
				continue
			}
			return nil, fmt.Errorf("%w: %s keeps changing", ErrHeld, lockPath)
		}
		return f, nil
	}
}

// Held reports whether a process holds name (its lock), as far as this
// process can tell: a lock file it cannot open counts as held.
func Held(name string) bool {
	lockPath := Path(name) + ".lock"
	fd, err := openNoFollow(lockPath, unix.O_RDONLY, 0)
	if err != nil {
		return err != unix.ENOENT
	}
	defer unix.Close(fd)
	err = flock(fd, unix.LOCK_SH|unix.LOCK_NB)
	return err == unix.EWOULDBLOCK
}

// alive reports whether a server accepts connections at path.
func alive(path string, typ int) bool {
	fd, err := Socket(typ)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	err = connectOnce(fd, path)
	return err == nil || err == unix.EAGAIN || err == unix.EINPROGRESS
}

// Release gives the name up: the socket file goes (if it is still the
// one Listen bound), then the lock file (when this user may remove it:
// a process that opened it meanwhile finds, once it has the lock, that
// the path names another file or none, and starts again), then the lock.
func (c *Claim) Release() {
	if c == nil || c.lock == nil {
		return
	}
	var st unix.Stat_t
	if unix.Lstat(c.path, &st) == nil && uint64(st.Dev) == c.dev && uint64(st.Ino) == c.ino {
		unix.Unlink(c.path)
	}
	var lst, pst unix.Stat_t
	lockPath := c.path + ".lock"
	if unix.Fstat(int(c.lock.Fd()), &lst) == nil && unix.Lstat(lockPath, &pst) == nil && pst.Dev == lst.Dev && pst.Ino == lst.Ino {
		unix.Unlink(lockPath)
	}
	c.lock.Close()
	c.lock = nil
}

// Drop closes this process's hold of the lock without removing the
// socket file: the name passed to another process (see Handoff).
func (c *Claim) Drop() {
	if c == nil || c.lock == nil {
		return
	}
	c.lock.Close()
	c.lock = nil
}

// Handoff returns what another process needs to take the claim over:
// the lock file (to pass with SCM_RIGHTS; the lock stays held while any
// process has it open) and the socket's path and identity (for Adopt).
func (c *Claim) Handoff() (lock *os.File, path string, dev, ino uint64) {
	return c.lock, c.path, c.dev, c.ino
}

// Adopt makes a Claim of a lock file and a socket received from the
// process that held them.
func Adopt(lock *os.File, path string, dev, ino uint64) *Claim {
	return &Claim{lock: lock, path: path, dev: dev, ino: ino}
}

// LockFile returns the claim's lock file (its device is the directory's).
func (c *Claim) LockFile() *os.File { return c.lock }

// Dial connects a new socket of type typ to name and returns it,
// non-blocking. It fails with ENOENT or ECONNREFUSED when nobody serves
// the name; while the server's queue of new connections is full (EAGAIN
// on Linux, ECONNREFUSED with the name's lock held elsewhere) it tries
// again until timeout.
func Dial(name string, typ int, timeout time.Duration) (int, error) {
	path := Path(name)
	if err := checkLen(path); err != nil {
		return -1, err
	}
	fd, err := Socket(typ)
	if err != nil {
		return -1, err
	}
	deadline := time.Now().Add(timeout)
	pause := 100 * time.Microsecond
	for {
		err = connectOnce(fd, path)
		switch {
		case err == nil:
			return fd, nil
		case err == unix.EINPROGRESS:
			err = waitConnect(fd, deadline)
			if err == nil {
				return fd, nil
			}
		case (err == unix.EAGAIN || (err == unix.ECONNREFUSED && Held(name))) && time.Now().Before(deadline):
			time.Sleep(pause)
			pause = min(2*pause, 10*time.Millisecond)
			continue
		}
		unix.Close(fd)
		return -1, err
	}
}

func connectOnce(fd int, path string) error {
	for {
		err := unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			return err
		}
	}
}

// waitConnect waits for a connect in progress to end.
func waitConnect(fd int, deadline time.Time) error {
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return unix.ETIMEDOUT
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, ms)
		if err == unix.EINTR || (err == nil && n == 0) {
			continue
		}
		if err != nil {
			return err
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return err
		}
		if soerr != 0 {
			return syscall.Errno(soerr)
		}
		return nil
	}
}

// listenBacklog is the queue of connections not yet accepted: the
// kernel cuts it to the most the system allows (somaxconn).
func listenBacklog() int { return 65535 }

// flock is flock(2), tried again when a signal interrupts it.
func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// openNoFollow opens path, refusing a symbolic link in its last element
// and never blocking (a FIFO put in its place must not hold us).
func openNoFollow(path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Open(path, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
