package messenger_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mailslot-go/mailslot/messenger"
)

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		m    messenger.Message
		cp   messenger.CodePage // 0: default encode, auto decode
		want string             // the record, when checked byte by byte
	}{
		{name: "ascii", m: messenger.Message{From: "ALICE", To: "BOB", Text: "Lunch at noon?"},
			want: "ALICE\x00BOB\x00Lunch at noon?\x00"},
		{name: "german", m: messenger.Message{From: "JÜRGEN", To: "BÜRO", Text: "Grüße aus Köln, Straße 5"},
			want: "J\x9aRGEN\x00B\x9aRO\x00Gr\x81\xe1e aus K\x94ln, Stra\xe1e 5\x00"},
		{name: "french", m: messenger.Message{From: "Hélène", To: "PC12", Text: "À bientôt, ça va très bien"}},
		{name: "lines", m: messenger.Message{From: "A", To: "B", Text: "one\ntwo\n\nfour"},
			want: "A\x00B\x00one\r\ntwo\r\n\r\nfour\x00"},
		{name: "tab", m: messenger.Message{From: "A", To: "B", Text: "a\tb"}, want: "A\x00B\x00a\tb\x00"},
		{name: "box", m: messenger.Message{From: "SRV", To: "OPS", Text: "╔══╗\n║OK║\n╚══╝ ─│┌┐└┘├┤┬┴┼"},
			want: "SRV\x00OPS\x00\xc9\xcd\xcd\xbb\r\n\xbaOK\xba\r\n\xc8\xcd\xcd\xbc \xc4\xb3\xda\xbf\xc0\xd9\xc3\xb4\xc2\xc1\xc5\x00"},
		{name: "cp437 box", cp: messenger.CP437, m: messenger.Message{From: "SRV", To: "OPS", Text: "╒═╕ α≤π"},
			want: "SRV\x00OPS\x00\xd5\xcd\xb8 \xe0\xf3\xe3\x00"},
		{name: "cp850 letters", m: messenger.Message{From: "JOÃO", To: "ÅSA", Text: "Ø ø Á Ê Õ Ý þ ©"}},
		{name: "euro cp858", cp: messenger.CP858, m: messenger.Message{From: "A", To: "B", Text: "5 €"},
			want: "A\x00B\x005 \xd5\x00"},
		{name: "euro 1252", cp: messenger.Windows1252, m: messenger.Message{From: "A", To: "B", Text: "5 € – “ok”"},
			want: "A\x00B\x005 \x80 \x96 \x93ok\x94\x00"},
		{name: "cyrillic 866", cp: messenger.CP866, m: messenger.Message{From: "ИВАН", To: "PC", Text: "Привет"}},
		{name: "utf8", cp: messenger.UTF8, m: messenger.Message{From: "Zoë", To: "B", Text: "€ 日本語 🙂 ß"},
			want: "Zo\xc3\xab\x00B\x00€ 日本語 🙂 ß\x00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := messenger.Encode(c.m, messenger.EncodeOptions{CodePage: c.cp})
			if err != nil {
				t.Fatal(err)
			}
			if c.want != "" && string(b) != c.want {
				t.Errorf("record\n got %q\nwant %q", b, c.want)
			}
			r, err := messenger.Check(c.m, messenger.EncodeOptions{CodePage: c.cp})
			if err != nil || r.Size != len(b) || r.Replaced != 0 || !r.Fits() {
				t.Errorf("Check: %+v, %v (record %d bytes)", r, err, len(b))
			}
			got, err := messenger.DecodeOptions{CodePage: c.cp}.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.m {
				t.Errorf("decoded %+v, want %+v", got, c.m)
			}
		})
	}
}

