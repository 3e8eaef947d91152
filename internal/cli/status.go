//go:build !windows

package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/printable"
)

func init() {
	register(&verb{
		name:    "status",
		args:    "[--json]",
		summary: "show what the running mailslotd is doing",
		help: `Asks this computer's mailslotd over its local socket (@mailslotd/v1/status)
and prints its names, interfaces, ports, uptime, counters and the local slots
it delivered records to. The answer is believed only from a process of root,
of MAILSLOT_DAEMON_USER or of your own user. Slot names are shown to root and
to mailslotd's users only.
`,
		flags: func(fs *flag.FlagSet) func(*Env, []string) error {
			asJSON := fs.Bool("json", false, "print the daemon's answer as JSON")
			return func(env *Env, args []string) error {
				if len(args) > 0 {
					return usagef("status takes no arguments")
				}
				return status(env, *asJSON)
			}
		},
	})
}

func status(env *Env, asJSON bool) error {
	b, err := hostinfo.AskStatus()
	if err != nil {
		if errors.Is(err, hostinfo.ErrNoDaemon) {
			return fmt.Errorf("%w: no mailslotd runs on this computer (start it: see mailslotd --help)", mailslot.ErrUnreachable)
		}
		return err
	}
	var st daemon.Status
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("mailslotd's answer on %s does not decode: %w", hostinfo.StatusAddr, err)
	}
	if asJSON {
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "  "); err != nil {
			return err
		}
		out.WriteByte('\n')
		_, err := env.Stdout.Write(printable.JSON(out.Bytes()))
		return err
	}
	return printStatus(env.Stdout, &st)
}

// printStatus writes the table form of a status. What came from the
// network (slot paths) is made printable.
func printStatus(w io.Writer, st *daemon.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := printable.Line
	port := func(n int, proto string) string {
		if n < 0 {
			return "off"
		}
		return strconv.Itoa(n) + "/" + proto
	}
	fmt.Fprintf(tw, "computer\t%s\n", p(st.Name))
	fmt.Fprintf(tw, "workgroup\t%s\n", p(st.Workgroup))
	fmt.Fprintf(tw, "version\t%s\n", p(st.Version.String("mailslotd")))
	fmt.Fprintf(tw, "started\t%s (up %s)\n", st.Started.Local().Format("2006-01-02 15:04:05"), st.Uptime.String())
	fmt.Fprintf(tw, "ports\tname %s, datagram %s, stream %s\n", port(st.NamePort, "udp"), port(st.DgramPort, "udp"), port(st.StreamPort, "tcp"))
	for _, ifc := range st.Interfaces {
		fmt.Fprintf(tw, "interface\t%s %s (broadcast %s)\n", p(ifc.Name), p(ifc.Addr), p(ifc.Broadcast))
	}
	fmt.Fprintf(tw, "dedup window\t%s (%d datagrams remembered)\n", st.DedupWindow.String(), st.DedupEntries)
	fmt.Fprintf(tw, "stream connections\t%d open\n", st.StreamConnections)
	fmt.Fprintf(tw, "relayed slots\t%d connected\n", st.RelaySlots)
	if st.NodeType != "" {
		fmt.Fprintf(tw, "node type\t%s\n", p(st.NodeType))
	}
	if st.Multicast != "" {
		fmt.Fprintf(tw, "multicast group\t%s\n", p(st.Multicast))
	}
	for _, n := range st.WINS {
		state := n.State
		if n.RCode != "" {
			state += " " + n.RCode
		}
		if n.Owner != "" {
			state += " (held by " + n.Owner + ")"
		}
		if n.State == daemon.WINSRegistered {
			state += " (ttl " + n.TTL.String() + ")"
		}
		fmt.Fprintf(tw, "wins %s\t%s %s\n", p(n.Server), p(n.Name), p(state))
	}
	s := st.Stats
	fmt.Fprintln(tw)
	for _, c := range []struct {
		name string
		v    uint64
	}{
		{"datagrams for us", s.Datagrams}, {"records delivered", s.Delivered}, {"no such slot", s.NoSlot},
		{"local-only slot", s.LocalOnly}, {"slot full", s.QueueFull}, {"duplicates", s.Duplicates},
		{"not for us", s.NotForUs}, {"malformed", s.Malformed}, {"stream records", s.StreamRecords},
		{"stream errors", s.StreamErrors}, {"name queries", s.NameQueries}, {"announcements", s.Announcements},
	} {
		fmt.Fprintf(tw, "%s\t%d\n", c.name, c.v)
	}
	if b := st.Bridge; b != nil {
		state := "down (reconnecting)"
		if b.Connected {
			state = "connected to " + p(b.Server)
		}
		fmt.Fprintln(tw)
		fmt.Fprintf(tw, "nats bridge\t%s, site %s\n", state, p(b.Site))
		for _, c := range []struct {
			name string
			v    uint64
		}{
			{"nats published", b.Published}, {"nats received", b.Received}, {"nats deduplicated", b.Deduplicated},
			{"nats not bridged", b.NotBridged}, {"nats dropped", b.Dropped}, {"nats requests", b.Requests},
			{"nats requests failed", b.RequestsFailed}, {"nats answered", b.Answered},
			{"nats held", b.Held}, {"nats held delivered", b.HeldDelivered},
			{"nats disconnects", b.Disconnects}, {"nats reconnects", b.Reconnects},
		} {
			fmt.Fprintf(tw, "%s\t%d\n", c.name, c.v)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if st.SlotsHidden {
		_, err := fmt.Fprintln(w, "(slots are shown to root and mailslotd's users only)")
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SLOT\tDELIVERED\tDROPPED\tQUEUED\n")
	slots := st.Slots
	if st.OtherSlots != nil {
		o := *st.OtherSlots
		o.Path = fmt.Sprintf("(%d+ others)", daemon.MaxSlotStats)
		slots = append(slots, o)
	}
	for _, sl := range slots {
		q := "-"
		if sl.QueueDepth >= 0 {
			q = strconv.Itoa(sl.QueueDepth)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", strings.ReplaceAll(p(sl.Path), "\t", " "), sl.Delivered, sl.Dropped, q)
	}
	if len(slots) == 0 {
		fmt.Fprintf(tw, "(none yet)\n")
	}
	return tw.Flush()
}
