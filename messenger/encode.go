package messenger

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/mailslot-go/mailslot/internal/wire"
)

const (
	// Mailslot is the mailslot name that carries messenger records, as it
	// appears in the SMB mailslot write on the wire. Open it as
	// `\\HOST\mailslot\messngr` (or a workgroup, or `*`).
	Mailslot = `\MAILSLOT\MESSNGR`

	// MaxDatagramRecord is the largest messenger record that one NetBIOS
	// datagram carries (407 bytes): the wire package's mailslot record
	// limit (wire.MaxDatagramRecord, 424 bytes, the 576-byte datagram less
	// 152 bytes of NetBIOS and SMB headers) less the 17 characters of
	// `\MAILSLOT\MESSNGR`, which travel in the same datagram. It assumes
	// NetBIOS names without a scope, as everyone uses them; with a scope
	// the figure is smaller (wire.MaxMailslotData computes it) and
	// EncodeOptions.MaxRecord can say so.
	MaxDatagramRecord = wire.MaxDatagramRecord - len(Mailslot)

	// MaxBroadcastText is the longest text, in bytes of the OEM code page
	// (one byte a character), that Windows' NET SEND sends as a broadcast
	// (NET SEND * or /DOMAIN, the messages that travel on this mailslot):
	// "Broadcast messages can contain up to 128 characters". LAN Manager
	// clients cut longer broadcasts without telling the receiver. Set
	// EncodeOptions.MaxText to it to stay within what Windows itself sends.
	MaxBroadcastText = 128

	// MaxText is the longest text [MS-MSRP] 3.2.4.4 allows in a messenger
	// message: 652 bytes of OEM text. Encode never writes more, whatever
	// EncodeOptions.MaxText says. Under the datagram limit it never binds.
	MaxText = 652

	// MaxNameLen is the longest recipient name in bytes (Encode checks
	// Message.To against it): a NetBIOS name has 15 bytes before its
	// suffix, and receivers look the recipient up among their NetBIOS
	// names.
	MaxNameLen = wire.NameLen
)

var (
	// ErrTooLong means the encoded message is larger than a limit: the
	// record limit (MaxDatagramRecord unless EncodeOptions.MaxRecord says
	// otherwise) or the text limit. The error is a *TooLongError that says
	// which limit, in bytes, and how long the message was.
	ErrTooLong = errors.New("messenger: message too long")

	// ErrInvalid means a field cannot be put in a record at all: a NUL in
	// any field, a control character in From or To, an empty From or To,
	// or a To longer than MaxNameLen bytes.
	ErrInvalid = errors.New("messenger: invalid message")

	// ErrUnrepresentable means, with EncodeOptions.Strict, that a character
	// has no byte in the chosen code page.
	ErrUnrepresentable = errors.New("messenger: character not in code page")

	// ErrCodePage means a CodePage this package does not know.
	ErrCodePage = errors.New("messenger: unsupported code page")

	// ErrMalformed means a record is not a messenger record: it lacks the
	// NUL after From or after To.
	ErrMalformed = errors.New("messenger: malformed record")
)

// TooLongError is the error Encode and Fit return for a message over a
// limit. It wraps ErrTooLong.
type TooLongError struct {
	// Limit names the limit: "record" (the whole record, From, To, Text
	// and the NULs) or "text" (Text alone).
	Limit string
	// Size is what the message encodes to, in bytes (the whole record or
	// the text, as Limit says).
	Size int
	// Max is the limit in bytes.
	Max int
	// Cut is the number of characters to remove from the end of Text for
	// the message to fit (a "\n" counts as one character even though it
	// is sent as CR LF), or -1 when From and To alone leave no room.
	Cut int
}

// Error says which limit, both sizes, and what to cut.
func (e *TooLongError) Error() string {
	s := fmt.Sprintf("messenger: message too long: the encoded %s is %d bytes, the limit is %d bytes", e.Limit, e.Size, e.Max)
	if e.Cut < 0 {
		return s + " (From and To alone leave no room for text)"
	}
	unit := "characters"
	if e.Cut == 1 {
		unit = "character"
	}
	return s + fmt.Sprintf(" (remove at least %d %s from the text)", e.Cut, unit)
}

// Unwrap returns ErrTooLong.
func (e *TooLongError) Unwrap() error { return ErrTooLong }

// Message is one NET SEND / WinPopup message, in UTF-8. Text uses "\n" for
// line breaks (Encode sends CR LF).
type Message struct {
	From string // the sender: a user or computer name
	To   string // the recipient: a NetBIOS name (user, computer or workgroup)
	Text string // the message
}

