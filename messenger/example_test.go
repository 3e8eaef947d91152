package messenger_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailslot-go/mailslot/messenger"
)

// Encode makes the record to write to `\\BOB\mailslot\messngr`: three
// NUL-ended strings in CP850, with CR LF line breaks.
func ExampleEncode() {
	rec, err := messenger.Encode(messenger.Message{From: "ALICE", To: "BOB", Text: "Grüße\nbis 5€"}, messenger.EncodeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("% x\n%q\n", rec, rec)

	// Too long for one datagram: the error says by how much.
	_, err = messenger.Encode(messenger.Message{From: "ALICE", To: "BOB", Text: strings.Repeat("x", 400)}, messenger.EncodeOptions{})
	fmt.Println(errors.Is(err, messenger.ErrTooLong), err)
	// Output:
	// 41 4c 49 43 45 00 42 4f 42 00 47 72 81 e1 65 0d 0a 62 69 73 20 35 3f 00
	// "ALICE\x00BOB\x00Gr\x81\xe1e\r\nbis 5?\x00"
	// true messenger: message too long: the encoded record is 411 bytes, the limit is 407 bytes (remove at least 4 characters from the text)
}

// Decode reads a record as Windows writes it (CP850, CR LF, final NUL)
// and one from a hostile sender: the escape sequence cannot reach the
// terminal.
func ExampleDecode() {
	for _, rec := range []string{
		"J\x9aRGEN\x00B\x9aRO\x00Gr\x81\xe1e\r\nbis morgen\r\n\x00",
		"EVIL\x00BOB\x00\x1b[2J\x1b]0;pwned\x07hi",
	} {
		m, err := messenger.Decode([]byte(rec))
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s to %s: %q\n", m.From, m.To, m.Text)
	}
	// Output:
	// JÜRGEN to BÜRO: "Grüße\nbis morgen"
	// EVIL to BOB: "�[2J�]0;pwned�hi"
}

// Check tells a user how much to cut before sending like NET SEND does
// to a workgroup; Fit cuts when asked to.
func ExampleCheck() {
	m := messenger.Message{From: "ALICE", To: "WORKGROUP", Text: strings.Repeat("long story ", 12)}
	opts := messenger.EncodeOptions{MaxText: messenger.MaxBroadcastText}
	r, _ := messenger.Check(m, opts)
	fmt.Printf("text %d of %d bytes, cut %d characters\n", r.TextSize, r.MaxText, r.Cut)
	fit, cut, _ := messenger.Fit(m, opts)
	fmt.Println(cut, len(fit.Text))
	// Output:
	// text 132 of 128 bytes, cut 4 characters
	// 4 128
}

// A receiver shows a broadcast once, from the senders it allows.
func ExampleDeduper() {
	d := messenger.NewDeduper(5 * time.Second)
	f, _ := messenger.ParseFilter(nil, []string{"from:SPAM*", "text:(?i)free watches"})
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, m := range []messenger.Message{
		{From: "ALICE", To: "WORKGROUP", Text: "fire drill"},
		{From: "ALICE", To: "WORKGROUP", Text: "fire drill"}, // the same broadcast over another interface
		{From: "spambot", To: "WORKGROUP", Text: "hi"},
		{From: "BOB", To: "PC7", Text: "Free Watches!"},
	} {
		if f.Allowed(m) && !d.Seen(m, now) {
			fmt.Printf("%s: %s\n", m.From, m.Text)
		}
	}
	// Output:
	// ALICE: fire drill
}
