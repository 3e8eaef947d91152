package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// dgramSock is a datagram socket of the daemon (port 138 or the multicast
// group's, one per interface): its loop receives in batches (dgramBatch),
// and the daemon sends its own datagrams from it.
//
// On Linux it is a blocking socket that the Go runtime's poller does not
// watch. A watched socket costs each datagram that arrives while the
// poller's thread waits in epoll_wait a wake-up of that thread, paid by
// the sender (on a LAN of veths, the sending process runs the receive
// path), even when the daemon's loop does not wait for the socket, as in
// its pause under a flood (dgramBatch.read); the woken thread then takes
// the CPU the sender needs. Its loop waits in recvmmsg(2) itself, and
// Close wakes it with shutdown(2).
type dgramSock struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// listenDgram binds the wildcard address on port, tied to one interface
// (SO_BINDTODEVICE), so that it receives that interface's broadcasts and
// unicasts and sends from it.
func listenDgram(ifc Iface, port int, share bool) (*dgramSock, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("datagram socket for port %d on %s: %w", port, ifc.Name, err)
	}
	if err := setUDPOptions(fd, ifc, share); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("datagram socket for port %d on %s: %w", port, ifc.Name, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
		unix.Close(fd)
		return nil, bindError("udp", port, err)
	}
	// A blocking descriptor: os.NewFile leaves it out of the poller.
	f := os.NewFile(uintptr(fd), "udp4:"+strconv.Itoa(port)+"@"+ifc.Name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("datagram socket for port %d on %s: %w", port, ifc.Name, err)
	}
	return &dgramSock{f: f, rc: rc}, nil
}

// SyscallConn gives the socket's descriptor, for options.
func (s *dgramSock) SyscallConn() (syscall.RawConn, error) { return s.rc, nil }

// WriteToUDPAddrPort sends one datagram to an IPv4 address.
func (s *dgramSock) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	a := to.Addr().Unmap()
	if !a.Is4() {
		return 0, fmt.Errorf("send a datagram to %s: not an IPv4 address", to)
	}
	sa := &unix.SockaddrInet4{Port: int(to.Port()), Addr: a.As4()}
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		for {
			serr = unix.Sendto(int(fd), b, 0, sa)
			if serr != unix.EINTR {
				return true
			}
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("send a datagram to %s: %w", to, err)
	}
	return len(b), nil
}

// Close ends a receive waiting on the socket (shutdown wakes it, and it
// then reports net.ErrClosed) and closes it; the descriptor itself is
// closed once no call uses it any more.
func (s *dgramSock) Close() error {
	if s.closed.Swap(true) {
		return net.ErrClosed
	}
	_ = s.rc.Control(func(fd uintptr) {
		// An unconnected socket answers ENOTCONN, but marks itself shut
		// and wakes its waiters all the same.
		_ = unix.Shutdown(int(fd), unix.SHUT_RDWR)
	})
	return s.f.Close()
}

// joinGroup has s take the datagrams sent to group on interface ifi.
func joinGroup(s *dgramSock, ifi *net.Interface, group netip.Addr) error {
	return sockopt(s, func(fd int) error {
		return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP,
			&unix.IPMreqn{Multiaddr: group.As4(), Ifindex: int32(ifi.Index)})
	})
}

// readyMulticast sets what s's datagrams to a group do: cross ttl
// routers, and not come back to this computer.
func readyMulticast(s *dgramSock, ttl int) error {
	return sockopt(s, func(fd int) error {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl); err != nil {
			return fmt.Errorf("multicast TTL %d: %w", ttl, err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0); err != nil {
			return fmt.Errorf("multicast loopback off: %w", err)
		}
		return nil
	})
}