// EncodeOptions controls Encode, Check and Fit. The zero value encodes for
// a Windows receiver in Western Europe, replaces what CP850 lacks with '?',
// and keeps to one datagram.
type EncodeOptions struct {
	// CodePage is the character set of the record: 0 means CP850.
	//
	// CP850 is the default because the 81 of its 128 upper bytes that
	// CP437 (the US OEM code page) shares include every letter the two
	// have in common (é, ü, ß, ñ, ç, Ä...) and the single and double box
	// drawings, so a CP437 receiver shows those right too; where the two
	// differ, CP850 has Latin letters (Á, Ê, Õ, ø, Ý...) that CP437 lacks,
	// which would otherwise become '?' for every receiver. The price: the
	// few characters they place differently (¢ ¥) and CP850's extra letters
	// show as other glyphs on a CP437 receiver. Neither has '€' (CP858 does).
	CodePage CodePage

	// Strict makes a character that the code page lacks (or a control
	// character in Text other than tab and newline) an error wrapping
	// ErrUnrepresentable. Without it such a character becomes '?', as in
	// Windows' own conversion to OEM text, and Check counts it.
	Strict bool

	// MaxRecord is the largest record in bytes: 0 means MaxDatagramRecord.
	// Records over the datagram limit travel only between hosts that run
	// this package; Windows never sends them.
	MaxRecord int

	// MaxText is the largest Text in bytes, after conversion (CR LF counts
	// two): 0 means MaxText (652, never binding under the datagram limit).
	// MaxBroadcastText makes Encode keep to what NET SEND broadcasts.
	// Values over MaxText are lowered to it.
	MaxText int

	// NoFinalNUL leaves out the NUL after the text. Windows and WinPopup
	// write it; some programs do not, and receivers accept both.
	NoFinalNUL bool
}

// Report tells how a message encodes and whether it fits; see Check.
type Report struct {
	Size      int // bytes of the whole record
	MaxRecord int // the record limit in effect
	TextSize  int // bytes of the text (CR LF counts two)
	MaxText   int // the text limit in effect
	Replaced  int // characters that became '?'
	// Cut is the number of characters to remove from the end of Text for
	// the message to fit both limits: 0 when it fits, -1 when From and To
	// alone are over the record limit.
	Cut int
}

// Fits reports whether the message is within both limits.
func (r Report) Fits() bool { return r.Cut == 0 }

// Encode returns the record for m: From, NUL, To, NUL, Text, NUL, in the
// code page opts chooses, with every line break of Text ("\n", "\r\n" or a
// lone "\r") sent as CR LF and the text composed (NFC) first so that "e"
// plus a combining accent finds "é" in the code page.
//
// It fails with ErrInvalid for a field that cannot be sent (a NUL
// anywhere, a control character in From or To, an empty From or To, a To
// over MaxNameLen bytes), ErrUnrepresentable in Strict mode, ErrCodePage,
// and a *TooLongError (ErrTooLong) when the record or the text is over its
// limit. It never truncates: Fit does, on request.
func Encode(m Message, opts EncodeOptions) ([]byte, error) {
	p, err := prepare(m, opts)
	if err != nil {
		return nil, err
	}
	if err := p.tooLong(len(p.runes)); err != nil {
		return nil, err
	}
	return p.record(len(p.runes)), nil
}

// Check encodes m as Encode would and reports its sizes, the limits and
// how many characters of Text must go for it to fit. A message over a
// limit is not an error here; the error is Encode's other errors.
func Check(m Message, opts EncodeOptions) (Report, error) {
	p, err := prepare(m, opts)
	if err != nil {
		return Report{}, err
	}
	n := len(p.runes)
	return Report{
		Size:      p.size(n),
		MaxRecord: p.maxRecord,
		TextSize:  p.textSize(n),
		MaxText:   p.maxText,
		Replaced:  p.replaced,
		Cut:       p.cut(),
	}, nil
}

// Fit returns m with as many characters cut from the end of Text as it
// takes to fit the limits of opts (none when it fits), and how many it cut.
// The returned Text is m.Text with its line breaks turned into "\n" and
// composed (NFC), as Encode sends it. When From and To alone do not fit it
// returns a *TooLongError; it returns Encode's other errors too.
func Fit(m Message, opts EncodeOptions) (Message, int, error) {
	p, err := prepare(m, opts)
	if err != nil {
		return Message{}, 0, err
	}
	cut := p.cut()
	if cut < 0 {
		return Message{}, 0, p.tooLong(0)
	}
	m.Text = string(p.runes[:len(p.runes)-cut])
	return m, cut, nil
}

// prepared is a message converted to bytes, with the size of each
// character of the text so that it can be cut.
type prepared struct {
	head      []byte // From NUL To NUL
	runes     []rune // the text after line-break conversion and NFC
	text      []byte // the encoded text
	ends      []int  // ends[i]: bytes of text taken by runes[:i+1]
	tail      int    // 1 for the final NUL, else 0
	replaced  int
	maxRecord int
	maxText   int
}

