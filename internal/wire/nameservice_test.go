package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"testing"
)

func mustNS(p NameServicePacket, err error) NameServicePacket {
	if err != nil {
		panic(err)
	}
	return p
}

func TestNameServiceRoundTrip(t *testing.T) {
	host := MustName("SAMBAHOST", SuffixServer)
	addrs := []NBAddress{{Flags: NewNBFlags(false, BNode), IP: sambaIP}, {Flags: NewNBFlags(false, HNode), IP: clientIP}}
	st := &NodeStatus{
		Names: []NodeStatusName{
			{Name: MustName("SAMBAHOST", 0), Flags: NewNameFlags(false, BNode)},
			{Name: MustName("LABGROUP", 0x1e), Flags: NewNameFlags(true, BNode)},
			{Name: BrowseMasterName(), Flags: NewNameFlags(true, BNode) | NameFlagPermanent},
		},
		UnitID: [6]byte{2, 0, 0, 0xab, 0xcd, 0xef},
	}
	cases := []struct {
		name  string
		p     NameServicePacket
		flags uint16 // expected OPCODE/NM_FLAGS/RCODE word
	}{
		{"broadcast query", NewNameQuery(0x1234, MustName("LABGROUP", 0x1d), true), 0x0110},
		{"unicast query", NewNameQuery(1, host, false), 0x0100},
		{"scoped query", NewNameQuery(1, mustScope(host, "corp.example"), true), 0x0110},
		{"positive response", mustNS(NewPositiveNameQueryResponse(0x1234, host, 300000, addrs)), 0x8500},
		{"negative response", NewNegativeNameQueryResponse(0x1234, host, RCodeName), 0x8503},
		{"node status query", NewNodeStatusQuery(9, WildcardName()), 0x0000},
		{"node status response", mustNS(NewNodeStatusResponse(9, WildcardName(), st)), 0x8400},
		{"registration", mustNS(NewNameRegistration(5, host, 0, addrs[0])), 0x2910},
		{"registration, scoped", mustNS(NewNameRegistration(5, mustScope(host, "s"), 0, addrs[0])), 0x2910},
		{"everything", NameServicePacket{TransactionID: 0xFFFF, Response: true, Opcode: OpMultiHomedRegistration,
			Flags: 0x7F, RCode: RCodeConflict,
			Questions: []Question{{Name: host, Type: TypeNB, Class: ClassIN}, {Name: testSrc, Type: TypeNBSTAT, Class: ClassIN}},
			Answers:   []ResourceRecord{{Name: testDst, Type: TypeA, Class: ClassIN, TTL: 1, Data: []byte{1, 2, 3, 4}}},
			Authority: []ResourceRecord{{Name: host, Type: TypeNS, Class: ClassIN, TTL: 2, Data: []byte{}}},
			Additional: []ResourceRecord{{Name: host, Type: TypeNB, Class: ClassIN, TTL: 3, Data: []byte{0, 0, 1, 2, 3, 4}},
				{Name: testGroup, Type: TypeNULL, Class: ClassIN, Data: []byte{}}}}, 0xFFF7},
	}
	for _, c := range cases {
		b, err := AppendNameService([]byte{0xEE}, &c.p)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b = b[1:]
		if got := binary.BigEndian.Uint16(b[2:]); got != c.flags {
			t.Errorf("%s: flags word %#04x, want %#04x", c.name, got, c.flags)
		}
		p, err := DecodeNameService(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", c.name, err)
		}
		normalizeRR(&c.p)
		normalizeRR(&p)
		if !reflect.DeepEqual(p, c.p) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, p, c.p)
		}
		again, err := AppendNameService(nil, &p)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s: re-encoding differs: %v", c.name, err)
		}
	}
	// Registration: the additional record's name is a pointer to the question.
	reg := mustNS(NewNameRegistration(5, host, 0, addrs[0]))
	b, _ := AppendNameService(nil, &reg)
	if p := NSHeaderSize + EncodedNameLen + 4; b[p] != 0xC0 || b[p+1] != NSHeaderSize {
		t.Errorf("registration RR_NAME % x, want c0 0c", b[p:p+2])
	}
	// Node status and NB address RDATA.
	resp := mustNS(NewNodeStatusResponse(9, WildcardName(), st))
	got, err := DecodeNodeStatus(resp.Answers[0].Data)
	if err != nil || !reflect.DeepEqual(got.Names, st.Names) || got.UnitID != st.UnitID || len(got.Statistics) != 40 {
		t.Errorf("node status %+v %v", got, err)
	}
	if len(resp.Answers[0].Data) != 1+3*18+NodeStatisticsLen {
		t.Errorf("node status RDATA %d bytes", len(resp.Answers[0].Data))
	}
	pos := mustNS(NewPositiveNameQueryResponse(1, host, 1, addrs))
	if a, err := DecodeNBAddresses(pos.Answers[0].Data); err != nil || !reflect.DeepEqual(a, addrs) {
		t.Errorf("NB addresses %v %v", a, err)
	}
}

