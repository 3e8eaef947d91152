package dbus

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Message types.
const (
	TypeMethodCall   = 1
	TypeMethodReturn = 2
	TypeError        = 3
	TypeSignal       = 4
)

// FlagNoReplyExpected asks for no reply to a method call.
const FlagNoReplyExpected = 0x1

// Header field codes.
const (
	fieldPath        = 1
	fieldInterface   = 2
	fieldMember      = 3
	fieldErrorName   = 4
	fieldReplySerial = 5
	fieldDestination = 6
	fieldSender      = 7
	fieldSignature   = 8
	fieldUnixFDs     = 9
)

// MaxMessage is the largest message, header and body, that the
// specification allows (128 MiB).
const MaxMessage = 128 << 20

// Message is one D-Bus message.
type Message struct {
	Type        byte
	Flags       byte
	Serial      uint32
	Path        ObjectPath
	Interface   string
	Member      string
	ErrorName   string
	ReplySerial uint32
	Destination string
	Sender      string
	Signature   Signature // of Body
	Body        []any
}

// Marshal encodes m in little-endian byte order.
func (m *Message) Marshal() ([]byte, error) {
	if m.Type < TypeMethodCall || m.Type > TypeSignal {
		return nil, fmt.Errorf("%w: message type %d", ErrFormat, m.Type)
	}
	if m.Serial == 0 {
		return nil, fmt.Errorf("%w: serial 0", ErrFormat)
	}
	body := encoder{}
	if err := body.values(string(m.Signature), m.Body); err != nil {
		return nil, fmt.Errorf("body of %s: %w", m.describe(), err)
	}
	var fields []any
	add := func(code byte, sig Signature, v any) {
		fields = append(fields, []any{code, Variant{sig, v}})
	}
	if m.Path != "" {
		add(fieldPath, "o", m.Path)
	}
	for _, f := range []struct {
		code byte
		v    string
	}{{fieldInterface, m.Interface}, {fieldMember, m.Member}, {fieldErrorName, m.ErrorName}, {fieldDestination, m.Destination}, {fieldSender, m.Sender}} {
		if f.v != "" {
			add(f.code, "s", f.v)
		}
	}
	if m.ReplySerial != 0 {
		add(fieldReplySerial, "u", m.ReplySerial)
	}
	if m.Signature != "" {
		add(fieldSignature, "g", m.Signature)
	}
	e := encoder{buf: []byte{'l', m.Type, m.Flags, 1}}
	e.u32(uint32(len(body.buf)))
	e.u32(m.Serial)
	if err := e.value("a(yv)", fields, 0); err != nil {
		return nil, fmt.Errorf("header of %s: %w", m.describe(), err)
	}
	e.align(8)
	if len(e.buf)+len(body.buf) > MaxMessage {
		return nil, fmt.Errorf("%w: %s is %d bytes (at most %d)", ErrFormat, m.describe(), len(e.buf)+len(body.buf), MaxMessage)
	}
	return append(e.buf, body.buf...), nil
}

// describe names the message in errors.
func (m *Message) describe() string {
	switch m.Type {
	case TypeMethodCall, TypeSignal:
		return fmt.Sprintf("%s.%s", m.Interface, m.Member)
	case TypeError:
		return "error " + m.ErrorName
	}
	return fmt.Sprintf("reply to %d", m.ReplySerial)
}

// messageSize reads the first 16 bytes of a message and returns its whole
// size and byte order.
func messageSize(head []byte) (int, binary.ByteOrder, error) {
	var order binary.ByteOrder
	switch head[0] {
	case 'l':
		order = binary.LittleEndian
	case 'B':
		order = binary.BigEndian
	default:
		return 0, nil, fmt.Errorf("%w: byte order %q", ErrFormat, head[0])
	}
	if head[3] != 1 {
		return 0, nil, fmt.Errorf("%w: protocol version %d", ErrFormat, head[3])
	}
	bodyLen := int64(order.Uint32(head[4:]))
	fieldsLen := int64(order.Uint32(head[12:]))
	total := (16+fieldsLen+7)&^7 + bodyLen
	if total > MaxMessage {
		return 0, nil, fmt.Errorf("%w: message of %d bytes (at most %d)", ErrFormat, total, MaxMessage)
	}
	return int(total), order, nil
}

