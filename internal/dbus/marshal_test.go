package dbus

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// unhex reads hex with spaces, newlines and # comments.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// helloBytes is the Hello call every client sends first, laid out by hand
// from the specification: 12 fixed bytes, the field array's length, each
// field a struct on an 8-byte boundary, the header padded to 8.
const helloBytes = `
6c 01 00 01  00 00 00 00  01 00 00 00  6d 00 00 00  # 'l', method call, no flags, v1; body 0; serial 1; fields 109 bytes
01 01 6f 00  15 00 00 00  2f 6f 72 67 2f 66 72 65 65 64 65 73 6b 74 6f 70 2f 44 42 75 73 00  00 00  # PATH o "/org/freedesktop/DBus"
02 01 73 00  14 00 00 00  6f 72 67 2e 66 72 65 65 64 65 73 6b 74 6f 70 2e 44 42 75 73 00  00 00 00  # INTERFACE s
03 01 73 00  05 00 00 00  48 65 6c 6c 6f 00  00 00  # MEMBER s "Hello"
06 01 73 00  14 00 00 00  6f 72 67 2e 66 72 65 65 64 65 73 6b 74 6f 70 2e 44 42 75 73 00  00 00 00  # DESTINATION s, then padding to 128
`

func TestMarshalHello(t *testing.T) {
	m := &Message{Type: TypeMethodCall, Serial: 1, Path: BusPath, Interface: BusInterface, Member: "Hello", Destination: BusName}
	got, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, helloBytes)
	if !bytes.Equal(got, want) {
		t.Fatalf("Hello:\n got %x\nwant %x", got, want)
	}
	back, err := Unmarshal(want)
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("Unmarshal: %+v, %v", back, err)
	}
}

// notifyBody is the body of Notify("mailslot", 0, "", "Message from A",
// "hé", [], {"urgency": <byte 1>}, -1), laid out by hand.
const notifyBody = `
08 00 00 00 6d 61 69 6c 73 6c 6f 74 00  00 00 00          # s "mailslot", pad to 16
00 00 00 00                                               # u 0
00 00 00 00 00                                            # s "", pad to 24
00 00 00                                                  #
0e 00 00 00 4d 65 73 73 61 67 65 20 66 72 6f 6d 20 41 00  # s "Message from A" (ends at 47)
00                                                        # pad to 48
03 00 00 00 68 c3 a9 00                                   # s "hé" (ends at 56)
00 00 00 00                                               # as: length 0
10 00 00 00                                               # a{sv}: length 16; at 64, entries need no padding
07 00 00 00 75 72 67 65 6e 63 79 00                       # entry key s "urgency"
01 79 00 01                                               # v: signature "y", byte 1 (ends at 80)
ff ff ff ff                                               # i -1
`

func TestMarshalNotifyBody(t *testing.T) {
	args := []any{"mailslot", uint32(0), "", "Message from A", "hé", []string{}, map[string]Variant{"urgency": {"y", byte(1)}}, int32(-1)}
	e := encoder{}
	if err := e.values("susssasa{sv}i", args); err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, notifyBody); !bytes.Equal(e.buf, want) {
		t.Fatalf("Notify body:\n got %x\nwant %x", e.buf, want)
	}
	d := decoder{buf: e.buf, order: binary.LittleEndian}
	got, err := d.values("susssasa{sv}i")
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"mailslot", uint32(0), "", "Message from A", "hé", []any(nil), []DictEntry{{"urgency", Variant{"y", byte(1)}}}, int32(-1)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %#v\nwant %#v", got, want)
	}
}

