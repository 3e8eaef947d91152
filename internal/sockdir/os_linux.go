package sockdir

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// nsDir names the directory of this thread's network namespace: on
// Linux, local names belong to the network namespace, as abstract
// socket names do (the lab's hosts of the LAN tests are namespaces of
// one file system).
func nsDir() string {
	var st unix.Stat_t
	if unix.Stat("/proc/thread-self/ns/net", &st) != nil {
		return ""
	}
	return "net-" + strconv.FormatUint(st.Ino, 10)
}

// PeerCred returns the credentials of fd's peer (SO_PEERCRED: fixed when
// the connection was made, or when the server's socket began listening).
func PeerCred(fd int) (Cred, error) {
	c, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Cred{}, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	return Cred{Pid: c.Pid, UID: c.Uid, GID: c.Gid}, nil
}
