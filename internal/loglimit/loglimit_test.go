package loglimit

import (
	"testing"
	"time"
)

func TestLogLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var l Limiter
	for i, step := range []struct {
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{2 * time.Second, false, 0},
		{10 * time.Second, true, 2},
		{11 * time.Second, false, 0},
		{30 * time.Second, true, 1},
		{40 * time.Second, true, 0},
	} {
		ok, n := l.Allow(t0.Add(step.at), 10*time.Second)
		if ok != step.ok || n != step.suppressed {
			t.Errorf("step %d at %v: allow = %v, %d; want %v, %d", i, step.at, ok, n, step.ok, step.suppressed)
		}
	}
}
