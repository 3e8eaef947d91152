//go:build !dragonfly

// Package notifytest runs a private D-Bus session bus (a real dbus-daemon)
// for tests and plays a notification service on it: nothing touches the
// user's own session bus.
package notifytest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

// T is the part of testing.TB these helpers use.
type T interface {
	testenv.TB
	Cleanup(func())
	TempDir() string
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
	Actions                      []string
	Hints                        map[string]dbus.Variant
	Timeout                      int32
	Sender                       string
}

// Notifications plays org.freedesktop.Notifications on a bus and records
// the Notify calls it gets.
type Notifications struct {
	caps []string

	mu    sync.Mutex
	id    uint32
	calls []Notification
}

// Notifications' well-known name and object.
const (
	Name = "org.freedesktop.Notifications"
	Path = dbus.ObjectPath("/org/freedesktop/Notifications")
)

// StartNotifications claims org.freedesktop.Notifications on the bus at
// addr and answers Notify (ids 1, 2...), GetCapabilities (caps) and
// GetServerInformation until the test's cleanup, which closes its
// connection.
func StartNotifications(t T, addr string, caps ...string) *Notifications {
	t.Helper()
	c, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("fake notification service: connect to %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	n := &Notifications{caps: caps}
	if err := c.Export(service{n}, Path, Name); err != nil {
		t.Fatalf("fake notification service: export: %v", err)
	}
	if code, err := c.RequestName(Name, dbus.NameFlagDoNotQueue); err != nil || code != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("fake notification service: RequestName %s: code %d, %v", Name, code, err)
	}
	return n
}

// service holds the methods exported on the bus.
type service struct{ n *Notifications }

// Notify records the call and answers the next id.
func (s service) Notify(sender dbus.Sender, app string, replaces uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	s.n.calls = append(s.n.calls, Notification{AppName: app, ReplacesID: replaces, Icon: icon, Summary: summary,
		Body: body, Actions: actions, Hints: hints, Timeout: timeout, Sender: string(sender)})
	s.n.id++
	return s.n.id, nil
}

// GetCapabilities answers the capabilities given to StartNotifications.
func (s service) GetCapabilities() ([]string, *dbus.Error) {
	return append([]string{}, s.n.caps...), nil
}

// GetServerInformation names the fake.
func (s service) GetServerInformation() (name, vendor, version, spec string, err *dbus.Error) {
	return "fake", "mailslot tests", "1", "1.2", nil
}

// Calls returns the Notify calls so far.
func (n *Notifications) Calls() []Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Notification(nil), n.calls...)
}
