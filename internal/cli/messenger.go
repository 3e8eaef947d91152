package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/notify"
	"github.com/mailslot-go/mailslot/internal/printable"
	"github.com/mailslot-go/mailslot/messenger"
)

func init() {
	register(&verb{
		name:    "messenger",
		args:    "[--allow RULE]... [--deny RULE]... [--config FILE] [--history FILE] [--exec CMD] [--no-notify]",
		summary: "serve \\\\.\\mailslot\\messngr and show each NET SEND message as it arrives",
		help: `Shows each message at once: time, sender, recipient and where it came from on one
line, the text indented below (or one JSON object a line with --format json). On a
desktop session (DBUS_SESSION_BUS_ADDRESS set, a notification service on the bus)
each message also pops up as a desktop notification. Copies of a message (same
sender and text within --dedup-window) are shown once. Runs until interrupted
(Ctrl-C, SIGTERM: exit 0) or until --count messages. Any local user may write to
the slot, as on Windows (anyone on the LAN can, through mailslotd).

RULE: from:GLOB (sender), to:GLOB (recipient), text:REGEXP, or GLOB for from:GLOB.
GLOBs ignore case; deny rules win; with allow rules, only messages that match one
are shown.

--config FILE: lines "allow RULE", "deny RULE", "history PATH", "exec CMD",
"exec-timeout D", "dedup-window D", "notify yes|no"; # starts a comment. Rules from
the file and the flags add up; other flags win over the file.

--history FILE: one JSON object a line per message shown:
{"time":"RFC 3339","from":"...","to":"...","text":"...","origin":"..."}

--exec CMD: runs sh -c CMD per message shown, one at a time, with the text on its
standard input and MESSENGER_FROM, MESSENGER_TO, MESSENGER_TEXT, MESSENGER_TIME
(RFC 3339) and MESSENGER_ORIGIN in its environment; its output goes to standard
error. It is killed (with its process group) after --exec-timeout.

examples:
  mailslot messenger --history ~/.local/share/mailslot/messages.jsonl
  mailslot messenger --deny 'text:(?i)lunch' --allow 'SRV-*' --allow 'admin@*'
  mailslot messenger --exec 'logger -t netsend "$MESSENGER_FROM: $MESSENGER_TEXT"'
`,
		flags: func(fs *flag.FlagSet) func(*Env, []string) error {
			o := messengerOptions{}
			fs.Var((*stringList)(&o.allow), "allow", "show only messages matching `RULE` (repeatable)")
			fs.Var((*stringList)(&o.deny), "deny", "hide messages matching `RULE` (repeatable)")
			fs.StringVar(&o.config, "config", "", "read rules and settings from `FILE`")
			fs.StringVar(&o.history, "history", "", "append each message shown to `FILE` (JSON lines)")
			fs.StringVar(&o.exec, "exec", "", "run `CMD` (sh -c) for each message shown")
			o.execTimeout, o.dedup = -1, -1 // not given: from --config, else the default
			fs.Var(unsetDuration{&o.execTimeout, defaultExecTimeout, false}, "exec-timeout", "kill the --exec command after `D`")
			fs.Var(unsetDuration{&o.dedup, defaultDedupWindow, true}, "dedup-window", "show copies of a message within `D` once (0: show all)")
			fs.BoolVar(&o.noNotify, "no-notify", false, "no desktop notifications")
			fs.StringVar(&o.codepage, "codepage", "auto", "`CP` of records: auto (UTF-8 when valid, else CP850), cp850, cp437, windows-1252...")
			fs.StringVar(&o.format, "format", "text", "output `FORMAT`: text or json")
			fs.IntVar(&o.count, "count", 0, "stop after `N` messages shown (0: never)")
			fs.BoolVar(&o.verbose, "verbose", false, "say on standard error why a message was not shown")
			fs.StringVar(&o.slot, "slot", messengerSlot, "serve `PATH` instead of messngr")
			return func(env *Env, args []string) error {
				if len(args) != 0 {
					return usagef("messenger takes no arguments (got %q)", args[0])
				}
				if o.format != "text" && o.format != "json" {
					return usagef("unknown --format %q: text or json", o.format)
				}
				if o.count < 0 {
					return usagef("--count %d is negative", o.count)
				}
				return runMessenger(env, o)
			}
		},
	})
}

// unsetDuration is a duration flag that stays negative when not given (so
// that a configuration file may set it), and whose help shows def, the
// value it then takes, as its default. zero says whether 0 is allowed.
type unsetDuration struct {
	d    *time.Duration
	def  time.Duration
	zero bool
}

