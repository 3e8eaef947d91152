package messenger_test

import (
	"errors"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/mailslot-go/mailslot/messenger"
)

// fuzzCodePages are the code pages FuzzDecode decodes with, chosen by its
// second argument; 0 is the automatic choice.
var fuzzCodePages = []messenger.CodePage{0, messenger.CP850, messenger.CP437, messenger.UTF8, messenger.Windows1252, messenger.CP866}

// FuzzDecode checks that Decode never panics, returns only text safe to
// print (no NUL, no ESC, no control character but tab and newline in
// Text, valid UTF-8), and that what it returns encodes without panicking
// and, in UTF-8, decodes back to itself.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"WIN98USER\x00WORKGROUP\x00HELLO WORLD\x00",
		"MARTIN\x00DON\x00Hi",
		"J\x9aRGEN\x00B\x9aRO\x00Gr\x81\xe1e\r\nbis morgen\r\n\x00",
		"A\x1b[31m\x00B\x00\x1b]0;title\x07red\x1b[2J\x00",
		"A\x00B\x00x\u009b31m \u202eexe.txt\x00",
		"zoë\x00PC\x00€ 5 — ok\n\x00",
		"A\x00B",
		"",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, record []byte, sel uint8) {
		cp := fuzzCodePages[int(sel)%len(fuzzCodePages)]
		m, err := messenger.DecodeOptions{CodePage: cp}.Decode(record)
		if err != nil {
			if !errors.Is(err, messenger.ErrMalformed) {
				t.Fatalf("error %v", err)
			}
			return
		}
		checkSafe(t, m)

		for _, cp := range []messenger.CodePage{messenger.CP850, messenger.CP437, messenger.UTF8} {
			opts := messenger.EncodeOptions{CodePage: cp, MaxRecord: 1 << 20}
			messenger.Encode(m, opts)
			messenger.Check(m, opts)
			if fit, _, err := messenger.Fit(m, messenger.EncodeOptions{CodePage: cp, MaxText: messenger.MaxBroadcastText}); err == nil {
				if _, err := messenger.Encode(fit, messenger.EncodeOptions{CodePage: cp, MaxText: messenger.MaxBroadcastText}); err != nil {
					t.Fatalf("fitted message %+q: %v", fit, err)
				}
			}
		}

		b, err := messenger.Encode(m, messenger.EncodeOptions{CodePage: messenger.UTF8, MaxRecord: 1 << 20})
		if err != nil {
			return // an empty or long name, a long text: not for this check
		}
		want := messenger.Message{From: norm.NFC.String(m.From), To: norm.NFC.String(m.To), Text: norm.NFC.String(m.Text)}
		if got, err := messenger.Decode(b); err != nil || got != want {
			t.Fatalf("UTF-8 round trip of %+q: %+q, %v", want, got, err)
		}
	})
}
