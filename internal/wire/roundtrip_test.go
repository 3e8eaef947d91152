package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var (
	testSrc   = MustName("SENDER", SuffixWorkstation)
	testDst   = MustName("RECEIVER", SuffixWorkstation)
	testGroup = MustName("LABGROUP", SuffixWorkstation)
	testIP    = netip.MustParseAddr("10.213.7.2")
)

func TestDatagramRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		d    Datagram
	}{
		{"direct unique", Datagram{Type: DirectUnique, Flags: NewDatagramFlags(BNode), ID: 1, SourceIP: testIP,
			SourcePort: 138, SourceName: testSrc, DestinationName: testDst, UserData: []byte("hello")}},
		{"direct group, M node, scope", Datagram{Type: DirectGroup, Flags: NewDatagramFlags(MNode), ID: 0xFFFF,
			SourceIP: testIP, SourcePort: 50000, SourceName: mustScope(testSrc, "corp.example"),
			DestinationName: mustScope(testGroup, "corp.example"), UserData: []byte{0, 1, 2}}},
		{"broadcast, empty data", Datagram{Type: BroadcastDatagram, Flags: NewDatagramFlags(PNode), SourceIP: testIP,
			SourcePort: 138, SourceName: testSrc, DestinationName: WildcardName(), UserData: []byte{}}},
		{"fragment", Datagram{Type: DirectUnique, Flags: FlagMore, PacketOffset: 400, SourceIP: testIP,
			SourceName: testSrc, DestinationName: testDst, UserData: []byte("second part")}},
		{"error", Datagram{Type: DatagramError, Flags: NewDatagramFlags(HNode), ID: 7, SourceIP: testIP, SourcePort: 138,
			ErrorCode: ErrorCodeDestinationNameNotPresent}},
		{"query request", Datagram{Type: DatagramQueryRequest, ID: 8, SourceIP: testIP, SourcePort: 138, DestinationName: testDst}},
		{"positive query response", Datagram{Type: DatagramPositiveQueryResponse, ID: 8, SourceIP: testIP,
			SourcePort: 138, DestinationName: testDst}},
		{"negative query response", Datagram{Type: DatagramNegativeQueryResponse, ID: 8, SourceIP: testIP,
			SourcePort: 138, DestinationName: mustScope(testDst, "x")}},
	}
	for _, c := range cases {
		b, err := AppendDatagram([]byte("prefix"), &c.d)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.HasPrefix(b, []byte("prefix")) || len(b)-6 != c.d.EncodedLen() {
			t.Fatalf("%s: %d bytes, EncodedLen %d", c.name, len(b)-6, c.d.EncodedLen())
		}
		b = b[6:]
		got, err := DecodeDatagram(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", c.name, err)
		}
		if c.d.UserData == nil && got.UserData != nil {
			t.Errorf("%s: user data %q", c.name, got.UserData)
		}
		if c.d.UserData != nil && len(got.UserData) > 0 && &got.UserData[0] != &b[len(b)-len(got.UserData)] {
			t.Errorf("%s: user data is a copy, not a sub-slice", c.name)
		}
		if !reflect.DeepEqual(got, c.d) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.d)
		}
		if b[0] != byte(c.d.Type) || b[1] != byte(c.d.Flags) || binary.BigEndian.Uint16(b[2:]) != c.d.ID {
			t.Errorf("%s: header % x", c.name, b[:10])
		}
		if c.d.Type.carriesData() && int(binary.BigEndian.Uint16(b[10:])) != len(b)-DatagramHeaderSize {
			t.Errorf("%s: DGM_LENGTH %d, packet %d", c.name, binary.BigEndian.Uint16(b[10:]), len(b))
		}
	}
}

func TestDatagramFlags(t *testing.T) {
	for _, nt := range []NodeType{BNode, PNode, MNode, HNode} {
		f := NewDatagramFlags(nt)
		if f.NodeType() != nt || !f.First() || f.More() {
			t.Errorf("%v: %#x", nt, f)
		}
	}
	if NewDatagramFlags(MNode) != 0x0a || NewDatagramFlags(BNode) != 0x02 {
		t.Errorf("flags %#x %#x", NewDatagramFlags(MNode), NewDatagramFlags(BNode))
	}
	if s := MNode.String() + BNode.String() + PNode.String() + HNode.String(); s != "MBPH" {
		t.Error(s)
	}
	if DirectGroup.String() != "DIRECT_GROUP" || DatagramType(0x42).String() != "MSG_TYPE(0x42)" {
		t.Error(DirectGroup.String())
	}
}

