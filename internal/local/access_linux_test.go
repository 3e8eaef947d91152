//go:build linux && !mailslot_portable

package local

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/internal/asuser"
	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/trust"
)

// daemonUID is a user of the system's database that the tests make the
// daemon user (MAILSLOT_DAEMON_USER names a user that exists): Debian's
// "daemon".
const daemonUID = 1

// Who may open a slot, as the server decides it from the writer's
// credentials: the policy's users write plainly, only the daemon user
// relays, and only to a slot that takes network records. Every refusal
// is counted and reaches the writer as a permission error.
func TestWhoMayWrite(t *testing.T) {
	t.Setenv(trust.DaemonUserEnv, strconv.Itoa(daemonUID))
	for _, tc := range []struct {
		name    string
		uid     uint32
		role    string
		policy  Policy
		network bool
		want    string
	}{
		{"another user", asuser.Nobody, "dial", Policy{}, true, "permission"},
		{"another user allowed", asuser.Nobody, "dial", Policy{AnyUser: true}, true, "ok"},
		{"another user relaying", asuser.Nobody, "dial-relay", Policy{AnyUser: true}, true, "permission"},
		{"the daemon user, not in the policy", daemonUID, "dial", Policy{}, true, "permission"},
		{"the daemon user relaying", daemonUID, "dial-relay", Policy{}, true, "ok"},
		{"the daemon user relaying to a local slot", daemonUID, "dial-relay", Policy{}, false, "permission"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := listenT(t, Config{Policy: tc.policy, Network: tc.network})
			out, err := asuser.Command(t, tc.uid, tc.uid, tc.role, testKey(t)).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Fatalf("the writer said %q, want %q", got, tc.want)
			}
			refused := uint64(0)
			if tc.want != "ok" {
				refused = 1
			}
			if st := s.Stats(); st.Refused != refused {
				t.Errorf("%d writers counted refused, want %d", st.Refused, refused)
			}
		})
	}
	// This process's own user relaying to a local slot (root, or the
	// daemon user the test makes it).
	asDaemonUser(t)
	listenT(t, Config{Policy: owner})
	if _, err := Dial(testKey(t), DialConfig{Relay: true}); !errors.Is(err, errs.Permission) {
		t.Fatalf("a relay to a slot without network records: %v", err)
	}
}
