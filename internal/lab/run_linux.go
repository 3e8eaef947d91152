package lab

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Run runs fn on an OS thread switched into the host's namespace. Sockets
// fn opens belong to the host, also after fn returns. Goroutines fn starts
// do not run in the namespace.
func (h *Host) Run(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("open this thread's namespace: %w", err)
			return // the thread stays locked and dies with the goroutine
		}
		defer home.Close()
		f, err := os.Open("/var/run/netns/" + h.NS)
		if err != nil {
			errc <- fmt.Errorf("open namespace %s: %w", h.NS, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter namespace %s: %w", h.NS, err)
			return
		}
		err = fn()
		// Back home, the thread may serve other goroutines again; if it
		// cannot go back, it stays locked and dies with this goroutine.
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