// normalizeRR makes nil and empty RDATA compare equal.
func normalizeRR(p *NameServicePacket) {
	for _, sec := range [][]ResourceRecord{p.Answers, p.Authority, p.Additional} {
		for i := range sec {
			if len(sec[i].Data) == 0 {
				sec[i].Data = nil
			}
		}
	}
}

func TestNBFlags(t *testing.T) {
	f := NewNBFlags(true, MNode)
	if f != 0xC000 || !f.Group() || f.NodeType() != MNode {
		t.Errorf("%#x", f)
	}
	n := NewNameFlags(false, HNode)
	if n != 0x6400 || n.Group() || n.NodeType() != HNode {
		t.Errorf("%#x", n)
	}
	if OpRegistration.String() != "REGISTRATION" || TypeNBSTAT.String() != "NBSTAT" || RRType(0x99).String() != "TYPE(0x99)" {
		t.Error("String")
	}
}

// TestNodeStatusLimits checks NUM_NAMES and STATISTICS at their limit and
// one over: 255 names, and statistics that keep RDATA within 16 bits
// whatever the number of names.
func TestNodeStatusLimits(t *testing.T) {
	maxStats := 0xFFFF - 1 - 6 - 255*18
	for _, c := range []struct {
		name  string
		names int
		stats int
		want  error
	}{
		{"255 names", 255, 0, nil},
		{"256 names", 256, 0, ErrTooLarge},
		{"longest statistics", 255, maxStats, nil},
		{"statistics one over", 0, maxStats + 1, ErrTooLarge},
	} {
		st := NodeStatus{Names: make([]NodeStatusName, c.names), Statistics: make([]byte, c.stats)}
		for i := range st.Names {
			st.Names[i].Name = MustName(fmt.Sprint("N", i), 0x20)
		}
		b, err := AppendNodeStatus(nil, &st)
		if c.want != nil {
			checkEncodeErr(t, c.name, err, c.want)
			continue
		}
		if err != nil || len(b) > 0xFFFF {
			t.Errorf("%s: %d bytes, %v", c.name, len(b), err)
			continue
		}
		if got, err := DecodeNodeStatus(b); err != nil || len(got.Names) != c.names {
			t.Errorf("%s: decoded %d names, %v", c.name, len(got.Names), err)
		}
	}
}

// TestDecodeNodeStatusEdges checks NUM_NAMES and UNIT_ID at the end of
// the RDATA: present exactly, or one byte short.
func TestDecodeNodeStatusEdges(t *testing.T) {
	entry := append([]byte("SAMBAHOST      \x20"), 0x04, 0x00)
	for _, c := range []decodeErrCase{
		{"empty", nil, ErrShort, "NUM_NAMES", 0, "needs 1 bytes, 0 left"},
		{"no UNIT_ID", []byte{0}, ErrShort, "NODE_NAME", 1, "needs 6 bytes, 0 left"},
		{"UNIT_ID one short", []byte{0, 1, 2, 3, 4, 5}, ErrShort, "NODE_NAME", 1, "needs 6 bytes, 5 left"},
		{"name one short", append([]byte{1}, entry[:17]...), ErrShort, "NODE_NAME", 1, "needs 24 bytes, 17 left"},
	} {
		_, err := DecodeNodeStatus(c.b)
		checkDecodeErr(t, c, err)
	}
	st, err := DecodeNodeStatus([]byte{0, 1, 2, 3, 4, 5, 6})
	if err != nil || len(st.Names) != 0 || st.UnitID != [6]byte{1, 2, 3, 4, 5, 6} || len(st.Statistics) != 0 {
		t.Errorf("UNIT_ID alone: %+v, %v", st, err)
	}
	b := append(append([]byte{1}, entry...), 1, 2, 3, 4, 5, 6)
	st, err = DecodeNodeStatus(b)
	if err != nil || len(st.Names) != 1 || st.Names[0].Name != MustName("SAMBAHOST", 0x20) || st.Names[0].Flags != 0x0400 || len(st.Statistics) != 0 {
		t.Errorf("one name: %+v, %v", st, err)
	}
}