// ReadMessage reads one whole message from r.
func ReadMessage(r io.Reader) (*Message, error) {
	head := make([]byte, 16)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, err
	}
	total, _, err := messageSize(head)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, total)
	copy(buf, head)
	if _, err := io.ReadFull(r, buf[16:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return Unmarshal(buf)
}

// Unmarshal decodes exactly one message from b.
func Unmarshal(b []byte) (*Message, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("%w: %d bytes is shorter than a header", ErrFormat, len(b))
	}
	total, order, err := messageSize(b)
	if err != nil {
		return nil, err
	}
	if total != len(b) {
		return nil, fmt.Errorf("%w: the header says %d bytes, there are %d", ErrFormat, total, len(b))
	}
	m := &Message{Type: b[1], Flags: b[2]}
	bodyLen := int(order.Uint32(b[4:]))
	m.Serial = order.Uint32(b[8:])
	if m.Serial == 0 {
		return nil, fmt.Errorf("%w: serial 0", ErrFormat)
	}
	d := &decoder{buf: b[:len(b)-bodyLen], off: 12, order: order}
	fields, err := d.value("a(yv)", 0)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := d.align(8); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	for _, f := range fields.([]any) {
		if err := m.setField(f.([]any)); err != nil {
			return nil, err
		}
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	if bodyLen > 0 && m.Signature == "" {
		return nil, fmt.Errorf("%w: a body of %d bytes without a signature", ErrFormat, bodyLen)
	}
	d = &decoder{buf: b, off: len(b) - bodyLen, order: order}
	if m.Body, err = d.values(string(m.Signature)); err != nil {
		return nil, fmt.Errorf("body of %s: %w", m.describe(), err)
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the body's values", ErrFormat, len(b)-d.off)
	}
	return m, nil
}

// setField stores one header field, checking its type.
func (m *Message) setField(f []any) error {
	code, v := f[0].(byte), f[1].(Variant)
	want := map[byte]Signature{fieldPath: "o", fieldInterface: "s", fieldMember: "s", fieldErrorName: "s",
		fieldReplySerial: "u", fieldDestination: "s", fieldSender: "s", fieldSignature: "g", fieldUnixFDs: "u"}[code]
	if want == "" {
		return nil // unknown fields are ignored, as the specification says
	}
	if v.Sig != want {
		return fmt.Errorf("%w: header field %d has type %q, want %q", ErrFormat, code, v.Sig, want)
	}
	switch code {
	case fieldPath:
		m.Path = v.Value.(ObjectPath)
	case fieldInterface:
		m.Interface = v.Value.(string)
	case fieldMember:
		m.Member = v.Value.(string)
	case fieldErrorName:
		m.ErrorName = v.Value.(string)
	case fieldReplySerial:
		m.ReplySerial = v.Value.(uint32)
	case fieldDestination:
		m.Destination = v.Value.(string)
	case fieldSender:
		m.Sender = v.Value.(string)
	case fieldSignature:
		m.Signature = v.Value.(Signature)
	}
	return nil
}

// check applies the required header fields of each message type.
func (m *Message) check() error {
	var missing string
	switch m.Type {
	case TypeMethodCall:
		if m.Path == "" || m.Member == "" {
			missing = "PATH and MEMBER"
		}
	case TypeSignal:
		if m.Path == "" || m.Member == "" || m.Interface == "" {
			missing = "PATH, INTERFACE and MEMBER"
		}
	case TypeMethodReturn:
		if m.ReplySerial == 0 {
			missing = "REPLY_SERIAL"
		}
	case TypeError:
		if m.ReplySerial == 0 || m.ErrorName == "" {
			missing = "REPLY_SERIAL and ERROR_NAME"
		}
	default:
		return fmt.Errorf("%w: message type %d", ErrFormat, m.Type)
	}
	if missing != "" {
		return fmt.Errorf("%w: message of type %d lacks %s", ErrFormat, m.Type, missing)
	}
	return nil
}
