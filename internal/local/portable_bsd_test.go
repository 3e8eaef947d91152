//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"os"
	"testing"
)

// otherFSRing would be a ring on another file system than the socket
// directory's; these systems offer none that is sure to be one (a test
// of it runs on Linux with the tag mailslot_portable).
func otherFSRing(*testing.T) *os.File { return nil }
