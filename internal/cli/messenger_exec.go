package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"
)

// execWaitDelay is how long a finished or killed command's output may
// stay open (held by a child it left behind) before it is closed.
const execWaitDelay = time.Second

// runCommand runs --exec for a: the shell runs CMD (see shellCommand) with
// the message in its environment and the text on its standard input, and
// is killed at the timeout or when the messenger stops.
func (d *dispatcher) runCommand(a alert) {
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	cmd := shellCommand(ctx, d.command)
	cmd.Env = append(os.Environ(),
		"MESSENGER_FROM="+a.From,
		"MESSENGER_TO="+a.To,
		"MESSENGER_TEXT="+a.Text,
		"MESSENGER_TIME="+a.Time.Format(time.RFC3339),
		"MESSENGER_ORIGIN="+a.Origin,
	)
	cmd.Stdin = strings.NewReader(a.Text + "\n")
	// The command's output goes to standard error: straight to the file
	// when it is one, else through the locked writer.
	var out io.Writer = d.stderr
	if f, ok := d.env.Stderr.(*os.File); ok {
		out = f
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = execWaitDelay
	err := cmd.Run()
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		d.stderr.printf("--exec for the message from %s did not finish within %v: killed", a.From, d.timeout)
	case d.ctx.Err() != nil:
		d.stderr.printf("--exec for the message from %s: stopped with the messenger", a.From)
	default:
		d.stderr.printf("--exec for the message from %s: %v", a.From, err)
	}
}
