//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package hostinfo

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/mailslot-go/mailslot/internal/sockdir"
	"golang.org/x/sys/unix"
)

// Addr is the socket mailslotd answers on: mailslotd-info in the socket
// directory (package sockdir), where a lock file beside it says which
// process holds it.
var Addr = sockdir.Path("mailslotd-info")

// StatusAddr is the socket mailslotd tells its status on (see
// ListenStatus and AskStatus).
var StatusAddr = sockdir.Path("mailslotd-status")

// listenSock takes the name of addr in the socket directory and listens
// on it; a server killed before it could remove its socket leaves the
// socket file, which the next one removes (sockdir.Listen).
func listenSock(addr string) (*net.UnixListener, *sockdir.Claim, error) {
	ln, claim, err := sockdir.Listen(filepath.Base(addr), unix.SOCK_STREAM)
	if err != nil {
		if errors.Is(err, sockdir.ErrHeld) {
			return nil, nil, holder(addr)
		}
		return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, claim, nil
}

// boundBy would find a process that holds addr without listening; the
// socket directory's names are held by listening processes (and their
// lock files), and there is no /proc to look in.
func boundBy(addr string) (pid int32, uid uint32, ok bool) { return 0, 0, false }