func TestDatagramErrors(t *testing.T) {
	good := Datagram{Type: DirectUnique, Flags: FlagFirst, SourceIP: testIP, SourceName: testSrc, DestinationName: testDst}
	enc := []struct {
		name string
		mod  func(d *Datagram)
		want error
	}{
		{"unknown type", func(d *Datagram) { d.Type = 0x20 }, ErrUnsupported},
		{"reserved flags", func(d *Datagram) { d.Flags |= 0x10 }, ErrMalformed},
		{"IPv6 source", func(d *Datagram) { d.SourceIP = netip.MustParseAddr("::1") }, ErrMalformed},
		{"no source IP", func(d *Datagram) { d.SourceIP = netip.Addr{} }, ErrMalformed},
		{"too large", func(d *Datagram) { d.UserData = make([]byte, MaxDatagramSize) }, ErrTooLarge},
		{"bad scope", func(d *Datagram) { d.DestinationName.scope = "a..b" }, ErrInvalidName},
	}
	for _, c := range enc {
		d := good
		c.mod(&d)
		b, err := AppendDatagram([]byte{1}, &d)
		checkEncodeErr(t, c.name, err, c.want)
		if len(b) != 1 {
			t.Errorf("%s: dst changed to %d bytes", c.name, len(b))
		}
	}
	// The large variant accepts what the 576 limit refuses, up to a UDP payload.
	d := good
	d.UserData = make([]byte, MaxDatagramSize)
	if _, err := AppendLargeDatagram(nil, &d); err != nil {
		t.Error(err)
	}
	d.UserData = make([]byte, MaxUDPPayload)
	if _, err := AppendLargeDatagram(nil, &d); !errors.Is(err, ErrTooLarge) {
		t.Error(err)
	}
	// A 4-mapped IPv6 source address is an IPv4 address.
	d = good
	d.SourceIP = netip.AddrFrom16(testIP.As16())
	if b, err := AppendDatagram(nil, &d); err != nil || !bytes.Equal(b[4:8], []byte{10, 213, 7, 2}) {
		t.Errorf("4in6: % x %v", b, err)
	}

	b, _ := AppendDatagram(nil, &good)
	errB, _ := AppendDatagram(nil, &Datagram{Type: DatagramError, SourceIP: testIP, ErrorCode: 0x82})
	qB, _ := AppendDatagram(nil, &Datagram{Type: DatagramQueryRequest, SourceIP: testIP, DestinationName: testDst})
	dec := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"header only", b[:10], ErrShort},
		{"no names", b[:14], ErrShort},
		{"DGM_LENGTH short", append(append([]byte(nil), b[:10]...), 0, 1, 0, 0, 0, 0), ErrMalformed},
		{"unknown type", append([]byte{0x20}, b[1:]...), ErrUnsupported},
		{"error truncated", errB[:10], ErrShort},
		{"error trailing", append(append([]byte(nil), errB...), 0), ErrMalformed},
		{"query truncated", qB[:len(qB)-1], ErrShort},
		{"query trailing", append(append([]byte(nil), qB...), 0), ErrMalformed},
	}
	for _, c := range dec {
		if _, err := DecodeDatagram(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestMailslotRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		d    Datagram
		w    MailslotWrite
	}{
		{"unique", Datagram{Type: DirectUnique, Flags: NewDatagramFlags(BNode), ID: 42, SourceIP: testIP, SourcePort: 138,
			SourceName: testSrc, DestinationName: testDst},
			MailslotWrite{Name: `\MAILSLOT\messngr`, Class: ClassUnreliable, Data: []byte("SENDER\x00RECEIVER\x00hello\x00")}},
		{"group", Datagram{Type: DirectGroup, Flags: NewDatagramFlags(MNode), ID: 43, SourceIP: testIP, SourcePort: 138,
			SourceName: testSrc, DestinationName: testGroup},
			MailslotWrite{Name: `\mailslot\app\deep\path`, Priority: 9, Class: ClassReliable, Timeout: 1000,
				Data: bytes.Repeat([]byte{0xAB}, 100)}},
		{"broadcast empty", Datagram{Type: BroadcastDatagram, Flags: NewDatagramFlags(BNode), SourceIP: testIP, SourcePort: 138,
			SourceName: testSrc, DestinationName: WildcardName()},
			MailslotWrite{Name: `\MAILSLOT\X`, Class: ClassUnreliable, Data: []byte{}}},
		{"scoped, OEM byte", Datagram{Type: DirectUnique, Flags: FlagFirst, SourceIP: testIP, SourcePort: 1234,
			SourceName: mustScope(testSrc, "s"), DestinationName: mustScope(testDst, "s")},
			MailslotWrite{Name: "\\MAILSLOT\\caf\x82", Class: ClassUnreliable, Data: []byte{0}}},
	}
	for _, c := range cases {
		b, err := AppendMailslotDatagram(nil, &c.d, &c.w)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := DatagramHeaderSize + c.d.SourceName.EncodedLen() + c.d.DestinationName.EncodedLen() +
			MailslotWriteLen(len(c.w.Name), len(c.w.Data))
		if len(b) != want {
			t.Errorf("%s: %d bytes, want %d", c.name, len(b), want)
		}
		d, w, err := DecodeMailslotDatagram(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", c.name, err)
		}
		if !reflect.DeepEqual(w, c.w) {
			t.Errorf("%s: got %+v, want %+v", c.name, w, c.w)
		}
		if len(w.Data) > 0 && &w.Data[0] != &b[len(b)-len(w.Data)] {
			t.Errorf("%s: data is a copy", c.name)
		}
		d.UserData = nil
		if !reflect.DeepEqual(d, c.d) {
			t.Errorf("%s: datagram %+v, want %+v", c.name, d, c.d)
		}
		// The SMB part alone round-trips too.
		smb, err := AppendMailslotWrite(nil, &c.w)
		if err != nil || !bytes.HasSuffix(b, smb) {
			t.Errorf("%s: AppendMailslotWrite %v", c.name, err)
		}
	}
}

