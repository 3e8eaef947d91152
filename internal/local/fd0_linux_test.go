//go:build linux && !mailslot_portable

package local

import (
	"testing"
	"time"
)

// A server started with its standard input closed may get descriptor 0
// for its page or for the slot's waker; writers are handed either all the
// same (a writer of another user, the page alone).
func TestServerDescriptorZero(t *testing.T) {
	for _, role := range []string{"serve-fd0-page", "serve-fd0-waker"} {
		t.Run(role, func(t *testing.T) {
			key := testKey(t)
			startServing(t, role, key)
			c, err := Dial(key, DialConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.alive == nil || c.efd < 0 {
				t.Fatalf("the writer holds the page: %v, the waker: %v; want both", c.alive != nil, c.efd >= 0)
			}
			if err := c.Write([]byte("x"), "", time.Second); err != nil {
				t.Fatal(err)
			}
			// A writer of another user gets the page without the waker.
			writeAsOtherUser(t, key, true)
		})
	}
}
