package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestFieldErrorString(t *testing.T) {
	for _, c := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{Layer: "smb", Field: "Protocol", Offset: 0, Detail: "bad", Err: ErrMalformed},
			"wire: smb Protocol at offset 0: bad: malformed packet"},
		{FieldError{Layer: "nbdgm", Field: "DGM_LENGTH", Offset: 10, Err: ErrShort},
			"wire: nbdgm DGM_LENGTH at offset 10: packet too short"},
		{FieldError{Layer: "browser", Field: "Comment", Offset: -1, Detail: "43 bytes", Err: ErrTooLarge},
			"wire: browser Comment: 43 bytes: packet too large"},
		{FieldError{Layer: "mailslot", Field: "MailslotName", Offset: -1, Err: ErrInvalidName},
			"wire: mailslot MailslotName: invalid name"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
}

// checkEncodeErr fails unless err wraps want inside a *FieldError without
// an offset: an encoder has no buffer to point into.
func checkEncodeErr(t *testing.T, what string, err, want error) {
	t.Helper()
	var fe *FieldError
	if !errors.Is(err, want) || !errors.As(err, &fe) || fe.Offset != -1 || strings.Contains(err.Error(), "offset") {
		t.Errorf("%s: %v, want %v without an offset", what, err, want)
	}
}

// decodeErrCase is a decoder error as a user reads it: the sentinel, the
// field, where it is in the packet, and words of the detail.
type decodeErrCase struct {
	name   string
	b      []byte
	want   error
	field  string
	offset int
	detail string
}

func checkDecodeErr(t *testing.T, c decodeErrCase, err error) {
	t.Helper()
	var fe *FieldError
	if !errors.Is(err, c.want) || !errors.As(err, &fe) {
		t.Errorf("%s: %v, want %v", c.name, err, c.want)
		return
	}
	if fe.Field != c.field || fe.Offset != c.offset || !strings.Contains(fe.Detail, c.detail) {
		t.Errorf("%s: %s at %d: %q; want %s at %d: %q", c.name, fe.Field, fe.Offset, fe.Detail, c.field, c.offset, c.detail)
	}
}

// TestDatagramDecodeErrors checks each length at its edge: where the
// header, DGM_LENGTH, the names and the trailing bytes of each kind of
// datagram start and end.
func TestDatagramDecodeErrors(t *testing.T) {
	good := Datagram{Type: DirectUnique, Flags: FlagFirst, SourceIP: testIP, SourceName: testSrc, DestinationName: testDst,
		UserData: []byte("data")}
	b, err := AppendDatagram(nil, &good)
	if err != nil {
		t.Fatal(err)
	}
	withLen := func(n int, extra int) []byte {
		c := append([]byte(nil), b...)
		binary.BigEndian.PutUint16(c[10:], uint16(n))
		return append(c, make([]byte, extra)...)
	}
	dgmLen := len(b) - DatagramHeaderSize
	errB, _ := AppendDatagram(nil, &Datagram{Type: DatagramError, SourceIP: testIP, ErrorCode: 0x82})
	qB, _ := AppendDatagram(nil, &Datagram{Type: DatagramQueryRequest, SourceIP: testIP, DestinationName: testDst})
	for _, c := range []decodeErrCase{
		{"9 bytes", b[:9], ErrShort, "header", 0, "needs 10 bytes, 9 left"},
		{"10 bytes of an unknown type", append([]byte{0x20}, b[1:10]...), ErrUnsupported, "MSG_TYPE", 0, ""},
		{"10 bytes of a data datagram", b[:10], ErrShort, "DGM_LENGTH", 10, "needs 4 bytes, 0 left"},
		{"12 bytes of a data datagram", b[:12], ErrShort, "DGM_LENGTH", 10, "needs 4 bytes, 2 left"},
		{"header without names", append(append([]byte(nil), b[:10]...), 0, 0, 0, 0), ErrShort, "SOURCE_NAME", 14, ""},
		{"DGM_LENGTH one over", withLen(dgmLen+1, 0), ErrShort, "DGM_LENGTH", 10, "says 73 bytes follow the header, the packet has 72"},
		{"DGM_LENGTH one under", withLen(dgmLen-1, 0), ErrMalformed, "DGM_LENGTH", 10, "says 71 bytes follow the header, the packet has 72"},
		{"error without its code", errB[:10], ErrShort, "ERROR_CODE", 10, "needs 1 bytes, 0 left"},
		{"error and a byte", append(append([]byte(nil), errB...), 0), ErrMalformed, "ERROR_CODE", 11, "1 bytes after the packet"},
		{"error and two bytes", append(append([]byte(nil), errB...), 0, 0), ErrMalformed, "ERROR_CODE", 11, "2 bytes after the packet"},
		{"query and two bytes", append(append([]byte(nil), qB...), 0, 0), ErrMalformed, "DESTINATION_NAME", len(qB), "2 bytes after the packet"},
	} {
		_, err := DecodeDatagram(c.b)
		checkDecodeErr(t, c, err)
	}
	// DGM_LENGTH exactly right.
	if d, err := DecodeDatagram(withLen(dgmLen, 0)); err != nil || string(d.UserData) != "data" {
		t.Errorf("exact DGM_LENGTH: %+v, %v", d, err)
	}
	// An error datagram of exactly 11 bytes.
	if d, err := DecodeDatagram(errB); err != nil || d.ErrorCode != 0x82 || len(errB) != 11 {
		t.Errorf("error datagram: %+v, %v", d, err)
	}
}

