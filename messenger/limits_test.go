package messenger_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/internal/wire"
	"github.com/mailslot-go/mailslot/messenger"
)

// TestMaxDatagramRecord checks the figure against the wire package: a
// record of MaxDatagramRecord bytes makes a 576-byte datagram to
// \MAILSLOT\MESSNGR, and one more byte is refused.
func TestMaxDatagramRecord(t *testing.T) {
	if messenger.MaxDatagramRecord != 407 {
		t.Errorf("MaxDatagramRecord = %d, want 424 - 17 = 407", messenger.MaxDatagramRecord)
	}
	src, dst := wire.MustName("SENDER", wire.SuffixWorkstation), wire.MustName("RECEIVER", wire.SuffixMessenger)
	if n := wire.MaxMailslotData(messenger.Mailslot, src, dst); n != messenger.MaxDatagramRecord {
		t.Errorf("wire.MaxMailslotData = %d, MaxDatagramRecord = %d", n, messenger.MaxDatagramRecord)
	}
	if err := wire.CheckMailslotName(messenger.Mailslot); err != nil {
		t.Error(err)
	}

	m := messenger.Message{From: "SENDER", To: "RECEIVER"}
	m.Text = strings.Repeat("x", messenger.MaxDatagramRecord-len("SENDER\x00RECEIVER\x00\x00"))
	rec, err := messenger.Encode(m, messenger.EncodeOptions{})
	if err != nil || len(rec) != messenger.MaxDatagramRecord {
		t.Fatalf("largest record: %d bytes, %v", len(rec), err)
	}
	d := wire.Datagram{Type: wire.DirectUnique, Flags: wire.NewDatagramFlags(wire.BNode),
		SourceIP: netip.MustParseAddr("192.0.2.1"), SourcePort: 138, SourceName: src, DestinationName: dst}
	w := wire.MailslotWrite{Name: messenger.Mailslot, Class: wire.ClassUnreliable, Data: rec}
	dgram, err := wire.AppendMailslotDatagram(nil, &d, &w)
	if err != nil || len(dgram) != wire.MaxDatagramSize {
		t.Fatalf("datagram: %d bytes, %v", len(dgram), err)
	}
	_, w2, err := wire.DecodeMailslotDatagram(dgram)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := messenger.Decode(w2.Data); err != nil || got != m {
		t.Errorf("decoded from the datagram: %+v, %v", got, err)
	}

	m.Text += "y"
	_, err = messenger.Encode(m, messenger.EncodeOptions{})
	var tl *messenger.TooLongError
	if !errors.Is(err, messenger.ErrTooLong) || !errors.As(err, &tl) {
		t.Fatalf("one byte over: %v", err)
	}
	if *tl != (messenger.TooLongError{Limit: "record", Size: 408, Max: 407, Cut: 1}) {
		t.Errorf("one byte over: %+v", *tl)
	}
	for _, s := range []string{"408 bytes", "407 bytes", "remove at least 1 character from"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	w.Data = append(rec, 'y')
	if _, err := wire.AppendMailslotDatagram(nil, &d, &w); !errors.Is(err, wire.ErrTooLarge) {
		t.Errorf("wire takes a 408-byte record: %v", err)
	}
}

func TestLimits(t *testing.T) {
	long := strings.Repeat("é", 500)
	for _, c := range []struct {
		name  string
		m     messenger.Message
		opts  messenger.EncodeOptions
		limit string // "" when it fits
		size  int
		max   int
		cut   int
	}{
		{name: "fits", m: messenger.Message{From: "A", To: "B", Text: "hi"}},
		{name: "500 chars", m: messenger.Message{From: "ALICE", To: "BOB", Text: long},
			limit: "record", size: 511, max: 407, cut: 104},
		{name: "newlines count two bytes", m: messenger.Message{From: "A", To: "B", Text: strings.Repeat("\n", 202)},
			limit: "record", size: 409, max: 407, cut: 1},
		{name: "broadcast text", m: messenger.Message{From: "A", To: "B", Text: strings.Repeat("x", 130)},
			opts:  messenger.EncodeOptions{MaxText: messenger.MaxBroadcastText},
			limit: "text", size: 130, max: 128, cut: 2},
		{name: "broadcast text CRLF", m: messenger.Message{From: "A", To: "B", Text: strings.Repeat("x", 126) + "\nz"},
			opts:  messenger.EncodeOptions{MaxText: messenger.MaxBroadcastText},
			limit: "text", size: 129, max: 128, cut: 1},
		{name: "broadcast 128 fits", m: messenger.Message{From: "A", To: "B", Text: strings.Repeat("x", 128)},
			opts: messenger.EncodeOptions{MaxText: messenger.MaxBroadcastText}},
		{name: "own record limit", m: messenger.Message{From: "A", To: "B", Text: "abcdef"},
			opts:  messenger.EncodeOptions{MaxRecord: 8},
			limit: "record", size: 11, max: 8, cut: 3},
		{name: "large record, spec text limit", m: messenger.Message{From: "A", To: "B", Text: strings.Repeat("x", 700)},
			opts:  messenger.EncodeOptions{MaxRecord: 65535, MaxText: 100000},
			limit: "text", size: 700, max: 652, cut: 48},
		{name: "UTF-8 multibyte", m: messenger.Message{From: "A", To: "B", Text: "€€€"},
			opts:  messenger.EncodeOptions{CodePage: messenger.UTF8, MaxRecord: 10},
			limit: "record", size: 14, max: 10, cut: 2},
		{name: "no final NUL", m: messenger.Message{From: "A", To: "B", Text: "abcd"},
			opts: messenger.EncodeOptions{MaxRecord: 8, NoFinalNUL: true}},
		{name: "names fill the record", m: messenger.Message{From: "A", To: "B", Text: "xy"},
			opts:  messenger.EncodeOptions{MaxRecord: len("A\x00B\x00\x00")},
			limit: "record", size: 7, max: 5, cut: 2},
		{name: "names one over the record", m: messenger.Message{From: "AB", To: "B", Text: "xy"},
			opts:  messenger.EncodeOptions{MaxRecord: len("A\x00B\x00\x00")},
			limit: "record", size: 8, max: 5, cut: -1},
		{name: "names alone", m: messenger.Message{From: strings.Repeat("N", 404), To: "BOB", Text: "x"},
			limit: "record", size: 411, max: 407, cut: -1},
	} {
		_, err := messenger.Encode(c.m, c.opts)
		r, cerr := messenger.Check(c.m, c.opts)
		if cerr != nil {
			t.Errorf("%s: Check: %v", c.name, cerr)
		}
		if c.limit == "" {
			if err != nil || !r.Fits() || r.Cut != 0 {
				t.Errorf("%s: %v, %+v", c.name, err, r)
			}
			continue
		}
		var tl *messenger.TooLongError
		if !errors.As(err, &tl) || !errors.Is(err, messenger.ErrTooLong) {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if *tl != (messenger.TooLongError{Limit: c.limit, Size: c.size, Max: c.max, Cut: c.cut}) {
			t.Errorf("%s: %+v", c.name, *tl)
		}
		if r.Fits() || r.Cut != c.cut {
			t.Errorf("%s: Check %+v", c.name, r)
		}

		fit, cut, err := messenger.Fit(c.m, c.opts)
		if c.cut < 0 {
			if !errors.Is(err, messenger.ErrTooLong) || !strings.Contains(err.Error(), "no room") {
				t.Errorf("%s: Fit %v", c.name, err)
			}
			continue
		}
		if err != nil || cut != c.cut {
			t.Errorf("%s: Fit cut %d, %v", c.name, cut, err)
		}
		if _, err := messenger.Encode(fit, c.opts); err != nil {
			t.Errorf("%s: the fitted message: %v", c.name, err)
		}
		if want := []rune(c.m.Text); len([]rune(fit.Text)) != len(want)-c.cut || !strings.HasPrefix(c.m.Text, fit.Text) {
			t.Errorf("%s: fitted text %q", c.name, fit.Text)
		}
	}
}

// TestFitNormalizes shows that Fit returns the text as Encode sends it:
// line breaks as "\n", composed characters.
func TestFitNormalizes(t *testing.T) {
	m := messenger.Message{From: "A", To: "B", Text: "e\u0301\r\nabc"}
	fit, cut, err := messenger.Fit(m, messenger.EncodeOptions{MaxRecord: len("A\x00B\x00\x82\r\na\x00")})
	if err != nil || cut != 2 || fit.Text != "é\na" {
		t.Errorf("%q, %d, %v", fit.Text, cut, err)
	}
}
