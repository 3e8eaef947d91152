package sockdir

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PeerCred returns the credentials of fd's peer (LOCAL_PEERCRED: fixed
// when the connection was made, or the server's socket began
// listening). The pid is the struct's cr_pid, which FreeBSD fills from
// 13.0 on (0 before).
func PeerCred(fd int) (Cred, error) {
	x, err := unix.GetsockoptXucred(fd, 0, unix.LOCAL_PEERCRED)
	if err != nil {
		return Cred{}, fmt.Errorf("LOCAL_PEERCRED: %w", err)
	}
	if x.Ngroups < 1 {
		return Cred{}, fmt.Errorf("LOCAL_PEERCRED: no group")
	}
	// struct xucred ends with union { pid_t cr_pid; void *_cr_unused1; }.
	pid := *(*int32)(unsafe.Add(unsafe.Pointer(x), unsafe.Sizeof(*x)-unsafe.Sizeof(uintptr(0))))
	return Cred{Pid: pid, UID: x.Uid, GID: x.Groups[0]}, nil
}
