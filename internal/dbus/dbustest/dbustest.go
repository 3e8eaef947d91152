// Package dbustest runs a private D-Bus session bus for tests and plays
// services on it: nothing touches the user's own session bus.
package dbustest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mailslot-go/mailslot/internal/dbus"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

// T is the part of testing.TB these helpers use.
type T interface {
	testenv.TB
	Cleanup(func())
	TempDir() string
	Logf(format string, args ...any)
}

// busConfig is a session bus that listens on one socket, authenticates
// with EXTERNAL, lets everyone own any name and call anything, and starts
// no services.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// StartBus runs a private dbus-daemon until the test's cleanup and
// returns its address (for DBUS_SESSION_BUS_ADDRESS). A missing
// dbus-daemon skips the test, or fails it under CI.
func StartBus(t T) string {
	t.Helper()
	bin := testenv.LookPath(t, "dbus-daemon")
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, filepath.Join(dir, "bus"))), 0o644); err != nil {
		t.Fatalf("write the bus configuration: %v", err)
	}
	cmd := exec.Command(bin, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() { // ends when dbus-daemon closes its output (at cleanup)
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatalf("dbus-daemon printed no address; stderr: %s", stderr.String())
		}
		return a
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon printed no address within 10 s")
		return ""
	}
}

// Notification is one Notify call a fake notification service received.
type Notification struct {
	AppName, Icon, Summary, Body string
	ReplacesID                   uint32
	Actions                      []any
	Hints                        []dbus.DictEntry
	Timeout                      int32
	Sender                       string
}

// Notifications plays org.freedesktop.Notifications on a bus and records
// the Notify calls it gets.
type Notifications struct {
	conn *dbus.Conn
	done chan struct{}

	mu    sync.Mutex
	calls []Notification
	errs  []string
}

// Notifications' well-known name and object.
const (
	Name = "org.freedesktop.Notifications"
	Path = dbus.ObjectPath("/org/freedesktop/Notifications")
)

// StartNotifications claims org.freedesktop.Notifications on the bus at
// addr and answers Notify (ids 1, 2...) and GetCapabilities (caps) until
// the test's cleanup, which closes its connection and waits for it.
func StartNotifications(t T, addr string, caps ...string) *Notifications {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dbus.Dial(ctx, addr)
	if err != nil {
		t.Fatalf("fake notification service: %v", err)
	}
	if code, err := c.RequestName(ctx, Name); err != nil || code != dbus.NamePrimaryOwner {
		c.Close()
		t.Fatalf("fake notification service: RequestName %s: code %d, %v", Name, code, err)
	}
	n := &Notifications{conn: c, done: make(chan struct{})}
	go n.serve(caps)
	t.Cleanup(func() {
		c.Close()
		<-n.done
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, e := range n.errs {
			t.Logf("fake notification service: %s", e)
		}
	})
	return n
}

// serve answers calls until the connection closes.
func (n *Notifications) serve(caps []string) {
	defer close(n.done)
	var id uint32
	for {
		m, err := n.conn.ReadMessage()
		if err != nil {
			return
		}
		if m.Type != dbus.TypeMethodCall {
			continue
		}
		switch {
		case m.Member == "Notify" && m.Signature == "susssasa{sv}i":
			b := m.Body
			hints, _ := b[6].([]dbus.DictEntry)
			actions, _ := b[5].([]any)
			call := Notification{AppName: b[0].(string), ReplacesID: b[1].(uint32), Icon: b[2].(string),
				Summary: b[3].(string), Body: b[4].(string), Actions: actions, Hints: hints, Timeout: b[7].(int32), Sender: m.Sender}
			n.mu.Lock()
			n.calls = append(n.calls, call)
			n.mu.Unlock()
			id++
			err = n.conn.Reply(m, "u", id)
		case m.Member == "GetCapabilities":
			err = n.conn.Reply(m, "as", caps)
		case m.Member == "GetServerInformation":
			err = n.conn.Reply(m, "ssss", "fake", "mailslot tests", "1", "1.2")
		default:
			n.record(fmt.Sprintf("unexpected call %s.%s(%s)", m.Interface, m.Member, m.Signature))
			err = n.conn.ReplyError(m, "org.freedesktop.DBus.Error.UnknownMethod", "no method "+m.Member)
		}
		if err != nil {
			n.record(err.Error())
		}
	}
}

func (n *Notifications) record(e string) {
	n.mu.Lock()
	n.errs = append(n.errs, e)
	n.mu.Unlock()
}

// Calls returns the Notify calls so far.
func (n *Notifications) Calls() []Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Notification(nil), n.calls...)
}

// WaitCalls waits up to d for at least count Notify calls and returns
// those there are.
func (n *Notifications) WaitCalls(count int, d time.Duration) []Notification {
	deadline := time.Now().Add(d)
	for {
		calls := n.Calls()
		if len(calls) >= count || time.Now().After(deadline) {
			return calls
		}
		time.Sleep(10 * time.Millisecond)
	}
}
