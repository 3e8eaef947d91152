package cli

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/printable"
)

func init() {
	register(&verb{
		name:    "read",
		args:    "NAME [--max-size N] [--timeout D] [--count N] [--format text|raw|hex|json] [--network] [--allow-user U] [--allow-group G] [--any-user]",
		summary: "serve a mailslot and print each record as it arrives",
		help: `Prints records until interrupted (Ctrl-C, SIGTERM: exit 0) or until --count records.
With --timeout, a read that waits longer ends the command with status 1.
Formats: text prints each record and a newline, with control and format characters (ESC,
bidirectional overrides...) and invalid UTF-8 written as escapes (\x1b, \u202e), newlines
and tabs kept; raw prints each record's bytes as they are and a newline (for pipes, never
for a terminal); hex prints a hex dump; json prints one object a line:
{"size":N,"data":"...","encoding":"utf-8"|"base64","from":"...","time":"RFC 3339"}
(data is the record as a string when it is valid UTF-8, else its base64; characters a
terminal would act on are \u escapes).

Who may write: by default the slot's own user and root. --allow-user and --allow-group
(names or numbers, repeatable) and --any-user admit other local users; --network takes
records mailslotd receives from other computers (without it, the slot is local only).
On Windows, USER and GROUP may also be SIDs (S-1-...), a number is a relative ID in
this computer's account domain, and --network has no effect (Windows delivers records
from other computers itself).

example:
  mailslot read alerts --count 1 --format json
`,
		flags: func(fs *flag.FlagSet) func(*Env, []string) error {
			maxSize := fs.Int("max-size", 0, "largest record the slot accepts, `N` bytes (0: up to 64 KiB, the most)")
			timeout := waitFlag(fs, "timeout", "how long a read waits (`D`: 500ms, 10s, forever) (default forever)")
			count := fs.Int("count", 0, "stop after `N` records (0: never)")
			format := fs.String("format", "text", "output `FORMAT`: text, raw, hex or json")
			network := fs.Bool("network", false, "take records from other computers, relayed by mailslotd")
			anyUser := fs.Bool("any-user", false, "let every local user write")
			var users, groups listFlag
			fs.Var(&users, "allow-user", "let this local `USER` write too (name or uid; repeatable)")
			fs.Var(&groups, "allow-group", "let members of this `GROUP` write too (name or gid; repeatable)")
			return func(env *Env, args []string) error {
				if len(args) != 1 {
					return usagef("read takes one NAME")
				}
				if *format != "text" && *format != "raw" && *format != "hex" && *format != "json" {
					return usagef("unknown --format %q: text, raw, hex or json", *format)
				}
				if *maxSize < 0 || *maxSize > mailslot.MaxLocalMessageSize {
					return usagef("--max-size %d is outside 0..%d: a local record is at most %d bytes (64 KiB)", *maxSize, mailslot.MaxLocalMessageSize, mailslot.MaxLocalMessageSize)
				}
				if *count < 0 {
					return usagef("--count %d is negative (0 reads until interrupted)", *count)
				}
				name, err := localName(args[0])
				if err != nil {
					return err
				}
				opts := []mailslot.Option{mailslot.WithMaxMessageSize(*maxSize), mailslot.WithReadTimeout(*timeout)}
				if *network {
					opts = append(opts, mailslot.WithNetwork())
				}
				if *anyUser {
					opts = append(opts, mailslot.WithAnyUser())
				}
				uids, usids, err := lookupIDs(users, "user")
				if err != nil {
					return err
				}
				gids, gsids, err := lookupIDs(groups, "group")
				if err != nil {
					return err
				}
				if sids := append(usids, gsids...); len(sids) > 0 {
					opts = append(opts, mailslot.WithAllowSIDs(sids...))
				}
				if len(uids) > 0 {
					opts = append(opts, mailslot.WithAllowUsers(uids...))
				}
				if len(gids) > 0 {
					opts = append(opts, mailslot.WithAllowGroups(gids...))
				}
				return read(env, name, opts, *timeout, *count, *format)
			}
		},
	})
}

func read(env *Env, name string, opts []mailslot.Option, timeout time.Duration, count int, format string) error {
	s, err := mailslot.Create(name, opts...)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for n := 0; count == 0 || n < count; n++ {
		m, err := s.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted: a normal end
			}
			if errors.Is(err, mailslot.ErrTimeout) {
				return fmt.Errorf("%w (no record within %v)", err, timeout)
			}
			return err
		}
		switch format {
		case "text":
			fmt.Fprintf(env.Stdout, "%s\n", printable.Bytes(m.Data))
		case "raw":
			fmt.Fprintf(env.Stdout, "%s\n", m.Data)
		case "hex":
			fmt.Fprintf(env.Stdout, "%d bytes from %s\n%s", len(m.Data), printable.Line(m.From), hex.Dump(m.Data))
		case "json":
			rec := jsonRecord{Size: len(m.Data), From: m.From, Time: m.Time.Format(time.RFC3339Nano), Encoding: "utf-8"}
			if utf8.Valid(m.Data) {
				rec.Data = string(m.Data)
			} else {
				rec.Data, rec.Encoding = base64.StdEncoding.EncodeToString(m.Data), "base64"
			}
			if err := writeJSONLine(env.Stdout, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeJSONLine writes v as one line of JSON that a terminal shows as
// it is (see printable.JSON).
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(printable.JSON(append(b, '\n')))
	return err
}

// jsonRecord is one line of --format json.
type jsonRecord struct {
	Size     int    `json:"size"`
	Data     string `json:"data"`
	Encoding string `json:"encoding"`
	From     string `json:"from"`
	Time     string `json:"time"`
}

// listFlag collects a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// lookupIDs turns user or group names (or numbers) into ids, or, on
// Windows, where accounts have SIDs (and os/user gives them as ids), into
// SIDs; a SID given as such ("S-1-...") stays one.
func lookupIDs(names []string, kind string) (ids []int, sids []string, _ error) {
	for _, n := range names {
		if id, err := strconv.ParseUint(n, 10, 31); err == nil {
			ids = append(ids, int(id))
			continue
		}
		if strings.HasPrefix(n, "S-1-") {
			sids = append(sids, n)
			continue
		}
		var id string
		if kind == "user" {
			u, err := user.Lookup(n)
			if err != nil {
				return nil, nil, usagef("--allow-user %s: no such user", n)
			}
			id = u.Uid
		} else {
			g, err := user.LookupGroup(n)
			if err != nil {
				return nil, nil, usagef("--allow-group %s: no such group", n)
			}
			id = g.Gid
		}
		if strings.HasPrefix(id, "S-1-") {
			sids = append(sids, id)
			continue
		}
		v, err := strconv.Atoi(id)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s has id %q", kind, n, id)
		}
		ids = append(ids, v)
	}
	return ids, sids, nil
}
