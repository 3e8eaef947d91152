package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

var (
	winsIP    = netip.MustParseAddr("10.213.9.10")
	ownerAddr = NBAddress{Flags: NewNBFlags(false, HNode), IP: netip.MustParseAddr("10.213.8.10")}
	hostAddr  = NBAddress{Flags: NewNBFlags(false, HNode), IP: clientIP}
	groupAddr = NBAddress{Flags: NewNBFlags(true, HNode), IP: clientIP}
)

// TestNameServerPackets checks each request and response a node and its
// name server exchange: the header word the RFC's figure gives, the
// sections, and that each decodes to what was encoded and encodes again to
// the same bytes.
func TestNameServerPackets(t *testing.T) {
	host := MustName("HOSTA", 0x20)
	scoped := mustScope(host, "corp.example")
	reg := mustNS(NewNameServerRegistration(7, host, 300000, hostAddr))
	for _, c := range []struct {
		name       string
		p          NameServicePacket
		word       uint16 // R, OPCODE, NM_FLAGS, RCODE
		qd, an, ar int
		ttl        uint32
		rdata      []byte
	}{
		{"registration to a server", reg, 0x2900, 1, 0, 1, 300000, []byte{0x60, 0, 10, 213, 7, 2}},
		{"registration of a group", mustNS(NewNameServerRegistration(7, MustName("LABGROUP", 0x1e), 300000, groupAddr)), 0x2900, 1, 0, 1, 300000, []byte{0xe0, 0, 10, 213, 7, 2}},
		{"registration, scoped", mustNS(NewNameServerRegistration(7, scoped, 1, hostAddr)), 0x2900, 1, 0, 1, 1, []byte{0x60, 0, 10, 213, 7, 2}},
		{"overwrite to a server", mustNS(NewNameOverwrite(8, host, 300000, hostAddr, false)), 0x2800, 1, 0, 1, 300000, []byte{0x60, 0, 10, 213, 7, 2}},
		{"overwrite broadcast", mustNS(NewNameOverwrite(8, host, 0, NBAddress{IP: clientIP}, true)), 0x2810, 1, 0, 1, 0, []byte{0, 0, 10, 213, 7, 2}},
		{"refresh", mustNS(NewNameRefresh(9, host, 259200, hostAddr)), 0x4000, 1, 0, 1, 259200, []byte{0x60, 0, 10, 213, 7, 2}},
		{"release to a server", mustNS(NewNameRelease(10, host, hostAddr, false)), 0x3000, 1, 0, 1, 0, []byte{0x60, 0, 10, 213, 7, 2}},
		{"release demand", mustNS(NewNameRelease(10, host, hostAddr, true)), 0x3010, 1, 0, 1, 0, []byte{0x60, 0, 10, 213, 7, 2}},
		{"positive registration response", mustNS(NewNameRegistrationResponse(7, host, RCodeOK, 21600, hostAddr)), 0xAD80, 0, 1, 0, 21600, []byte{0x60, 0, 10, 213, 7, 2}},
		{"negative registration response", mustNS(NewNameRegistrationResponse(7, host, RCodeActive, 0, hostAddr)), 0xAD86, 0, 1, 0, 0, []byte{0x60, 0, 10, 213, 7, 2}},
		{"name conflict demand", mustNS(NewNameRegistrationResponse(7, host, RCodeConflict, 0, hostAddr)), 0xAD87, 0, 1, 0, 0, []byte{0x60, 0, 10, 213, 7, 2}},
		{"end-node challenge", mustNS(NewEndNodeChallengeResponse(7, host, 300000, ownerAddr)), 0xAD00, 0, 1, 0, 300000, []byte{0x60, 0, 10, 213, 8, 10}},
		{"positive release response", mustNS(NewNameReleaseResponse(10, host, RCodeOK, hostAddr)), 0xB400, 0, 1, 0, 0, []byte{0x60, 0, 10, 213, 7, 2}},
		{"negative release response", mustNS(NewNameReleaseResponse(10, host, RCodeName, hostAddr)), 0xB403, 0, 1, 0, 0, []byte{0x60, 0, 10, 213, 7, 2}},
		{"WACK", NewWACK(&reg, 60), 0xBC00, 0, 1, 0, 60, []byte{0x29, 0x00}},
	} {
		b, err := AppendNameService(nil, &c.p)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		be := binary.BigEndian
		if w := be.Uint16(b[2:]); w != c.word {
			t.Errorf("%s: header word %#04x, want %#04x", c.name, w, c.word)
		}
		if qd, an, ns, ar := be.Uint16(b[4:]), be.Uint16(b[6:]), be.Uint16(b[8:]), be.Uint16(b[10:]); int(qd) != c.qd || int(an) != c.an || ns != 0 || int(ar) != c.ar {
			t.Errorf("%s: counts %d %d %d %d", c.name, qd, an, ns, ar)
		}
		p, err := DecodeNameService(b)
		if err != nil {
			t.Errorf("%s: decode: %v", c.name, err)
			continue
		}
		rr := append(p.Answers, p.Additional...)[0]
		if rr.TTL != c.ttl || !bytes.Equal(rr.Data, c.rdata) || rr.Class != ClassIN {
			t.Errorf("%s: record TTL %d RDATA % x, want %d and % x", c.name, rr.TTL, rr.Data, c.ttl, c.rdata)
		}
		if c.qd == 1 {
			// A request's record names its question by a pointer to it.
			if b[NSHeaderSize+p.Questions[0].Name.EncodedLen()+4] != 0xC0 || p.Additional[0].Name != p.Questions[0].Name || p.Questions[0].Type != TypeNB {
				t.Errorf("%s: question %+v, record %+v", c.name, p.Questions[0], p.Additional[0])
			}
		}
		want := c.p
		normalizeRR(&want)
		normalizeRR(&p)
		if !reflect.DeepEqual(p, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, p, want)
		}
		if again, err := AppendNameService(nil, &p); err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s: re-encoding differs: %v", c.name, err)
		}
	}
	// Every constructor refuses an address that is not IPv4.
	v6 := NBAddress{IP: netip.MustParseAddr("::1")}
	for name, f := range map[string]func() (NameServicePacket, error){
		"registration":  func() (NameServicePacket, error) { return NewNameServerRegistration(1, host, 1, v6) },
		"overwrite":     func() (NameServicePacket, error) { return NewNameOverwrite(1, host, 1, v6, false) },
		"refresh":       func() (NameServicePacket, error) { return NewNameRefresh(1, host, 1, v6) },
		"release":       func() (NameServicePacket, error) { return NewNameRelease(1, host, v6, false) },
		"response":      func() (NameServicePacket, error) { return NewNameRegistrationResponse(1, host, 0, 1, v6) },
		"challenge":     func() (NameServicePacket, error) { return NewEndNodeChallengeResponse(1, host, 1, v6) },
		"release reply": func() (NameServicePacket, error) { return NewNameReleaseResponse(1, host, 0, v6) },
	} {
		if _, err := f(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s with an IPv6 address: %v", name, err)
		}
	}
	// A WACK for a request without a question names nothing, and keeps
	// the request's flags (B among them).
	w := NewWACK(&NameServicePacket{TransactionID: 3, Opcode: OpRelease, Flags: FlagBroadcast}, 5)
	if w.Answers[0].Name != (Name{}) || !bytes.Equal(w.Answers[0].Data, []byte{0x30, 0x10}) {
		t.Errorf("WACK for a release: %+v", w)
	}
}

