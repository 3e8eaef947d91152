// Package mailslotd is the mailslotd command: flags, config file and
// environment turned into a daemon.Config, logging, and signals.
package mailslotd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/mailslot-go/mailslot/daemon"
)

const usage = `usage: mailslotd [flags]

mailslotd gives this computer's mailslots to the LAN: it receives mailslot
datagrams (UDP 138) for its NetBIOS name, its workgroup and broadcasts,
and large records on its stream port (TCP 1138), and hands each to the
local slot it names. It answers NetBIOS name queries (UDP 137) for its
names, and with --announce it announces the computer to its workgroup's
browse list. Binding ports below 1024 needs root or CAP_NET_BIND_SERVICE.

Settings come from --config FILE (key = value lines), then MAILSLOTD_*
environment variables, then flags; flags win.

flags:
`

// Main runs mailslotd with args (without the program name) until SIGTERM
// or SIGINT and returns the exit status. --help prints to stdout; errors
// and the log go to stderr.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailslotd", flag.ContinueOnError)
	fs.SetOutput(stderr) // a flag error: one line, then the hint below
	fs.Usage = func() {}
	config := fs.String("config", "", "read settings from `FILE`")
	flags := daemon.Settings{}
	str := func(key, def, help string) {
		fs.Func(key, help+" (default "+def+")", func(v string) error {
			if key == "interface" && flags[key] != "" {
				v = flags[key] + "," + v
			}
			flags[key] = v
			return nil
		})
	}
	str("name", "the host name", "NetBIOS computer `NAME`")
	str("workgroup", "WORKGROUP", "`WORKGROUP` or domain")
	str("interface", "every up interface that can broadcast", "serve network interface `IF` (repeatable)")
	str("name-port", "137", "UDP `PORT` of the NetBIOS name service (-1: off)")
	str("dgram-port", "138", "UDP `PORT` of the NetBIOS datagram service (-1: off)")
	str("stream-port", "1138", "TCP `PORT` for records over the datagram limit (-1: off)")
	fs.BoolFunc("share-ports", "bind UDP 137/138 beside Samba's nmbd (SO_REUSEADDR); see the README", func(v string) error {
		flags["share-ports"] = v
		return nil
	})
	fs.BoolFunc("announce", "announce this computer to its workgroup's master browser (net view, mailslot browse)", func(v string) error {
		flags["announce"] = v
		return nil
	})
	str("comment", daemon.DefaultComment, "`TEXT` announced with the computer (at most 42 bytes)")
	str("announce-reply-delay", "5s", "answer an AnnouncementRequest after a random delay up to `DURATION`")
	str("log-level", "info", "`LEVEL`: debug, info, warn or error")
	str("dedup-window", "2s", "drop copies of a datagram seen within `DURATION`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintln(stderr, "see mailslotd --help")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mailslotd: unexpected argument %q (see mailslotd --help)\n", fs.Arg(0))
		return 2
	}
	settings := daemon.Settings{}
	if *config != "" {
		s, err := daemon.ReadSettingsFile(*config)
		if err != nil {
			fmt.Fprintln(stderr, "mailslotd:", err)
			return 2
		}
		settings = s
	}
	settings = settings.Merge(daemon.SettingsFromEnv(getenv)).Merge(flags)
	cfg, level, err := settings.Config()
	if err != nil {
		fmt.Fprintln(stderr, "mailslotd:", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	d, err := daemon.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "mailslotd:", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	served := make(chan struct{})
	go func() {
		defer close(served)
		d.Serve()
	}()
	sig := <-sigs
	cfg.Logger.Info("stopping", "signal", sig.String())
	d.Close()
	<-served
	st := d.Stats()
	cfg.Logger.Info("stopped", "datagrams", st.Datagrams, "delivered", st.Delivered,
		"no_slot", st.NoSlot, "local_only", st.LocalOnly, "duplicates", st.Duplicates, "malformed", st.Malformed,
		"stream_records", st.StreamRecords, "name_queries", st.NameQueries, "not_for_us", st.NotForUs,
		"queue_full", st.QueueFull, "announcements", st.Announcements)
	return 0
}
