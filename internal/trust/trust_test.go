package trust

import (
	"os/user"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/internal/testenv"
)

// otherUser returns a user of this system other than root and nobody
// ("daemon" exists on every common distribution).
func otherUser(t *testing.T) (name string, uid uint32) {
	t.Helper()
	u, err := user.Lookup("daemon")
	if err != nil {
		testenv.Missing(t, "this system has no user named daemon")
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil || n == 0 || uint32(n) == overflowUID() {
		testenv.Missing(t, "user daemon has uid "+u.Uid)
	}
	return u.Username, uint32(n)
}

// unusedUID returns a uid no user of this system has.
func unusedUID(t *testing.T) uint32 {
	t.Helper()
	for uid := uint32(3_999_999_000); uid < 3_999_999_100; uid++ {
		if _, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err != nil {
			return uid
		}
	}
	t.Fatal("every uid tried belongs to a user")
	return 0
}

func TestDaemonUser(t *testing.T) {
	name, uid := otherUser(t)
	unused := strconv.FormatUint(uint64(unusedUID(t)), 10)
	overflow := strconv.FormatUint(uint64(overflowUID()), 10)
	for _, tc := range []struct {
		value   string
		want    []uint32
		errWith string // "" for no error
	}{
		{"", []uint32{0}, ""},
		{"   ", []uint32{0}, ""},
		{name, []uint32{0, uid}, ""},
		{" " + name + "\n", []uint32{0, uid}, ""},
		{strconv.FormatUint(uint64(uid), 10), []uint32{0, uid}, ""},
		{"root", []uint32{0}, ""},
		{"0", []uint32{0}, ""},
		// Garbage, and users this system does not have, widen nothing.
		{"no-such-user-mailslot", []uint32{0}, "names no user"},
		{"daemon;root", []uint32{0}, "names no user"},
		{name + "x", []uint32{0}, "names no user"},
		{"12x", []uint32{0}, "names no user"},
		{"-1", []uint32{0}, "names no user"},
		{"+" + strconv.FormatUint(uint64(uid), 10), []uint32{0}, "names no user"},
		{"4294967295", []uint32{0}, "not a valid uid"},
		{"99999999999", []uint32{0}, "not a valid uid"},
		{unused, []uint32{0}, "names no user"},
		// The overflow uid stands for every unmapped user of other user
		// namespaces, by number or by name.
		{overflow, []uint32{0}, "overflow uid"},
	} {
		t.Setenv(DaemonUserEnv, tc.value)
		got := DaemonUIDs()
		err := Check()
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s=%q: DaemonUIDs() = %v, want %v", DaemonUserEnv, tc.value, got, tc.want)
		}
		switch {
		case tc.errWith == "" && err != nil:
			t.Errorf("%s=%q: Check() = %v, want nil", DaemonUserEnv, tc.value, err)
		case tc.errWith != "" && (err == nil || !strings.Contains(err.Error(), tc.errWith) ||
			!strings.Contains(err.Error(), DaemonUserEnv) || !strings.Contains(err.Error(), "trusting only root")):
			t.Errorf("%s=%q: Check() = %v, want an error saying %q", DaemonUserEnv, tc.value, err, tc.errWith)
		}
		for _, u := range []uint32{0, uid, overflowUID(), 1000, 4294967295} {
			if want := slices.Contains(tc.want, u); IsDaemonUID(u) != want {
				t.Errorf("%s=%q: IsDaemonUID(%d) = %v, want %v", DaemonUserEnv, tc.value, u, !want, want)
			}
		}
	}
	if u, err := user.LookupId(overflow); err == nil {
		t.Setenv(DaemonUserEnv, u.Username)
		if err := Check(); err == nil || !strings.Contains(err.Error(), "overflow uid") || IsDaemonUID(overflowUID()) {
			t.Errorf("%s=%s (the overflow uid by name): Check() = %v, trusted %v", DaemonUserEnv, u.Username, err, IsDaemonUID(overflowUID()))
		}
	}
}

// A caller changing the returned slice changes nothing for others.
func TestDaemonUIDsIsACopy(t *testing.T) {
	t.Setenv(DaemonUserEnv, "")
	uids := DaemonUIDs()
	uids[0] = 1234
	if IsDaemonUID(1234) || !IsDaemonUID(0) {
		t.Fatal("changing DaemonUIDs' result changed the trusted uids")
	}
}
