// Package cli is the mailslot command: one file per verb, a table of
// verbs, and Main, which cmd/mailslot calls.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/printable"
	"github.com/mailslot-go/mailslot/internal/version"
)

// Env is what a verb may use of the outside world.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// verb is one subcommand.
type verb struct {
	name, args, summary string
	help                string // more text after the flags
	flags               func(fs *flag.FlagSet) func(env *Env, args []string) error
}

// verbs lists the subcommands in the order help shows them.
var verbs []*verb

func register(v *verb) { verbs = append(verbs, v) }

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// ExitPrivilege is the exit status of a verb that needs a privilege this
// process lacks (bench net without root).
const ExitPrivilege = 4

// privilegeError is a verb run without a privilege it needs: exit status
// ExitPrivilege.
type privilegeError struct{ msg string }

func (e *privilegeError) Error() string { return e.msg }

// geteuid is os.Geteuid; tests replace it.
var geteuid = os.Geteuid

// Main runs the mailslot command with args (without the program name) and
// returns the exit status: 0 done, 1 failed, 2 used wrongly, ExitPrivilege
// (4) needs a privilege this process lacks.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" || args[0] == "-help" {
		if len(args) > 1 {
			if v := find(args[1]); v != nil {
				return run(v, env, []string{"--help"})
			}
		}
		overview(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		fmt.Fprintln(stdout, version.Get().String("mailslot"))
		return 0
	}
	v := find(args[0])
	if v == nil {
		fmt.Fprintf(stderr, "mailslot: unknown command %q (run mailslot help)\n", args[0])
		return 2
	}
	return run(v, env, args[1:])
}

func find(name string) *verb {
	for _, v := range verbs {
		if v.name == name {
			return v
		}
	}
	return nil
}

func overview(w io.Writer) {
	fmt.Fprint(w, `mailslot: Windows-style mailslots, on this computer and across the LAN.

usage: mailslot COMMAND [flags] [args]

commands:
`)
	for _, v := range verbs {
		fmt.Fprintf(w, "  %-10s %s\n", v.name, v.summary)
	}
	fmt.Fprint(w, `
Run mailslot COMMAND --help for a command's flags, mailslot --version for the build.
NAME is a mailslot name: \\.\mailslot\PATH (this computer), \\COMPUTER\mailslot\PATH,
\\WORKGROUP\mailslot\PATH, \\*\mailslot\PATH (every computer of this workgroup),
or just PATH for \\.\mailslot\PATH. Slashes work as well as backslashes.

Exit status: 0 done; 1 failed, with one line on standard error; 2 used wrongly;
4 needs a privilege this process lacks (bench net without root).
`)
}

// run parses the verb's flags (also after its arguments) and runs it.
func run(v *verb, env *Env, args []string) int {
	fs := flag.NewFlagSet("mailslot "+v.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	do := v.flags(fs)
	usage := func() {
		fmt.Fprintf(env.Stdout, "usage: mailslot %s %s\n\n%s\n", v.name, v.args, v.summary)
		fs.SetOutput(env.Stdout)
		fmt.Fprintln(env.Stdout, "\nflags:")
		fs.PrintDefaults()
		if v.help != "" {
			fmt.Fprintf(env.Stdout, "\n%s", v.help)
		}
	}
	fs.Usage = func() {} // errors print one line below; --help prints usage
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return 0
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailslot %s: %v (run mailslot %s --help)\n", v.name, err, v.name)
		return 2
	}
	if err := do(env, rest); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.Stderr, "mailslot %s: %v (run mailslot %s --help)\n", v.name, err, v.name)
			return 2
		}
		fmt.Fprintf(env.Stderr, "%s\n", errorLine(v.name, err))
		var pe *privilegeError
		if errors.As(err, &pe) {
			return ExitPrivilege
		}
		return 1
	}
	return 0
}

// parseInterspersed parses flags wherever they are among the arguments;
// after "--" everything is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		if args[0] == "--" {
			return append(rest, args[1:]...), nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// errorLine is the one line a failure prints. A *mailslot.Error already
// names the operation and the slot.
func errorLine(verb string, err error) string {
	msg := err.Error()
	if !strings.HasPrefix(msg, "mailslot: ") {
		msg = "mailslot " + verb + ": " + msg
	}
	// Errors can quote the network (a far mailslotd's answer): printable.
	return printable.Line(strings.ReplaceAll(msg, "\n", " "))
}

// slotName turns a NAME argument into a mailslot name: a bare PATH means
// \\.\mailslot\PATH.
func slotName(arg string) string {
	if strings.HasPrefix(arg, `\\`) || strings.HasPrefix(arg, "//") {
		return arg
	}
	return `\\.\mailslot\` + strings.ReplaceAll(arg, "/", `\`)
}

// localName checks that NAME is a name this computer can serve.
func localName(arg string) (string, error) {
	name := slotName(arg)
	n, err := mailslot.ParseName(name)
	if err != nil {
		return "", err
	}
	if !n.IsLocal() {
		return "", usagef("%s names another computer; a slot is served on this one: use \\\\.\\mailslot\\%s", name, n.Path)
	}
	return name, nil
}

// durationFlag is a duration flag whose default reads "forever".
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil || *f.d < 0 {
		return "forever"
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	if s == "forever" {
		*f.d = mailslot.WaitForever
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a duration (like 500ms, 10s, or forever)", s)
	}
	*f.d = d
	return nil
}

// waitFlag defines a duration flag defaulting to forever.
func waitFlag(fs *flag.FlagSet, name, usage string) *time.Duration {
	d := new(time.Duration)
	*d = mailslot.WaitForever
	fs.Var(durationFlag{d}, name, usage)
	return d
}