func prepare(m Message, opts EncodeOptions) (*prepared, error) {
	cp := opts.CodePage
	if cp == 0 {
		cp = CP850
	}
	if err := cp.check(); err != nil {
		return nil, err
	}
	p := &prepared{maxRecord: opts.MaxRecord, maxText: opts.MaxText}
	if p.maxRecord <= 0 {
		p.maxRecord = MaxDatagramRecord
	}
	if p.maxText <= 0 || p.maxText > MaxText {
		p.maxText = MaxText
	}
	if !opts.NoFinalNUL {
		p.tail = 1
	}
	enc := encoder{cp: cp, strict: opts.Strict}

	var err error
	if p.head, err = enc.name(p.head, "From", m.From); err != nil {
		return nil, err
	}
	n := len(p.head)
	if p.head, err = enc.name(p.head, "To", m.To); err != nil {
		return nil, err
	}
	if toLen := len(p.head) - n - 1; toLen > MaxNameLen {
		return nil, fmt.Errorf("%w: To %q is %d bytes, a NetBIOS name has at most %d", ErrInvalid, m.To, toLen, MaxNameLen)
	}

	if strings.IndexByte(m.Text, 0) >= 0 {
		return nil, fmt.Errorf("%w: Text contains NUL", ErrInvalid)
	}
	p.runes = []rune(norm.NFC.String(normalizeNewlines(m.Text)))
	p.ends = make([]int, len(p.runes))
	for i, r := range p.runes {
		if p.text, err = enc.textRune(p.text, r); err != nil {
			return nil, err
		}
		p.ends[i] = len(p.text)
	}
	p.replaced = enc.replaced
	return p, nil
}

// textSize returns the bytes of the first n characters of the text.
func (p *prepared) textSize(n int) int {
	if n == 0 {
		return 0
	}
	return p.ends[n-1]
}

// size returns the bytes of the record with the first n characters of the
// text.
func (p *prepared) size(n int) int { return len(p.head) + p.textSize(n) + p.tail }

// cut returns how many characters must go from the end of the text for
// both limits to hold, -1 when even no text is over the record limit.
func (p *prepared) cut() int {
	if p.size(0) > p.maxRecord {
		return -1
	}
	n := len(p.runes)
	for n > 0 && (p.size(n) > p.maxRecord || p.textSize(n) > p.maxText) {
		n--
	}
	return len(p.runes) - n
}

// tooLong returns the error for the first n characters of the text, nil
// when they fit.
func (p *prepared) tooLong(n int) error {
	if size := p.size(n); size > p.maxRecord {
		return &TooLongError{Limit: "record", Size: size, Max: p.maxRecord, Cut: p.cut()}
	}
	if size := p.textSize(n); size > p.maxText {
		return &TooLongError{Limit: "text", Size: size, Max: p.maxText, Cut: p.cut()}
	}
	return nil
}

// record returns the record with the first n characters of the text.
func (p *prepared) record(n int) []byte {
	b := make([]byte, 0, p.size(n))
	b = append(b, p.head...)
	b = append(b, p.text[:p.textSize(n)]...)
	if p.tail > 0 {
		b = append(b, 0)
	}
	return b
}

// normalizeNewlines turns "\r\n" and a lone "\r" into "\n".
func normalizeNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// encoder converts characters to the bytes of a code page.
type encoder struct {
	cp       CodePage
	strict   bool
	replaced int
}

// name appends From or To, followed by its NUL.
func (e *encoder) name(dst []byte, field, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: %s is empty", ErrInvalid, field)
	}
	for _, r := range norm.NFC.String(s) {
		if r == 0 || unicode.IsControl(r) {
			return nil, fmt.Errorf("%w: %s %q contains control character %U", ErrInvalid, field, s, r)
		}
		var err error
		if dst, err = e.rune(dst, r); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
	}
	return append(dst, 0), nil
}

// textRune appends one character of the text: "\n" as CR LF, tab as is,
// other control characters as unrepresentable.
func (e *encoder) textRune(dst []byte, r rune) ([]byte, error) {
	switch r {
	case '\n':
		return append(dst, '\r', '\n'), nil
	case '\t':
		return append(dst, '\t'), nil
	}
	var b []byte
	var err error
	if unicode.IsControl(r) {
		b, err = e.replace(dst, r)
	} else {
		b, err = e.rune(dst, r)
	}
	if err != nil {
		return nil, fmt.Errorf("Text: %w", err)
	}
	return b, nil
}

// rune appends r in the code page, or '?' when the code page lacks it.
func (e *encoder) rune(dst []byte, r rune) ([]byte, error) {
	if e.cp == UTF8 {
		return utf8.AppendRune(dst, r), nil
	}
	if r != utf8.RuneError {
		if b, ok := e.cp.charmap().EncodeRune(r); ok {
			return append(dst, b), nil
		}
	}
	return e.replace(dst, r)
}

func (e *encoder) replace(dst []byte, r rune) ([]byte, error) {
	if e.strict {
		return nil, fmt.Errorf("%w: %U (%q) has no byte in %v", ErrUnrepresentable, r, r, e.cp)
	}
	e.replaced++
	return append(dst, '?'), nil
}
