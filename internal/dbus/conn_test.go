package dbus_test

import (
	"context"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/dbus"
	"github.com/mailslot-go/mailslot/internal/dbus/dbustest"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

func dial(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := dbus.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// serveOnce answers the next method call on c with f's reply, in a
// goroutine the test waits for.
func serveOnce(t *testing.T, c *dbus.Conn, f func(m *dbus.Message) error) <-chan *dbus.Message {
	got := make(chan *dbus.Message, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := c.ReadMessage()
			if err != nil {
				got <- nil
				return
			}
			if m.Type == dbus.TypeMethodCall {
				if f != nil {
					if err := f(m); err != nil {
						t.Error(err)
					}
				}
				got <- m
				return
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return got
}

// TestBus talks to a real dbus-daemon, which checks every message we send.
func TestBus(t *testing.T) {
	addr := dbustest.StartBus(t)
	client, service := dial(t, addr), dial(t, addr)
	if !strings.HasPrefix(client.UniqueName(), ":") || client.UniqueName() == service.UniqueName() {
		t.Fatalf("unique names %q, %q", client.UniqueName(), service.UniqueName())
	}
	const name = "test.mailslot.Echo"
	if has, err := client.NameHasOwner(ctx(t), name); err != nil || has {
		t.Fatalf("NameHasOwner before: %v, %v", has, err)
	}
	if code, err := service.RequestName(ctx(t), name); err != nil || code != dbus.NamePrimaryOwner {
		t.Fatalf("RequestName: %d, %v", code, err)
	}
	if code, err := client.RequestName(ctx(t), name); err != nil || code != dbus.NameExists {
		t.Fatalf("RequestName taken: %d, %v", code, err)
	}
	if has, err := client.NameHasOwner(ctx(t), name); err != nil || !has {
		t.Fatalf("NameHasOwner after: %v, %v", has, err)
	}
	if act, err := client.Activatable(ctx(t), name); err != nil || act {
		t.Fatalf("Activatable: %v, %v", act, err)
	}

	body := []any{"héllo", uint32(7), []any{"a", "b"}, []dbus.DictEntry{{"k", dbus.Variant{"ai", []any{int32(1), int32(-2)}}}},
		[]any{byte(1), 2.5}, dbus.Variant{"o", dbus.ObjectPath("/p")}}
	got := serveOnce(t, service, func(m *dbus.Message) error { return service.Reply(m, m.Signature, m.Body...) })
	reply, err := client.Call(ctx(t), &dbus.Message{Destination: name, Path: "/echo", Interface: name, Member: "Echo",
		Signature: "suasa{sv}(yd)v", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	call := <-got
	if call == nil || call.Sender != client.UniqueName() || call.Member != "Echo" || !reflect.DeepEqual(call.Body, body) {
		t.Fatalf("the service got %+v", call)
	}
	if !reflect.DeepEqual(reply.Body, body) {
		t.Fatalf("reply %#v", reply.Body)
	}

	// Errors: a name nobody owns, and a call nobody answers in time.
	_, err = client.Call(ctx(t), &dbus.Message{Destination: "test.nobody", Path: "/", Interface: "test.nobody", Member: "X"})
	var de *dbus.Error
	if !errors.As(err, &de) || de.Name != "org.freedesktop.DBus.Error.ServiceUnknown" || !strings.Contains(err.Error(), "test.nobody.X") {
		t.Fatalf("call to nobody: %v", err)
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = client.Call(short, &dbus.Message{Destination: name, Path: "/", Interface: name, Member: "Silent"})
	if err == nil || !strings.Contains(err.Error(), "Silent") {
		t.Fatalf("unanswered call: %v", err)
	}
}

// TestDbusSend decodes what libdbus (dbus-send) marshals.
func TestDbusSend(t *testing.T) {
	addr := dbustest.StartBus(t)
	send := testenv.LookPath(t, "dbus-send")
	service := dial(t, addr)
	const name = "test.mailslot.Sink"
	if _, err := service.RequestName(ctx(t), name); err != nil {
		t.Fatal(err)
	}
	got := serveOnce(t, service, nil)
	out, err := exec.Command(send, "--bus="+addr, "--type=method_call", "--dest="+name, "/sink", name+".Take",
		"string:Sauvegarde échouée", "uint32:7", "int64:-5", "boolean:true", "double:1.5", "byte:255", "objpath:/a/b",
		"array:string:x,y", "dict:string:int32:one,1,two,2", "variant:int32:42").CombinedOutput()
	if err != nil {
		t.Fatalf("dbus-send: %v: %s", err, out)
	}
	var m *dbus.Message
	select {
	case m = <-got:
	case <-time.After(5 * time.Second):
	}
	if m == nil {
		t.Fatal("no call arrived")
	}
	want := []any{"Sauvegarde échouée", uint32(7), int64(-5), true, 1.5, byte(255), dbus.ObjectPath("/a/b"),
		[]any{"x", "y"}, []dbus.DictEntry{{"one", int32(1)}, {"two", int32(2)}}, dbus.Variant{"i", int32(42)}}
	if m.Signature != "suxbdyoasa{si}v" || !reflect.DeepEqual(m.Body, want) {
		t.Fatalf("dbus-send's call: %q %#v", m.Signature, m.Body)
	}
}

func TestDialErrors(t *testing.T) {
	for _, addr := range []string{"", "tcp:host=127.0.0.1,port=1", "unix:path=" + t.TempDir() + "/none"} {
		if c, err := dbus.Dial(ctx(t), addr); err == nil {
			c.Close()
			t.Errorf("Dial(%q) worked", addr)
		} else if addr != "" && !strings.Contains(err.Error(), strings.TrimPrefix(addr, "unix:path=")) {
			t.Errorf("Dial(%q): %v does not name the address", addr, err)
		}
	}
}