// buildSMB makes a mailslot write by hand, with pad bytes between name and
// data, parameters, and trailing bytes, as peers other than nmbd may send.
func buildSMB(name string, pad int, params, data []byte, trailing int) []byte {
	le := binary.LittleEndian
	b := make([]byte, offBytes)
	copy(b, "\xffSMB\x25")
	b[offWordCount] = 17
	nameEnd := offBytes + len(name) + 1
	po := nameEnd
	do := po + len(params) + pad
	le.PutUint16(b[offTotalParameterCount:], uint16(len(params)))
	le.PutUint16(b[offParameterCount:], uint16(len(params)))
	le.PutUint16(b[offParameterOffset:], uint16(po))
	le.PutUint16(b[offTotalDataCount:], uint16(len(data)))
	le.PutUint16(b[offDataCount:], uint16(len(data)))
	le.PutUint16(b[offDataOffset:], uint16(do))
	b[offSetupCount] = 3
	le.PutUint16(b[offOpcode:], 1)
	le.PutUint16(b[offClass:], 2)
	le.PutUint16(b[offByteCount:], uint16(do+len(data)-offBytes))
	b = append(b, name...)
	b = append(b, 0)
	b = append(b, params...)
	b = append(b, make([]byte, pad)...)
	b = append(b, data...)
	return append(b, make([]byte, trailing)...)
}