// TestDatagramEncodeLimit checks AppendDatagram and AppendLargeDatagram at
// their limit and one byte over.
func TestDatagramEncodeLimit(t *testing.T) {
	d := Datagram{Type: DirectGroup, Flags: FlagFirst, SourceIP: testIP, SourceName: testSrc, DestinationName: testGroup}
	room := func(limit int) int { return limit - DatagramHeaderSize - testSrc.EncodedLen() - testGroup.EncodedLen() }
	for _, c := range []struct {
		name   string
		append func([]byte, *Datagram) ([]byte, error)
		limit  int
	}{
		{"AppendDatagram", AppendDatagram, MaxDatagramSize},
		{"AppendLargeDatagram", AppendLargeDatagram, MaxUDPPayload},
	} {
		d.UserData = make([]byte, room(c.limit))
		if b, err := c.append(nil, &d); err != nil || len(b) != c.limit {
			t.Errorf("%s at the limit: %d bytes, %v", c.name, len(b), err)
		}
		d.UserData = make([]byte, room(c.limit)+1)
		b, err := c.append([]byte{1}, &d)
		checkEncodeErr(t, c.name+" one over", err, ErrTooLarge)
		if !bytes.Equal(b, []byte{1}) {
			t.Errorf("%s one over: dst changed to % x", c.name, b)
		}
	}
}

// TestMailslotDatagramErrorOffsets checks that an error in the SMB part of
// a datagram points into the whole datagram, whichever field it is, the
// first byte of the SMB message included.
func TestMailslotDatagramErrorOffsets(t *testing.T) {
	d := Datagram{Type: DirectUnique, Flags: FlagFirst, SourceIP: testIP, SourceName: testSrc, DestinationName: testDst}
	b, err := AppendMailslotDatagram(nil, &d, &MailslotWrite{Name: `\MAILSLOT\X`, Class: ClassUnreliable, Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	smb := DatagramHeaderSize + 2*EncodedNameLen
	for _, c := range []struct {
		name   string
		at     int // the byte of the SMB message to change
		field  string
		offset int // in the SMB message
	}{
		{"protocol", 0, "Protocol", 0},
		{"command", offCommand, "Command", offCommand},
		{"word count", offWordCount, "WordCount", offWordCount},
		{"class", offClass, "Class", offClass},
	} {
		bad := append([]byte(nil), b...)
		bad[smb+c.at] ^= 0x40
		_, _, err := DecodeMailslotDatagram(bad)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || fe.Offset != smb+c.offset {
			t.Errorf("%s: %v, want %s at offset %d", c.name, err, c.field, smb+c.offset)
		}
		// DecodeMailslotWrite itself counts from the SMB message.
		if _, err := DecodeMailslotWrite(bad[smb:]); !errors.As(err, &fe) || fe.Offset != c.offset {
			t.Errorf("%s: DecodeMailslotWrite: %v, want offset %d", c.name, err, c.offset)
		}
	}
}

// TestMailslotWriteShort checks where a truncated mailslot write says it
// ends: in the SMB header, or in the transaction's parameter words.
func TestMailslotWriteShort(t *testing.T) {
	b, err := AppendMailslotWrite(nil, &MailslotWrite{Name: `\MAILSLOT\X`, Class: ClassUnreliable, Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []decodeErrCase{
		{"32 bytes", b[:32], ErrShort, "header", 0, "needs 33 bytes, 32 left"},
		{"33 bytes", b[:33], ErrShort, "SMB_Parameters", offWordCount, "needs 37 bytes, 1 left"},
		{"68 bytes", b[:68], ErrShort, "SMB_Parameters", offWordCount, "needs 37 bytes, 36 left"},
		{"69 bytes", b[:69], ErrShort, "ByteCount", offBytes, "needs 13 bytes, 0 left"},
	} {
		_, err := DecodeMailslotWrite(c.b)
		checkDecodeErr(t, c, err)
	}
}
