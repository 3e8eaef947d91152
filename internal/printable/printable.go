// Package printable makes text that came from the network safe to show on
// a terminal or in a log: control characters (C0, DEL, C1: ESC, CSI...),
// Unicode format characters (the bidirectional overrides, isolates and
// marks, zero-width characters), line and paragraph separators, private
// use and unassigned code points, and invalid UTF-8 are written as escapes
// (\x1b, \u202e, \xff for a byte that is not UTF-8), so that nothing a
// sender chose can move the cursor, clear the screen, recolour text or
// make text read in another order than it is stored.
//
// Name escapes the backslash too (as \\), so that its result tells every
// input apart; Line and Text leave backslashes alone, so that text already
// made printable comes out unchanged. Text keeps line breaks and tabs.
// All are pure functions.
package printable

import (
	"unicode"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// mode says which characters besides the unsafe ones pass or are escaped.
type mode uint8

const (
	modeName mode = iota // backslash escaped
	modeLine             // backslash kept
	modeText             // backslash, newline and tab kept
)

// Safe reports whether r may be shown as it is: a graphic character
// (letter, mark, number, punctuation, symbol, space separator) that is
// not a format character. Everything else is escaped.
func Safe(r rune) bool {
	return unicode.IsGraphic(r)
}

// keep reports whether r passes unescaped in mode m.
func (m mode) keep(r rune) bool {
	switch r {
	case '\\':
		return m != modeName
	case '\n', '\t':
		return m == modeText
	}
	return Safe(r)
}

// Name returns s with every character Safe refuses, and the backslash,
// escaped. Distinct inputs give distinct outputs.
func Name(s string) string { return escape(s, modeName) }

// Line returns s with every character Safe refuses escaped, line breaks
// and tabs included; backslashes stay. Line(Line(s)) == Line(s).
func Line(s string) string { return escape(s, modeLine) }

// Text is Line keeping line breaks ("\n") and tabs, for multi-line text
// such as a message's body. A carriage return is escaped, so that no line
// can overwrite another.
func Text(s string) string { return escape(s, modeText) }

// Bytes is Text for a byte slice that may not be UTF-8.
func Bytes(b []byte) string { return escape(string(b), modeText) }

func escape(s string, m mode) string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !m.keep(r) || (r == utf8.RuneError && n == 1) {
			b := make([]byte, i, len(s)+8)
			copy(b, s[:i])
			b, _ = appendEscaped(b, s[i:], m, -1)
			return string(b)
		}
		i += n
	}
	return s // nothing to escape: no allocation
}

// appendEscaped appends s escaped in mode m to b, stopping before the
// first character whose escape would take b past max bytes (max < 0: no
// bound). It returns b and whether all of s was written.
func appendEscaped(b []byte, s string, m mode, max int) ([]byte, bool) {
	var tmp [10]byte
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		var piece []byte
		switch {
		case r == utf8.RuneError && n == 1:
			piece = append(tmp[:0], '\\', 'x', hexDigits[s[i]>>4], hexDigits[s[i]&15])
		case m.keep(r):
			piece = append(tmp[:0], s[i:i+n]...)
		case r == '\\':
			piece = append(tmp[:0], '\\', '\\')
		case r == '\n':
			piece = append(tmp[:0], '\\', 'n')
		case r == '\r':
			piece = append(tmp[:0], '\\', 'r')
		case r == '\t':
			piece = append(tmp[:0], '\\', 't')
		case r < 0x80:
			piece = append(tmp[:0], '\\', 'x', hexDigits[r>>4], hexDigits[r&15])
		case r <= 0xffff:
			piece = append(tmp[:0], '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
		default:
			piece = append(tmp[:0], '\\', 'U')
			for shift := 28; shift >= 0; shift -= 4 {
				piece = append(piece, hexDigits[r>>uint(shift)&15])
			}
		}
		if max >= 0 && len(b)+len(piece) > max {
			return b, false
		}
		b = append(b, piece...)
		i += n
	}
	return b, true
}

// Ellipsis ends a name that Origin had to shorten.
const Ellipsis = "..."

// Origin returns `\\NAME (addr)`, the form of Message.From for a record
// from the network, with name escaped as Name does and shortened (ending
// in Ellipsis) so that the whole is at most max bytes: the address is
// never cut. addr is the sender's ip:port, which the caller knows to be
// printable and short; if even `\\ (addr)` exceeds max, the address alone
// is returned.
func Origin(name, addr string, max int) string {
	return string(AppendOrigin(make([]byte, 0, min(max, len(`\\ ()`)+len(addr)+len(name)+8)), name, addr, max))
}

// AppendOrigin appends Origin(name, addr, max) to dst; addr may be
// bytes, so that a caller can format it without allocating.
func AppendOrigin[A string | []byte](dst []byte, name string, addr A, max int) []byte {
	fixed := len(`\\ ()`) + len(addr)
	if fixed > max {
		return append(dst, addr...)
	}
	start := len(dst)
	dst = append(dst, '\\', '\\')
	room := start + max - fixed + 2 // how long dst may grow before " (addr)"
	dst, whole := appendEscaped(dst, name, modeName, room)
	if !whole {
		// Cut further for the ellipsis, at an escape's boundary.
		dst = dst[:start+2]
		if room-len(Ellipsis) >= len(dst) {
			dst, _ = appendEscaped(dst, name, modeName, room-len(Ellipsis))
			dst = append(dst, Ellipsis...)
		}
	}
	dst = append(dst, " ("...)
	dst = append(dst, addr...)
	return append(dst, ')')
}

// JSON returns encoded JSON (as encoding/json writes it: valid UTF-8)
// with every character Safe refuses inside it written as a \u escape
// (a surrogate pair beyond U+FFFF), which decodes to the same value:
// JSON lines can then go to a terminal as they are.
func JSON(b []byte) []byte {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if jsonEscape(r) {
			out := make([]byte, i, len(b)+16)
			copy(out, b[:i])
			return appendJSON(out, b[i:])
		}
		i += n
	}
	return b
}

// jsonEscape reports whether JSON escapes r. White space between JSON
// tokens stays (within strings the encoder escaped it already).
func jsonEscape(r rune) bool {
	if r == '\n' || r == '\r' || r == '\t' {
		return false
	}
	return r < 0x20 || r == 0x7f || r >= utf8.RuneSelf && !Safe(r)
}

func appendJSON(out, b []byte) []byte {
	u := func(r rune) {
		out = append(out, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case jsonEscape(r):
			if r > 0xffff {
				r -= 0x10000
				u(0xd800 + r>>10)
				u(0xdc00 + r&0x3ff)
			} else {
				u(r)
			}
		default:
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}
