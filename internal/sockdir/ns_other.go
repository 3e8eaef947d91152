//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package sockdir

// nsDir is "": one directory for the whole computer.
func nsDir() string { return "" }
