package dbus

import (
	"reflect"
	"testing"
)

// FuzzUnmarshal: any bytes give a message or ErrFormat, never a panic, and
// a message that decodes marshals again to one that decodes the same.
func FuzzUnmarshal(f *testing.F) {
	f.Add(unhex(f, helloBytes))
	f.Add(unhex(f, `42 02 01 01 00 00 00 04 00 00 00 07 00 00 00 0f 05 01 75 00 00 00 00 03 08 01 67 00 01 75 00 00 00 00 01 02`))
	m := &Message{Type: TypeMethodCall, Serial: 3, Path: "/org/freedesktop/Notifications", Interface: "org.freedesktop.Notifications",
		Member: "Notify", Destination: "org.freedesktop.Notifications", Signature: "susssasa{sv}i",
		Body: []any{"mailslot", uint32(0), "", "Message from A", "hé", []string{"default", "Open"}, map[string]Variant{"urgency": {"y", byte(1)}}, int32(-1)}}
	b, err := m.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("decoded %+v but cannot marshal it: %v", m, err)
		}
		m2, err := Unmarshal(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-marshalled message differs: %+v, %v\nwas %+v", m2, err, m)
		}
	})
}
