// Package trust says which local users may be mailslotd. A process that
// claims to be the computer's mailslotd (the one answering on the host
// info socket, or a relay handing on records from the network) is
// believed only if the kernel says it runs as one of these users: root,
// always, and the user MAILSLOT_DAEMON_USER names, for a site that runs
// mailslotd as a dedicated user. Any other local user could take the
// daemon's names first; its claims are not believed.
//
// MAILSLOT_DAEMON_USER holds a user name or a numeric uid, resolved with
// os/user; a uid must belong to a known user too. A value that names no
// user, or names the kernel's overflow uid (which stands for every user
// of another user namespace), never widens the trust: the setting is then
// ignored, and Check says why, so that mailslotd can warn at start.
package trust

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DaemonUserEnv is the environment variable naming the user, besides
// root, that mailslotd may run as.
const DaemonUserEnv = "MAILSLOT_DAEMON_USER"

// DaemonUIDs returns the uids trusted to be mailslotd: 0 first, then the
// user MAILSLOT_DAEMON_USER names, if it names a valid one. The caller may
// keep or change the slice.
func DaemonUIDs() []uint32 {
	uids, _ := fromEnv()
	return slices.Clone(uids)
}

// IsDaemonUID reports whether a process running as uid may be mailslotd:
// uid is root, or the user MAILSLOT_DAEMON_USER names.
func IsDaemonUID(uid uint32) bool {
	uids, _ := fromEnv()
	return slices.Contains(uids, uid)
}

// Check returns why MAILSLOT_DAEMON_USER is ignored, or nil when it is
// unset, empty or names a valid user. mailslotd calls it at start to warn
// about a setting that does not do what its writer meant.
func Check() error {
	_, err := fromEnv()
	return err
}

// LookupDaemonUser resolves a MAILSLOT_DAEMON_USER value (a user name or a
// numeric uid, surrounding spaces ignored) to a uid. It fails for a user
// that does not exist, for a malformed number and for the overflow uid.
func LookupDaemonUser(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("no user given")
	}
	// Processes of a user namespace whose uid has no mapping here show as
	// the overflow uid: trusting it would trust all of them.
	overflow := func(uid uint32) error {
		return fmt.Errorf("%s=%q is the overflow uid %d, which stands for any user of another user namespace; run mailslotd as a user of its own", DaemonUserEnv, s, uid)
	}
	var u *user.User
	var err error
	if isDigits(s) {
		// A uid: it must parse and belong to a user this system knows.
		// (-1 as uid_t is no user at all.)
		n, perr := strconv.ParseUint(s, 10, 32)
		if perr != nil || n == 1<<32-1 {
			return 0, fmt.Errorf("%s=%q is not a valid uid", DaemonUserEnv, s)
		}
		if uint32(n) == overflowUID() {
			return 0, overflow(uint32(n))
		}
		u, err = user.LookupId(s)
	} else {
		u, err = user.Lookup(s)
	}
	if err != nil {
		return 0, fmt.Errorf("%s=%q names no user of this system: %w", DaemonUserEnv, s, err)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: user %s has uid %q", DaemonUserEnv, s, u.Username, u.Uid)
	}
	if uint32(n) == overflowUID() {
		return 0, overflow(uint32(n))
	}
	return uint32(n), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// overflowUID is the uid the kernel reports for a user it cannot map
// into this user namespace (65534 unless changed).
func overflowUID() uint32 {
	b, err := os.ReadFile("/proc/sys/kernel/overflowuid")
	if err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			return uint32(n)
		}
	}
	return 65534
}

// The resolved setting, kept for as long as the variable holds the same
// value: IsDaemonUID may be asked for every connection, and a look-up
// reads the user database.
var cache struct {
	sync.Mutex
	valid bool
	value string
	uids  []uint32
	err   error
}

// fromEnv returns the trusted uids for the current MAILSLOT_DAEMON_USER
// and why the variable is ignored, if it is. The slice is shared: callers
// must not change it.
func fromEnv() ([]uint32, error) {
	v := os.Getenv(DaemonUserEnv)
	cache.Lock()
	defer cache.Unlock()
	if cache.valid && cache.value == v {
		return cache.uids, cache.err
	}
	uids, err := resolve(v)
	cache.valid, cache.value, cache.uids, cache.err = true, v, uids, err
	return uids, err
}

// resolve turns a MAILSLOT_DAEMON_USER value into the trusted uids: root,
// and the user it names; root alone (and the error) if it names none.
func resolve(v string) ([]uint32, error) {
	uids := []uint32{0}
	if strings.TrimSpace(v) == "" {
		return uids, nil
	}
	uid, err := LookupDaemonUser(v)
	if err != nil {
		return uids, fmt.Errorf("%w; trusting only root as mailslotd", err)
	}
	if uid != 0 {
		uids = append(uids, uid)
	}
	return uids, nil
}
