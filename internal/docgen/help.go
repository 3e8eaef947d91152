//go:build !windows

// Package docgen turns the programs' own --help texts into man pages and
// shell completions (bash, zsh, fish), so that these say what --help says
// and cannot drift from it: they are made from it at build time
// (scripts/package runs gendocs).
package docgen

import (
	"errors"
	"fmt"
	"strings"
)

// Flag is one flag as the standard flag package prints it.
type Flag struct {
	Name  string // without dashes
	Arg   string // the argument's placeholder ("FILE"), "" for a boolean flag
	Usage string // the text, "(default ...)" included
}

// Help is a --help text: "usage: ..." first, paragraphs, "flags:" and the
// flags, then more paragraphs.
type Help struct {
	Usage string   // the usage line, without "usage: "
	Intro []string // paragraphs between the usage line and the flags
	Flags []Flag
	Outro []string // paragraphs after the flags
}

// ErrFormat means a help text not in the form Help describes.
var ErrFormat = errors.New("docgen: not a --help text")

// ParseHelp reads a --help text.
func ParseHelp(s string) (Help, error) {
	var h Help
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "usage: ") {
		return h, fmt.Errorf("%w: the first line is not usage: ...", ErrFormat)
	}
	h.Usage = strings.TrimPrefix(lines[0], "usage: ")
	i := 1
	var intro []string
	for ; i < len(lines) && lines[i] != "flags:"; i++ {
		intro = append(intro, lines[i])
	}
	if i == len(lines) {
		return h, fmt.Errorf("%w: no flags: line", ErrFormat)
	}
	h.Intro = paragraphs(intro)
	for i++; i < len(lines); i++ {
		l := lines[i]
		if rest, ok := strings.CutPrefix(l, "  -"); ok {
			name, arg, _ := strings.Cut(rest, " ")
			if name == "" || strings.ContainsAny(name, "\t ") {
				return h, fmt.Errorf("%w: flag line %q", ErrFormat, l)
			}
			h.Flags = append(h.Flags, Flag{Name: name, Arg: arg})
			continue
		}
		if text, ok := strings.CutPrefix(l, "    \t"); ok && len(h.Flags) > 0 {
			f := &h.Flags[len(h.Flags)-1]
			f.Usage = strings.TrimSpace(f.Usage + " " + text)
			continue
		}
		break
	}
	h.Outro = paragraphs(lines[i:])
	return h, nil
}

// paragraphs splits lines at blank lines, dropping empty paragraphs.
func paragraphs(lines []string) []string {
	var out []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		cur = append(cur, l)
	}
	flush()
	return out
}

// Command is one verb of a program with verbs (mailslot read, ...).
type Command struct {
	Name    string
	Summary string
	Help    Help
}

// Overview is a program's own help: what it is, its commands and the text
// after them.
type Overview struct {
	Program, Title string // "mailslot", "Windows-style mailslots, ..."
	Usage          string
	Commands       []Command // names and summaries; Help filled in by the caller
	Text           []string  // paragraphs after the command list
}

// ParseOverview reads "PROGRAM: TITLE", a usage line, "commands:" with
// "  NAME  SUMMARY" lines, and paragraphs.
func ParseOverview(s string) (Overview, error) {
	var o Overview
	ps := paragraphs(strings.Split(strings.TrimRight(s, "\n"), "\n"))
	if len(ps) < 3 {
		return o, fmt.Errorf("%w: an overview has a title, a usage line and commands", ErrFormat)
	}
	prog, title, ok := strings.Cut(ps[0], ": ")
	if !ok {
		return o, fmt.Errorf("%w: title %q", ErrFormat, ps[0])
	}
	o.Program, o.Title = prog, strings.TrimSuffix(title, ".")
	o.Usage = strings.TrimPrefix(ps[1], "usage: ")
	cmds := strings.Split(ps[2], "\n")
	if cmds[0] != "commands:" {
		return o, fmt.Errorf("%w: no commands: list", ErrFormat)
	}
	for _, l := range cmds[1:] {
		f := strings.Fields(l)
		if len(f) < 2 {
			return o, fmt.Errorf("%w: command line %q", ErrFormat, l)
		}
		o.Commands = append(o.Commands, Command{Name: f[0], Summary: strings.Join(f[1:], " ")})
	}
	o.Text = ps[3:]
	return o, nil
}