// TestNameServiceSize checks AppendNameService at the UDP limit and one
// byte over, and RDATA at 16 bits and one over.
func TestNameServiceSize(t *testing.T) {
	rr := func(n int) NameServicePacket {
		return NameServicePacket{Response: true, Answers: []ResourceRecord{{Name: testDst, Type: TypeNB, Class: ClassIN, Data: make([]byte, n)}}}
	}
	room := MaxUDPPayload - NSHeaderSize - testDst.EncodedLen() - 10
	p := rr(room)
	if b, err := AppendNameService(nil, &p); err != nil || len(b) != MaxUDPPayload {
		t.Errorf("at the limit: %d bytes, %v", len(b), err)
	} else if got, err := DecodeNameService(b); err != nil || len(got.Answers[0].Data) != room {
		t.Errorf("at the limit, decoded: %v", err)
	}
	p = rr(room + 1)
	_, err := AppendNameService(nil, &p)
	checkEncodeErr(t, "one over", err, ErrTooLarge)
	var fe *FieldError
	if errors.As(err, &fe) && fe.Field != "packet" {
		t.Errorf("one over: %v", err)
	}
	p = rr(0x10000)
	_, err = AppendNameService(nil, &p)
	checkEncodeErr(t, "RDATA of 65536 bytes", err, ErrTooLarge)
	if errors.As(err, &fe) && fe.Field != "RDLENGTH" {
		t.Errorf("RDATA of 65536 bytes: %v", err)
	}
}

func TestNameServiceErrors(t *testing.T) {
	q := NewNameQuery(1, testDst, true)
	qb, _ := AppendNameService(nil, &q)
	pos := mustNS(NewPositiveNameQueryResponse(1, testDst, 1, []NBAddress{{IP: testIP}}))
	pb, _ := AppendNameService(nil, &pos)
	mut := func(b []byte, f func(b []byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"header only", qb[:12], ErrShort},
		{"huge counts", mut(qb, func(b []byte) []byte { b[4], b[5] = 0xFF, 0xFF; return b }), ErrShort},
		{"question truncated", qb[:len(qb)-1], ErrShort},
		{"trailing", append(append([]byte(nil), qb...), 0), ErrMalformed},
		{"RDLENGTH past end", mut(pb, func(b []byte) []byte { b[len(b)-7]++; return b }), ErrShort},
		{"RR truncated", pb[:len(pb)-9], ErrShort},
		{"forward pointer", mut(qb, func(b []byte) []byte { b[12], b[13] = 0xC0, 20; return b }), ErrMalformed},
		{"bad letter", mut(qb, func(b []byte) []byte { b[14] = 'z'; return b }), ErrMalformed},
	} {
		if _, err := DecodeNameService(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// The header is returned even when a section fails.
	p, err := DecodeNameService(qb[:len(qb)-1])
	if err == nil || p.TransactionID != 1 || p.Opcode != OpQuery || p.Flags != FlagRecursionDesired|FlagBroadcast {
		t.Errorf("partial header %+v %v", p, err)
	}

	if _, err := DecodeNBAddresses(make([]byte, 7)); !errors.Is(err, ErrMalformed) {
		t.Error(err)
	}
	if _, err := AppendNBAddresses(nil, []NBAddress{{IP: netip.MustParseAddr("::2")}}); !errors.Is(err, ErrMalformed) {
		t.Error(err)
	}
	if _, err := NewPositiveNameQueryResponse(1, testDst, 1, []NBAddress{{}}); !errors.Is(err, ErrMalformed) {
		t.Error(err)
	}
	if _, err := DecodeNodeStatus(nil); !errors.Is(err, ErrShort) {
		t.Error(err)
	}
	if _, err := DecodeNodeStatus([]byte{2, 0, 0}); !errors.Is(err, ErrShort) {
		t.Error(err)
	}
	for _, p := range []NameServicePacket{{Opcode: 16}, {RCode: 16}, {Flags: 0x80}} {
		_, err := AppendNameService(nil, &p)
		checkEncodeErr(t, fmt.Sprintf("%+v", p), err, ErrMalformed)
	}
	for _, p := range []NameServicePacket{{Opcode: 15}, {RCode: 15}, {Flags: 0x7F}} {
		b, err := AppendNameService(nil, &p)
		if err != nil {
			t.Errorf("%+v: %v", p, err)
		} else if got, err := DecodeNameService(b); err != nil || got.Opcode != p.Opcode || got.RCode != p.RCode || got.Flags != p.Flags {
			t.Errorf("%+v decoded as %+v, %v", p, got, err)
		}
	}
	// More records than a 16-bit count holds make a packet over the UDP
	// limit.
	_, err = AppendNameService(nil, &NameServicePacket{Additional: make([]ResourceRecord, 0x10000)})
	checkEncodeErr(t, "65536 records", err, ErrTooLarge)
	big := NameServicePacket{Answers: []ResourceRecord{{Name: testDst, Data: make([]byte, 0x10000)}}}
	if _, err := AppendNameService(nil, &big); !errors.Is(err, ErrTooLarge) {
		t.Error(err)
	}
	bad := NameServicePacket{Questions: []Question{{Name: Name{scope: "a..b"}}}}
	if _, err := AppendNameService(nil, &bad); !errors.Is(err, ErrInvalidName) {
		t.Error(err)
	}
}
