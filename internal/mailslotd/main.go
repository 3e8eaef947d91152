//go:build !windows

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
	"github.com/mailslot-go/mailslot/daemon/metrics"
	"github.com/mailslot-go/mailslot/internal/version"
)

const usage = `usage: mailslotd [flags]

mailslotd gives this computer's mailslots to the LAN: it receives mailslot
datagrams (UDP 138) for its NetBIOS name, its workgroup and broadcasts,
and large records on its stream port (TCP 1138), and hands each to the
local slot it names. It answers NetBIOS name queries (UDP 137) for its
names, and with --announce it announces the computer to its workgroup's
browse list. With --wins it registers its names with WINS servers (and
local clients find computers of other subnets there); with --multicast
workgroup datagrams cross routers that forward the group. Binding ports
below 1024 needs root or CAP_NET_BIND_SERVICE.

Settings come from --config FILE (key = value lines), then MAILSLOTD_*
environment variables, then flags; flags win. SIGHUP reads them again:
log-level, dedup-window and metrics-listen change at once; the log names
any other key that changed, which takes effect after a restart.

flags:
`

// memoryLimit is the Go runtime's soft memory limit for mailslotd unless
// GOMEMLIMIT sets another.
const memoryLimit = 40 << 20

// Main runs mailslotd with args (without the program name) until SIGTERM
// or SIGINT and returns the exit status. SIGHUP reads the config file
// again: log-level, dedup-window and metrics-listen change at once, and
// the log names every other key that changed as waiting for a restart.
// --help prints to stdout; errors and the log go to stderr.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailslotd", flag.ContinueOnError)
	fs.SetOutput(stderr) // a flag error: one line, then the hint below
	fs.Usage = func() {}
	config := fs.String("config", "", "read settings from `FILE` (again on SIGHUP)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	flags := daemon.Settings{}
	str := func(key, def, help string) {
		fs.Func(key, help+" (default "+def+")", func(v string) error {
			flags.Add(key, v)
			return nil
		})
	}
	boolean := func(key, help string) {
		fs.BoolFunc(key, help, func(v string) error {
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
	boolean("share-ports", "bind UDP 137/138 beside Samba's nmbd (SO_REUSEADDR); see the README")
	boolean("announce", "announce this computer to its workgroup's master browser (net view, mailslot browse)")
	str("comment", daemon.DefaultComment, "`TEXT` announced with the computer (at most 42 bytes)")
	str("announce-reply-delay", "5s", "answer an AnnouncementRequest after a random delay up to `DURATION`")
	str("max-stream-conns", "512", "at most `N` stream connections at once")
	str("max-stream-conns-per-host", "32", "at most `N` stream connections from one address")
	str("stream-header-timeout", "5s", "close a stream connection whose request header takes longer than `DURATION`")
	str("stream-body-timeout", "10s", "close a stream connection whose request body takes longer than `DURATION`")
	str("stream-idle", "1m", "close a stream connection idle between requests for `DURATION`")
	str("log-level", "info", "`LEVEL`: debug, info, warn or error")
	str("dedup-window", "2s", "drop copies of a datagram seen within `DURATION`")
	str("metrics-listen", "off", "serve Prometheus metrics at http://`ADDR`/metrics (host:port, e.g. 127.0.0.1:9138)")
	str("wins", "none", "register this computer's names with the WINS server at `ADDR`[:PORT] and resolve names there (repeatable)")
	str("node-type", "h with --wins, else b", "how clients resolve computer names: `TYPE` b (broadcast), p (WINS), m (broadcast, then WINS), h (WINS, then broadcast)")
	str("multicast", "off", "take workgroup datagrams sent to multicast `GROUP`[:PORT] too, and have clients send theirs to it (e.g. 239.255.13.8)")
	str("multicast-ttl", "8", "the IP TTL of datagrams sent to the multicast group: `N` hops")
	natsFlags(str, boolean)
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
	if *showVersion {
		fmt.Fprintln(stdout, version.Get().String("mailslotd"))
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mailslotd: unexpected argument %q (see mailslotd --help)\n", fs.Arg(0))
		return 2
	}
	env := daemon.SettingsFromEnv(getenv)
	load := func() (daemon.Settings, daemon.Config, slog.Level, error) {
		settings := daemon.Settings{}
		if *config != "" {
			s, err := daemon.ReadSettingsFile(*config)
			if err != nil {
				return nil, daemon.Config{}, 0, err
			}
			settings = s
		}
		settings = settings.Merge(env).Merge(flags)
		cfg, level, err := settings.Config()
		return settings, cfg, level, err
	}
	settings, cfg, level, err := load()
	if err != nil {
		fmt.Fprintln(stderr, "mailslotd:", err)
		return 2
	}
	if getenv("GOMEMLIMIT") == "" {
		// A soft limit: the collector works harder as the heap nears it,
		// and memory a burst took goes back to the system soon after.
		debug.SetMemoryLimit(memoryLimit)
	}
	var levelVar slog.LevelVar
	levelVar.Set(level)
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: &levelVar}))
	log := cfg.Logger
	d, err := daemon.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "mailslotd:", err)
		return 1
	}
	reg := metrics.Registry(d.Status)
	var ms *metrics.Server
	setMetrics := func(addr string) error {
		if ms != nil {
			ms.Close()
			ms = nil
		}
		if addr == "" {
			return nil
		}
		s, err := metrics.Listen(addr, reg)
		if err != nil {
			return err
		}
		ms = s
		log.Info("serving metrics", "url", "http://"+s.Addr().String()+"/metrics")
		return nil
	}
	if err := setMetrics(settings["metrics-listen"]); err != nil {
		d.Close()
		fmt.Fprintln(stderr, "mailslotd:", err)
		return 1
	}
	defer func() {
		if ms != nil {
			ms.Close()
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	served := make(chan struct{})
	go func() {
		defer close(served)
		d.Serve()
	}()
	var sig os.Signal
	for sig = range sigs {
		if sig != syscall.SIGHUP {
			break
		}
		next, nextCfg, nextLevel, err := load()
		if err != nil {
			log.Error("reload: config not taken, nothing changed", "config", *config, "err", err)
			continue
		}
		now, restart := settings.Reload(next)
		for _, k := range now {
			switch k {
			case "log-level":
				levelVar.Set(nextLevel)
			case "dedup-window":
				d.SetDedupWindow(nextCfg.DedupWindow)
			case "metrics-listen":
				if err := setMetrics(next[k]); err != nil {
					log.Error("reload: metrics not served", "metrics_listen", next[k], "err", err)
					next[k] = "" // none served now: the same address next time is a change
					continue
				}
			}
			log.Info("reload: key "+k+" changed", "key", k, "from", settings[k], "to", next[k])
		}
		for _, k := range restart {
			log.Warn("reload: key "+k+" changed; takes effect after restart", "key", k, "running", shown(k, settings[k]), "config", shown(k, next[k]))
			next[k] = settings[k] // still running with the old value
		}
		if len(now)+len(restart) == 0 {
			log.Info("reload: no setting changed", "config", *config)
		}
		settings = next
	}
	log.Info("stopping", "signal", sig.String())
	d.Close()
	<-served
	st := d.Stats()
	log.Info("stopped", "datagrams", st.Datagrams, "delivered", st.Delivered,
		"no_slot", st.NoSlot, "local_only", st.LocalOnly, "duplicates", st.Duplicates, "malformed", st.Malformed,
		"stream_records", st.StreamRecords, "stream_errors", st.StreamErrors, "stream_refused", st.StreamRefused, "name_queries", st.NameQueries, "not_for_us", st.NotForUs,
		"queue_full", st.QueueFull, "announcements", st.Announcements)
	if b, ok := d.BridgeStats(); ok {
		log.Info("nats bridge", "published", b.Published, "received", b.Received, "deduplicated", b.Deduplicated,
			"not_bridged", b.NotBridged, "dropped", b.Dropped, "requests", b.Requests, "requests_failed", b.RequestsFailed,
			"answered", b.Answered, "held", b.Held, "held_delivered", b.HeldDelivered,
			"disconnects", b.Disconnects, "reconnects", b.Reconnects)
	}
	for _, s := range d.SlotStats() {
		cfg.Logger.Info("slot", "path", s.Path, "delivered", s.Delivered, "dropped", s.Dropped)
	}
	return 0
}
