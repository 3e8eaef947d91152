package printable

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		in, name, line, text string
	}{
		{"HOSTA", "HOSTA", "HOSTA", "HOSTA"},
		{"", "", "", ""},
		{"caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"},
		{"\x1b[2J\x1b[31mX", `\x1b[2J\x1b[31mX`, `\x1b[2J\x1b[31mX`, `\x1b[2J\x1b[31mX`},
		{"a\nb\tc\rd", `a\nb\tc\rd`, `a\nb\tc\rd`, "a\nb\tc\\rd"},
		{`C:\dir`, `C:\\dir`, `C:\dir`, `C:\dir`},
		{"\x00\x07\x7f", `\x00\x07\x7f`, `\x00\x07\x7f`, `\x00\x07\x7f`},
		{"\u009b31m", `\u009b31m`, `\u009b31m`, `\u009b31m`},                                                                 // C1 CSI
		{"abc\u202edcba", `abc\u202edcba`, `abc\u202edcba`, `abc\u202edcba`},                                                 // right-to-left override
		{"\u2066x\u2069\u200f\u061c", `\u2066x\u2069\u200f\u061c`, `\u2066x\u2069\u200f\u061c`, `\u2066x\u2069\u200f\u061c`}, // isolates, RLM, ALM
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`, `zero\u200bwidth\ufeff`, `zero\u200bwidth\ufeff`},
		{"line\u2028para\u2029", `line\u2028para\u2029`, `line\u2028para\u2029`, `line\u2028para\u2029`},
		{"bad\xff\xc3", `bad\xff\xc3`, `bad\xff\xc3`, `bad\xff\xc3`},
		{"\U000e0041tag", `\U000e0041tag`, `\U000e0041tag`, `\U000e0041tag`}, // tag character (format)
		{"\U0010fffd", `\U0010fffd`, `\U0010fffd`, `\U0010fffd`},             // private use
		{"\ufffd", "\ufffd", "\ufffd", "\ufffd"},                             // a real U+FFFD is shown
		{"non\u00a0break", "non\u00a0break", "non\u00a0break", "non\u00a0break"},
	}
	for _, tt := range tests {
		if got := Name(tt.in); got != tt.name {
			t.Errorf("Name(%q) = %q, want %q", tt.in, got, tt.name)
		}
		if got := Line(tt.in); got != tt.line {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.line)
		}
		if got := Text(tt.in); got != tt.text {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.text)
		}
		if got := Bytes([]byte(tt.in)); got != tt.text {
			t.Errorf("Bytes(%q) = %q, want %q", tt.in, got, tt.text)
		}
	}
}

func TestOrigin(t *testing.T) {
	addr := "10.213.2.10:138"
	long := strings.Repeat("A", 300)
	esc := strings.Repeat("\x1b", 100) // each escapes to 4 bytes
	tests := []struct {
		name, addr string
		max        int
		want       string
	}{
		{"HOSTA", addr, 255, `\\HOSTA (10.213.2.10:138)`},
		{"EVIL\x1b[2J\n", addr, 255, `\\EVIL\x1b[2J\n (10.213.2.10:138)`},
		{"", addr, 255, `\\ (10.213.2.10:138)`},
		{long, addr, 255, `\\` + strings.Repeat("A", 255-len(`\\ ()`)-len(addr)-3) + `... (10.213.2.10:138)`},
		{esc, addr, 60, `\\` + strings.Repeat(`\x1b`, 9) + `... (10.213.2.10:138)`},
		{"AB", addr, len(`\\AB ()`) + len(addr), `\\AB (10.213.2.10:138)`}, // exactly fits
		{"ABCD", addr, len(`\\AB ()`) + len(addr), `\\ (10.213.2.10:138)`}, // no room for a name and the ellipsis
		{"ABCDEFGH", addr, len(`\\ABCDE ()`) + len(addr), `\\AB... (10.213.2.10:138)`},
		{"A", addr, 10, addr},
		{"\u65e5\u672c\u8a9e", addr, len(`\\ ()`) + len(addr) + 7, `\\` + "\u65e5" + `... (10.213.2.10:138)`}, // cut at a rune
	}
	for _, tt := range tests {
		got := Origin(tt.name, tt.addr, tt.max)
		if got != tt.want {
			t.Errorf("Origin(%q, %q, %d) = %q, want %q", tt.name, tt.addr, tt.max, got, tt.want)
		}
		if app := string(AppendOrigin([]byte("prefix"), tt.name, tt.addr, tt.max)); app != "prefix"+tt.want {
			t.Errorf("AppendOrigin after a prefix = %q, want %q", app, "prefix"+tt.want)
		}
		if len(got) > tt.max && got != tt.addr {
			t.Errorf("Origin(%q, %q, %d) is %d bytes", tt.name, tt.addr, tt.max, len(got))
		}
	}
}

func TestNoAllocationWhenClean(t *testing.T) {
	s := "HOSTA (10.0.0.1:138)"
	if n := testing.AllocsPerRun(100, func() { _ = Line(s) }); n != 0 {
		t.Errorf("Line of printable text allocates %v times", n)
	}
}

// FuzzEscape checks, for any input, that what comes out is valid UTF-8
// made of Safe characters only (and newline and tab for Text), that Name
// tells inputs apart by unescaping to the input, that Line and Text leave
// their own output unchanged, and that Origin keeps the address whole
// within its bound.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"HOSTA", "\x1b[2J\x1b[31m\n", "a\u202eb", `\x1b`, "\xff\xfe", "\U000e0041", strings.Repeat("\u200f", 90)} {
		f.Add(s, 255)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		check := func(fn, out string, extra string) {
			if !utf8.ValidString(out) {
				t.Fatalf("%s(%q) = %q: not UTF-8", fn, s, out)
			}
			for _, r := range out {
				if !Safe(r) && !strings.ContainsRune(extra, r) {
					t.Fatalf("%s(%q) = %q holds %U", fn, s, out, r)
				}
			}
		}
		n, l, x := Name(s), Line(s), Text(s)
		check("Name", n, "")
		check("Line", l, "")
		check("Text", x, "\n\t")
		if Line(l) != l || Text(x) != x {
			t.Fatalf("escaping %q again changes it", s)
		}
		if u := unescapeName(t, n); u != s {
			t.Fatalf("Name(%q) = %q unescapes to %q", s, n, u)
		}
		const addr = "192.168.100.200:65535"
		max = max%400 + 1
		if max < 0 {
			max = -max
		}
		o := Origin(s, addr, max)
		check("Origin", o, "")
		if len(`\\ ()`)+len(addr) > max {
			if o != addr {
				t.Fatalf("Origin(%q, %d) = %q, want the address alone", s, max, o)
			}
			return
		}
		if len(o) > max || !strings.HasPrefix(o, `\\`) || !strings.HasSuffix(o, " ("+addr+")") {
			t.Fatalf("Origin(%q, %d) = %q", s, max, o)
		}
		name := strings.TrimSuffix(o[2:len(o)-len(addr)-3], Ellipsis)
		if !strings.HasPrefix(n, name) {
			t.Fatalf("Origin(%q, %d) = %q: name is not a prefix of %q", s, max, o, n)
		}
	})
}

// unescapeName reverses Name.
func unescapeName(t *testing.T, s string) string {
	var b strings.Builder
	hex := func(h string) uint64 {
		var v uint64
		for _, c := range h {
			v = v*16 + uint64(strings.IndexRune(hexDigits, c))
		}
		return v
	}
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			i++
			continue
		}
		if c, ok := map[byte]byte{'\\': '\\', 'n': '\n', 'r': '\r', 't': '\t'}[s[i+1]]; ok {
			b.WriteByte(c)
			i += 2
			continue
		}
		digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[s[i+1]]
		switch {
		case digits == 0:
			t.Fatalf("bad escape in %q at %d", s, i)
		case s[i+1] == 'x':
			b.WriteByte(byte(hex(s[i+2 : i+4])))
		default:
			b.WriteRune(rune(hex(s[i+2 : i+2+digits])))
		}
		i += 2 + digits
	}
	return b.String()
}

func TestJSON(t *testing.T) {
	in := map[string]string{"from": "\\\\EVIL (10.0.0.1:138)", "data": "a\u202eb\u009b31m\x7f\U000e0041\x1b\n\u65e5"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(append(b, '\n'))
	for _, r := range string(out[:len(out)-1]) {
		if !Safe(r) {
			t.Fatalf("JSON left %U in %s", r, out)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["data"] != in["data"] || back["from"] != in["from"] {
		t.Fatalf("JSON(%s) = %s decodes to %q, %v", b, out, back, err)
	}
	clean := []byte(`{"a":"b"}` + "\n")
	if got := JSON(clean); &got[0] != &clean[0] {
		t.Fatal("JSON copied clean input")
	}
}

// BenchmarkOrigin measures the From of a datagram, against the
// fmt.Sprintf that built it before names were escaped.
func BenchmarkOrigin(b *testing.B) {
	b.Run("printable", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Origin("HOSTA", "10.213.2.10:138", 255)
		}
	})
	b.Run("sprintf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = fmt.Sprintf(`\\%s (%s)`, "HOSTA", "10.213.2.10:138")
		}
	})
}
