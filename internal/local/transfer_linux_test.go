//go:build linux && !mailslot_portable

package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ringMaps counts this process's mappings of writers' rings (each ring is
// mapped by its writer and by the process serving it).
func ringMaps(t *testing.T) int { return memfdMaps(t, "mailslot-ring") }

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
				drain(s)
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

// openFds counts this process's open descriptors.
func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Adopt refuses a hand-over whose descriptors do not match its state (one
// too many; a writer's missing; a writer whose ring the state sizes
// wrongly), as not a hand-over, and closes every descriptor it got.
func TestAdoptRefusesBadHandoffs(t *testing.T) {
	s := listenT(t, Config{Policy: owner})
	for _, tc := range []struct {
		name    string
		waker   bool  // the state names a waker, which comes
		extra   bool  // one descriptor more comes with the first message
		writers []int // the writers' ring sizes in the state, each sent with a socket and a ring
		missing bool  // the writers' message does not come
		more    int   // writers sent beyond the state's
		want    string
	}{
		{name: "a descriptor too many", extra: true, want: "1 descriptors with the slot beside its socket and state, want 0"},
		{name: "a descriptor too many with the waker", waker: true, extra: true, want: "2 descriptors with the slot beside its socket and state, want 1"},
		{name: "a writer missing", waker: true, writers: []int{MinRing}, missing: true, want: "writers"},
		{name: "a writer's ring of a bad size", waker: true, writers: []int{1000, MinRing}, want: "bad writer"},
		{name: "a writer too many", waker: true, writers: []int{MinRing}, more: 1, want: "wrong number of descriptors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := openFds(t)
			ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: "@" + testKey(t), Net: "unixpacket"})
			if err != nil {
				t.Fatal(err)
			}
			lnF, err := ln.File()
			ln.Close()
			if err != nil {
				t.Fatal(err)
			}
			var moving []*writer
			for _, size := range tc.writers {
				moving = append(moving, &writer{r: &ring{size: uint64(size)}})
			}
			var wk *waker
			if tc.waker {
				if wk, err = newWaker(); err != nil {
					t.Fatal(err)
				}
			}
			state, err := snapshotWith(s, "bad", moving, wk)
			if err != nil {
				t.Fatal(err)
			}
			first := []int{int(lnF.Fd()), int(state.Fd())}
			if wk != nil {
				first = append(first, wk.fds()...)
			}
			var junk []*os.File
			if tc.extra {
				f, err := os.Open(os.DevNull)
				if err != nil {
					t.Fatal(err)
				}
				junk = append(junk, f)
				first = append(first, int(f.Fd()))
			}
			pair, err := socketpair(handoffType)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Sendmsg(pair[0], []byte(handoffMagic), unix.UnixRights(first...), nil, 0); err != nil {
				t.Fatal(err)
			}
			if len(tc.writers) > 0 && !tc.missing {
				var fds []int
				for range len(tc.writers) + tc.more {
					p, err := socketpair(SockType)
					if err != nil {
						t.Fatal(err)
					}
					unix.Close(p[1])
					_, rf, err := makeRing(MinRing)
					if err != nil {
						t.Fatal(err)
					}
					junk = append(junk, os.NewFile(uintptr(p[0]), "conn"), rf)
					fds = append(fds, p[0], int(rf.Fd()))
				}
				if err := unix.Sendmsg(pair[0], []byte("W"), unix.UnixRights(fds...), nil, 0); err != nil {
					t.Fatal(err)
				}
			}
			unix.Close(pair[0])
			for _, f := range append(junk, lnF, state) {
				f.Close()
			}
			if wk != nil {
				wk.close()
			}
			_, _, err = Adopt(os.NewFile(uintptr(pair[1]), "handoff"))
			if !errors.Is(err, ErrNotHandoff) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Adopt = %v, want ErrNotHandoff saying %q", err, tc.want)
			}
			if n := openFds(t); n != before {
				t.Errorf("%d descriptors open after the refused hand-over, %d before", n, before)
			}
		})
	}
}

// A writer that leaves with nothing unread is forgotten at once: the
// server keeps neither its ring's mapping nor its descriptor.
func TestLeavingWriterForgotten(t *testing.T) {
	s := listenT(t, Config{Policy: owner})
	// The first writer brings the slot's waker, which stays.
	dialT(t, DialConfig{}).Close()
	waitNoConns(t, s)
	before := openFds(t)
	c := dialT(t, DialConfig{})
	c.Close()
	waitNoConns(t, s)
	s.mu.Lock()
	n := len(s.writers)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d writers kept after the only one left", n)
	}
	if after := openFds(t); after != before {
		t.Fatalf("%d descriptors open, %d before the writer came", after, before)
	}
}
