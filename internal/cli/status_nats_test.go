//go:build !windows

package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/daemon/natsbridge"
)

// The NATS bridge's state and counters, when there is one.
func TestPrintStatusNATS(t *testing.T) {
	st := daemon.Status{Name: "HOSTA", Workgroup: "WG", Bridge: &natsbridge.Stats{Site: "site1", Published: 7, NotBridged: 2}}
	var out bytes.Buffer
	if err := printStatus(&out, &st); err != nil {
		t.Fatal(err)
	}
	words := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"nats bridge down (reconnecting), site site1", "nats published 7", "nats not bridged 2"} {
		if !strings.Contains(words, want) {
			t.Errorf("status does not say %q:\n%s", want, out.String())
		}
	}
	st.Bridge.Connected, st.Bridge.Server = true, "nats-1"
	out.Reset()
	_ = printStatus(&out, &st)
	if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), "nats bridge connected to nats-1, site site1") {
		t.Errorf("connected:\n%s", out.String())
	}
	st.Bridge = nil
	out.Reset()
	_ = printStatus(&out, &st)
	if strings.Contains(out.String(), "nats") {
		t.Errorf("no bridge, yet:\n%s", out.String())
	}
}
