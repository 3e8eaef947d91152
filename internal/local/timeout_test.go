//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// SetReadTimeout applies to reads already under way: a Read that waits
// forever returns once the timeout is set to 0, whatever it was doing when
// the timeout changed (here: it has just begun, and looks at the rings for
// a moment before it sleeps).
func TestSetReadTimeoutReachesARead(t *testing.T) {
	s, err := Listen(Config{Policy: owner, Key: testKey(t), ReadTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 200; i++ {
		if err := s.SetReadTimeout(-1); err != nil {
			t.Fatal(err)
		}
		done := readAsync(context.Background(), s)
		// Once the Read has begun (it counts itself under the lock it
		// holds until it first lets go), change the timeout.
		for {
			s.mu.Lock()
			n := s.reads
			s.mu.Unlock()
			if n == uint64(i+1) {
				break
			}
			time.Sleep(time.Microsecond)
		}
		if err := s.SetReadTimeout(0); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, errs.Timeout) {
				t.Fatalf("Read = %v, want a timeout", err)
			}
		case <-time.After(10 * time.Second):
			// A hang, not a slow answer: the Read waits for good.
			s.Close()
			<-done
			t.Fatalf("attempt %d: a Read kept waiting after SetReadTimeout(0)", i)
		}
	}
}
