//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"os"
	"syscall"
)

// waker is how a sleeping Read is woken. The Read waits for r to be
// readable in the runtime's poller, so a wake-up costs no hand-over
// between goroutines; writers, and the server itself, write to w. On
// Linux both are one eventfd; on the portable transport, a pipe (whose
// write end writers cannot read from, unlike an eventfd).
type waker struct {
	r   *os.File
	raw syscall.RawConn
	w   *os.File // nil: r itself
}

// wakerOf makes a waker of a non-blocking read end and a write end (nil
// for an eventfd); on failure it closes both.
func wakerOf(r, w *os.File) (*waker, error) {
	raw, err := r.SyscallConn()
	if err != nil {
		r.Close()
		if w != nil {
			w.Close()
		}
		return nil, err
	}
	return &waker{r: r, raw: raw, w: w}, nil
}

// wfd is the descriptor to write wake-ups to, and to hand writers.
func (k *waker) wfd() int {
	if k.w != nil {
		return int(k.w.Fd())
	}
	return int(k.r.Fd())
}

// fds returns the descriptors a hand-over carries.
func (k *waker) fds() []int {
	if k.w != nil {
		return []int{int(k.r.Fd()), int(k.w.Fd())}
	}
	return []int{int(k.r.Fd())}
}

func (k *waker) close() {
	k.r.Close()
	if k.w != nil {
		k.w.Close()
	}
}
