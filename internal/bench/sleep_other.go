//go:build !linux

package bench

import "time"

// preciseSleep sleeps d (time.Sleep: golang.org/x/sys offers no
// nanosleep here).
func preciseSleep(d time.Duration) { time.Sleep(d) }
