//go:build !windows && !netbsd

package bench

import "golang.org/x/sys/unix"

// clockMonotonic is the system's CLOCK_MONOTONIC.
const clockMonotonic = unix.CLOCK_MONOTONIC
