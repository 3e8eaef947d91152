package messenger_test

import (
	"errors"
	"testing"

	"github.com/mailslot-go/mailslot/messenger"
)

func TestParseCodePage(t *testing.T) {
	for in, want := range map[string]messenger.CodePage{
		"850": messenger.CP850, "cp850": messenger.CP850, "CP437": messenger.CP437, " ibm858 ": messenger.CP858,
		"windows-1252": messenger.Windows1252, "Windows-1250": messenger.Windows1250, "1251": messenger.Windows1251,
		"utf-8": messenger.UTF8, "UTF8": messenger.UTF8, "65001": messenger.UTF8,
	} {
		if got, err := messenger.ParseCodePage(in); err != nil || got != want {
			t.Errorf("ParseCodePage(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "cp", "cp1", "latin1", "-850", "windows-850x", "1259", "cp65001x", "0", "cp0", "1249"} {
		if got, err := messenger.ParseCodePage(in); !errors.Is(err, messenger.ErrCodePage) {
			t.Errorf("ParseCodePage(%q) = %v, %v; want ErrCodePage", in, got, err)
		}
	}
}

// TestDecodeWindowsFrench decodes records as a French Windows XP NET SEND
// writes them: the computer name upper-case as sender, the text in CP850
// with accents, CR LF, and the final NUL.
func TestDecodeWindowsFrench(t *testing.T) {
	testDecode(t, []decodeCase{
		{name: "XP to a computer", record: "SRV-COMPTA\x00PC-07\x00Sauvegarde \x82chou\x82e \x85 3h\r\nVoir le journal\x00",
			want: messenger.Message{From: "SRV-COMPTA", To: "PC-07", Text: "Sauvegarde échouée à 3h\nVoir le journal"}},
		{name: "XP to the workgroup", record: "SRV-COMPTA\x00BUREAU\x00Red\x82marrage dans 5 min, fermez vos fichiers\x00",
			want: messenger.Message{From: "SRV-COMPTA", To: "BUREAU", Text: "Redémarrage dans 5 min, fermez vos fichiers"}},
		{name: "user with accents", record: "H\x90L\xd4NE\x00PC-07\x00\x87a marche, merci \x00",
			want: messenger.Message{From: "HÉLÈNE", To: "PC-07", Text: "ça marche, merci"}},
		{name: "CP850 upper case and symbols", record: "ADMIN\x00*\x00\x90T\x90 \xb7 \x9c5 \xf8C\x00",
			want: messenger.Message{From: "ADMIN", To: "*", Text: "ÉTÉ À £5 °C"}},
	})
	// What netsend writes by default decodes to what was sent.
	m := messenger.Message{From: "root@SRV-COMPTA", To: "BUREAU", Text: "Sauvegarde échouée à 3h\nVoir le journal"}
	rec, err := messenger.Encode(m, messenger.EncodeOptions{CodePage: messenger.CP850})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := messenger.Decode(rec); err != nil || got != m {
		t.Errorf("round trip: %+q, %v", got, err)
	}
}

// TestCodePageString names each kind of code page, at the edges of the
// ANSI range.
func TestCodePageString(t *testing.T) {
	for cp, want := range map[messenger.CodePage]string{
		messenger.UTF8: "UTF-8", messenger.CP850: "CP850", messenger.CP437: "CP437", messenger.CP866: "CP866",
		messenger.Windows1250: "Windows-1250", messenger.Windows1258: "Windows-1258", 1249: "code page 1249",
		1259: "code page 1259", 0: "code page 0", 65000: "code page 65000", 1200: "code page 1200",
	} {
		if got := cp.String(); got != want {
			t.Errorf("CodePage(%d).String() = %q, want %q", int(cp), got, want)
		}
	}
}
