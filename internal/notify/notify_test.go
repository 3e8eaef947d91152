//go:build !dragonfly

package notify_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/mailslot-go/mailslot/internal/notify"
	"github.com/mailslot-go/mailslot/internal/notify/notifytest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// noLeak fails the test if goroutines started after it was called are
// still there (polled for up to 5 s) once the test's cleanups have run.
func noLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines left after Close (were %d):\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestNotify talks to a real dbus-daemon and a notification service on it.
func TestNotify(t *testing.T) {
	addr := notifytest.StartBus(t)
	noLeak(t)
	c := notify.New(addr, "mailslot")
	defer c.Close()
	if ok, err := c.Available(ctx(t)); ok || err != nil {
		t.Fatalf("Available with no service: %v, %v", ok, err)
	}
	if _, err := c.Notify(ctx(t), "s", "b"); !errors.Is(err, notify.ErrNoService) {
		t.Fatalf("Notify with no service: %v", err)
	}

	fake := notifytest.StartNotifications(t, addr)
	if ok, err := c.Available(ctx(t)); !ok || err != nil {
		t.Fatalf("Available: %v, %v", ok, err)
	}
	for i := uint32(1); i <= 2; i++ {
		id, err := c.Notify(ctx(t), "Message from ALICE", "<b>not bold</b> & ok")
		if err != nil || id != i {
			t.Fatalf("Notify %d: id %d, %v", i, id, err)
		}
	}
	calls := fake.Calls()
	if len(calls) != 2 {
		t.Fatalf("the service got %d calls", len(calls))
	}
	n := calls[0]
	if n.AppName != "mailslot" || n.Summary != "Message from ALICE" || n.Body != "<b>not bold</b> & ok" || n.Timeout != -1 ||
		n.ReplacesID != 0 || n.Icon != "" || len(n.Actions) != 0 || !strings.HasPrefix(n.Sender, ":") {
		t.Errorf("notification %+v", n)
	}
	if len(n.Hints) != 2 || n.Hints["urgency"].Value() != byte(1) || n.Hints["category"].Value() != "im.received" {
		t.Errorf("hints %+v", n.Hints)
	}
}

// A service that takes markup gets the text escaped.
func TestNotifyMarkup(t *testing.T) {
	addr := notifytest.StartBus(t)
	fake := notifytest.StartNotifications(t, addr, "body", "body-markup")
	c := notify.New(addr, "mailslot")
	defer c.Close()
	if _, err := c.Notify(ctx(t), "Message from EVIL", `<a href="x">click</a> & 'go'`); err != nil {
		t.Fatal(err)
	}
	if got := fake.Calls()[0].Body; got != "&lt;a href=&quot;x&quot;&gt;click&lt;/a&gt; &amp; &apos;go&apos;" {
		t.Errorf("body %q", got)
	}
}

// A service that answers Notify with an error: the error names the call
// and the D-Bus error, and the connection stays for the next message.
type refusing struct{}

func (refusing) GetCapabilities() ([]string, *dbus.Error) { return nil, nil }
func (refusing) Notify(app string, replaces uint32, icon, summary, body string, actions []string,
	hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	return 0, dbus.NewError("org.example.Refused", []any{"not now"})
}

func TestNotifyRefused(t *testing.T) {
	addr := notifytest.StartBus(t)
	svc, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := svc.Export(refusing{}, notify.Path, notify.Interface); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RequestName(notify.Service, dbus.NameFlagDoNotQueue); err != nil {
		t.Fatal(err)
	}
	c := notify.New(addr, "mailslot")
	defer c.Close()
	for range 2 {
		_, err := c.Notify(ctx(t), "s", "b")
		var de dbus.Error
		if !errors.As(err, &de) || de.Name != "org.example.Refused" || !strings.Contains(err.Error(), "Notify on org.freedesktop.Notifications: org.example.Refused: not now") {
			t.Fatalf("Notify to a refusing service: %v", err)
		}
	}
}

func TestNoBus(t *testing.T) {
	for _, addr := range []string{"", "unix:path=" + t.TempDir() + "/nobus", "tcp:host=127.0.0.1,port=1", "nonsense"} {
		c := notify.New(addr, "mailslot")
		_, err := c.Notify(ctx(t), "s", "b")
		if err == nil || errors.Is(err, notify.ErrNoService) || (addr != "" && !strings.Contains(err.Error(), addr)) {
			t.Errorf("Notify without a bus at %q: %v", addr, err)
		}
	}
}

// A bus that takes the connection and never answers: the context bounds
// the handshake, and nothing is left behind.
func TestStalledBus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stalled")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	noLeak(t)
	c := notify.New("unix:path="+path, "mailslot")
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if ok, err := c.Available(short); ok || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Available on a stalled bus: %v, %v", ok, err)
	}
	c.Close()
	l.Close()
	for sc := range accepted {
		sc.Close()
	}
}
