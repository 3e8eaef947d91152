package natsbridge

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

func TestSubjects(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{GroupSubject("OFFICE", `APP\JOBS`), "mailslot.group.OFFICE.APP.JOBS"},
		{GroupSubject("office", `app\jobs`), "mailslot.group.OFFICE.APP.JOBS"},
		{GroupSubject("MY.WG", `a b\x*y>z`), "mailslot.group.MY%2EWG.A%20B.X%2AY%3EZ"},
		{GroupSubject("WG", `a\\b`), "mailslot.group.WG.A.%.B"},
		{ComputerSubject("HOSTA2", `nats\x`), "mailslot.computer.HOSTA2.NATS.X"},
		{HeldSubject("HOST-1"), "mailslot.held.HOST-1"},
		{HeldStream("MY.HOST"), "MAILSLOT_HELD_MY_2EHOST"},
		{Token("%"), "%25"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// Distinct names never share a token.
func TestTokenOneToOne(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"", "A", "a.b", "A%2EB", "A_2EB", "%00", "A B", "A+B", "\x00", "é"} {
		tok := Token(s)
		if o, ok := seen[tok]; ok && !equalFoldASCII(o, s) {
			t.Errorf("%q and %q map to %q", o, s, tok)
		}
		seen[tok] = s
	}
}

func equalFoldASCII(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []Record{
		{Target: "WG", Path: `APP\JOBS`, Source: "HOSTA1", Suffix: 0x03, Site: "site1", Addr: netip.MustParseAddr("10.1.2.3"), ID: 0xBEEF, Data: []byte("hello")},
		{Target: "HOSTB", Path: "X", Source: "S", Addr: netip.MustParseAddr("fe80::1"), Origin: `\\HOSTA (10.0.0.1:138)`, Data: make([]byte, 64<<10)},
		{Target: "T", Path: "P"},
	} {
		b := AppendRecord([]byte("junk"), &r)[4:]
		got, err := DecodeRecord(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Data) == 0 {
			got.Data = r.Data[:len(r.Data):len(r.Data)]
		}
		if !reflect.DeepEqual(got, r) && !(len(r.Data) == 0 && got.Data != nil) {
			t.Errorf("round trip: got %+v, want %+v", got, r)
		}
	}
}

func TestDecodeRecordRefusesShort(t *testing.T) {
	r := Record{Target: "WG", Path: `APP\JOBS`, Source: "HOSTA1", Site: "site1", Addr: netip.MustParseAddr("10.1.2.3"), Origin: "o"}
	b := AppendRecord(nil, &r)
	for n := 0; n < len(b); n++ {
		if _, err := DecodeRecord(b[:n], nil); err == nil {
			t.Errorf("a record cut to %d of %d bytes decoded", n, len(b))
		}
	}
	bad := append([]byte{}, b...)
	bad[0] = 9
	if _, err := DecodeRecord(bad, nil); err == nil {
		t.Error("version 9 decoded")
	}
	bad = append([]byte{}, b...)
	bad[4] = 5 // an address of 5 bytes
	if _, err := DecodeRecord(bad, nil); err == nil {
		t.Error("a 5-byte address decoded")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(AppendRecord(nil, &Record{Target: "WG", Path: `A\B`, Source: "H", Site: "s", Addr: netip.MustParseAddr("10.0.0.1"), Data: []byte("x")}))
	f.Add([]byte{1, 0, 0, 0, 16})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b, nil)
		if err != nil {
			return
		}
		// What decodes encodes back to the same bytes, but for a path
		// or name longer than its field (none decodes so).
		if again := AppendRecord(nil, &r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, was %x", again, b)
		}
	})
}
