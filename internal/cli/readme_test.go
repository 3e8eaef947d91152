//go:build !windows

package cli

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"
)

// Every verb is in the README's synopsis of the mailslot command, and each
// of its flags in its options table (netsend, messenger) or, for the
// verbs without one, in its synopsis line.
func TestReadmeDocumentsEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	const head = "## The `mailslot` command\n\n```\n"
	i := strings.Index(readme, head)
	if i < 0 {
		t.Fatal("README.md has no synopsis of the mailslot command")
	}
	synopsis := readme[i+len(head):]
	synopsis = synopsis[:strings.Index(synopsis, "\n```\n")]
	for _, v := range verbs {
		var where, what string
		if j := strings.Index(readme, "**OPTIONS** ("+v.name+")"); j >= 0 {
			where, what = readme[j:], "options table"
			if end := strings.Index(where, "\n**"); end >= 0 { // the next heading
				where = where[:end]
			}
		} else {
			what = "synopsis"
			in := false // in the verb's lines: its own and those indented under it
			for _, line := range strings.Split(synopsis, "\n") {
				if strings.HasPrefix(line, "mailslot ") {
					in = strings.HasPrefix(line, "mailslot "+v.name+" ")
				}
				if in {
					where += line + "\n"
				}
			}
			if where == "" {
				t.Errorf("README.md's synopsis has no line for mailslot %s", v.name)
				continue
			}
		}
		fs := flag.NewFlagSet(v.name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		v.flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(where, "--"+f.Name+" ") && !strings.Contains(where, "--"+f.Name+"]") && !strings.Contains(where, "--"+f.Name+"`") {
				t.Errorf("README.md's %s of mailslot %s lacks --%s", what, v.name, f.Name)
			}
		})
	}
}