// TestDecodeNSReply reads each kind of answer a node gets from its name
// server, as encoded here and as nmbd sends them.
func TestDecodeNSReply(t *testing.T) {
	host := MustName("HOSTA", 0)
	reg := mustNS(NewNameServerRegistration(7, host, 300000, hostAddr))
	enc := func(p NameServicePacket) []byte {
		b, err := AppendNameService(nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name string
		b    []byte
		want NSReply
	}{
		{"positive registration", enc(mustNS(NewNameRegistrationResponse(7, host, RCodeOK, 21600, hostAddr))),
			NSReply{TransactionID: 7, Opcode: OpRegistration, Kind: ReplyPositive, Name: host, TTL: 21600, Addrs: []NBAddress{hostAddr}}},
		{"name owned by another", enc(mustNS(NewNameRegistrationResponse(7, host, RCodeActive, 0, hostAddr))),
			NSReply{TransactionID: 7, Opcode: OpRegistration, Kind: ReplyNegative, RCode: RCodeActive, Name: host, Addrs: []NBAddress{hostAddr}}},
		{"conflict demand", enc(mustNS(NewNameRegistrationResponse(7, host, RCodeConflict, 0, hostAddr))),
			NSReply{TransactionID: 7, Opcode: OpRegistration, Kind: ReplyNegative, RCode: RCodeConflict, Name: host, Addrs: []NBAddress{hostAddr}}},
		{"challenge", enc(mustNS(NewEndNodeChallengeResponse(7, host, 300000, ownerAddr))),
			NSReply{TransactionID: 7, Opcode: OpRegistration, Kind: ReplyChallenge, Name: host, TTL: 300000, Addrs: []NBAddress{ownerAddr}}},
		{"WACK", enc(NewWACK(&reg, 60)),
			NSReply{TransactionID: 7, Opcode: OpWACK, Kind: ReplyWACK, Name: host, TTL: 60, WaitingFor: OpRegistration}},
		{"WACK for a refresh", enc(NewWACK(&NameServicePacket{TransactionID: 8, Opcode: OpRefresh, Questions: reg.Questions}, 30)),
			NSReply{TransactionID: 8, Opcode: OpWACK, Kind: ReplyWACK, Name: host, TTL: 30, WaitingFor: OpRefresh}},
		{"released", enc(mustNS(NewNameReleaseResponse(11, host, RCodeOK, hostAddr))),
			NSReply{TransactionID: 11, Opcode: OpRelease, Kind: ReplyPositive, Name: host, Addrs: []NBAddress{hostAddr}}},
		{"release refused", enc(mustNS(NewNameReleaseResponse(11, host, RCodeName, hostAddr))),
			NSReply{TransactionID: 11, Opcode: OpRelease, Kind: ReplyNegative, RCode: RCodeName, Name: host, Addrs: []NBAddress{hostAddr}}},
		{"refresh answered with opcode 8", enc(mustNS(nbAnswer(9, OpRefresh, FlagAuthoritative|FlagRecursionDesired|FlagRecursionAvailable, 0, host, 60, hostAddr))),
			NSReply{TransactionID: 9, Opcode: OpRefresh, Kind: ReplyPositive, Name: host, TTL: 60, Addrs: []NBAddress{hostAddr}}},
		{"query answered", enc(mustNS(NewPositiveNameQueryResponse(12, host, 300000, []NBAddress{ownerAddr, hostAddr}))),
			NSReply{TransactionID: 12, Opcode: OpQuery, Kind: ReplyPositive, Name: host, TTL: 300000, Addrs: []NBAddress{ownerAddr, hostAddr}}},
		{"query: no such name", enc(NewNegativeNameQueryResponse(12, host, RCodeName)),
			NSReply{TransactionID: 12, Opcode: OpQuery, Kind: ReplyNegative, RCode: RCodeName, Name: host}},
	} {
		got, err := DecodeNSReply(c.b)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v, %v\nwant %+v", c.name, got, err, c.want)
		}
	}

	// nmbd's answers, as Samba 4.17 builds them (reply_netbios_packet):
	// a WINS registration answer 0xAD80 with the request's RDATA copied,
	// a WACK 0xBC00 with a NULL record of TTL 60, a release answer 0xB400.
	nmbd := func(word uint16, typ RRType, ttl uint32, rdata []byte) []byte {
		b := binary.BigEndian.AppendUint16([]byte{0x12, 0x34}, word)
		b = append(b, 0, 0, 0, 1, 0, 0, 0, 0)
		b = appendName(b, host)
		b = binary.BigEndian.AppendUint16(b, uint16(typ))
		b = binary.BigEndian.AppendUint16(b, 1)
		b = binary.BigEndian.AppendUint32(b, ttl)
		b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
		return append(b, rdata...)
	}
	for _, c := range []struct {
		name string
		b    []byte
		kind ReplyKind
		rc   RCode
	}{
		{"nmbd registered", nmbd(0xAD80, TypeNB, 21600, []byte{0x60, 0, 10, 213, 7, 2}), ReplyPositive, 0},
		{"nmbd refused", nmbd(0xAD85, TypeNB, 0, []byte{0x60, 0, 10, 213, 7, 2}), ReplyNegative, RCodeRefuse},
		{"nmbd WACK", nmbd(0xBC00, TypeNULL, 60, []byte{0x29, 0x00}), ReplyWACK, 0},
		{"nmbd released", nmbd(0xB400, TypeNB, 0, []byte{0x60, 0, 10, 213, 7, 2}), ReplyPositive, 0},
	} {
		got, err := DecodeNSReply(c.b)
		if err != nil || got.Kind != c.kind || got.RCode != c.rc || got.TransactionID != 0x1234 || got.Name != host {
			t.Errorf("%s: %+v, %v", c.name, got, err)
		}
	}

	// What is not an answer, or not a sound one.
	st := mustNS(NewNodeStatusResponse(1, WildcardName(), &NodeStatus{}))
	badWACK := NewWACK(&reg, 60)
	badWACK.Answers[0].Data = []byte{0x29}
	noOwner := mustNS(NewEndNodeChallengeResponse(7, host, 1, ownerAddr))
	noOwner.Answers[0].Data = nil
	oddNB := mustNS(NewNameRegistrationResponse(7, host, 0, 1, hostAddr))
	oddNB.Answers[0].Data = oddNB.Answers[0].Data[:5]
	emptyQuery := mustNS(NewPositiveNameQueryResponse(1, host, 1, nil))
	noAnswer := mustNS(NewNameRegistrationResponse(7, host, 0, 1, hostAddr))
	noAnswer.Answers = nil
	multi := mustNS(NewNameRegistrationResponse(7, host, 0, 1, hostAddr))
	multi.Opcode = OpMultiHomedRegistration
	for _, c := range []struct {
		name  string
		b     []byte
		want  error
		field string
		off   int
	}{
		{"a request", enc(reg), ErrUnsupported, "R", 2},
		{"node status", enc(st), ErrUnsupported, "RR_TYPE", -1},
		{"multi-homed", enc(multi), ErrUnsupported, "OPCODE", 2},
		{"no answer", enc(noAnswer), ErrMalformed, "ANCOUNT", 6},
		{"WACK of 1 byte", enc(badWACK), ErrMalformed, "RDLENGTH", -1},
		{"challenge with no owner", enc(noOwner), ErrMalformed, "RDATA", -1},
		{"NB RDATA of 5 bytes", enc(oddNB), ErrMalformed, "RDLENGTH", -1},
		{"positive query with no address", enc(emptyQuery), ErrMalformed, "RDATA", -1},
		{"truncated", enc(reg)[:20], ErrShort, "QDCOUNT..ARCOUNT", 4},
	} {
		// The field and offset say where the answer went wrong; -1: in
		// the RDATA of a record, whose offset DecodeNameService does not
		// keep.
		r, err := DecodeNSReply(c.b)
		var fe *FieldError
		if !errors.Is(err, c.want) || !errors.As(err, &fe) {
			t.Errorf("%s: %+v, %v; want %v", c.name, r, err, c.want)
		} else if fe.Field != c.field || fe.Offset != c.off {
			t.Errorf("%s: %v: field %s at %d, want %s at %d", c.name, err, fe.Field, fe.Offset, c.field, c.off)
		}
	}
}

func TestReplyStrings(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{RCodeActive.String(), "ACT_ERR"}, {RCodeOK.String(), "OK"}, {RCodeConflict.String(), "CFT_ERR"},
		{RCode(8).String(), "RCODE(8)"}, {ReplyWACK.String(), "wait for acknowledgement"},
		{ReplyChallenge.String(), "end-node challenge"}, {ReplyPositive.String(), "positive"},
		{ReplyNegative.String(), "negative"}, {ReplyKind(9).String(), "ReplyKind(9)"},
		{OpRefreshAlt.String(), "REFRESH"}, {OpWACK.String(), "WACK"}, {OpRelease.String(), "RELEASE"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
