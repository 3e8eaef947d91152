//go:build !windows

package daemon

import (
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/internal/local"
)

// TestStreamOrigin checks that a sender's Source never hides its address
// and reaches the slot printable.
func TestStreamOrigin(t *testing.T) {
	for _, remote := range []string{"10.0.0.1:4242", "[fe80::1%eth0]:65535"} {
		for _, src := range []string{"", "HOSTA", strings.Repeat("N", 255), strings.Repeat("\x1b[2J", 64), "EVIL\n\u202e"} {
			o := streamOrigin(src, remote)
			if len(o) > local.MaxOrigin || !strings.HasPrefix(o, `\\`) || !strings.HasSuffix(o, " ("+remote+")") {
				t.Errorf("streamOrigin(%q, %q) = %q", src, remote, o)
			}
			if strings.ContainsAny(o, "\x1b\n\u202e") {
				t.Errorf("streamOrigin(%q, %q) = %q holds a control character", src, remote, o)
			}
		}
	}
}
