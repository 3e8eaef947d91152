//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// A Read waiting on a slot that has no waker yet (no writer came) ends
// as its timeout, a change of it, or its context says.
func TestReadWaitingWithoutWaker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		end     func(s *Server, cancel context.CancelFunc)
		want    error
	}{
		{"timeout", 20 * time.Millisecond, nil, errs.Timeout},
		{"timeout set to 0", -1, func(s *Server, _ context.CancelFunc) { s.SetReadTimeout(0) }, errs.Timeout},
		{"context", -1, func(_ *Server, cancel context.CancelFunc) { cancel() }, context.Canceled},
		{"close", -1, func(s *Server, _ context.CancelFunc) { s.Close() }, errs.Closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := listenT(t, Config{Policy: owner, ReadTimeout: tc.timeout})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, _, _, err := s.Read(ctx, nil, true)
				done <- err
			}()
			if tc.end != nil {
				waitSleeping(t, s)
				tc.end(s, cancel)
			}
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Fatalf("Read = %v, want %v", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				s.Close()
				<-done
				t.Fatal("the Read still waits")
			}
		})
	}
}

// A Read asleep on the slot's waker returns as soon as a writer's record
// comes, not at its next look at the rings (sleepRecheck): the quickest
// of a few, so that a machine busy for a moment does not count.
func TestWakeIsPrompt(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: -1})
	c := dialT(t, DialConfig{})
	quickest := time.Hour
	for i := range 3 {
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _, _, err := s.Read(ctx, nil, true)
			done <- err
		}()
		waitSleeping(t, s)
		start := time.Now()
		mustWrite(t, c, fmt.Sprint(i))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		quickest = min(quickest, time.Since(start))
	}
	if quickest >= sleepRecheck/2 {
		t.Fatalf("a sleeping Read took %v at the soonest to see a record", quickest)
	}
}

// Records of different writers with the same stamp come in the order
// their writers connected.
func TestEqualStampsInConnectionOrder(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: 0})
	a := dialT(t, DialConfig{})
	b := dialT(t, DialConfig{})
	putRaw(t, b, nil, []byte("b"))
	putRaw(t, a, nil, []byte("a"))
	for _, want := range []string{"a", "b"} {
		if got := readNow(t, s); got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
}

// The one writer of a slot does not stamp its records: each record's
// time is when the slot took it, never a time before it was written.
func TestRecordTimeOfASingleWriter(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: 0})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "first")
	if got := readNow(t, s); got != "first" {
		t.Fatalf("read %q", got)
	}
	before := time.Now().UnixNano()
	mustWrite(t, c, "second")
	_, _, m, err := s.Read(context.Background(), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if m.Time < before {
		t.Fatalf("a record written at %d has the time %d", before, m.Time)
	}
}

// A relay's largest record, with the longest origin, is taken whole, for
// the largest maximum and for a small one.
func TestRelayLargestRecord(t *testing.T) {
	asDaemonUser(t)
	origin := strings.Repeat("o", MaxOrigin)
	for _, max := range []int{0, 100} {
		s := listenT(t, Config{Policy: owner, ReadTimeout: 0, Network: true, MaxMessageSize: max})
		c := dialT(t, DialConfig{Relay: true})
		p := bytes.Repeat([]byte{'x'}, s.MaxMessageSize())
		if err := c.Write(p, origin, time.Second); err != nil {
			t.Fatal(err)
		}
		out, _, m, err := s.Read(context.Background(), nil, true)
		if err != nil || !bytes.Equal(out, p) || m.Origin != origin {
			t.Fatalf("max %d: read %d bytes from %d bytes of origin, %v", max, len(out), len(m.Origin), err)
		}
		s.Close()
	}
}