// TestEncodeOptions covers the final NUL, '?' for characters the code page
// lacks, composition and line-break forms.
func TestEncodeOptions(t *testing.T) {
	for _, c := range []struct {
		name     string
		m        messenger.Message
		opts     messenger.EncodeOptions
		want     string
		replaced int
	}{
		{"no final NUL", messenger.Message{From: "A", To: "B", Text: "hi"}, messenger.EncodeOptions{NoFinalNUL: true}, "A\x00B\x00hi", 0},
		{"euro cp850", messenger.Message{From: "A", To: "B", Text: "5 €"}, messenger.EncodeOptions{}, "A\x00B\x005 ?\x00", 1},
		{"euro cp437", messenger.Message{From: "A", To: "B", Text: "€Á"}, messenger.EncodeOptions{CodePage: messenger.CP437}, "A\x00B\x00??\x00", 2},
		{"CJK", messenger.Message{From: "山田", To: "B", Text: "日本"}, messenger.EncodeOptions{}, "??\x00B\x00??\x00", 4},
		{"combining accent", messenger.Message{From: "A", To: "B", Text: "e\u0301"}, messenger.EncodeOptions{}, "A\x00B\x00\x82\x00", 0},
		{"CRLF kept", messenger.Message{From: "A", To: "B", Text: "a\r\nb\rc\nd"}, messenger.EncodeOptions{}, "A\x00B\x00a\r\nb\r\nc\r\nd\x00", 0},
		{"control in text", messenger.Message{From: "A", To: "B", Text: "a\x1b[2Jb\x07"}, messenger.EncodeOptions{}, "A\x00B\x00a?[2Jb?\x00", 2},
		{"empty text", messenger.Message{From: "A", To: "B"}, messenger.EncodeOptions{}, "A\x00B\x00\x00", 0},
	} {
		b, err := messenger.Encode(c.m, c.opts)
		if err != nil || string(b) != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, b, err, c.want)
		}
		r, err := messenger.Check(c.m, c.opts)
		if err != nil || r.Replaced != c.replaced {
			t.Errorf("%s: Check %+v, %v; want %d replaced", c.name, r, err, c.replaced)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := messenger.Message{From: "A", To: "B", Text: "x"}
	for _, c := range []struct {
		name string
		m    messenger.Message
		opts messenger.EncodeOptions
		want error
	}{
		{"NUL in From", messenger.Message{From: "A\x00B", To: "B", Text: "x"}, messenger.EncodeOptions{}, messenger.ErrInvalid},
		{"NUL in To", messenger.Message{From: "A", To: "B\x00", Text: "x"}, messenger.EncodeOptions{}, messenger.ErrInvalid},
		{"NUL in Text", messenger.Message{From: "A", To: "B", Text: "x\x00y"}, messenger.EncodeOptions{}, messenger.ErrInvalid},
		{"NUL first in Text", messenger.Message{From: "A", To: "B", Text: "\x00y"}, messenger.EncodeOptions{}, messenger.ErrInvalid},
		{"empty From", messenger.Message{To: "B", Text: "x"}, messenger.EncodeOptions{}, messenger.ErrInvalid},
		{"empty To", messenger.Message{From: "A", Text: "x"}, messenger.EncodeOptions{}, messenger.ErrInvalid},
		{"newline in From", messenger.Message{From: "A\nB", To: "B", Text: "x"}, messenger.EncodeOptions{}, messenger.ErrInvalid},
		{"ESC in To", messenger.Message{From: "A", To: "\x1b[0m", Text: "x"}, messenger.EncodeOptions{}, messenger.ErrInvalid},
		{"To over 15 bytes", messenger.Message{From: "A", To: "ABCDEFGHIJKLMNOP", Text: "x"}, messenger.EncodeOptions{}, messenger.ErrInvalid},
		{"strict €", messenger.Message{From: "A", To: "B", Text: "5 €"}, messenger.EncodeOptions{Strict: true}, messenger.ErrUnrepresentable},
		{"strict From", messenger.Message{From: "山", To: "B", Text: "x"}, messenger.EncodeOptions{Strict: true}, messenger.ErrUnrepresentable},
		{"strict control", messenger.Message{From: "A", To: "B", Text: "\x1b"}, messenger.EncodeOptions{Strict: true}, messenger.ErrUnrepresentable},
		{"code page", ok, messenger.EncodeOptions{CodePage: 1200}, messenger.ErrCodePage},
		{"code page 20127", ok, messenger.EncodeOptions{CodePage: 20127}, messenger.ErrCodePage},
	} {
		if b, err := messenger.Encode(c.m, c.opts); !errors.Is(err, c.want) || b != nil {
			t.Errorf("%s: Encode %q, %v; want %v", c.name, b, err, c.want)
		}
		if _, err := messenger.Check(c.m, c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: Check %v; want %v", c.name, err, c.want)
		}
		if _, _, err := messenger.Fit(c.m, c.opts); !errors.Is(err, c.want) {
			t.Errorf("%s: Fit %v; want %v", c.name, err, c.want)
		}
	}
	// 15 bytes is a whole NetBIOS name, and fine.
	if _, err := messenger.Encode(messenger.Message{From: "A", To: "ABCDEFGHIJKLMNO", Text: "x"}, messenger.EncodeOptions{}); err != nil {
		t.Errorf("15-byte To: %v", err)
	}
}