func (f unsetDuration) String() string {
	switch {
	case f.d == nil: // the zero value flag.PrintDefaults compares with
		return ""
	case *f.d < 0:
		return f.def.String()
	}
	return f.d.String()
}

func (f unsetDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || (d == 0 && !f.zero) {
		want := "a positive duration"
		if f.zero {
			want = "a duration of 0 or more"
		}
		return fmt.Errorf("%q is not %s (like 500ms or 10s)", s, want)
	}
	*f.d = d
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

type messengerOptions struct {
	allow, deny                                   []string
	config, history, exec, codepage, format, slot string
	execTimeout, dedup                            time.Duration
	noNotify, verbose                             bool
	count                                         int
}

// Defaults of what flags and the configuration file leave unset.
const (
	defaultExecTimeout = 10 * time.Second
	defaultDedupWindow = 5 * time.Second
	notifyTimeout      = 5 * time.Second
	// alertQueue bounds the messages waiting for --exec and notification;
	// beyond it they are shown and logged but not passed on.
	alertQueue = 64
	// messengerQuota bounds the bytes queued in the slot.
	messengerQuota = 1 << 20
)

// merge applies the configuration file under the flags.
func (o *messengerOptions) merge(c *messengerConfig) {
	o.allow = append(c.allow, o.allow...)
	o.deny = append(c.deny, o.deny...)
	if o.history == "" {
		o.history = c.history
	}
	if o.exec == "" {
		o.exec = c.exec
	}
	if o.execTimeout < 0 && c.execTimeout != 0 {
		o.execTimeout = c.execTimeout
	}
	if o.dedup < 0 {
		o.dedup = c.dedup
	}
	if c.notify != nil && !*c.notify {
		o.noNotify = true
	}
}

// alert is one message shown.
type alert struct {
	Time   time.Time
	Origin string // who wrote the record: \\COMPUTER (ip:port) or a local process
	messenger.Message
}

// alertJSON is the form of --format json and of --history lines.
type alertJSON struct {
	Time   string `json:"time"`
	From   string `json:"from"`
	To     string `json:"to"`
	Text   string `json:"text"`
	Origin string `json:"origin"`
}

func (a alert) json() []byte {
	b, _ := json.Marshal(alertJSON{Time: a.Time.Format(time.RFC3339Nano), From: a.From, To: a.To, Text: a.Text, Origin: a.Origin})
	return printable.JSON(append(b, '\n'))
}

// text is the plain form: a header line, the text indented, so that no
// text can pass for a header. Everything from the network is printable
// (escapes for what a terminal would act on); the text keeps its lines
// and tabs.
func (a alert) text() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  Message from %s to %s  (%s)\n", a.Time.Local().Format("2006-01-02 15:04:05"),
		printable.Line(a.From), printable.Line(a.To), printable.Line(a.Origin))
	for _, l := range strings.Split(a.Text, "\n") {
		b.WriteString("  " + printable.Text(l) + "\n")
	}
	return []byte(b.String())
}

// lockedWriter serializes writes from the read loop, the dispatcher and
// --exec commands.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// printf writes one line; what it quotes may come from the network, so
// the line is made printable.
func (l *lockedWriter) printf(format string, args ...any) {
	fmt.Fprintf(l, "mailslot messenger: %s\n", printable.Line(fmt.Sprintf(format, args...)))
}

