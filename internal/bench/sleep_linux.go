package bench

import (
	"time"

	"golang.org/x/sys/unix"
)

// preciseSleep sleeps d with nanosleep, which, unlike time.Sleep, keeps
// sub-millisecond gaps.
func preciseSleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.Nanosleep(&ts, nil)
}
