//go:build !windows

package daemon

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// failingListener fails every Accept with EMFILE, n times, then closes.
type failingListener struct{ n int }

func (l *failingListener) Accept() (net.Conn, error) {
	if l.n == 0 {
		return nil, net.ErrClosed
	}
	l.n--
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
}
func (l *failingListener) Close() error   { return nil }
func (l *failingListener) Addr() net.Addr { return &net.TCPAddr{} }

// A listener out of descriptors is logged once per interval, not once per
// failure, and accept backs off up to its longest pause.
func TestAcceptErrorsRateLimited(t *testing.T) {
	var logs bytes.Buffer
	d := &Daemon{log: slog.New(slog.NewTextHandler(&logs, nil))}
	var pauses []time.Duration
	d.serveAccept(&failingListener{n: 1000}, func(p time.Duration) { pauses = append(pauses, p) })
	if n := strings.Count(logs.String(), "accept stream connection"); n != 1 {
		t.Errorf("1000 failed accepts logged %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the log does not say why: %s", logs.String())
	}
	if len(pauses) != 1000 || pauses[0] != acceptPauseMin || pauses[999] != acceptPauseMax {
		t.Errorf("pauses: %d, first %v, last %v", len(pauses), pauses[0], pauses[len(pauses)-1])
	}
	for i := 1; i < len(pauses); i++ {
		if pauses[i] < pauses[i-1] {
			t.Fatalf("pause %d shrank while accept kept failing: %v", i, pauses[:i+1])
		}
	}
}
