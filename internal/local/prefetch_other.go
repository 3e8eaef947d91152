//go:build (linux || darwin || freebsd || netbsd || openbsd || dragonfly) && !amd64 && !arm64

package local

import "unsafe"

// canPrefetchWrite: not on this architecture; writers do without.
const canPrefetchWrite = false

func prefetchWrite(unsafe.Pointer) {}
