// Package loglimit lets a repeated log line through at most once per
// interval, counting those it held back, so that a failure that repeats
// (an accept that keeps failing, a server that keeps refusing) costs one
// line per interval, not one per occurrence.
package loglimit

import "time"

// Limiter is one log line's limit. The zero value lets the first line
// through. It is not safe for concurrent use.
type Limiter struct {
	last       time.Time
	suppressed int
}

// Allow reports whether to log now, and how many were held back since the
// last log.
func (l *Limiter) Allow(now time.Time, every time.Duration) (bool, int) {
	if !l.last.IsZero() && now.Sub(l.last) < every {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}
