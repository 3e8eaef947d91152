//go:build !windows && !dragonfly

package cli

import (
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/internal/notify/notifytest"
)

// TestMessengerNotify: with a session bus that has a notification service,
// each message shown pops up there; --no-notify turns it off.
func TestMessengerNotify(t *testing.T) {
	addr := notifytest.StartBus(t)
	fake := notifytest.StartNotifications(t, addr)
	vars := map[string]string{"DBUS_SESSION_BUS_ADDRESS": addr}
	slot := uniq(t)
	ch := startMessenger(t, slot, vars, "--count", "2")
	netsendTo(t, slot, "", "--from", "ALICE", "Sauvegarde échouée à 3h")
	netsendTo(t, slot, "", "--from", "SRV-1", "--codepage", "utf-8", "reboot <b>now</b> — 5 min")
	r := wait(t, ch)
	if r.code != 0 || !strings.Contains(r.stderr, "desktop notifications: on") {
		t.Fatalf("messenger: %+v", r)
	}
	calls := fake.Calls()
	if len(calls) != 2 {
		t.Fatalf("the notification service got %d calls: %+v", len(calls), calls)
	}
	for i, want := range [][2]string{{"Message from ALICE", "Sauvegarde échouée à 3h"}, {"Message from SRV-1", "reboot <b>now</b> — 5 min"}} {
		if c := calls[i]; c.AppName != "mailslot" || c.Summary != want[0] || c.Body != want[1] {
			t.Errorf("notification %d: %+v; want %q, %q", i, c, want[0], want[1])
		}
	}

	ch = startMessenger(t, slot, vars, "--count", "1", "--no-notify")
	netsendTo(t, slot, "", "--from", "BOB", "quiet")
	if r := wait(t, ch); r.code != 0 || strings.Contains(r.stderr, "notification") {
		t.Fatalf("--no-notify: %+v", r)
	}
	if n := len(fake.Calls()); n != 2 {
		t.Errorf("--no-notify: the service got %d calls", n)
	}
}

// With a session bus but no notification service, messages are shown and
// the messenger says there is no service.
func TestMessengerNoNotificationService(t *testing.T) {
	addr := notifytest.StartBus(t)
	slot := uniq(t)
	ch := startMessenger(t, slot, map[string]string{"DBUS_SESSION_BUS_ADDRESS": addr}, "--count", "1")
	netsendTo(t, slot, "", "--from", "A", "shown anyway")
	r := wait(t, ch)
	if r.code != 0 || !strings.Contains(r.stdout, "shown anyway") || !strings.Contains(r.stderr, "none yet (no org.freedesktop.Notifications") || strings.Contains(r.stderr, "failed") {
		t.Fatalf("messenger: %+v", r)
	}
}
