package notify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/dbus/dbustest"
	"github.com/mailslot-go/mailslot/internal/notify"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestNotify(t *testing.T) {
	addr := dbustest.StartBus(t)
	c := notify.New(addr, "mailslot")
	defer c.Close()
	if ok, err := c.Available(ctx(t)); ok || err != nil {
		t.Fatalf("Available with no service: %v, %v", ok, err)
	}
	if _, err := c.Notify(ctx(t), "s", "b"); !errors.Is(err, notify.ErrNoService) {
		t.Fatalf("Notify with no service: %v", err)
	}

	fake := dbustest.StartNotifications(t, addr)
	if ok, err := c.Available(ctx(t)); !ok || err != nil {
		t.Fatalf("Available: %v, %v", ok, err)
	}
	id, err := c.Notify(ctx(t), "Message from ALICE", "<b>not bold</b> & ok")
	if err != nil || id != 1 {
		t.Fatalf("Notify: %d, %v", id, err)
	}
	calls := fake.Calls()
	if len(calls) != 1 {
		t.Fatalf("the service got %d calls", len(calls))
	}
	n := calls[0]
	if n.AppName != "mailslot" || n.Summary != "Message from ALICE" || n.Body != "<b>not bold</b> & ok" || n.Timeout != -1 || n.ReplacesID != 0 {
		t.Errorf("notification %+v", n)
	}
	if len(n.Hints) != 2 {
		t.Errorf("hints %+v", n.Hints)
	}
}

// A service that takes markup gets the text escaped.
func TestNotifyMarkup(t *testing.T) {
	addr := dbustest.StartBus(t)
	fake := dbustest.StartNotifications(t, addr, "body", "body-markup")
	c := notify.New(addr, "mailslot")
	defer c.Close()
	if _, err := c.Notify(ctx(t), "Message from EVIL", `<a href="x">click</a> & 'go'`); err != nil {
		t.Fatal(err)
	}
	if got := fake.Calls()[0].Body; got != "&lt;a href=&quot;x&quot;&gt;click&lt;/a&gt; &amp; &apos;go&apos;" {
		t.Errorf("body %q", got)
	}
}

func TestNoBus(t *testing.T) {
	c := notify.New("unix:path="+t.TempDir()+"/nobus", "mailslot")
	if _, err := c.Notify(ctx(t), "s", "b"); err == nil || errors.Is(err, notify.ErrNoService) {
		t.Fatalf("Notify without a bus: %v", err)
	}
}