func runMessenger(env *Env, o messengerOptions) error {
	if o.config != "" {
		c, err := readMessengerConfig(o.config)
		if err != nil {
			return err
		}
		o.merge(c)
	}
	if o.execTimeout < 0 {
		o.execTimeout = defaultExecTimeout
	}
	if o.dedup < 0 {
		o.dedup = defaultDedupWindow
	}
	filter, err := messenger.ParseFilter(o.allow, o.deny)
	if err != nil {
		return err
	}
	var dec messenger.DecodeOptions
	if o.codepage != "auto" {
		if dec.CodePage, err = messenger.ParseCodePage(o.codepage); err != nil {
			return usagef("--codepage: %v", err)
		}
	}
	var history *os.File
	if o.history != "" {
		if err := os.MkdirAll(filepath.Dir(o.history), 0o700); err != nil {
			return fmt.Errorf("make the history file's directory: %w", err)
		}
		if history, err = os.OpenFile(o.history, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			return fmt.Errorf("open the history file: %w", err)
		}
		defer history.Close()
	}
	s, err := mailslot.Create(slotName(o.slot), mailslot.WithAnyUser(), mailslot.WithNetwork(), mailslot.WithQueueQuota(messengerQuota))
	if err != nil {
		return err
	}
	defer s.Close()
	stderr := &lockedWriter{w: env.Stderr}
	stderr.printf("serving %s", s.Name())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := newDispatcher(ctx, env, stderr, o)
	defer d.close()

	dedup := messenger.NewDeduper(o.dedup)
	for shown := 0; o.count == 0 || shown < o.count; {
		m, err := s.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted: a normal end
			}
			return err
		}
		msg, err := dec.Decode(m.Data)
		if err != nil {
			stderr.printf("ignored a record of %d bytes from %s: %v", len(m.Data), m.From, err)
			continue
		}
		if rule, ok := filter.Match(msg); !ok {
			if o.verbose {
				stderr.printf("hid a message from %s (%s)", msg.From, hiddenBy(rule))
			}
			continue
		}
		if dedup.Seen(msg, m.Time) {
			if o.verbose {
				stderr.printf("hid a copy of a message from %s (within %v)", msg.From, o.dedup)
			}
			continue
		}
		shown++
		a := alert{Time: m.Time, Origin: m.From, Message: msg}
		out := a.text()
		if o.format == "json" {
			out = a.json()
		}
		if _, err := env.Stdout.Write(out); err != nil {
			return fmt.Errorf("show the message from %s: %w", msg.From, err)
		}
		if history != nil {
			if _, err := history.Write(a.json()); err != nil {
				stderr.printf("append to the history file: %v", err)
			}
		}
		d.send(a)
	}
	return nil
}

func hiddenBy(rule string) string {
	if rule == "" {
		return "no allow rule matches"
	}
	return fmt.Sprintf("rule %q", rule)
}

// dispatcher passes messages shown to the desktop and to --exec, one at a
// time, in a goroutine of its own, so that neither can hold up the slot.
type dispatcher struct {
	ctx     context.Context
	env     *Env
	stderr  *lockedWriter
	command string
	timeout time.Duration
	notify  *notify.Client // nil: no notifications
	lastErr string         // the last notification failure said
	ch      chan alert
	done    chan struct{}
}

// newDispatcher starts the dispatcher, or none when there is nothing to
// pass messages to. ctx's end stops a running command.
func newDispatcher(ctx context.Context, env *Env, stderr *lockedWriter, o messengerOptions) *dispatcher {
	d := &dispatcher{ctx: ctx, env: env, stderr: stderr, command: o.exec, timeout: o.execTimeout}
	if addr := env.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && !o.noNotify {
		if !notify.Supported {
			stderr.printf("desktop notifications: not built for this system (its D-Bus library does not build here)")
		} else {
			d.notify = notify.New(addr, "mailslot")
			nctx, cancel := context.WithTimeout(ctx, notifyTimeout)
			ok, err := d.notify.Available(nctx)
			cancel()
			switch {
			case err != nil:
				stderr.printf("desktop notifications: cannot reach the session bus (%v); trying again with each message", err)
			case !ok:
				stderr.printf("desktop notifications: none yet (no %s on the session bus)", notify.Service)
			default:
				stderr.printf("desktop notifications: on")
			}
		}
	}
	if d.notify == nil && d.command == "" {
		return d
	}
	d.ch, d.done = make(chan alert, alertQueue), make(chan struct{})
	go d.run()
	return d
}

// send queues a for the dispatcher without waiting.
func (d *dispatcher) send(a alert) {
	if d.ch == nil {
		return
	}
	select {
	case d.ch <- a:
	default:
		d.stderr.printf("too many messages waiting for --exec and notification: the message from %s is shown only", a.From)
	}
}

// close lets the dispatcher finish what is queued (or drop it once ctx
// has ended) and waits for it.
func (d *dispatcher) close() {
	if d.ch != nil {
		close(d.ch)
		<-d.done
	}
	if d.notify != nil {
		d.notify.Close()
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	for a := range d.ch {
		if d.ctx.Err() != nil {
			continue // shutting down: drop what is left
		}
		if d.notify != nil {
			d.desktop(a)
		}
		if d.command != "" {
			d.runCommand(a)
		}
	}
}

// desktop shows a as a notification; a failure is said once until
// something changes.
func (d *dispatcher) desktop(a alert) {
	ctx, cancel := context.WithTimeout(d.ctx, notifyTimeout)
	defer cancel()
	_, err := d.notify.Notify(ctx, "Message from "+printable.Line(a.From), printable.Text(a.Text))
	msg := ""
	if err != nil && !errors.Is(err, notify.ErrNoService) {
		msg = err.Error()
	}
	if msg != d.lastErr && msg != "" {
		d.stderr.printf("desktop notification for the message from %s failed: %s", a.From, msg)
	}
	d.lastErr = msg
}
