// Command mailslot serves and writes mailslots; see internal/cli and the
// README.
package main

import (
	"os"

	"github.com/mailslot-go/mailslot/internal/cli"
)

func main() {
	benchChild() // returns unless `mailslot bench` started this process as a writer
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
