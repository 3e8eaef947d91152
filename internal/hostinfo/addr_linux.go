package hostinfo

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/mailslot-go/mailslot/internal/sockdir"
)

// Addr is the abstract socket mailslotd answers on.
const Addr = "@mailslotd/v1/info"

// StatusAddr is the abstract socket mailslotd tells its status on (see
// ListenStatus and AskStatus).
const StatusAddr = "@mailslotd/v1/status"

// listenSock binds and listens on an abstract address: the kernel frees
// it with the last descriptor, so nothing else holds the name.
func listenSock(addr string) (*net.UnixListener, *sockdir.Claim, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, holder(addr)
		}
		return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil, nil
}

// boundBy finds the process holding the Unix stream socket bound to addr
// in this thread's network namespace, and the user it runs as.
func boundBy(addr string) (pid int32, uid uint32, ok bool) {
	f, err := os.Open("/proc/thread-self/net/unix")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	// Num RefCount Protocol Flags Type St Inode Path
	inode := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) == 8 && fl[4] == "0001" && fl[7] == addr {
			inode = fl[6]
			break
		}
	}
	if inode == "" {
		return 0, 0, false
	}
	target := "socket:[" + inode + "]"
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err != nil || l != target {
			continue
		}
		dir := filepath.Dir(filepath.Dir(fd))
		p, err := strconv.ParseInt(filepath.Base(dir), 10, 32)
		if err != nil {
			continue
		}
		if u, ok := effectiveUID(dir); ok {
			return int32(p), u, true
		}
	}
	return 0, 0, false
}

// effectiveUID reads a process's effective uid from /proc/PID/status.
func effectiveUID(procDir string) (uint32, bool) {
	b, err := os.ReadFile(procDir + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			// real, effective, saved, filesystem
			if f := strings.Fields(rest); len(f) >= 2 {
				if n, err := strconv.ParseUint(f[1], 10, 32); err == nil {
					return uint32(n), true
				}
			}
		}
	}
	return 0, false
}
