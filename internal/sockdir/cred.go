//go:build darwin || freebsd || netbsd || openbsd || dragonfly || linux

package sockdir

// Cred is who a Unix socket's peer is, in the kernel's words: the
// process that connected (seen from a server), or that made the
// server's socket listen (seen from a client).
type Cred struct {
	Pid int32  // 0 when the system does not tell
	UID uint32 // effective user
	GID uint32 // effective group
}