// TestDecodeWindowsRecords decodes records built byte by byte the way
// Windows and WinPopup write them: OEM bytes, CR LF, a final NUL or not.
func TestDecodeWindowsRecords(t *testing.T) {
	testDecode(t, []decodeCase{
		{name: "Windows 98 NET SEND", record: "WIN98USER\x00WORKGROUP\x00HELLO WORLD\x00",
			want: messenger.Message{From: "WIN98USER", To: "WORKGROUP", Text: "HELLO WORLD"}},
		{name: "no final NUL", record: "MARTIN\x00DON\x00Hi",
			want: messenger.Message{From: "MARTIN", To: "DON", Text: "Hi"}},
		{name: "CP850 with CRLF", record: "J\x9aRGEN\x00B\x9aRO\x00Gr\x81\xe1e\r\nbis morgen\r\n\x00",
			want: messenger.Message{From: "JÜRGEN", To: "BÜRO", Text: "Grüße\nbis morgen"}},
		{name: "CP850 letters", record: "PC\x00WG\x00\xb5\xb6\xb7 \x9b\x9d \xe3\xe9\x00",
			want: messenger.Message{From: "PC", To: "WG", Text: "ÁÂÀ øØ ÒÚ"}},
		{name: "CP437 forced", cp: messenger.CP437, record: "PC\x00WG\x00\xb5\xb6\xb7 \xe0\xe3\x00",
			want: messenger.Message{From: "PC", To: "WG", Text: "╡╢╖ απ"}},
		{name: "box drawings", record: "SRV\x00OPS\x00\xc9\xcd\xbb\r\n\xc8\xcd\xbc\x00",
			want: messenger.Message{From: "SRV", To: "OPS", Text: "╔═╗\n╚═╝"}},
		{name: "padding NULs", record: "A\x00B\x00text\x00\x00\x00\x00",
			want: messenger.Message{From: "A", To: "B", Text: "text"}},
		{name: "junk after the text", record: "A\x00B\x00text\x00garbage\x1b[2J",
			want: messenger.Message{From: "A", To: "B", Text: "text"}},
		{name: "empty text", record: "A\x00B\x00\x00", want: messenger.Message{From: "A", To: "B"}},
		{name: "empty text without NUL", record: "A\x00B\x00", want: messenger.Message{From: "A", To: "B"}},
		{name: "empty fields", record: "\x00\x00\x00", want: messenger.Message{}},
		{name: "trailing white space", record: "A  \x00 B\x00  indented\r\n  \r\n\t \x00",
			want: messenger.Message{From: "A", To: "B", Text: "  indented"}},
		{name: "line break first", record: "A\x00B\x00\r\nx\x00", want: messenger.Message{From: "A", To: "B", Text: "\nx"}},
		{name: "lone CR first", record: "A\x00B\x00\rx\x00", want: messenger.Message{From: "A", To: "B", Text: "\nx"}},
		{name: "lone CR", record: "A\x00B\x00one\rtwo\x00", want: messenger.Message{From: "A", To: "B", Text: "one\ntwo"}},
		{name: "UTF-8 from Linux", record: "zoë\x00PC\x00€ 5 — ok\n\x00",
			want: messenger.Message{From: "zoë", To: "PC", Text: "€ 5 — ok"}},
		{name: "ANSI forced", cp: messenger.Windows1252, record: "A\x00B\x00\x80 caf\xe9\x00",
			want: messenger.Message{From: "A", To: "B", Text: "€ café"}},
		{name: "UTF-8 forced on CP850", cp: messenger.UTF8, record: "A\x00B\x00Gr\x81\xe1e\x00",
			want: messenger.Message{From: "A", To: "B", Text: "Gr\uFFFD\uFFFDe"}},
	})
}

