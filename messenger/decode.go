package messenger

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DecodeOptions controls Decode.
type DecodeOptions struct {
	// CodePage forces the character set of the record. 0 means: UTF-8 when
	// the three fields are valid UTF-8 (pure ASCII is; so is what Linux
	// senders write), else CP850.
	//
	// CP850 rather than CP437 because the two agree on 81 of their 128
	// upper bytes (every letter they share, the single and double box
	// drawings), and where they differ CP850 has Latin letters and CP437
	// mixed box corners, Greek and math symbols, which prose rarely holds.
	// Force CP437 for US senders that draw boxes, or the sender's code page
	// when it is known. OEM text in a Western code page is rarely valid
	// UTF-8: an accented letter would have to be followed by exactly the
	// right box-drawing or symbol bytes.
	CodePage CodePage
}

// Decode decodes a messenger record with the default options: see
// DecodeOptions.Decode.
func Decode(record []byte) (Message, error) {
	return DecodeOptions{}.Decode(record)
}

// Decode decodes a messenger record: From NUL To NUL Text, with or without
// a NUL after Text (Windows writes one, some programs do not). A record
// without the NUL after From or after To is malformed (ErrMalformed); an
// empty field is accepted. The text ends at its NUL: like Windows, which
// reads it as a C string, Decode ignores what follows (padding, or junk).
//
// The result is safe to print on a terminal: line breaks (CR LF, lone CR)
// become "\n"; every other control character (C0 but tab, DEL, C1, such as
// ESC and CSI) and the bidirectional override and isolate characters
// become U+FFFD, as does invalid UTF-8; From and To lose tabs and line
// breaks the same way and their surrounding spaces; Text loses trailing
// white space. No NUL and no ESC ever comes out.
func (o DecodeOptions) Decode(record []byte) (Message, error) {
	cp := o.CodePage
	if cp != 0 {
		if err := cp.check(); err != nil {
			return Message{}, err
		}
	}
	from, rest, ok := bytes.Cut(record, []byte{0})
	if !ok {
		return Message{}, fmt.Errorf("%w: no NUL after the sender (%d bytes)", ErrMalformed, len(record))
	}
	to, rest, ok := bytes.Cut(rest, []byte{0})
	if !ok {
		return Message{}, fmt.Errorf("%w: no NUL after the recipient (%d bytes)", ErrMalformed, len(record))
	}
	text, _, _ := bytes.Cut(rest, []byte{0})
	if cp == 0 {
		cp = CP850
		if utf8.Valid(from) && utf8.Valid(to) && utf8.Valid(text) {
			cp = UTF8
		}
	}
	return Message{
		From: cleanName(decodeBytes(cp, from)),
		To:   cleanName(decodeBytes(cp, to)),
		Text: cleanText(decodeBytes(cp, text)),
	}, nil
}

// decodeBytes converts b from code page cp to UTF-8; each byte of invalid
// UTF-8 becomes U+FFFD.
func decodeBytes(cp CodePage, b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	if cp == UTF8 {
		for _, r := range string(b) {
			sb.WriteRune(r)
		}
		return sb.String()
	}
	cm := cp.charmap()
	for _, c := range b {
		sb.WriteRune(cm.DecodeByte(c))
	}
	return sb.String()
}

// unsafe reports whether r must not reach a terminal or a display: control
// characters (C0, DEL, C1: ESC, CSI...) and the bidirectional overrides and
// isolates, which can make text read differently from what it is.
func unsafe(r rune) bool {
	return unicode.IsControl(r) || (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// cleanText turns line breaks into "\n", every other unsafe character but
// tab into U+FFFD, and drops trailing white space.
func cleanText(s string) string {
	s = normalizeNewlines(s)
	s = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unsafe(r) {
			return utf8.RuneError
		}
		return r
	}, s)
	return strings.TrimRightFunc(s, unicode.IsSpace)
}

// cleanName turns every unsafe character (tab and line breaks included)
// into U+FFFD and drops surrounding white space.
func cleanName(s string) string {
	s = strings.TrimSpace(s)
	return strings.Map(func(r rune) rune {
		if unsafe(r) {
			return utf8.RuneError
		}
		return r
	}, s)
}
