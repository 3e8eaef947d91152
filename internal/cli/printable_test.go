//go:build !windows

package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/messenger"
)

// hostile is a record a terminal would act on: clear the screen, turn red,
// read right to left, ring the bell, and a C1 CSI.
const hostile = "a\x1b[2J\x1b[31mb\u202ec\x07d\u009b1m\tend"

func writeRecord(t *testing.T, name string, data string) {
	t.Helper()
	c, err := mailslot.Open(slotName(name))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
}

// read --format text escapes what a terminal would act on; raw does not;
// json's lines decode to the record and hold no such character.
func TestReadEscapes(t *testing.T) {
	for _, tt := range []struct{ format, want string }{
		{"text", `a\x1b[2J\x1b[31mb\u202ec\x07d\u009b1m` + "\tend\n"},
		{"raw", hostile + "\n"},
	} {
		name := uniq(t) + tt.format
		ch := startRead(t, name, "--count", "1", "--format", tt.format)
		writeRecord(t, name, hostile)
		if r := wait(t, ch); r.code != 0 || r.stdout != tt.want {
			t.Errorf("--format %s printed %q, want %q", tt.format, r.stdout, tt.want)
		}
	}
	name := uniq(t) + "json"
	ch := startRead(t, name, "--count", "1", "--format", "json")
	writeRecord(t, name, hostile)
	r := wait(t, ch)
	if strings.ContainsAny(r.stdout, "\x1b\u202e\x07\u009b") {
		t.Fatalf("--format json printed %q", r.stdout)
	}
	var rec jsonRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.Data != hostile {
		t.Fatalf("--format json: %q decodes to %+v, %v", r.stdout, rec, err)
	}
}

// The messenger's header and text: the origin (from the network) and
// fields are printable; the text keeps its lines and tabs.
func TestAlertTextEscapes(t *testing.T) {
	a := alert{Time: time.Now(), Origin: "\\\\EVIL\x1b[2J (10.0.0.1:138)",
		Message: messenger.Message{From: "BOSS\u200f", To: "PC7", Text: "line\u202e1\n\tline 2\x1b"}}
	got := string(a.text())
	for _, bad := range []string{"\x1b", "\u202e", "\u200f"} {
		if strings.Contains(got, bad) {
			t.Fatalf("alert text holds %q:\n%q", bad, got)
		}
	}
	if !strings.Contains(got, `Message from BOSS\u200f to PC7  (\\EVIL\x1b[2J (10.0.0.1:138))`) ||
		!strings.HasSuffix(got, "\n  line\\u202e1\n  \tline 2\\x1b\n") {
		t.Fatalf("alert text:\n%s", got)
	}
	if j := string(a.json()); strings.ContainsAny(j, "\x1b\u202e\u200f") {
		t.Fatalf("alert json %q", j)
	}
}