// TestDecodeDetectsUTF8 checks the default code page: UTF-8 only when
// all three fields are valid UTF-8, CP850 as soon as one is not, whichever
// it is.
func TestDecodeDetectsUTF8(t *testing.T) {
	testDecode(t, []decodeCase{
		{name: "all UTF-8", record: "Zo\xc3\xab\x00Bj\xc3\xb6rn\x00caf\xc3\xa9\x00",
			want: messenger.Message{From: "Zoë", To: "Björn", Text: "café"}},
		{name: "sender in CP850", record: "Zo\x89\x00Bj\xc3\xb6rn\x00caf\xc3\xa9\x00",
			want: messenger.Message{From: "Zoë", To: "Bj├Ârn", Text: "caf├®"}},
		{name: "recipient in CP850", record: "Zo\xc3\xab\x00Bj\x94rn\x00caf\xc3\xa9\x00",
			want: messenger.Message{From: "Zo├½", To: "Björn", Text: "caf├®"}},
		{name: "text in CP850", record: "Zo\xc3\xab\x00Bj\xc3\xb6rn\x00caf\x82\x00",
			want: messenger.Message{From: "Zo├½", To: "Bj├Ârn", Text: "café"}},
	})
}

type decodeCase struct {
	name   string
	record string
	cp     messenger.CodePage
	want   messenger.Message
}

