package daemon

import (
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/daemon/natsbridge"
	"github.com/mailslot-go/mailslot/internal/stream"
)

// forward refuses writers on other computers, says when there is no
// bridge or it is down (counting the record), and refuses a malformed
// name; a record to a computer or workgroup on no site is never claimed.
func TestForward(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &Daemon{cfg: Config{Name: "HOSTA", Workgroup: "WG"}, log: log,
		ifaces: []Iface{{Name: "eth0", Addr: netip.MustParseAddr("10.1.0.10")}}}
	local := netip.MustParseAddr("127.0.0.1")
	relay := &stream.Request{Op: stream.OpRelay, Name: `HOSTB\app\x`, Source: "HOSTA", Data: []byte("x")}
	group := &stream.Request{Op: stream.OpGroup, Name: `WG\app\x`, Source: "HOSTA", Data: []byte("x")}
	if r := d.forward(relay, local); r.Status != stream.Unreachable || !strings.Contains(r.Message, "not bridged") {
		t.Errorf("without a bridge: %+v", r)
	}
	// A bridge whose server never answers: down from the start.
	b, err := natsbridge.New(natsbridge.Options{URLs: []string{"nats://127.0.0.1:1"}}, "HOSTA", "WG", log, bridgeHandler{d})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	d.bridge = b
	for _, tt := range []struct {
		req  *stream.Request
		from string
		want stream.Status
	}{
		{relay, "10.9.9.9", stream.Refused},
		{relay, "10.1.0.10", stream.Unreachable}, // from this computer's own address
		{relay, "127.0.0.1", stream.Unreachable},
		{group, "127.0.0.1", stream.Unreachable},
		{&stream.Request{Op: stream.OpRelay, Name: `HOSTB`, Source: "HOSTA"}, "127.0.0.1", stream.BadRequest},
		{&stream.Request{Op: stream.OpGroup, Name: `WG\x`, Source: strings.Repeat("N", 16)}, "127.0.0.1", stream.BadRequest},
	} {
		if r := d.forward(tt.req, netip.MustParseAddr(tt.from)); r.Status != tt.want {
			t.Errorf("op %d %q from %s: %+v, want %v", tt.req.Op, tt.req.Name, tt.from, r, tt.want)
		}
	}
	if st := b.Stats(); st.Connected || st.NotBridged != 3 || st.Published != 0 {
		t.Errorf("bridge down: %+v, want 3 records not bridged", st)
	}
}