func TestDecodeMailslotWriteFollowsOffsets(t *testing.T) {
	for _, c := range []struct {
		pad, trailing int
		params        []byte
	}{{0, 0, nil}, {1, 0, nil}, {3, 0, nil}, {2, 5, nil}, {0, 0, []byte{1, 2}}, {1, 1, []byte{9}}} {
		data := []byte("the record")
		b := buildSMB(`\MAILSLOT\NET\NETLOGON`, c.pad, c.params, data, c.trailing)
		w, err := DecodeMailslotWrite(b)
		if err != nil {
			t.Fatalf("pad %d: %v", c.pad, err)
		}
		if w.Name != `\MAILSLOT\NET\NETLOGON` || !bytes.Equal(w.Data, data) || w.Class != 2 {
			t.Errorf("pad %d: %+v", c.pad, w)
		}
	}
	// DataCount 0 with any DataOffset is an empty record.
	b := buildSMB(`\MAILSLOT\A`, 0, nil, nil, 0)
	binary.LittleEndian.PutUint16(b[offDataOffset:], 0)
	if w, err := DecodeMailslotWrite(b); err != nil || len(w.Data) != 0 || w.Data == nil {
		t.Errorf("empty: %+v %v", w, err)
	}
	// Parameters overlapping the name are refused.
	b = buildSMB(`\MAILSLOT\A`, 0, []byte{1}, []byte("x"), 0)
	binary.LittleEndian.PutUint16(b[offParameterOffset:], offBytes)
	if _, err := DecodeMailslotWrite(b); !errors.Is(err, ErrMalformed) {
		t.Errorf("parameters in the name: %v", err)
	}
	b = buildSMB(`\MAILSLOT\A`, 0, []byte{1}, []byte("x"), 0)
	binary.LittleEndian.PutUint16(b[offTotalParameterCount:], 5)
	if _, err := DecodeMailslotWrite(b); !errors.Is(err, ErrMalformed) {
		t.Errorf("TotalParameterCount: %v", err)
	}
	for _, n := range []int{0, 10, 32, 33, 60, offBytes - 1} {
		if _, err := DecodeMailslotWrite(b[:n]); !errors.Is(err, ErrShort) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
}

func TestMailslotNames(t *testing.T) {
	for name, want := range map[string]error{
		`\MAILSLOT\BROWSE`:                      nil,
		`\mailslot\x`:                           nil,
		`\MailSlot\a\b\c`:                       nil,
		`\MAILSLOT\with space`:                  nil,
		`\MAILSLOT\`:                            ErrInvalidName,
		`\MAILSLOT`:                             ErrInvalidName,
		`MAILSLOT\X`:                            ErrInvalidName,
		`\PIPE\X`:                               ErrInvalidName,
		`\MAILSLOT\a\\b`:                        ErrInvalidName,
		`\MAILSLOT\a\`:                          ErrInvalidName,
		`\MAILSLOT\a/b`:                         ErrInvalidName,
		`\MAILSLOT\a*`:                          ErrInvalidName,
		"\\MAILSLOT\\a\x01":                     ErrInvalidName,
		`\MAILSLOT\` + strings.Repeat("x", 245): nil,
		`\MAILSLOT\` + strings.Repeat("x", 246): ErrNameTooLong,
	} {
		if err := CheckMailslotName(name); want == nil && err != nil {
			t.Errorf("CheckMailslotName(%q): %v", name, err)
		} else if want != nil {
			checkEncodeErr(t, "CheckMailslotName("+name+")", err, want)
		}
		w := MailslotWrite{Name: name, Class: ClassUnreliable}
		b, err := AppendMailslotWrite(nil, &w)
		if want == nil && err != nil {
			t.Errorf("AppendMailslotWrite(%q): %v", name, err)
		} else if want != nil {
			checkEncodeErr(t, "AppendMailslotWrite("+name+")", err, want)
		}
		if err == nil {
			if _, err := DecodeMailslotWrite(b); err != nil {
				t.Errorf("DecodeMailslotWrite(%q): %v", name, err)
			}
		}
	}
	// What a short name lacks, in words.
	for name, detail := range map[string]string{`\MAILSLOT\`: "nothing after", `\mailslot\`: "nothing after", `\MAILSLOT`: "does not start with"} {
		var fe *FieldError
		if err := CheckMailslotName(name); !errors.As(err, &fe) || !strings.Contains(fe.Detail, detail) {
			t.Errorf("CheckMailslotName(%q): %v, want %q", name, err, detail)
		}
	}
}

// TestDecodeMailslotWriteEdges moves each offset and count of a mailslot
// write to the edge of what it may point at, and one byte past it.
func TestDecodeMailslotWriteEdges(t *testing.T) {
	const name = `\MAILSLOT\A`
	nameEnd := offBytes + len(name) + 1
	le := binary.LittleEndian
	set := func(off, v int) func([]byte) { return func(b []byte) { le.PutUint16(b[off:], uint16(v)) } }
	for _, c := range []struct {
		name     string
		pad      int // bytes between the name (or parameters) and the data
		params   []byte
		trailing int // bytes after ByteCount
		mod      func([]byte)
		want     error  // nil: decodes to wantData
		wantData string // the record
		field    string // of the error
	}{
		{name: "data right after the name", want: nil, wantData: "xy"},
		{name: "data at the name's NUL", mod: set(offDataOffset, nameEnd-1), want: ErrMalformed, field: "DataOffset"},
		{name: "data in the padding", pad: 1, mod: set(offDataOffset, nameEnd), wantData: "\x00x"},
		{name: "data ends at ByteCount", pad: 1, wantData: "xy"},
		{name: "data one past ByteCount, in the buffer", trailing: 1, mod: set(offDataOffset, nameEnd+1), want: ErrMalformed, field: "DataCount"},
		{name: "data one past the buffer", mod: set(offDataOffset, nameEnd+1), want: ErrShort, field: "DataCount"},
		{name: "ByteCount one short of the data", trailing: 1, mod: set(offByteCount, len(name)+2), want: ErrMalformed, field: "DataCount"},
		{name: "ByteCount to the end", trailing: 1, mod: set(offByteCount, len(name)+4), wantData: "xy"},
		{name: "ByteCount one past the end", trailing: 1, mod: set(offByteCount, len(name)+5), want: ErrShort, field: "ByteCount"},
		{name: "parameters right after the name", params: []byte{7}, wantData: "xy"},
		{name: "parameters at the name's NUL", params: []byte{7}, mod: set(offParameterOffset, nameEnd-1), want: ErrMalformed, field: "ParameterOffset"},
		{name: "parameters end at ByteCount", params: []byte{7}, mod: set(offParameterOffset, nameEnd+2), wantData: "xy"},
		{name: "parameters one past ByteCount", params: []byte{7}, trailing: 1, mod: set(offParameterOffset, nameEnd+3), want: ErrMalformed, field: "ParameterOffset"},
		{name: "name without NUL", mod: set(offByteCount, len(name)), want: ErrMalformed, field: "MailslotName"},
		{name: "empty name", mod: func(b []byte) { b[offBytes] = 0 }, want: ErrInvalidName, field: "MailslotName"},
	} {
		b := buildSMB(name, c.pad, c.params, []byte("xy"), c.trailing)
		if c.mod != nil {
			c.mod(b)
		}
		w, err := DecodeMailslotWrite(b)
		if c.want == nil {
			if err != nil || string(w.Data) != c.wantData || w.Name != name {
				t.Errorf("%s: %s %q, %v; want %q", c.name, w.Name, w.Data, err, c.wantData)
			}
			continue
		}
		var fe *FieldError
		if !errors.Is(err, c.want) || !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v, want %v in %s", c.name, err, c.want, c.field)
		}
	}
}

func TestMailslotEncodeErrors(t *testing.T) {
	d := Datagram{Type: DirectUnique, Flags: FlagFirst, SourceIP: testIP, SourceName: testSrc, DestinationName: testDst}
	w := MailslotWrite{Name: `\MAILSLOT\X`, Class: ClassUnreliable}
	for _, c := range []struct {
		name string
		d    func(*Datagram)
		w    func(*MailslotWrite)
		want error
	}{
		{"class 0", nil, func(w *MailslotWrite) { w.Class = 0 }, ErrMalformed},
		{"class 3", nil, func(w *MailslotWrite) { w.Class = 3 }, ErrMalformed},
		{"not a data type", func(d *Datagram) { d.Type = DatagramQueryRequest }, nil, ErrMalformed},
		{"user data set", func(d *Datagram) { d.UserData = []byte("x") }, nil, ErrMalformed},
		{"bad source IP", func(d *Datagram) { d.SourceIP = netip.Addr{} }, nil, ErrMalformed},
		{"bad scope", func(d *Datagram) { d.SourceName.scope = "." }, nil, ErrInvalidName},
		{"over 576", nil, func(w *MailslotWrite) { w.Data = make([]byte, MaxDatagramRecord) }, ErrTooLarge},
		{"over 16 bits", nil, func(w *MailslotWrite) { w.Data = make([]byte, 0xFFFF) }, ErrTooLarge},
	} {
		dd, ww := d, w
		if c.d != nil {
			c.d(&dd)
		}
		if c.w != nil {
			c.w(&ww)
		}
		b, err := AppendMailslotDatagram([]byte{7}, &dd, &ww)
		checkEncodeErr(t, c.name, err, c.want)
		if len(b) != 1 {
			t.Errorf("%s: dst changed to %d bytes", c.name, len(b))
		}
	}
	// ByteCount (name, NUL, data) is 16-bit: 0xFFFF fits, one more does not.
	name := `\MAILSLOT\X`
	if b, err := AppendMailslotWrite(nil, &MailslotWrite{Name: name, Class: 2, Data: make([]byte, 0xFFFF-len(name)-1)}); err != nil {
		t.Errorf("ByteCount 0xFFFF: %v", err)
	} else if w, err := DecodeMailslotWrite(b); err != nil || len(w.Data) != 0xFFFF-len(name)-1 {
		t.Errorf("ByteCount 0xFFFF decoded: %d bytes, %v", len(w.Data), err)
	}
	_, err := AppendMailslotWrite(nil, &MailslotWrite{Name: name, Class: 2, Data: make([]byte, 0xFFFF-len(name))})
	checkEncodeErr(t, "ByteCount 0x10000", err, ErrTooLarge)
}

// TestDatagramLimits checks the 424 rule and MaxMailslotData: the exact
// maximum fits 576 bytes, one more byte is refused, and the large variant
// takes it.
func TestDatagramLimits(t *testing.T) {
	if MaxDatagramRecord != 424 {
		t.Fatalf("MaxDatagramRecord = %d", MaxDatagramRecord)
	}
	for _, c := range []struct {
		slot     string
		src, dst Name
		want     int
	}{
		{BrowseMailslot, testSrc, testGroup, 424 - len(BrowseMailslot)},
		{`\MAILSLOT\X`, testSrc, testDst, 424 - 11},
		{`\MAILSLOT\messngr`, mustScope(testSrc, "corp.example"), mustScope(testDst, "corp.example"), 424 - 17 - 2*13},
	} {
		n := MaxMailslotData(c.slot, c.src, c.dst)
		if n != c.want {
			t.Errorf("MaxMailslotData(%s) = %d, want %d", c.slot, n, c.want)
		}
		d := Datagram{Type: DirectGroup, Flags: FlagFirst, SourceIP: testIP, SourcePort: 138, SourceName: c.src, DestinationName: c.dst}
		w := MailslotWrite{Name: c.slot, Class: ClassUnreliable, Data: make([]byte, n)}
		b, err := AppendMailslotDatagram(nil, &d, &w)
		if err != nil || len(b) != MaxDatagramSize {
			t.Errorf("%s: %d bytes: %d, %v", c.slot, n, len(b), err)
		}
		w.Data = make([]byte, n+1)
		if _, err := AppendMailslotDatagram(nil, &d, &w); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %d bytes: %v", c.slot, n+1, err)
		}
		if b, err := AppendLargeMailslotDatagram(nil, &d, &w); err != nil || len(b) != MaxDatagramSize+1 {
			t.Errorf("large: %d, %v", len(b), err)
		} else if _, w2, err := DecodeMailslotDatagram(b); err != nil || len(w2.Data) != n+1 {
			t.Errorf("decode large: %v", err)
		}
	}
	// Decoders accept the largest UDP payload.
	d := Datagram{Type: DirectUnique, Flags: FlagFirst, SourceIP: testIP, SourceName: testSrc, DestinationName: testDst}
	const name = `\MAILSLOT\BIG`
	w := MailslotWrite{Name: name, Class: ClassUnreliable,
		Data: make([]byte, MaxUDPPayload-DatagramHeaderSize-2*EncodedNameLen-MailslotWriteLen(len(name), 0))}
	b, err := AppendLargeMailslotDatagram(nil, &d, &w)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MaxUDPPayload {
		t.Fatalf("%d bytes", len(b))
	}
	if _, w2, err := DecodeMailslotDatagram(b); err != nil || len(w2.Data) != len(w.Data) {
		t.Errorf("decode %d bytes: %v", len(b), err)
	}
}
