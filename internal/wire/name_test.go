package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestNewName(t *testing.T) {
	cases := []struct {
		in      string
		suffix  byte
		want    string // String()
		wantErr error
	}{
		{"sambahost", 0x20, "SAMBAHOST<20>", nil},
		{"A", 0x00, "A<00>", nil},
		{"FIFTEEN-CHARS-X", 0x1d, "FIFTEEN-CHARS-X<1d>", nil},
		{"my.pc", 0x00, "MY.PC<00>", nil},
		{"with space", 0x03, "WITH SPACE<03>", nil},
		{"trailing  ", 0x00, "TRAILING<00>", nil},
		{"SIXTEEN-CHARS-XY", 0, "", ErrNameTooLong},
		{"", 0, "", ErrInvalidName},
		{"   ", 0, "", ErrInvalidName},
		{".dot", 0, "", ErrInvalidName},
		{"a*b", 0, "", ErrInvalidName},
		{"a\\b", 0, "", ErrInvalidName},
		{"a/b", 0, "", ErrInvalidName},
		{"a:b", 0, "", ErrInvalidName},
		{"a?b", 0, "", ErrInvalidName},
		{"a\"b", 0, "", ErrInvalidName},
		{"a<b", 0, "", ErrInvalidName},
		{"a>b", 0, "", ErrInvalidName},
		{"a|b", 0, "", ErrInvalidName},
		{"tab\there", 0, "", ErrInvalidName},
		{"caf\u00e9", 0, "", ErrInvalidName},
		{"del\x7f", 0, "", ErrInvalidName},
		{"unit\x1f", 0, "", ErrInvalidName},
		{"high\x80", 0, "", ErrInvalidName},
		{"tilde~", 0x00, "TILDE~<00>", nil},
		{"az`{@[", 0x00, "AZ`{@[<00>", nil},
		{"\\", 0, "", ErrInvalidName},
	}
	for _, c := range cases {
		n, err := NewName(c.in, c.suffix)
		if !errors.Is(err, c.wantErr) {
			t.Errorf("NewName(%q): err %v, want %v", c.in, err, c.wantErr)
			continue
		}
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Layer != "nbname" || !strings.Contains(err.Error(), "NAME") {
				t.Errorf("NewName(%q): error %q does not name the field", c.in, err)
			}
			checkEncodeErr(t, "NewName("+c.in+")", err, c.wantErr)
			continue
		}
		if got := n.String(); got != c.want {
			t.Errorf("NewName(%q).String() = %q, want %q", c.in, got, c.want)
		}
		if n.Suffix() != c.suffix || n.Scope() != "" {
			t.Errorf("NewName(%q): suffix %#x scope %q", c.in, n.Suffix(), n.Scope())
		}
		b := n.Bytes()
		if len(strings.TrimRight(string(b[:15]), " ")) != len(n.Name()) {
			t.Errorf("NewName(%q): not padded with spaces: %q", c.in, b)
		}
	}
}

