//go:build !windows

// Command mailslotd is the mailslot host service; see internal/mailslotd
// and the README.
package main

import (
	"os"

	"github.com/mailslot-go/mailslot/internal/mailslotd"
)

func main() { os.Exit(mailslotd.Main(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }
