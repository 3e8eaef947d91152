package daemon

import "golang.org/x/sys/unix"

// bindToDevice limits the socket to its interface (IP_BOUND_IF).
func bindToDevice(fd int, ifc Iface) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BOUND_IF, ifc.Index)
}