// TestNameEncoding checks first-level encoding against RFC 1001 §14.1's
// example and hand-made vectors, and decodes them back.
func TestNameEncoding(t *testing.T) {
	cases := []struct {
		name Name
		enc  string // the labels, without length bytes, dot-separated
	}{
		// RFC 1001 §14.1: "FRED" padded with spaces (the RFC's suffix is a space).
		{MustName("FRED", ' '), "EGFCEFEECACACACACACACACACACACACA"},
		{MustName("SAMBAHOST", 0x00), "FDEBENECEBEIEPFDFECACACACACACAAA"},
		{MustName("LABGROUP", 0x1d), "EMEBECEHFCEPFFFACACACACACACACABN"},
		{BrowseMasterName(), "ABACFPFPENFDECFCEPFHFDEFFPFPACAB"},
		{WildcardName(), "CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{mustScope(MustName("FRED", ' '), "NETBIOS.COM"), "EGFCEFEECACACACACACACACACACACACA.NETBIOS.COM"},
	}
	for _, c := range cases {
		got, err := AppendName([]byte{0xEE}, c.name)
		if err != nil {
			t.Fatalf("%v: %v", c.name, err)
		}
		var want []byte
		want = append(want, 0xEE)
		for _, l := range strings.Split(c.enc, ".") {
			want = append(want, byte(len(l)))
			want = append(want, l...)
		}
		want = append(want, 0)
		if !bytes.Equal(got, want) {
			t.Errorf("%v: encoded %q, want %q", c.name, got, want)
		}
		if len(got)-1 != c.name.EncodedLen() {
			t.Errorf("%v: EncodedLen %d, wrote %d", c.name, c.name.EncodedLen(), len(got)-1)
		}
		n, used, err := DecodeName(append(got[1:], 0xAB, 0xCD))
		if err != nil || n != c.name || used != len(got)-1 {
			t.Errorf("%v: decoded %v, %d, %v", c.name, n, used, err)
		}
	}
}

func mustScope(n Name, scope string) Name {
	n, err := n.WithScope(scope)
	if err != nil {
		panic(err)
	}
	return n
}

func TestNameStringParse(t *testing.T) {
	for _, s := range []string{
		"SAMBAHOST<00>", "LABGROUP<1d>", "<01><02>__MSBROWSE__<02><01>", "*" + strings.Repeat("<00>", 15), "HOST<20>.corp.example",
		"<2a><00>", "<2a>ABC<20>", "<20><20>", "<2e>DOT<00>", "A<61>B<00>", "A<00>B<00>", "<00><00><00><00><00><00><00><00><00><00><00><00><00><00><00><00>",
		"A<ff>", "MY.PC<03>",
		// Escapes at the edges: DEL, 'z', '\', a leading '*' in a full name
		// whose suffix (but no name byte) needs escaping; a long scope.
		"A<7f><00>", "A<7a><00>", "A<5c><00>", "<2a>ABCDEFGHIJKLMN<00>",
		"HOST<20>." + strings.Repeat("scope.", 10) + "x",
	} {
		n, err := ParseName(s)
		if err != nil {
			t.Errorf("ParseName(%q): %v", s, err)
			continue
		}
		if got := n.String(); got != s {
			t.Errorf("ParseName(%q).String() = %q", s, got)
		}
	}
	if n, err := ParseName("labgroup#1D"); err != nil || n != MustName("LABGROUP", 0x1d) {
		t.Errorf("ParseName(labgroup#1D) = %v, %v", n, err)
	}
	if n, err := ParseName("labgroup#1D.corp.example"); err != nil || n != mustScope(MustName("LABGROUP", 0x1d), "corp.example") {
		t.Errorf("ParseName(labgroup#1D.corp.example) = %v, %v", n, err)
	}
	if got := (Name{}).Name(); got != "" {
		t.Errorf("the zero Name's Name() = %q", got)
	}
	if b, err := AppendName([]byte{1}, Name{scope: "a..b"}); !errors.Is(err, ErrInvalidName) || len(b) != 1 {
		t.Errorf("AppendName with a bad scope: % x, %v", b, err)
	}
	if n, err := ParseName("*<00>"); err != nil || n != WildcardName() {
		t.Errorf("ParseName(*<00>) = %v, %v", n, err)
	}
	if n, err := ParseName("<01><02>__MSBROWSE__<02><01>"); err != nil || n != BrowseMasterName() {
		t.Errorf("ParseName(msbrowse) = %v, %v", n, err)
	}
	for s, want := range map[string]error{
		"NOSUFFIX":                             ErrInvalidName,
		"NAME<2>":                              ErrInvalidName,
		"NAME<zz>":                             ErrInvalidName,
		"NAME#123":                             ErrInvalidName,
		"NAME<20>junk":                         ErrInvalidName,
		"SIXTEEN-CHARS-XY<20>":                 ErrNameTooLong,
		"NAME<20>.bad..scope":                  ErrInvalidName,
		"<01><02>__MSBROWSE__<02><01><01><20>": ErrNameTooLong,
		"<0g>X<20>":                            ErrInvalidName,
		"A<2<20>":                              ErrInvalidName,
		"AB<<20>":                              ErrInvalidName,
		"<20":                                  ErrInvalidName,
		"AB<20<20>":                            ErrInvalidName,
	} {
		_, err := ParseName(s)
		checkEncodeErr(t, "ParseName("+s+")", err, want)
	}
	// What is wrong, in words, where the suffix or the name is missing.
	for s, detail := range map[string]string{
		"#20": "empty name", "<20>": "empty name", "A#.x": `suffix ""`, "A#": `suffix ""`,
		">": "has no suffix", "<20": "has no suffix", "A<20>B": "junk after the suffix",
	} {
		var fe *FieldError
		if _, err := ParseName(s); !errors.As(err, &fe) || !strings.Contains(fe.Detail, detail) {
			t.Errorf("ParseName(%q): %v, want %q", s, err, detail)
		}
	}
}

func TestNameMethods(t *testing.T) {
	a := MustName("host", 0x20)
	b := NameFromBytes([16]byte{'h', 'O', 's', 'T', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', 0x20})
	if !a.EqualFold(b) || a == b {
		t.Errorf("EqualFold(%v, %v) = %v, == %v", a, b, a.EqualFold(b), a == b)
	}
	if a.EqualFold(a.WithSuffix(0)) {
		t.Error("names with different suffixes compare equal")
	}
	if !mustScope(a, "x.y").EqualFold(mustScope(a, "X.Y")) || mustScope(a, "x").EqualFold(a) {
		t.Error("scope comparison")
	}
	if a.Name() != "HOST" || a.WithSuffix(0x1d).Suffix() != 0x1d {
		t.Errorf("Name() %q", a.Name())
	}
	if !(Name{}).IsZero() || a.IsZero() || WildcardName().IsZero() {
		t.Error("IsZero")
	}
	if WildcardName().Name() != "*" {
		t.Errorf("wildcard name %q", WildcardName().Name())
	}
	defer func() {
		if recover() == nil {
			t.Error("MustName did not panic")
		}
	}()
	MustName("bad*", 0)
}

func TestScope(t *testing.T) {
	n := MustName("X", 0)
	for scope, want := range map[string]error{
		"":                           nil,
		"a":                          nil,
		"corp.example-1.under_score": nil,
		strings.Repeat("a", 63):      nil,
		strings.Repeat("a", 64):      ErrNameTooLong,
		strings.Repeat("a.", 110)[:MaxScopeLen-1] + "b": nil,
		strings.Repeat("ab.", 80):                       ErrNameTooLong,
		".a":                                            ErrInvalidName,
		"a.":                                            ErrInvalidName,
		"a..b":                                          ErrInvalidName,
		"a b":                                           ErrInvalidName,
		"a#b":                                           ErrInvalidName,
		// Each end of the letters and digits, and a byte beyond it.
		"az.AZ.09-_": nil,
		"`":          ErrInvalidName,
		"{":          ErrInvalidName,
		"@":          ErrInvalidName,
		"[":          ErrInvalidName,
		"/":          ErrInvalidName,
		":":          ErrInvalidName,
	} {
		s, err := n.WithScope(scope)
		if want != nil {
			checkEncodeErr(t, "WithScope("+scope+")", err, want)
			continue
		}
		if err != nil {
			t.Errorf("WithScope(%q): %v", scope, err)
			continue
		}
		enc, err := AppendName(nil, s)
		if err != nil || len(enc) != s.EncodedLen() || len(enc) > MaxEncodedNameLen {
			t.Errorf("AppendName(scope %q): %d bytes, %v", scope, len(enc), err)
		}
		back, _, err := DecodeName(enc)
		if err != nil || back != s {
			t.Errorf("DecodeName(scope %q) = %v, %v", scope, back, err)
		}
	}
}

func TestDecodeNameErrors(t *testing.T) {
	good, _ := AppendName(nil, MustName("FRED", 0x20))
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	// scope returns good with scope labels of these lengths.
	scope := func(lens ...int) []byte {
		b := append([]byte(nil), good[:33]...)
		for _, l := range lens {
			b = append(b, byte(l))
			b = append(b, strings.Repeat("a", l)...)
		}
		return append(b, 0)
	}
	for _, c := range []decodeErrCase{
		{"empty", nil, ErrShort, "NAME", 0, "needs 1 bytes, 0 left"},
		{"zero-length name", []byte{0}, ErrMalformed, "NAME", 0, "empty name"},
		{"label 31", mut(func(b []byte) []byte { b[0] = 31; return b }), ErrMalformed, "NAME", 0, "31 bytes"},
		{"label 33", mut(func(b []byte) []byte { b[0] = 33; return append(b, 0) }), ErrMalformed, "NAME", 0, "33 bytes"},
		{"first letter Q", mut(func(b []byte) []byte { b[5] = 'Q'; return b }), ErrMalformed, "NAME", 5, "outside"},
		{"second letter Q", mut(func(b []byte) []byte { b[6] = 'Q'; return b }), ErrMalformed, "NAME", 5, "outside"},
		{"lower case", mut(func(b []byte) []byte { b[5] = 'e'; return b }), ErrMalformed, "NAME", 5, "outside"},
		{"truncated label", good[:20], ErrShort, "NAME", 0, "needs 33 bytes, 20 left"},
		{"label one byte short", good[:32], ErrShort, "NAME", 0, "needs 33 bytes, 32 left"},
		{"no terminator", good[:33], ErrShort, "NAME", 33, "needs 1 bytes, 0 left"},
		{"pointer in datagram", []byte{0xC0, 0x00}, ErrMalformed, "NAME", 0, "compression"},
		{"reserved label type", []byte{0x40}, ErrMalformed, "NAME", 0, "0x40"},
		{"reserved label type 0x80", []byte{0x80}, ErrMalformed, "NAME", 0, "0x80"},
		{"scope bad char", mut(func(b []byte) []byte { return append(b[:33], 2, 'a', '#', 0) }), ErrInvalidName, "NAME", 35, "illegal"},
		{"scope truncated", mut(func(b []byte) []byte { return append(b[:33], 5, 'a') }), ErrShort, "NAME", 33, "needs 6 bytes, 2 left"},
		{"256 bytes encoded", scope(63, 63, 63, 29), ErrNameTooLong, "NAME", 0, "255"},
		{"too long", scope(63, 63, 63, 63), ErrNameTooLong, "NAME", 0, "255"},
	} {
		_, _, err := DecodeName(c.b)
		checkDecodeErr(t, c, err)
	}
	// 255 bytes encoded is the longest name.
	b := scope(63, 63, 63, 28)
	if n, next, err := DecodeName(b); err != nil || next != 255 || len(n.Scope()) != MaxScopeLen {
		t.Errorf("255 bytes: %v next %d, %v", n, next, err)
	}
	// 'P' is the last letter of the encoding, in either half of a byte.
	ff, err := ParseName("<ff><ff>")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = AppendName(nil, ff)
	if n, _, err := DecodeName(b); err != nil || n.Bytes()[0] != 0xff || n.Suffix() != 0xff {
		t.Errorf("0xff: %v, %v", n, err)
	}
}

// TestCompressedNames checks compression pointers in name service packets:
// a pointer to the question, a pointer for the scope part, and pointers
// that loop or point forward.
func TestCompressedNames(t *testing.T) {
	q := mustScope(MustName("FRED", 0x20), "corp.example")
	msg := make([]byte, NSHeaderSize)
	msg, _ = AppendName(msg, q) // at offset 12
	scopeAt := NSHeaderSize + 33
	// A full pointer to the question name.
	p1 := len(msg)
	msg = append(msg, 0xC0, NSHeaderSize)
	// Another name whose scope is a pointer to the question's scope.
	p2 := len(msg)
	other, _ := AppendName(nil, MustName("BARNEY", 0))
	msg = append(msg, other[:33]...)
	msg = append(msg, 0xC0|byte(scopeAt>>8), byte(scopeAt))
	// A chain: pointer to pointer.
	p3 := len(msg)
	msg = append(msg, 0xC0, byte(p1))
	end := len(msg)

	for _, c := range []struct {
		off, next int
		want      Name
	}{
		{p1, p1 + 2, q},
		{p2, p2 + 35, mustScope(MustName("BARNEY", 0), "corp.example")},
		{p3, end, q},
	} {
		n, next, err := decodeName(msg, c.off, true, "nbns", "RR_NAME")
		if err != nil || n != c.want || next != c.next {
			t.Errorf("at %d: %v next %d err %v; want %v next %d", c.off, n, next, err, c.want, c.next)
		}
	}

	// Forward and self pointers are refused; so is a loop made of
	// backward pointers and labels.
	fwd := append(append([]byte(nil), msg...), 0xC0, byte(len(msg)+2), 0)
	if _, _, err := decodeName(fwd, len(msg), true, "nbns", "RR_NAME"); !errors.Is(err, ErrMalformed) {
		t.Errorf("forward pointer: %v", err)
	}
	self := append(append([]byte(nil), msg...), 0xC0, byte(len(msg)))
	if _, _, err := decodeName(self, len(msg), true, "nbns", "RR_NAME"); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "does not point backwards") {
		t.Errorf("self pointer: %v", err)
	}
	// loop: [name label][scope label "a"][pointer back to the scope label]
	loop, _ := AppendName(nil, MustName("X", 0))
	loop = loop[:33]
	loop = append(loop, 1, 'a', 0xC0, 33)
	if _, _, err := decodeName(loop, 0, true, "nbns", "RR_NAME"); err == nil {
		t.Error("pointer loop decoded")
	}
	if _, _, err := decodeName(msg, p1, true, "nbns", "RR_NAME"); err != nil {
		t.Error(err)
	}
	if _, _, err := decodeName([]byte{0xC0}, 0, true, "nbns", "RR_NAME"); !errors.Is(err, ErrShort) {
		t.Errorf("half pointer: %v", err)
	}

	// A chain of maxPointerHops pointers is followed; one more is refused.
	chain := append([]byte(nil), msg[:p1]...)
	prev := NSHeaderSize
	for range maxPointerHops + 1 {
		at := len(chain)
		chain = append(chain, 0xC0, byte(prev))
		prev = at
	}
	if n, _, err := decodeName(chain, prev-2, true, "nbns", "RR_NAME"); err != nil || n != q {
		t.Errorf("%d pointers: %v, %v", maxPointerHops, n, err)
	}
	if _, _, err := decodeName(chain, prev, true, "nbns", "RR_NAME"); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d pointers: %v", maxPointerHops+1, err)
	}
}
