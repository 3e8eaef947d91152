package messenger

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// CodePage is a character set by its Windows code page number. The
// messenger format carries text in the sender's OEM code page (the one
// a console window uses), with no mark saying which; the zero CodePage
// means "the default" (see EncodeOptions.CodePage and
// DecodeOptions.CodePage).
type CodePage int

// Code pages this package encodes and decodes.
const (
	// CP437 is the OEM code page of US English Windows.
	CP437 CodePage = 437
	// CP850 is the OEM code page of Western European Windows (Latin-1
	// letters; the default of this package).
	CP850 CodePage = 850
	// CP852 is the OEM code page of Central European Windows.
	CP852 CodePage = 852
	// CP855 is an OEM Cyrillic code page.
	CP855 CodePage = 855
	// CP858 is CP850 with the euro sign at 0xD5 (in place of 'ı').
	CP858 CodePage = 858
	// CP860 is the OEM code page of Portuguese Windows.
	CP860 CodePage = 860
	// CP862 is the OEM code page of Hebrew Windows.
	CP862 CodePage = 862
	// CP863 is the OEM code page of French Canadian Windows.
	CP863 CodePage = 863
	// CP865 is the OEM code page of Nordic Windows.
	CP865 CodePage = 865
	// CP866 is the OEM code page of Russian Windows.
	CP866 CodePage = 866

	// Windows1250 to Windows1258 are the ANSI code pages. Windows
	// itself puts OEM text in messenger records, but programs that write
	// the mailslot with CreateFileA/WriteFile often send ANSI text; force
	// one of these when decoding records from such a program.
	Windows1250 CodePage = 1250 // ANSI Central European
	Windows1251 CodePage = 1251 // ANSI Cyrillic
	Windows1252 CodePage = 1252 // ANSI Western European
	Windows1253 CodePage = 1253 // ANSI Greek
	Windows1254 CodePage = 1254 // ANSI Turkish
	Windows1255 CodePage = 1255 // ANSI Hebrew
	Windows1256 CodePage = 1256 // ANSI Arabic
	Windows1257 CodePage = 1257 // ANSI Baltic
	Windows1258 CodePage = 1258 // ANSI Vietnamese

	// UTF8 is UTF-8 (Windows code page 65001). Windows receivers show it
	// as OEM text (mojibake beyond ASCII); use it only between hosts that
	// run this package.
	UTF8 CodePage = 65001
)

// String returns "CP850", "Windows-1252", "UTF-8" or "code page N".
func (cp CodePage) String() string {
	if cp == UTF8 {
		return "UTF-8"
	}
	if cp >= Windows1250 && cp <= Windows1258 {
		return "Windows-" + strconv.Itoa(int(cp))
	}
	if cp.charmap() != nil {
		return "CP" + strconv.Itoa(int(cp))
	}
	return "code page " + strconv.Itoa(int(cp))
}

// charmap returns the single-byte table of cp, nil for UTF8 and for code
// pages this package does not know.
func (cp CodePage) charmap() *charmap.Charmap {
	switch cp {
	case CP437:
		return charmap.CodePage437
	case CP850:
		return charmap.CodePage850
	case CP852:
		return charmap.CodePage852
	case CP855:
		return charmap.CodePage855
	case CP858:
		return charmap.CodePage858
	case CP860:
		return charmap.CodePage860
	case CP862:
		return charmap.CodePage862
	case CP863:
		return charmap.CodePage863
	case CP865:
		return charmap.CodePage865
	case CP866:
		return charmap.CodePage866
	case Windows1250:
		return charmap.Windows1250
	case Windows1251:
		return charmap.Windows1251
	case Windows1252:
		return charmap.Windows1252
	case Windows1253:
		return charmap.Windows1253
	case Windows1254:
		return charmap.Windows1254
	case Windows1255:
		return charmap.Windows1255
	case Windows1256:
		return charmap.Windows1256
	case Windows1257:
		return charmap.Windows1257
	case Windows1258:
		return charmap.Windows1258
	}
	return nil
}

// check returns an error wrapping ErrCodePage unless cp is UTF8 or one of
// the single-byte code pages above.
func (cp CodePage) check() error {
	if cp == UTF8 || cp.charmap() != nil {
		return nil
	}
	return fmt.Errorf("%w: %d", ErrCodePage, int(cp))
}

// ParseCodePage reads a code page as a user writes it: "850", "cp850",
// "CP437", "windows-1252", "1252", "utf-8", "utf8" or "65001", in any case.
// A code page this package does not know gives an error wrapping
// ErrCodePage that lists the forms.
func ParseCodePage(s string) (CodePage, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "utf-8", "utf8":
		return UTF8, nil
	}
	for _, p := range []string{"cp", "windows-", "ibm"} {
		if rest, ok := strings.CutPrefix(t, p); ok {
			t = rest
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || CodePage(n).check() != nil {
		return 0, fmt.Errorf("%w: %q (want CP437, CP850, CP852, CP855, CP858, CP860, CP862, CP863, CP865, CP866, windows-1250 to windows-1258, or utf-8)", ErrCodePage, s)
	}
	return CodePage(n), nil
}
