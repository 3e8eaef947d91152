package bench

// clockMonotonic is NetBSD's CLOCK_MONOTONIC (<sys/time.h>), which
// golang.org/x/sys/unix does not name for NetBSD.
const clockMonotonic = 3
