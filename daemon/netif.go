//go:build !windows

package daemon

import (
	"context"
	"errors"
	"fmt"
	"github.com/mailslot-go/mailslot/internal/netif"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Iface is a network interface the daemon serves.
type Iface = netif.Iface

// Interfaces returns the named interfaces, or every interface that is up,
// can broadcast and has an IPv4 address when names is empty.
func Interfaces(names []string) ([]Iface, error) { return netif.List(names) }

const rcvBuf = 4 << 20

// listenUDP binds the wildcard address on port, tied to one interface
// where the system can (bindToDevice), so that it receives that
// interface's broadcasts and unicasts and sends from it.
func listenUDP(ifc Iface, port int, share bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = setUDPOptions(int(fd), ifc, share) }); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, bindError("udp", port, err)
	}
	return pc.(*net.UDPConn), nil
}

// setUDPOptions readies a UDP socket before its bind: tied to ifc where
// the system can (bindToDevice), sharing its port with others when share
// (--share-ports), allowed to broadcast, and with room for a burst.
func setUDPOptions(fd int, ifc Iface, share bool) error {
	if err := bindToDevice(fd, ifc); err != nil {
		return fmt.Errorf("tie the socket to %s: %w", ifc.Name, err)
	}
	if share {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("share the port: %w", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
		return fmt.Errorf("allow broadcasts: %w", err)
	}
	// Room for a burst: 4 MiB of datagrams waiting.
	setRecvBuf(fd, rcvBuf)
	return nil
}

// rcvBufOpt returns c's SO_RCVBUF as the kernel reports it (0 if it
// cannot tell).
func rcvBufOpt(c syscall.Conn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return n
}

// ErrPrivilegedPort and ErrPortInUse explain a failed bind.
var (
	ErrPrivilegedPort = errors.New("binding a port below 1024 needs root or CAP_NET_BIND_SERVICE")
	ErrPortInUse      = errors.New("port in use")
)

// bindError turns a bind failure into a message that says what to do.
func bindError(proto string, port int, err error) error {
	switch {
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: cannot bind %s port %d: run mailslotd as root, or give it the capability with `setcap cap_net_bind_service=+ep $(command -v mailslotd)`, or use ports above 1023 (--name-port, --dgram-port)", ErrPrivilegedPort, proto, port)
	case errors.Is(err, syscall.EADDRINUSE):
		who := PortOwner(proto, port)
		hint := "stop it, or give mailslotd other ports (--dgram-port, --name-port, --stream-port)"
		if strings.Contains(who, "nmbd") {
			hint = "Samba's nmbd holds the NetBIOS ports: stop it (systemctl stop nmbd) if this host needs no Samba browsing, or run mailslotd beside it with --share-ports (it then hears broadcasts and workgroup datagrams, and records by name come over its stream port), or on other ports (--name-port, --dgram-port); see README, 'mailslotd beside Samba'"
		}
		if who == "" {
			who = "another program"
		}
		return fmt.Errorf("%w: %s port %d is held by %s: %s", ErrPortInUse, proto, port, who, hint)
	}
	return fmt.Errorf("bind %s port %d: %w", proto, port, err)
}

// PortOwner names the process holding a local port ("nmbd (pid 42)"), or
// "" when it cannot tell (another user's process, without root).
func PortOwner(proto string, port int) string {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/" + proto, "/proc/net/" + proto + "6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 {
				continue
			}
			_, hexPort, ok := strings.Cut(f[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(p) != port {
				continue
			}
			if proto == "tcp" && f[3] != "0A" { // LISTEN
				continue
			}
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		target, err := os.Readlink(fd)
		if err != nil || !inodes[target] {
			continue
		}
		pid := strings.Split(fd, "/")[2]
		comm, _ := os.ReadFile("/proc/" + pid + "/comm")
		return fmt.Sprintf("%s (pid %s)", strings.TrimSpace(string(comm)), pid)
	}
	return ""
}
