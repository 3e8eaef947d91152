package natsbridge

import (
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/stream"
)

type nopHandler struct{}

func (nopHandler) Group(*Record)                  {}
func (nopHandler) Direct(*Record) stream.Response { return stream.Response{} }
func (nopHandler) Held(*Record) error             { return nil }
func (nopHandler) MessengerServed() bool          { return false }

// Options that cannot work fail at once; a server that does not answer
// does not: the bridge starts down, counts what it cannot carry, and
// says so to a writer.
func TestNewAndDown(t *testing.T) {
	for _, o := range []Options{
		{URLs: []string{"nats://127.0.0.1:1"}, NKey: "/nonexistent/seed.nk"},
		{URLs: []string{"nats://127.0.0.1:1"}, TLSCert: "/nonexistent/cert.pem"},
	} {
		if b, err := New(o, "HOSTA", "WG", nil, nopHandler{}); err == nil {
			b.Close()
			t.Errorf("%+v: no error", o)
		}
	}
	b, err := New(Options{URLs: []string{"nats://127.0.0.1:1"}, Site: "here"}, "HOSTA", "WG", nil, nopHandler{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r := &Record{Target: "WG", Path: "X", Source: "HOSTA", Data: []byte("x")}
	if err := b.PublishGroup(r); err == nil {
		t.Error("published with no server")
	}
	if resp := b.Request(r, time.Second); resp.Status != stream.Unreachable || !strings.Contains(resp.Message, "down") {
		t.Errorf("request with no server: %+v", resp)
	}
	if err := b.Hold(r); err == nil {
		t.Error("held without --nats-durable-messenger")
	}
	st := b.Stats()
	if st.Connected || st.NotBridged != 2 || st.Requests != 1 || st.RequestsFailed != 1 || st.Site != "here" {
		t.Errorf("stats %+v", st)
	}
}

// Logs never show a URL's password.
func TestRedacted(t *testing.T) {
	got := redacted([]string{"nats://site1:secret@10.0.0.1:4222", "tls://nats.example:4222", "nats://token@h:4222", "::"})
	if strings.Contains(got, "secret") || !strings.Contains(got, "nats://site1:xxxxx@10.0.0.1:4222") ||
		!strings.Contains(got, "tls://nats.example:4222") || !strings.Contains(got, "nats://xxxxx@h:4222") || strings.Contains(got, "token") {
		t.Errorf("redacted: %s", got)
	}
}