// TestRoundTrip marshals every type, nested, in a whole message and reads
// it back.
func TestRoundTrip(t *testing.T) {
	body := []any{
		byte(7), true, int16(-2), uint16(3), int32(-4), uint32(5), int64(math.MinInt64), uint64(math.MaxUint64),
		3.25, uint32(0), "ünïcode", ObjectPath("/a/b"), Signature("a{sv}"),
		Variant{"(si)", []any{"x", int32(1)}},
		[]any{[]any{"p", int32(1)}, []any{"q", int32(2)}},
		[]DictEntry{{uint32(1), []any{byte(1), byte(2)}}, {uint32(2), []any(nil)}},
		[]any{int64(1), int64(2)},
		Variant{"v", Variant{"s", "nested"}},
	}
	m := &Message{Type: TypeSignal, Flags: 0, Serial: 99, Path: "/x", Interface: "a.b", Member: "C", Sender: ":1.5",
		Signature: "ybnqiuxtdhsogva(si)a{uay}axv", Body: body}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%8 != 0 && len(b) < 16 {
		t.Fatalf("%d bytes", len(b))
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, m)
	}
	// The Go conveniences marshal as their D-Bus types.
	e1, e2 := encoder{}, encoder{}
	if err := e1.values("yqasay", []any{7, 9, []string{"a", "b"}, []byte{1, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := e2.values("yqasay", []any{byte(7), uint16(9), []any{"a", "b"}, []any{byte(1), byte(2)}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e1.buf, e2.buf) {
		t.Errorf("conveniences: %x vs %x", e1.buf, e2.buf)
	}
}

// A reply as a big-endian peer sends it.
func TestUnmarshalBigEndian(t *testing.T) {
	b := unhex(t, `
42 02 01 01  00 00 00 04  00 00 00 07  00 00 00 0f   # 'B', method return, no reply expected; body 4; serial 7; fields 15
05 01 75 00  00 00 00 03                             # REPLY_SERIAL u 3
08 01 67 00  01 75 00                                # SIGNATURE g "u", pad to 32
00
00 00 01 02                                          # u 258
`)
	m, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeMethodReturn || m.Serial != 7 || m.ReplySerial != 3 || !reflect.DeepEqual(m.Body, []any{uint32(258)}) {
		t.Fatalf("%+v", m)
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, c := range []struct {
		sig  string
		args []any
	}{
		{"s", []any{5}},
		{"s", []any{"a\x00b"}},
		{"s", []any{"\xff"}},
		{"y", []any{256}},
		{"u", []any{-1}},
		{"i", []any{uint32(1)}},
		{"as", []any{[]int{1}}},
		{"ss", []any{"only one"}},
		{"s", []any{"a", "b"}},
		{"(si)", []any{[]any{"a"}}},
		{"v", []any{Variant{"ss", []any{"a", "b"}}}},
		{"{sv}", []any{DictEntry{"a", Variant{"s", "b"}}}},
		{"a{vs}", []any{[]DictEntry{}}},
		{"a", []any{[]any{}}},
		{"(", []any{nil}},
		{"()", []any{[]any{}}},
		{"z", []any{1}},
		{strings.Repeat("a", 40) + "y", []any{[]any{}}},
	} {
		e := encoder{}
		if err := e.values(c.sig, c.args); !errors.Is(err, ErrFormat) {
			t.Errorf("%q %#v: %v; want ErrFormat", c.sig, c.args, err)
		}
	}
	if _, err := (&Message{Type: 9, Serial: 1}).Marshal(); !errors.Is(err, ErrFormat) {
		t.Errorf("type 9: %v", err)
	}
	if _, err := (&Message{Type: TypeMethodCall}).Marshal(); !errors.Is(err, ErrFormat) {
		t.Errorf("serial 0: %v", err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	hello := unhex(t, helloBytes)
	set := func(i int, v byte) []byte { b := bytes.Clone(hello); b[i] = v; return b }
	for name, b := range map[string][]byte{
		"empty":              nil,
		"short":              hello[:15],
		"truncated":          hello[:len(hello)-8],
		"trailing":           append(bytes.Clone(hello), make([]byte, 8)...),
		"byte order":         set(0, 'x'),
		"version":            set(3, 2),
		"serial 0":           set(8, 0),
		"type 0":             set(1, 0),
		"padding not zero":   set(46, 1),
		"string without NUL": set(45, 'x'),
		"field type":         set(18, 's'),
		"no member":          set(80, 9),
		"huge array":         set(15, 0x7f),
		"body without sig":   append(set(4, 8), make([]byte, 8)...),
	} {
		if m, err := Unmarshal(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %+v, %v; want ErrFormat", name, m, err)
		}
	}
}

func TestSocketPath(t *testing.T) {
	for in, want := range map[string]string{
		"unix:path=/run/user/1000/bus":             "/run/user/1000/bus",
		"unix:path=/tmp/a%20b,guid=0123456789abcd": "/tmp/a b",
		"unix:abstract=/tmp/dbus-XYZ,guid=1":       "@/tmp/dbus-XYZ",
	} {
		if got, err := socketPath(in); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"tcp:host=localhost,port=1", "unix:tmpdir=/tmp", "nonsense", "unix:path=%zz"} {
		if _, err := socketPath(in); !errors.Is(err, ErrAddress) {
			t.Errorf("%q: %v; want ErrAddress", in, err)
		}
	}
}
