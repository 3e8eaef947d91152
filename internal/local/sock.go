//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"net"

	"golang.org/x/sys/unix"
)

// rights returns the descriptors that came in a message's control data
// (SCM_RIGHTS). The caller owns them all, and closes those it does not
// keep: a peer may send more than it was asked for.
func rights(oob []byte) []int {
	var fds []int
	cms, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	for i := range cms {
		if got, err := unix.ParseUnixRights(&cms[i]); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

// readMsg reads one message of the connection protocol into b, and the
// descriptors sent with it into oob. On a SOCK_SEQPACKET socket that is
// one read, and a message of another size is returned as it came (n
// tells; a longer one is cut, with MSG_TRUNC in flags). On a stream
// (the portable transport) it reads until b is full or the stream ends
// (readRest); descriptors come with the message's first byte, and any
// sent with a later part are refused (MSG_CTRUNC in flags).
func readMsg(c *net.UnixConn, b, oob []byte) (n, oobn, flags int, err error) {
	n, oobn, flags, _, err = c.ReadMsgUnix(b, oob)
	n, flags, err = readRest(c, b, n, flags, err)
	return n, oobn, flags, err
}
