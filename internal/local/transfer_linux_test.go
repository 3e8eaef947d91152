//go:build linux && !mailslot_portable

package local

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// ringMaps counts this process's mappings of writers' rings (each ring is
// mapped by its writer and by the process serving it).
func ringMaps(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "memfd:mailslot-ring ")
}

// A slot handed over, with no writer or with writers and queued records,
// is served by the process that adopts it: the records queued and in the
// rings come in order, a Read asleep there is woken by a writer that
// came with the slot, and new writers are taken. The process that handed
// it over keeps no mapping of the rings.
func TestTransferCarriesTheSlot(t *testing.T) {
	for _, writers := range []int{0, 1, 3} {
		t.Run(fmt.Sprint(writers, " writers"), func(t *testing.T) {
			key := testKey(t)
			s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: -1})
			if err != nil {
				t.Fatal(err)
			}
			maps := ringMaps(t)
			var cs []*Conn
			var want []string
			for i := range writers {
				c := mustDial(t, key)
				cs = append(cs, c)
				for j := range 2 {
					r := fmt.Sprint(i, " ", j)
					mustWrite(t, c, r)
					want = append(want, r)
				}
			}
			if writers > 0 {
				s.mu.Lock()
				s.drainLocked()
				s.mu.Unlock()
				for i, c := range cs {
					r := fmt.Sprint(i, " in the ring")
					mustWrite(t, c, r)
					want = append(want, r)
				}
			}
			f, err := s.Transfer("label")
			if err != nil {
				t.Fatal(err)
			}
			if n := ringMaps(t) - maps; n != writers {
				t.Errorf("after the hand-over, %d mappings of %d writers' rings", n, writers)
			}
			s2, label, err := Adopt(f)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if label != "label" {
				t.Errorf("label %q", label)
			}
			for _, w := range want {
				if data, _ := read(t, s2); string(data) != w {
					t.Fatalf("read %q, want %q", data, w)
				}
			}
			if writers > 0 {
				// A Read asleep in the new holder, woken by a writer
				// that came with the slot; it never rechecks the rings
				// on its own for longer than the test waits.
				got := make(chan string, 1)
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					out, _, _, err := s2.Read(ctx, nil, true)
					got <- fmt.Sprint(string(out), err)
				}()
				waitSleeping(t, s2)
				mustWrite(t, cs[0], "woken")
				if g := <-got; g != "woken<nil>" {
					t.Fatalf("the sleeping Read got %q", g)
				}
			}
			c := mustDial(t, key)
			mustWrite(t, c, "new writer")
			if data, _ := read(t, s2); string(data) != "new writer" {
				t.Fatalf("read %q from a writer after the hand-over", data)
			}
		})
	}
}
