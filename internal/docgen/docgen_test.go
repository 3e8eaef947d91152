//go:build !windows

package docgen

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

func TestParseHelp(t *testing.T) {
	h, err := ParseHelp("usage: prog X [--a]\n\nwhat it does\non two lines\n\nflags:\n  -a\n    \tthe a flag\n  -file FILE\n    \tread FILE\n    \tand more (default \"x\")\n\nafter\n\n  indented\n")
	want := Help{Usage: "prog X [--a]", Intro: []string{"what it does\non two lines"},
		Flags: []Flag{{"a", "", "the a flag"}, {"file", "FILE", `read FILE and more (default "x")`}}, Outro: []string{"after", "  indented"}}
	if err != nil || !reflect.DeepEqual(h, want) {
		t.Fatalf("ParseHelp = %+v, %v; want %+v", h, err, want)
	}
	for _, bad := range []string{"", "prog: no usage\nflags:\n", "usage: x\n\nno flags line\n", "usage: x\nflags:\n  -\n"} {
		if _, err := ParseHelp(bad); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseHelp(%q): %v", bad, err)
		}
	}
}

func TestParseOverview(t *testing.T) {
	o, err := ParseOverview("p: does things.\n\nusage: p COMMAND\n\ncommands:\n  a   does a\n  bb  does b\n\nmore\n")
	want := Overview{Program: "p", Title: "does things", Usage: "p COMMAND",
		Commands: []Command{{Name: "a", Summary: "does a"}, {Name: "bb", Summary: "does b"}}, Text: []string{"more"}}
	if err != nil || !reflect.DeepEqual(o, want) {
		t.Fatalf("ParseOverview = %+v, %v", o, err)
	}
	if _, err := ParseOverview("p: x\n\nusage: p\n\nnot commands\n"); !errors.Is(err, ErrFormat) {
		t.Errorf("no command list: %v", err)
	}
}

func files(t *testing.T) map[string]string {
	t.Helper()
	fs, err := Files("9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// The pages say every command and flag that --help says, and every key
// mailslotd.conf takes.
func TestPagesCoverTheHelp(t *testing.T) {
	fs := files(t)
	o, err := Mailslot()
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Commands) < 6 {
		t.Fatalf("mailslot has %d commands", len(o.Commands))
	}
	page := fs["man/mailslot.1"]
	for _, c := range o.Commands {
		if !strings.Contains(page, `.SS "mailslot `+c.Name+`"`) {
			t.Errorf("mailslot.1 lacks the command %s", c.Name)
		}
		for _, f := range c.Help.Flags {
			if !strings.Contains(page, option(f.Name)) {
				t.Errorf("mailslot.1 lacks mailslot %s --%s", c.Name, f.Name)
			}
		}
	}
	d, err := Mailslotd()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range d.Flags {
		if !strings.Contains(fs["man/mailslotd.8"], option(f.Name)) {
			t.Errorf("mailslotd.8 lacks --%s", f.Name)
		}
	}
	for _, k := range daemon.SettingKeys {
		if !strings.Contains(fs["man/mailslotd.conf.5"], `.BI "`+escape(k)+` = "`) {
			t.Errorf("mailslotd.conf.5 lacks the key %s", k)
		}
	}
	if !strings.Contains(page, `.TH MAILSLOT 1 "" "mailslot 9.9.9"`) || !strings.Contains(page, "Exit status: 0 done") {
		t.Errorf("mailslot.1's header or exit status:\n%s", page[:200])
	}
}

func write(t *testing.T) string {
	dir := t.TempDir()
	if err := Write(dir, "9.9.9"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// man renders each page with no warning (as lintian checks them).
func TestManPagesRender(t *testing.T) {
	man := testenv.LookPath(t, "man")
	dir := write(t)
	for _, p := range []string{"mailslot.1", "mailslotd.8", "mailslotd.conf.5"} {
		cmd := exec.Command(man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", filepath.Join(dir, "man", p))
		cmd.Env = append(os.Environ(), "MANROFFSEQ=", "MANWIDTH=80")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() != 0 || len(out) == 0 {
			t.Errorf("man %s: %v: %s", p, err, stderr.String())
		}
	}
}

// complete runs a completion in a shell and returns its words.
func complete(t *testing.T, shell string, args ...string) []string {
	t.Helper()
	out, err := exec.Command(shell, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v: %s", shell, args, err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletion(t *testing.T) {
	bash := testenv.LookPath(t, "bash")
	dir := write(t)
	for _, tc := range []struct {
		file  string
		words []string // the command line, the last word being completed
		want  []string
	}{
		{"mailslot", []string{"mailslot", "re"}, []string{"read"}},
		{"mailslot", []string{"mailslot", ""}, []string{"bench", "browse", "messenger", "netsend", "read", "send", "status"}},
		{"mailslot", []string{"mailslot", "read", "--ma"}, []string{"--max-size"}},
		{"mailslot", []string{"mailslot", "netsend", "X", "--s"}, []string{"--slot", "--strict"}},
		{"mailslot", []string{"mailslot", "bench", ""}, []string{"local", "net"}},
		{"mailslotd", []string{"mailslotd", "--dg"}, []string{"--dgram-port"}},
		{"mailslotd", []string{"mailslotd", "--metrics-l"}, []string{"--metrics-listen"}},
	} {
		script := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _` + tc.file + `; printf '%s\n' "${COMPREPLY[@]}"`
		got := complete(t, bash, append([]string{"-c", script, "bash", filepath.Join(dir, "completions/bash", tc.file)}, tc.words...)...)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.words, got, tc.want)
		}
	}
}

func TestFishCompletion(t *testing.T) {
	fish := testenv.LookPath(t, "fish")
	dir := write(t)
	for _, tc := range []struct {
		file, line string
		want       []string
	}{
		{"mailslot.fish", "mailslot re", []string{"read"}},
		{"mailslot.fish", "mailslot read --max", []string{"--max-size"}},
		{"mailslot.fish", "mailslot bench ", []string{"local", "net"}},
		{"mailslotd.fish", "mailslotd --dgram", []string{"--dgram-port"}},
	} {
		out := complete(t, fish, "--no-config", "-c", `source $argv[1]; complete --do-complete=$argv[2] | string replace -r '\t.*' ''; exit 0`,
			filepath.Join(dir, "completions/fish", tc.file), tc.line)
		if !reflect.DeepEqual(out, tc.want) {
			t.Errorf("%q: %q, want %q", tc.line, out, tc.want)
		}
	}
}

// zsh reads the functions (zsh -n); the quoting of the descriptions,
// which come from the help texts, is what can go wrong.
func TestZshCompletion(t *testing.T) {
	zsh := testenv.LookPath(t, "zsh")
	dir := write(t)
	for _, f := range []string{"_mailslot", "_mailslotd"} {
		if out, err := exec.Command(zsh, "-n", filepath.Join(dir, "completions/zsh", f)).CombinedOutput(); err != nil {
			t.Errorf("zsh -n %s: %v: %s", f, err, out)
		}
	}
}
