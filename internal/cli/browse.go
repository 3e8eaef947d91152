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
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/printable"
	"github.com/mailslot-go/mailslot/internal/wire"
)

func init() {
	register(&verb{
		name:    "browse",
		args:    "[--wait D] [--watch] [--format text|json]",
		summary: "list the computers and workgroups announcing themselves on the LAN",
		help: `Serves \\.\mailslot\browse, where Windows, Samba's nmbd and mailslotd --announce
send their browser announcements, asks every computer of this computer's workgroup
to announce itself (an AnnouncementRequest to \\WORKGROUP\mailslot\browse), and lists
what it hears within --wait: the computers of the workgroup with their address, OS
version, server type and comment, and the workgroups whose master browsers announce
themselves (they do so every few minutes; the workgroup's own master browser shows as
master-browser). With --watch it prints each announcement as it comes, until
interrupted. Needs mailslotd on this computer: it is what hears the LAN.

Formats: text prints tables; json prints one object a line:
{"kind":"computer"|"workgroup","name":...,"address":...,"os":"6.1",
 "type":["workstation",...],"comment":...,"master":...,"time":...}

examples:
  mailslot browse
  mailslot browse --wait 30s --format json
  mailslot browse --watch
`,
		flags: func(fs *flag.FlagSet) func(*Env, []string) error {
			wait := fs.Duration("wait", 5*time.Second, "how long to listen for answers (`D`)")
			watch := fs.Bool("watch", false, "print announcements as they come, until interrupted")
			format := fs.String("format", "text", "output `FORMAT`: text or json")
			return func(env *Env, args []string) error {
				if len(args) != 0 {
					return usagef("browse takes no arguments")
				}
				if *format != "text" && *format != "json" {
					return usagef("unknown --format %q: text or json", *format)
				}
				return browse(env, *wait, *watch, *format == "json")
			}
		},
	})
}

// browseEntry is a computer or a workgroup heard announcing itself.
type browseEntry struct {
	Kind    string    `json:"kind"` // "computer" or "workgroup"
	Name    string    `json:"name"`
	Address string    `json:"address,omitempty"` // the sender's IP address
	OS      string    `json:"os,omitempty"`      // OS version, major.minor
	Type    []string  `json:"type"`              // server type bits
	Comment string    `json:"comment,omitempty"` // a computer's comment
	Master  string    `json:"master,omitempty"`  // a workgroup's master browser
	Time    time.Time `json:"time"`
}

// browseEntryOf turns a record of \\.\mailslot\browse into an entry;
// frames other than announcements give ok false.
func browseEntryOf(m mailslot.Message) (e browseEntry, ok bool, err error) {
	f, err := wire.DecodeBrowser(m.Data)
	if err != nil {
		if errors.Is(err, wire.ErrUnsupported) {
			return e, false, nil // another browser frame: not ours to list
		}
		return e, false, err
	}
	a, isAnn := f.(*wire.Announcement)
	if !isAnn {
		return e, false, nil
	}
	e = browseEntry{Kind: "computer", Name: a.ServerName, Address: senderAddr(m.From),
		OS: fmt.Sprintf("%d.%d", a.OSVersionMajor, a.OSVersionMinor), Type: wire.ServerTypeNames(a.ServerType),
		Comment: a.Comment, Time: m.Time}
	if a.Opcode == wire.OpDomainAnnouncement {
		// ServerName is the workgroup, Comment its master browser, and the
		// OS version fields hold the browser configuration version.
		e = browseEntry{Kind: "workgroup", Name: a.ServerName, Address: e.Address, Type: e.Type, Master: a.Comment, Time: m.Time}
	}
	if e.Type == nil {
		e.Type = []string{}
	}
	// Names and comments come from the network: printable, in text and JSON.
	e.Name, e.Comment, e.Master, e.Address = printable.Line(e.Name), printable.Line(e.Comment), printable.Line(e.Master), printable.Line(e.Address)
	return e, true, nil
}

// senderAddr takes the IP address out of a From like `\\NAME (ip:port)`.
func senderAddr(from string) string {
	i, j := strings.LastIndexByte(from, '('), strings.LastIndexByte(from, ')')
	if i < 0 || j < i {
		return ""
	}
	hp := from[i+1 : j]
	if k := strings.LastIndexByte(hp, ':'); k >= 0 {
		hp = hp[:k]
	}
	return hp
}

func browse(env *Env, wait time.Duration, watch, asJSON bool) error {
	info := hostinfo.Lookup()
	if !info.Daemon {
		return fmt.Errorf("browse: %w: no mailslotd runs on this computer, and only it hears the LAN's announcements (start mailslotd, see mailslotd --help)", mailslot.ErrUnreachable)
	}
	s, err := mailslot.Create(`\\.\mailslot\browse`, mailslot.WithNetwork())
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !watch {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	if err := requestAnnouncements(info); err != nil {
		return err
	}
	seen := map[string]browseEntry{} // by kind and name: the latest
	enc := json.NewEncoder(env.Stdout)
	for {
		m, err := s.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		e, ok, err := browseEntryOf(m)
		if err != nil {
			fmt.Fprintf(env.Stderr, "mailslot browse: ignored a malformed announcement from %s: %s\n", printable.Line(m.From), printable.Line(err.Error()))
			continue
		}
		if !ok {
			continue
		}
		if watch {
			if asJSON {
				if err := enc.Encode(e); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(env.Stdout, "%s %-9s %-15s %-15s %s\n", e.Time.Format("15:04:05"), e.Kind, e.Name, e.Address, describe(e))
			continue
		}
		seen[e.Kind+"\x00"+e.Name] = e
	}
	if watch {
		return nil
	}
	return printBrowseList(env.Stdout, info.Workgroup, seen, asJSON)
}

// requestAnnouncements asks every computer of our workgroup to announce.
func requestAnnouncements(info hostinfo.Info) error {
	req, err := wire.AppendAnnouncementRequest(nil, &wire.AnnouncementRequest{ResponseName: info.Name})
	if err != nil {
		return fmt.Errorf("browse: encode an AnnouncementRequest as %s: %w", info.Name, err)
	}
	c, err := mailslot.Open(`\\` + info.Workgroup + `\mailslot\browse`)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write(req)
	return err
}

func describe(e browseEntry) string {
	if e.Kind == "workgroup" {
		return "master " + e.Master
	}
	return fmt.Sprintf("%s %s %q", e.OS, strings.Join(e.Type, ","), e.Comment)
}

func printBrowseList(w io.Writer, workgroup string, seen map[string]browseEntry, asJSON bool) error {
	var list []browseEntry
	for _, e := range seen {
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Kind != list[j].Kind {
			return list[i].Kind < list[j].Kind // computers first
		}
		return list[i].Name < list[j].Name
	})
	if asJSON {
		enc := json.NewEncoder(w)
		for _, e := range list {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "COMPUTER\tADDRESS\tOS\tTYPE\tCOMMENT\n")
	n := 0
	for _, e := range list {
		if e.Kind == "computer" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Address, e.OS, strings.Join(e.Type, ","), e.Comment)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintf(tw, "(none answered in workgroup %s)\n", workgroup)
	}
	fmt.Fprintf(tw, "\nWORKGROUP\tMASTER BROWSER\tADDRESS\n")
	n = 0
	for _, e := range list {
		if e.Kind == "workgroup" {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Master, e.Address)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintf(tw, "(no master browser announced its workgroup)\n")
	}
	return tw.Flush()
}
