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
	"runtime/debug"
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

// memoryLimit is the Go runtime's soft memory limit for mailslotd unless
// GOMEMLIMIT sets another.
const memoryLimit = 40 << 20

// Main runs mailslotd with args (without the program name) until SIGTERM
// or SIGINT and returns the exit status.
func Main(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailslotd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
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
	str("max-stream-conns", "512", "at most `N` stream connections at once")
	str("max-stream-conns-per-host", "32", "at most `N` stream connections from one address")
	str("stream-header-timeout", "5s", "close a stream connection whose request header takes longer than `DURATION`")
	str("stream-body-timeout", "10s", "close a stream connection whose request body takes longer than `DURATION`")
	str("stream-idle", "1m", "close a stream connection idle between requests for `DURATION`")
	str("log-level", "info", "`LEVEL`: debug, info, warn or error")
	str("dedup-window", "2s", "drop copies of a datagram seen within `DURATION`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
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
	if getenv("GOMEMLIMIT") == "" {
		// A soft limit: the collector works harder as the heap nears it,
		// and memory a burst took goes back to the system soon after.
		debug.SetMemoryLimit(memoryLimit)
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
		"stream_records", st.StreamRecords, "stream_errors", st.StreamErrors, "stream_refused", st.StreamRefused, "name_queries", st.NameQueries, "not_for_us", st.NotForUs,
		"queue_full", st.QueueFull, "announcements", st.Announcements)
	for _, s := range d.SlotStats() {
		cfg.Logger.Info("slot", "path", s.Path, "delivered", s.Delivered, "dropped", s.Dropped)
	}
	return 0
}
