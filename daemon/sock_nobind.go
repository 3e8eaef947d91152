//go:build freebsd || netbsd || openbsd || dragonfly

package daemon

// bindToDevice does nothing: the socket hears every interface.
func bindToDevice(fd int, ifc Iface) error { return nil }
