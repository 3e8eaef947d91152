//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// Writer processes die by SIGKILL at random points while others write: in
// the middle of a record, between a record and the next, while waiting
// for room. A record whose Write returned is in the server's mapping of
// the ring, so it must be read, whole, even though its writer is gone; a
// record half written must never show; each writer's records come in
// order, with no gap before the last one it reported; and the writers
// that live on lose nothing.
func TestKilledWriters(t *testing.T) {
	key := testKey(t)
	// A small queue: when the reader falls behind, writers wait for room
	// (and some are killed waiting).
	s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: -1, Quota: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>32))

	const victims, survivors, perSurvivor = 5, 3, 2000
	type child struct {
		id       int
		victim   bool
		killAt   int // lines read before SIGKILL
		cmd      *exec.Cmd
		reported int // last sequence number the child printed, -1 for none
	}
	var children []*child
	for i := 0; i < victims+survivors; i++ {
		c := &child{id: i, victim: i < victims, reported: -1}
		if c.victim {
			c.killAt = rng.IntN(3000)
		}
		count := 0 // until killed
		if !c.victim {
			count = perSurvivor
		}
		c.cmd = helperCmd("seq-writer", key, "MAILSLOT_TEST_ID="+strconv.Itoa(i), "MAILSLOT_TEST_COUNT="+strconv.Itoa(count))
		c.cmd.Stderr = os.Stderr
		children = append(children, c)
	}

	// The reader: every record, by writer pid.
	got := map[int32][][]byte{}
	ctx, stopReading := context.WithCancel(context.Background())
	defer stopReading()
	readDone := make(chan error, 1)
	go func() {
		for {
			out, _, m, err := s.Read(ctx, nil, true)
			if err != nil {
				readDone <- err
				return
			}
			got[m.PID] = append(got[m.PID], out)
		}
	}()

	var wg sync.WaitGroup
	for _, c := range children {
		out, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.cmd.Process.Kill() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines := 0
			if c.victim && c.killAt == 0 {
				c.cmd.Process.Signal(syscall.SIGKILL)
			}
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				seq, err := strconv.Atoi(sc.Text())
				if err != nil || seq != c.reported+1 {
					t.Errorf("writer %d said %q after %d", c.id, sc.Text(), c.reported)
				}
				c.reported = seq
				lines++
				if c.victim && lines == c.killAt {
					c.cmd.Process.Signal(syscall.SIGKILL)
				}
			}
			err := c.cmd.Wait()
			if c.victim {
				if c.killAt > 0 && lines < c.killAt {
					t.Errorf("writer %d ended after %d records, before its kill at %d: %v", c.id, lines, c.killAt, err)
				}
			} else if err != nil {
				t.Errorf("writer %d: %v", c.id, err)
			}
		}()
	}
	wg.Wait()

	// Every writer has ended: what its ring holds is all there will be.
	// Stop the reader, then read the rest without waiting.
	stopReading()
	if err := <-readDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("read: %v", err)
	}
	if err := s.SetReadTimeout(0); err != nil {
		t.Fatal(err)
	}
	for {
		out, _, m, err := s.Read(context.Background(), nil, true)
		if errors.Is(err, errs.Timeout) {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got[m.PID] = append(got[m.PID], out)
	}
	if _, n, _, _ := s.Info(); n != 0 {
		t.Errorf("Read found no record, but Info counts %d", n)
	}

	for _, c := range children {
		recs := got[int32(c.cmd.Process.Pid)]
		for seq, r := range recs {
			if want := seqRecord(c.id, seq); !bytes.Equal(r, want) {
				t.Fatalf("writer %d: record %d of %d is %.40q… (%d bytes), want %.40q… (%d bytes)", c.id, seq, len(recs), r, len(r), want, len(want))
			}
		}
		last := len(recs) - 1
		switch {
		case !c.victim && last != perSurvivor-1:
			t.Errorf("writer %d lived: %d records arrived, want %d", c.id, len(recs), perSurvivor)
		case c.victim && last < c.reported:
			t.Errorf("writer %d, killed after reporting record %d: only %d records arrived", c.id, c.reported, len(recs))
		}
		t.Logf("writer %d: killed %v after %d, reported %d, %d arrived", c.id, c.victim, c.killAt, c.reported+1, len(recs))
	}
	st := s.Stats()
	if st.Malformed != 0 || st.Oversize != 0 {
		t.Errorf("Stats = %+v", st)
	}
	t.Logf("%d times a writer was told the queue is full", st.QuotaWaits)
}