// testDecode decodes each record with its code page and checks the
// message and that it is safe to print.
func testDecode(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, c := range cases {
		got, err := messenger.DecodeOptions{CodePage: c.cp}.Decode([]byte(c.record))
		if err != nil || got != c.want {
			t.Errorf("%s: %+q, %v; want %+q", c.name, got, err, c.want)
		}
		checkSafe(t, got)
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, r := range []string{"", "ALICE", "ALICE\x00BOB", "\x00"} {
		if m, err := messenger.Decode([]byte(r)); !errors.Is(err, messenger.ErrMalformed) {
			t.Errorf("%q: %+v, %v", r, m, err)
		}
	}
	if _, err := (messenger.DecodeOptions{CodePage: 1}).Decode([]byte("A\x00B\x00C")); !errors.Is(err, messenger.ErrCodePage) {
		t.Errorf("code page 1: %v", err)
	}
}

// TestDecodeUnsafe checks that nothing a hostile sender writes reaches a
// terminal as a control sequence.
func TestDecodeUnsafe(t *testing.T) {
	testDecode(t, []decodeCase{
		{name: "ESC sequences", record: "A\x1b[31m\x00B\x00\x1b]0;title\x07red\x1b[2J\x00",
			want: messenger.Message{From: "A\uFFFD[31m", To: "B", Text: "\uFFFD]0;title\uFFFDred\uFFFD[2J"}},
		{name: "ESC in CP850", record: "A\x00B\x00\x82\x1b[0m\x00",
			want: messenger.Message{From: "A", To: "B", Text: "é\uFFFD[0m"}},
		{name: "C1 CSI in UTF-8", record: "A\x00B\x00x\u009b31my\u0085z\x00",
			want: messenger.Message{From: "A", To: "B", Text: "x\uFFFD31my\uFFFDz"}},
		{name: "C1 bytes forced Latin", cp: messenger.Windows1252, record: "A\x00B\x00\x81\x8d\x00",
			want: messenger.Message{From: "A", To: "B", Text: "\uFFFD\uFFFD"}},
		{name: "DEL and backspace", record: "A\x00B\x00ab\x08\x08\x7fc\x00",
			want: messenger.Message{From: "A", To: "B", Text: "ab\uFFFD\uFFFD\uFFFDc"}},
		{name: "line breaks in names", record: "A\r\nB\x00C\tD\x00x\x00",
			want: messenger.Message{From: "A\uFFFD\uFFFDB", To: "C\uFFFDD", Text: "x"}},
		{name: "bidi override", record: "A\x00B\x00pay \u202eexe.txt\u202c now\x00",
			want: messenger.Message{From: "A", To: "B", Text: "pay \uFFFDexe.txt\uFFFD now"}},
		// The edges of the bidirectional embeddings and overrides
		// (U+202A-U+202E) and isolates (U+2066-U+2069).
		{name: "before LRE", record: "A\x00B\x00x\u2029y\x00", want: messenger.Message{From: "A", To: "B", Text: "x\u2029y"}},
		{name: "LRE", record: "A\x00B\x00x\u202ay\x00", want: messenger.Message{From: "A", To: "B", Text: "x\uFFFDy"}},
		{name: "RLO", record: "A\x00B\x00x\u202ey\x00", want: messenger.Message{From: "A", To: "B", Text: "x\uFFFDy"}},
		{name: "after RLO", record: "A\x00B\x00x\u202fy\x00", want: messenger.Message{From: "A", To: "B", Text: "x\u202fy"}},
		{name: "before LRI", record: "A\x00B\x00x\u2065y\x00", want: messenger.Message{From: "A", To: "B", Text: "x\u2065y"}},
		{name: "LRI", record: "A\x00B\x00x\u2066y\x00", want: messenger.Message{From: "A", To: "B", Text: "x\uFFFDy"}},
		{name: "PDI", record: "A\x00B\x00x\u2069y\x00", want: messenger.Message{From: "A", To: "B", Text: "x\uFFFDy"}},
		{name: "after PDI", record: "A\x00B\x00x\u206ay\x00", want: messenger.Message{From: "A", To: "B", Text: "x\u206ay"}},
		{name: "bidi in names", record: "\u2066A\x00B\u202e\x00x\x00", want: messenger.Message{From: "\uFFFDA", To: "B\uFFFD", Text: "x"}},
		{name: "invalid UTF-8 forced", cp: messenger.UTF8, record: "A\x00B\x00\xc0\x80\xff\x00",
			want: messenger.Message{From: "A", To: "B", Text: "\uFFFD\uFFFD\uFFFD"}},
	})
}

// checkSafe fails unless m is valid UTF-8 without NUL, ESC or another
// control character (tab and newline allowed in Text).
func checkSafe(t *testing.T, m messenger.Message) {
	t.Helper()
	for _, f := range []struct{ name, s, allowed string }{{"From", m.From, ""}, {"To", m.To, ""}, {"Text", m.Text, "\t\n"}} {
		if !utf8.ValidString(f.s) {
			t.Errorf("%s %q: invalid UTF-8", f.name, f.s)
		}
		for _, r := range f.s {
			if (r < 0x20 || (r >= 0x7f && r < 0xa0)) && !strings.ContainsRune(f.allowed, r) {
				t.Errorf("%s %q: control character %U", f.name, f.s, r)
			}
		}
	}
	if bytes.ContainsAny([]byte(m.From+m.To+m.Text), "\x00\x1b") {
		t.Errorf("NUL or ESC in %+q", m)
	}
}
