//go:build !windows

// Command gendocs writes the man pages and shell completions of mailslot
// and mailslotd, made from their --help texts (package docgen):
//
//	go run ./internal/docgen/gendocs -o DIR [-version V]
//
// DIR/man/{mailslot.1,mailslotd.8,mailslotd.conf.5} and
// DIR/completions/{bash,zsh,fish}/...
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mailslot-go/mailslot/internal/docgen"
)

func main() {
	out := flag.String("o", "", "write into `DIR`")
	version := flag.String("version", "dev", "the `VERSION` the man pages name")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: gendocs -o DIR [-version V]")
		os.Exit(2)
	}
	if err := docgen.Write(*out, *version); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
