//go:build !windows

package mailslotd

import (
	"strings"
	"testing"
)

// A reload's log shows the NATS servers without their passwords.
func TestShownHidesNATSPasswords(t *testing.T) {
	if got := shown("nats", "nats://site1:secret@10.0.0.1:4222,nats://b:4222"); strings.Contains(got, "secret") || !strings.Contains(got, "nats://b:4222") {
		t.Errorf("shown(nats) = %q", got)
	}
	if got := shown("name", "secret"); got != "secret" {
		t.Errorf("shown(name) = %q", got)
	}
}
