package cli

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mailslot-go/mailslot"
)

func init() {
	register(&verb{
		name:    "send",
		args:    "NAME [--file F] [--timeout D] [TEXT...]",
		summary: "write records to a mailslot, here or on the LAN",
		help: `TEXT joined by spaces is one record. With no TEXT, each line of standard input
is one record (without its newline). --file sends a whole file as one record.

examples:
  mailslot send alerts "the backup failed"
  printf 'one\ntwo\n' | mailslot send '\\SERVER1\mailslot\alerts'
  mailslot send '\\*\mailslot\alerts' server reboots in 5 minutes
`,
		flags: func(fs *flag.FlagSet) func(*Env, []string) error {
			file := fs.String("file", "", "send the contents of `F` as one record")
			timeout := waitFlag(fs, "timeout", "how long a write waits for room in a full local slot (`D`: 500ms, 10s, forever) (default forever)")
			return func(env *Env, args []string) error {
				if len(args) < 1 {
					return usagef("send takes a NAME")
				}
				if *file != "" && len(args) > 1 {
					return usagef("give TEXT or --file, not both")
				}
				return send(env, slotName(args[0]), args[1:], *file, *timeout)
			}
		},
	})
}

func send(env *Env, name string, text []string, file string, timeout time.Duration) error {
	c, err := mailslot.Open(name, mailslot.WithWriteTimeout(timeout))
	if err != nil {
		return err
	}
	defer c.Close()
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		_, err = c.Write(b)
		return err
	case len(text) > 0:
		_, err := c.Write([]byte(strings.Join(text, " ")))
		return err
	}
	rd := bufio.NewReaderSize(env.Stdin, 64<<10)
	for line := 1; ; line++ {
		b, err := rd.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("line %d of standard input is longer than %d bytes", line, rd.Size())
		}
		if len(b) > 0 {
			rec := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			if err == nil || rec != "" {
				if _, werr := c.Write([]byte(rec)); werr != nil {
					return werr
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
