package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os/user"
	"strings"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/messenger"
)

// messengerSlot is the mailslot NET SEND and the Messenger service use.
const messengerSlot = "messngr"

func init() {
	register(&verb{
		name:    "netsend",
		args:    "DEST [--from NAME] [--to NAME] [--codepage CP] [TEXT...]",
		summary: "send a NET SEND message to a computer, a workgroup or * (everyone)",
		help: `DEST is a computer name, a workgroup name, * (every computer of this computer's
workgroup) or . (this computer). The message goes to \\DEST\mailslot\messngr, where
'mailslot messenger' (or a Windows Messenger service, or WinPopup) shows it.
TEXT joined by spaces is the message; with no TEXT, all of standard input is one
message (its final newline removed).

A message travels in one datagram: the record (sender, recipient, text and three
NULs) is at most 407 bytes. A longer message is refused with the limit named, never
cut. Characters the code page lacks are sent as '?' (with a warning), or refused
with --strict. Windows receivers expect their OEM code page (CP850 in Western
Europe, CP437 in the US); Linux receivers read UTF-8 too.

examples:
  mailslot netsend '*' "The backup failed"
  mailslot netsend SERVER1 --from ops "Reboot at 18:00"
  df -h / | mailslot netsend OFFICE --codepage utf-8
`,
		flags: func(fs *flag.FlagSet) func(*Env, []string) error {
			o := netsendOptions{}
			fs.StringVar(&o.from, "from", "", "sender `NAME` (default USER@COMPUTER)")
			fs.StringVar(&o.to, "to", "", "recipient `NAME` in the record (default DEST; for * the workgroup)")
			fs.StringVar(&o.codepage, "codepage", "cp850", "`CP` of the record: cp850, cp437, cp858, windows-1252, utf-8...")
			fs.BoolVar(&o.strict, "strict", false, "refuse characters the code page lacks instead of sending '?'")
			fs.IntVar(&o.maxText, "max-text", 0, "refuse texts over `N` bytes (0: the datagram limit alone; 128: what Windows' NET SEND broadcasts)")
			fs.StringVar(&o.slot, "slot", messengerSlot, "mailslot `PATH` to write to on DEST")
			fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long the write may wait (`D`)")
			return func(env *Env, args []string) error {
				if len(args) < 1 {
					return usagef("netsend takes a DEST")
				}
				o.dest, o.text = args[0], args[1:]
				return netsend(env, o)
			}
		},
	})
}

type netsendOptions struct {
	dest, from, to, codepage, slot string
	text                           []string
	strict                         bool
	maxText                        int
	timeout                        time.Duration
}

func netsend(env *Env, o netsendOptions) error {
	if o.dest == "" || strings.ContainsAny(o.dest, `\/`) {
		return usagef("DEST %q is not a computer, a workgroup, * or .: give the name alone (not \\\\NAME\\mailslot\\...)", o.dest)
	}
	cp, err := messenger.ParseCodePage(o.codepage)
	if err != nil {
		return usagef("--codepage: %v", err)
	}
	if o.maxText < 0 {
		return usagef("--max-text %d is negative", o.maxText)
	}
	text, err := messageText(env.Stdin, o.text)
	if err != nil {
		return err
	}
	me := hostinfo.Lookup()
	host := strings.ToUpper(o.dest)
	if host == me.Name {
		host = "."
	}
	msg := messenger.Message{From: o.from, To: o.to, Text: text}
	if msg.From == "" {
		msg.From = userName(env) + "@" + me.Name
	}
	if msg.To == "" {
		msg.To = recipient(host, me)
	}
	opts := messenger.EncodeOptions{CodePage: cp, Strict: o.strict, MaxText: o.maxText}
	report, err := messenger.Check(msg, opts)
	if err != nil {
		return fmt.Errorf("to %s: %w", o.dest, err)
	}
	rec, err := messenger.Encode(msg, opts)
	if err != nil {
		return fmt.Errorf("to %s: %w", o.dest, err)
	}
	name := `\\` + host + `\mailslot\` + strings.ReplaceAll(o.slot, "/", `\`)
	c, err := mailslot.Open(name, mailslot.WithWriteTimeout(o.timeout))
	if err == nil {
		defer c.Close()
		_, err = c.Write(rec)
	}
	if errors.Is(err, mailslot.ErrNotFound) {
		return fmt.Errorf("%w (no 'mailslot messenger' serves it there)", err)
	}
	if err != nil {
		return err
	}
	if report.Replaced > 0 {
		fmt.Fprintf(env.Stderr, "mailslot netsend: warning: %d character(s) have no byte in %v and were sent as '?' (--codepage utf-8 suits Linux receivers; --strict refuses)\n", report.Replaced, cp)
	}
	return nil
}

// recipient is the To field for a message to host: the workgroup for *,
// this computer for ., else the NetBIOS name host stands for (a DNS
// name's first label), at most 15 bytes.
func recipient(host string, me hostinfo.Info) string {
	switch {
	case host == "*":
		return me.Workgroup
	case host == ".":
		return me.Name
	case net.ParseIP(host) == nil:
		host, _, _ = strings.Cut(host, ".")
	}
	if len(host) > messenger.MaxNameLen {
		host = host[:messenger.MaxNameLen]
	}
	return host
}

// maxStdinText bounds what netsend reads from standard input: far over
// any message's limit, so that a too-long message is refused by size.
const maxStdinText = 64 << 10

// messageText is the words joined by spaces, or all of stdin without its
// final line break.
func messageText(stdin io.Reader, words []string) (string, error) {
	text := strings.Join(words, " ")
	if len(words) == 0 {
		b, err := io.ReadAll(io.LimitReader(stdin, maxStdinText))
		if err != nil {
			return "", fmt.Errorf("read the message from standard input: %w", err)
		}
		text = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	if strings.TrimSpace(text) == "" {
		return "", usagef("no message: give TEXT or write it to standard input")
	}
	return text, nil
}

// userName is who runs this command: $USER, else the user database.
func userName(env *Env) string {
	if u := env.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
