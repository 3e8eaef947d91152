//go:build !windows

package daemon

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/mailslot-go/mailslot/internal/wire"
)

// answerName answers queries for the computer's name (<00>, <03>, <20>)
// and the workgroup's (<00>, <1e>, as a group), and node status queries
// for the computer or "*", with the address of the interface the asker is
// on; everything else gets no answer, and what does not decode is counted.
func TestAnswerName(t *testing.T) {
	d := &Daemon{cfg: Config{Name: "HOSTA", Workgroup: "LABGROUP"}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d.name, _ = wire.NewName("HOSTA", 0)
	d.group, _ = wire.NewName("LABGROUP", 0)
	d.ifaces = []Iface{
		{Name: "eth0", Addr: netip.MustParseAddr("10.0.0.2"), Prefix: netip.MustParsePrefix("10.0.0.0/24")},
		{Name: "eth1", Addr: netip.MustParseAddr("10.0.1.2"), Prefix: netip.MustParsePrefix("10.0.1.0/24")},
	}
	name := func(s string, suffix byte) wire.Name {
		n, err := wire.NewName(s, suffix)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	encode := func(p wire.NameServicePacket) []byte {
		b, err := wire.AppendNameService(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	on0 := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 9), Port: 137}
	on1 := &net.UDPAddr{IP: net.IPv4(10, 0, 1, 9), Port: 137}
	for _, c := range []struct {
		what  string
		q     wire.Name
		from  *net.UDPAddr
		group bool
		ip    string // the address answered; "" for no answer
	}{
		{"computer <00>", name("HOSTA", 0x00), on1, false, "10.0.1.2"},
		{"computer <03>, lower case", name("hosta", 0x03), on0, false, "10.0.0.2"},
		{"computer <20>", name("HOSTA", 0x20), on0, false, "10.0.0.2"},
		{"computer <1b>", name("HOSTA", 0x1b), on0, false, ""},
		{"workgroup <00>", name("LABGROUP", 0x00), on1, true, "10.0.1.2"},
		{"workgroup <1e>", name("labgroup", 0x1e), on0, true, "10.0.0.2"},
		{"workgroup <1d>", name("LABGROUP", 0x1d), on0, false, ""},
		{"workgroup <20>", name("LABGROUP", 0x20), on0, false, ""},
		{"another computer", name("HOSTB", 0x00), on0, false, ""},
		{"from another subnet: the first interface", name("HOSTA", 0x00), &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1)}, false, "10.0.0.2"},
	} {
		before := d.c.nameQueries.Load()
		out := d.answerName(d.ifaces[0], encode(wire.NewNameQuery(0x4242, c.q, true)), c.from)
		if c.ip == "" {
			if out != nil || d.c.nameQueries.Load() != before {
				t.Errorf("%s: answered", c.what)
			}
			continue
		}
		p, err := wire.DecodeNameService(out)
		if err != nil || !p.Response || p.TransactionID != 0x4242 || p.Opcode != wire.OpQuery || len(p.Answers) != 1 {
			t.Fatalf("%s: %+v, %v", c.what, p, err)
		}
		a := p.Answers[0]
		addrs, err := wire.DecodeNBAddresses(a.Data)
		if err != nil || len(addrs) != 1 || addrs[0].IP != netip.MustParseAddr(c.ip) || addrs[0].Flags.Group() != c.group || a.Name != c.q || a.TTL != nameTTL {
			t.Errorf("%s: answer %+v %+v, %v; want %s group %v", c.what, a, addrs, err, c.ip, c.group)
		}
		if d.c.nameQueries.Load() != before+1 {
			t.Errorf("%s: answers counted %d, want %d", c.what, d.c.nameQueries.Load(), before+1)
		}
	}

	// Node status: for the computer's name or "*", its three names.
	for _, c := range []struct {
		q    wire.Name
		want bool
	}{{name("HOSTA", 0x00), true}, {wire.WildcardName(), true}, {name("HOSTB", 0x00), false}} {
		out := d.answerName(d.ifaces[0], encode(wire.NewNodeStatusQuery(7, c.q)), on0)
		if !c.want {
			if out != nil {
				t.Errorf("node status of %v answered", c.q)
			}
			continue
		}
		p, err := wire.DecodeNameService(out)
		if err != nil || len(p.Answers) != 1 {
			t.Fatalf("node status of %v: %+v %v", c.q, p, err)
		}
		st, err := wire.DecodeNodeStatus(p.Answers[0].Data)
		if err != nil || len(st.Names) != 3 {
			t.Fatalf("node status of %v: %+v %v", c.q, st, err)
		}
		for i, w := range []struct {
			n     wire.Name
			group bool
		}{{name("HOSTA", 0x00), false}, {name("HOSTA", 0x03), false}, {name("LABGROUP", 0x00), true}} {
			if st.Names[i].Name != w.n || st.Names[i].Flags.Group() != w.group || st.Names[i].Flags&nameActive == 0 {
				t.Errorf("node status name %d: %+v, want %v group %v, active", i, st.Names[i], w.n, w.group)
			}
		}
	}

	// Not queries: answers, other opcodes, two questions, junk.
	resp := wire.NewNameQuery(1, name("HOSTA", 0), true)
	resp.Response = true
	reg := wire.NewNameQuery(1, name("HOSTA", 0), true)
	reg.Opcode = wire.OpRegistration
	two := wire.NewNameQuery(1, name("HOSTA", 0), true)
	two.Questions = append(two.Questions, two.Questions[0])
	for what, b := range map[string][]byte{"a response": encode(resp), "a registration": encode(reg), "two questions": encode(two)} {
		if out := d.answerName(d.ifaces[0], b, on0); out != nil {
			t.Errorf("%s answered", what)
		}
	}
	bad := d.c.malformed.Load()
	if out := d.answerName(d.ifaces[0], []byte{1, 2, 3}, on0); out != nil || d.c.malformed.Load() != bad+1 {
		t.Errorf("junk: answered %v, malformed %d → %d", out, bad, d.c.malformed.Load())
	}
}
