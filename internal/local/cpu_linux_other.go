//go:build linux && !amd64

package local

// lslCPU has no segment to read outside amd64.
func lslCPU() (v uint32, ok bool) { return 0, false }
