package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// fieldError returns err as a *FieldError, failing the test when it is
// not one.
func fieldError(t *testing.T, what string, err error) *FieldError {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%s: %v is not a *FieldError", what, err)
	}
	return fe
}

// TestNameServiceSizeWithQuestion checks the size AppendNameService works
// out before it writes: a question's name and its 4 bytes of type and
// class, and a record naming the question's name as a 2-byte pointer.
// A packet of exactly MaxUDPPayload bytes is written, one byte more is
// refused before anything is appended.
func TestNameServiceSizeWithQuestion(t *testing.T) {
	other := MustName("SOMEONE", SuffixServer)
	packet := func(data int, name Name) NameServicePacket {
		return NameServicePacket{
			Opcode:    OpRegistration,
			Questions: []Question{{Name: testDst, Type: TypeNB, Class: ClassIN}},
			Additional: []ResourceRecord{{Name: name, Type: TypeNB, Class: ClassIN,
				Data: make([]byte, data)}},
		}
	}
	fixed := NSHeaderSize + testDst.EncodedLen() + 4 + 10
	for _, c := range []struct {
		what string
		name Name
		room int
	}{
		{"record names the question (pointer)", testDst, MaxUDPPayload - fixed - 2},
		{"record names another name", other, MaxUDPPayload - fixed - other.EncodedLen()},
	} {
		p := packet(c.room, c.name)
		b, err := AppendNameService([]byte{0xAA}, &p)
		if err != nil || len(b) != 1+MaxUDPPayload {
			t.Errorf("%s, at the limit: %d bytes, %v", c.what, len(b)-1, err)
		} else if got, err := DecodeNameService(b[1:]); err != nil || len(got.Additional[0].Data) != c.room || got.Additional[0].Name != c.name {
			t.Errorf("%s, at the limit, decoded: %+v, %v", c.what, got, err)
		}
		p = packet(c.room+1, c.name)
		b, err = AppendNameService([]byte{0xAA}, &p)
		checkEncodeErr(t, c.what+", one over", err, ErrTooLarge)
		if fe := fieldError(t, c.what, err); fe.Field != "packet" {
			t.Errorf("%s, one over: %v", c.what, err)
		}
		if !bytes.Equal(b, []byte{0xAA}) {
			t.Errorf("%s, one over: appended %d bytes", c.what, len(b)-1)
		}
	}
	// RDATA of 65535 bytes is within RDLENGTH: what refuses it is the
	// size of the packet.
	p := packet(0xFFFF, testDst)
	_, err := AppendNameService(nil, &p)
	if fe := fieldError(t, "RDATA of 65535 bytes", err); fe.Field != "packet" || !errors.Is(err, ErrTooLarge) {
		t.Errorf("RDATA of 65535 bytes: %v", err)
	}
}

// TestNameServiceCountsBound checks that the counts of the header are
// weighed against the packet before anything is allocated for them: at
// least 6 bytes a question and 12 a record.
func TestNameServiceCountsBound(t *testing.T) {
	b := make([]byte, 64)
	for _, c := range []struct {
		qd, an, ns, ar int
		need           int
	}{
		{2, 3, 5, 7, 12 + 6*2 + 12*15},
		{9, 0, 0, 0, 12 + 6*9},
		{0, 5, 0, 0, 12 + 12*5},
		{0, 0, 5, 0, 12 + 12*5},
		{0, 0, 0, 5, 12 + 12*5},
		{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 12 + 6*0xFFFF + 12*3*0xFFFF},
	} {
		h := append([]byte(nil), b...)
		h[4], h[5] = byte(c.qd>>8), byte(c.qd)
		h[6], h[7] = byte(c.an>>8), byte(c.an)
		h[8], h[9] = byte(c.ns>>8), byte(c.ns)
		h[10], h[11] = byte(c.ar>>8), byte(c.ar)
		_, err := DecodeNameService(h)
		fe := fieldError(t, "counts", err)
		want := "the counts need at least " + strconv.Itoa(c.need) + " bytes, the packet has 64"
		if !errors.Is(err, ErrShort) || fe.Field != "QDCOUNT..ARCOUNT" || fe.Offset != 4 || fe.Detail != want {
			t.Errorf("counts %d/%d/%d/%d: %v, want %q", c.qd, c.an, c.ns, c.ar, err, want)
		}
	}
	// Counts the packet can hold pass this check and fail (or not) on the
	// records themselves.
	h := append([]byte(nil), b[:12+6]...)
	h[5] = 1
	if _, err := DecodeNameService(h); err == nil || strings.Contains(err.Error(), "the counts need") {
		t.Errorf("one question in 6 bytes: %v", err)
	}
}

// TestNameServiceErrorDetails checks what the decoder's and encoder's
// errors say: where a packet ends early or runs on, and which value is
// wrong.
func TestNameServiceErrorDetails(t *testing.T) {
	q := NewNameQuery(1, testDst, true)
	qb, _ := AppendNameService(nil, &q)
	_, err := DecodeNameService(append(append([]byte(nil), qb...), 0, 0, 0))
	if fe := fieldError(t, "trailing", err); fe.Offset != len(qb) || fe.Detail != "3 bytes after the last record" || !errors.Is(err, ErrMalformed) {
		t.Errorf("3 bytes after the packet: %v", err)
	}
	_, err = DecodeNBAddresses(make([]byte, 7))
	if fe := fieldError(t, "7-byte RDATA", err); !strings.HasPrefix(fe.Detail, "7 is not a multiple of 6") || fe.Offset != -1 {
		t.Errorf("7-byte RDATA: %v", err)
	}
	_, err = AppendNBAddresses(nil, []NBAddress{{IP: testIP}, {IP: testIP.Next()}, {IP: netip.MustParseAddr("fe80::2")}})
	if fe := fieldError(t, "IPv6", err); fe.Detail != "not an IPv4 address: fe80::2" || fe.Offset != -1 {
		t.Errorf("IPv6 address: %v", err)
	}
}
