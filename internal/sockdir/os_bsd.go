//go:build netbsd || openbsd || dragonfly

package sockdir

import (
	"fmt"
	"runtime"
)

// PeerCred is not written yet for this system (OpenBSD's SO_PEERCRED,
// NetBSD's LOCAL_PEEREID and DragonFly's LOCAL_PEERCRED are not in
// golang.org/x/sys/unix): every peer is refused.
func PeerCred(fd int) (Cred, error) {
	return Cred{}, fmt.Errorf("peer credentials are not supported on %s yet", runtime.GOOS)
}
