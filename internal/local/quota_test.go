//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/unix"
)

func listenT(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Key = testKey(t)
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dialT(t *testing.T, cfg DialConfig) *Conn {
	t.Helper()
	c, err := Dial(testKey(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// drain moves the records of s's rings into its queue, as a writer's
// reminder does. The lock is let go even if the drain panics, so that the
// test's Close does not wait for it for good.
func drain(s *Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drainLocked()
}

// fillRing writes rec with TryWrite until c's ring has no room for it.
func fillRing(t *testing.T, c *Conn, rec []byte) {
	t.Helper()
	for {
		ok, err := c.TryWrite(rec, "")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
	}
}

func rec(i int) []byte { return fmt.Appendf(bytes.Repeat([]byte{'.'}, 90), "%09d", i) }

// With nobody reading, a writer whose ring is full is not kept waiting:
// the server moves the ring's records into its queue. Info counts the
// records in the queue and in the ring alike, and every record is read
// back, in order, with its writer.
func TestQueueTakesTheRingWhenNobodyReads(t *testing.T) {
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 1000, ReadTimeout: 0})
	c := dialT(t, DialConfig{RingSize: MinRing})
	if atomic.LoadUint32(c.r.readerWants()) != 0 {
		t.Fatal("a new writer is asked to wake a reader that does not sleep")
	}
	n := 3 * MinRing / len(rec(0)) // three rings' worth
	for i := range n {
		if err := c.Write(rec(i), "", 10*time.Second); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	next, count, _, err := s.Info()
	if err != nil || count != n || next != len(rec(0)) {
		t.Fatalf("Info = next %d, count %d, %v; want %d, %d", next, count, err, len(rec(0)), n)
	}
	st := s.Stats()
	if st.QueuedBytes < len(rec(0)) || st.QuotaWaits != 0 {
		t.Errorf("stats %+v: want records queued and no quota wait", st)
	}
	for i := range n {
		out, _, m, err := s.Read(context.Background(), nil, true)
		if err != nil || !bytes.Equal(out, rec(i)) {
			t.Fatalf("record %d: %q, %v", i, out, err)
		}
		if m.UID != uint32(os.Geteuid()) || m.Time == 0 {
			t.Fatalf("record %d: meta %+v", i, m)
		}
	}
	if _, _, _, err := s.Read(context.Background(), nil, true); !errors.Is(err, errs.Timeout) {
		t.Fatalf("read of an empty slot: %v, want a timeout", err)
	}
	if st := s.Stats(); st.QueuedBytes != 0 || st.Records != uint64(n) || st.Bytes != uint64(n*len(rec(0))) {
		t.Errorf("stats after reading everything: %+v", st)
	}
}

// Once the queue holds its quota and the ring is full, a write that may
// not wait fails at once, one that may wait fails at its timeout; both
// are counted; reading makes room again, and nothing accepted is lost.
func TestQuotaFull(t *testing.T) {
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 1000, Quota: 2000, ReadTimeout: 0})
	c := dialT(t, DialConfig{RingSize: MinRing})
	accepted := 0
	for ; ; accepted++ {
		err := c.Write(rec(accepted), "", 0)
		if errors.Is(err, errs.Timeout) {
			break
		}
		if err != nil {
			t.Fatalf("record %d: %v", accepted, err)
		}
		if accepted > 1000 {
			t.Fatal("a slot with a quota of 2000 bytes took 1000 records")
		}
	}
	if st := s.Stats(); st.QuotaWaits == 0 || st.QuotaWaits > uint64(accepted) || st.QueuedBytes < 2000 {
		t.Errorf("quota full: stats %+v", st)
	}
	if err := c.Write(rec(accepted), "", 20*time.Millisecond); !errors.Is(err, errs.Timeout) {
		t.Fatalf("a write with a timeout into a full slot: %v", err)
	}
	if atomic.LoadUint32(c.r.writerWaits()) != 0 {
		t.Error("a writer that gave up still says it waits")
	}
	_, count, _, _ := s.Info()
	if count != accepted {
		t.Fatalf("Info counts %d records, %d were accepted", count, accepted)
	}
	// Read one; the queue is under its quota again, room comes back.
	if out, _, _, err := s.Read(context.Background(), nil, true); err != nil || !bytes.Equal(out, rec(0)) {
		t.Fatalf("first record: %q, %v", out, err)
	}
	if err := c.Write(rec(accepted), "", time.Second); err != nil {
		t.Fatalf("a write once the reader made room: %v", err)
	}
	accepted++
	for i := 1; i < accepted; i++ {
		if out, _, _, err := s.Read(context.Background(), nil, true); err != nil || !bytes.Equal(out, rec(i)) {
			t.Fatalf("record %d: %q, %v", i, out, err)
		}
	}
}

// putRaw puts a record in c's ring as a writer that ignores the limits it
// was told would: pre and p as they are, no check.
func putRaw(t *testing.T, c *Conn, pre, p []byte) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	tail, ok := c.r.put(c.tail, atomic.LoadUint64(c.r.head()), 0, pre, p)
	if !ok {
		t.Fatal("ring full")
	}
	c.tail = tail
	atomic.StoreUint64(c.r.tail(), tail)
}

// A relay's record whose payload is over the slot's maximum (its ring
// takes an origin's room more) is dropped and counted, from the ring and
// on its way to the queue alike; the records around it arrive. A plain
// writer's record over the maximum breaks its ring's format: the writer
// is cut off.
func TestOversizeFromTheRing(t *testing.T) {
	asDaemonUser(t)
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 100, ReadTimeout: 0, Network: true})
	c := dialT(t, DialConfig{Relay: true, RingSize: MinRing})
	noOrigin := []byte{0}
	putRaw(t, c, noOrigin, bytes.Repeat([]byte{'x'}, 101))
	putRaw(t, c, noOrigin, []byte("fits"))
	putRaw(t, c, noOrigin, bytes.Repeat([]byte{'y'}, 100))
	if out, _, _, err := s.Read(context.Background(), nil, true); err != nil || string(out) != "fits" {
		t.Fatalf("read %q, %v; want the record after the oversize one", out, err)
	}
	// Into the queue: the oversize record is dropped there too.
	putRaw(t, c, noOrigin, bytes.Repeat([]byte{'z'}, 101))
	putRaw(t, c, noOrigin, []byte("after"))
	drain(s)
	for _, want := range []string{string(bytes.Repeat([]byte{'y'}, 100)), "after"} {
		if out, _, _, err := s.Read(context.Background(), nil, true); err != nil || string(out) != want {
			t.Fatalf("read %q, %v; want %q", out, err, want)
		}
	}
	if st := s.Stats(); st.Oversize != 2 || st.Records != 3 || st.Malformed != 0 {
		t.Errorf("stats %+v: want 2 oversize, 3 records", st)
	}

	plain := dialT(t, DialConfig{RingSize: MinRing})
	putRaw(t, plain, nil, bytes.Repeat([]byte{'x'}, 101))
	if _, _, _, err := s.Read(context.Background(), nil, true); !errors.Is(err, errs.Timeout) {
		t.Fatalf("read after a plain writer's oversize record: %v", err)
	}
	if st := s.Stats(); st.Malformed != 1 {
		t.Errorf("stats %+v: want the plain writer counted malformed", st)
	}
	if err := plain.Write([]byte("x"), "", time.Second); !errors.Is(err, errs.NotFound) {
		t.Errorf("a write of a writer cut off: %v, want ErrNotFound", err)
	}
}

// A Read into a buffer too small leaves the record for the next Read and
// says how large it is, from the ring and from the queue.
func TestBufferTooSmall(t *testing.T) {
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 100, ReadTimeout: 0})
	c := dialT(t, DialConfig{})
	mustWrite(t, c, "twelve bytes")
	for range 2 {
		if _, n, _, err := s.Read(context.Background(), make([]byte, 11), false); !errors.Is(err, errs.BufferTooSmall) || n != 12 {
			t.Fatalf("read into 11 bytes: n %d, %v", n, err)
		}
	}
	p := make([]byte, 12)
	if out, n, _, err := s.Read(context.Background(), p, false); err != nil || n != 12 || string(out) != "twelve bytes" || &out[0] != &p[0] {
		t.Fatalf("read into 12 bytes: %q, %d, %v", out, n, err)
	}
	mustWrite(t, c, "queued record")
	drain(s)
	if _, n, _, err := s.Read(context.Background(), make([]byte, 12), false); !errors.Is(err, errs.BufferTooSmall) || n != 13 {
		t.Fatalf("read of a queued record into 12 bytes: n %d, %v", n, err)
	}
	if out, _, _, err := s.Read(context.Background(), make([]byte, 13), false); err != nil || string(out) != "queued record" {
		t.Fatalf("read of the queued record: %q, %v", out, err)
	}
}

// A read timeout ends a Read that finds nothing; the context ends it
// first when it is shorter.
func TestReadTimeout(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: 30 * time.Millisecond})
	dialT(t, DialConfig{}) // a writer: the Read sleeps on the eventfd
	// It ends at its timeout, not at the next look at the rings a
	// sleeping Read takes (sleepRecheck): the quickest of a few, so
	// that a machine busy for a moment does not count.
	quickest := time.Hour
	for range 3 {
		start := time.Now()
		if _, _, _, err := s.Read(context.Background(), nil, true); !errors.Is(err, errs.Timeout) {
			t.Fatalf("read: %v, want a timeout", err)
		}
		el := time.Since(start)
		if el < 30*time.Millisecond {
			t.Errorf("a read with a 30 ms timeout returned after %v", el)
		}
		quickest = min(quickest, el)
	}
	if quickest >= 30*time.Millisecond+sleepRecheck/2 {
		t.Errorf("reads with a 30 ms timeout returned after %v at the soonest", quickest)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := s.SetReadTimeout(-1); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.Read(ctx, nil, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with a context: %v", err)
	}
}

// A relay's record whose origin length runs past the record's end breaks
// the ring's format, whether a Read takes it or the queue does: the
// relay is cut off and counted, another writer's records still come.
func TestBrokenRelayFraming(t *testing.T) {
	asDaemonUser(t)
	for _, drained := range []bool{false, true} {
		s := listenT(t, Config{Policy: owner, ReadTimeout: 0, Network: true})
		relay := dialT(t, DialConfig{Relay: true})
		plain := dialT(t, DialConfig{})
		putRaw(t, relay, []byte{200}, []byte("short"))
		mustWrite(t, plain, "plain")
		if drained {
			drain(s)
		}
		if got := readNow(t, s); got != "plain" {
			t.Fatalf("drained %v: read %q", drained, got)
		}
		if got := readNow(t, s); got != "" {
			t.Fatalf("drained %v: read %q after the last record", drained, got)
		}
		if st := s.Stats(); st.Malformed != 1 || st.Records != 1 {
			t.Errorf("drained %v: stats %+v, want 1 malformed, 1 record", drained, st)
		}
		if err := relay.Write([]byte("x"), "o", time.Second); !errors.Is(err, errs.NotFound) {
			t.Errorf("drained %v: a write of the relay cut off: %v, want NotFound", drained, err)
		}
		s.Close()
	}
}

// The queue takes records from the rings up to its quota exactly, however
// far the rings have been read, and no further; Info's next size is the
// queue's first record's, even an empty one, else the rings'.
func TestDrainToTheQuota(t *testing.T) {
	const n = 100
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 1000, Quota: 3 * Cost(n, ""), ReadTimeout: 0})
	c := dialT(t, DialConfig{RingSize: MinRing})
	if next, _, _, _ := s.Info(); next != -1 {
		t.Fatalf("Info's next size of an empty slot: %d", next)
	}
	mustWrite(t, c, "")
	if next, _, _, _ := s.Info(); next != 0 {
		t.Fatalf("Info's next size with an empty record in the ring: %d", next)
	}
	drain(s)
	mustWrite(t, c, "12345")
	if next, count, _, _ := s.Info(); next != 0 || count != 2 {
		t.Fatalf("Info with an empty record queued and another in the ring: next %d, count %d", next, count)
	}
	for _, want := range []string{"", "12345"} {
		if got, _, _, err := s.Read(context.Background(), make([]byte, 10), false); err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	// Past the first lap of the ring.
	for i := range 2 * MinRing / n {
		mustWrite(t, c, string(rec(i)[:n]))
		if got := readNow(t, s); got != string(rec(i)[:n]) {
			t.Fatalf("read %q", got)
		}
	}
	for i := range 5 {
		mustWrite(t, c, string(rec(i)[:n]))
	}
	drain(s)
	if st := s.Stats(); st.QueuedBytes != 3*Cost(n, "") {
		t.Fatalf("the queue holds %d bytes, want its quota of %d", st.QueuedBytes, 3*Cost(n, ""))
	}
}

// A writer that waits for room is told so (msgSpace) by the Read that
// leaves its ring half empty, not before.
func TestSpaceAtHalfTheRing(t *testing.T) {
	const n = 1024 - recHdr // four fill the ring exactly
	s := listenT(t, Config{Policy: owner, MaxMessageSize: n, ReadTimeout: 0})
	c := dialT(t, DialConfig{RingSize: MinRing})
	for i := range 4 {
		if ok, err := c.TryWrite(make([]byte, n), ""); !ok || err != nil {
			t.Fatalf("record %d: %v, %v", i, ok, err)
		}
	}
	c.r.store32(offWriterWaits, 1) // as a writer waiting for room
	told := func() bool {
		var b [16]byte
		var n int
		_ = c.raw.Control(func(fd uintptr) { n, _, _ = unix.Recvfrom(int(fd), b[:], unix.MSG_DONTWAIT) })
		return n == 1 && b[0] == msgSpace
	}
	for i, want := range []bool{false, true, false, false} {
		if got := readNow(t, s); len(got) != n {
			t.Fatalf("read %d bytes", len(got))
		}
		if got := told(); got != want {
			t.Fatalf("after %d of 4 records read, told of room %v, want %v", i+1, got, want)
		}
	}
}

// Once a writer was told the queue is full, the Read that brings the queue
// under its quota moves records from the rings into it, and so gives the
// writer room; a Read that leaves the queue at its quota does not, and
// the next one still does.
func TestReadUnderTheQuotaMakesRoom(t *testing.T) {
	small, big := make([]byte, 10), make([]byte, 100)
	quota := 3 * Cost(len(big), "") // reached by the small record and three big ones, not two
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 1000, Quota: quota, ReadTimeout: 0})
	c := dialT(t, DialConfig{RingSize: MinRing})
	mustWrite(t, c, string(small))
	for i := 0; ; i++ {
		err := c.Write(big, "", 0)
		if errors.Is(err, errs.Timeout) {
			break
		}
		if err != nil || i > 1000 {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if st := s.Stats(); st.QueuedBytes != Cost(len(small), "")+quota {
		t.Fatalf("the queue holds %d bytes, want the small record and the quota's three", st.QueuedBytes)
	}
	for i, want := range []bool{false, true} {
		if _, n, _, err := s.Read(context.Background(), make([]byte, 1000), false); err != nil {
			t.Fatalf("read %d: %d bytes, %v", i, n, err)
		}
		ok, err := c.TryWrite(big, "")
		if err != nil || ok != want {
			t.Fatalf("after read %d (queue at %d bytes), TryWrite = %v, %v; want %v", i+1, s.Stats().QueuedBytes, ok, err, want)
		}
	}
}

// While a reader is at work, a full writer's reminders do not move its
// ring into the queue: the reader frees the ring. A reminder that comes
// fullRetry after the reader was last seen at work, with no read since,
// does.
func TestFullRemindersWhileAReaderWorks(t *testing.T) {
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 1000, ReadTimeout: 0})
	c := dialT(t, DialConfig{RingSize: MinRing})
	fillRing(t, c, make([]byte, 100))
	// remind acts on a reminder as the writer's connection would bring
	// it, and reports whether the ring was moved into the queue.
	remind := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.messageLocked(s.writers[0], msgFull)
		return s.q.Len() > 0
	}
	s.mu.Lock()
	s.reads++ // a Read since the writer last said it was full
	s.mu.Unlock()
	start := time.Now()
	if remind() {
		t.Fatal("the first reminder after a read moved the ring")
	}
	if remind() {
		t.Fatal("a reminder right after moved the ring")
	}
	spinFor(time.Until(start.Add(fullRetry + fullRetry/10)))
	if !remind() {
		t.Fatal("a reminder fullRetry after the last read did not move the ring")
	}
}

// A reminder that fills the queue to exactly its quota tells the waiting
// writer that the queue is full too (msgQuotaFull), and the slot then
// moves records again as soon as a Read makes room; a reminder that
// leaves the queue below its quota does not.
func TestReminderAtTheQuotaAnswersQuotaFull(t *testing.T) {
	const n = 100
	for _, tc := range []struct {
		name  string
		quota int
		full  bool
	}{
		{"at the quota", 3 * Cost(n, ""), true},
		{"below the quota", 1 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := listenT(t, Config{Policy: owner, MaxMessageSize: 1000, Quota: tc.quota, ReadTimeout: 0})
			c := dialT(t, DialConfig{RingSize: MinRing})
			fillRing(t, c, make([]byte, n))
			// The writer waits for room, as waitRoom marks it.
			c.r.store32(offWriterWaits, 1)
			s.mu.Lock()
			s.messageLocked(s.writers[0], msgFull)
			queued, waits, quotaWait := s.q.Bytes(), s.stats.QuotaWaits, s.quotaWait
			s.mu.Unlock()
			if tc.full && queued != tc.quota {
				t.Fatalf("the reminder queued %d bytes, want the quota of %d", queued, tc.quota)
			}
			if quotaWait != tc.full || (waits == 1) != tc.full {
				t.Fatalf("queue of %d bytes (quota %d): quota wait %v, %d quota waits counted; want %v", queued, tc.quota, quotaWait, waits, tc.full)
			}
			var b [16]byte
			_ = c.conn.SetReadDeadline(time.Now().Add(time.Second))
			got, err := c.conn.Read(b[:])
			if err != nil {
				t.Fatalf("no answer to the reminder: %v", err)
			}
			if last := b[got-1]; (last == msgQuotaFull) != tc.full {
				t.Fatalf("the writer was answered %q", b[:got])
			}
		})
	}
}

// A drain takes at most what the rings held when it began: a writer that
// keeps writing as fast as the server moves its records does not keep the
// slot in the drain.
func TestDrainStopsAtWhatTheRingsHeld(t *testing.T) {
	const n = 100
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 1000, Quota: 1 << 20, ReadTimeout: 0})
	busy := dialT(t, DialConfig{RingSize: MinRing})
	dialT(t, DialConfig{RingSize: MinRing}) // a writer that writes nothing
	mustWrite(t, busy, string(rec(0)[:n]))
	const most = 1000
	written := 1
	testHookRingEmpty = func(w *writer) {
		// Each look at the rings finds the idle one empty: the busy
		// writer has written its next record by then.
		if w == s.writers[1] && written < most {
			mustWrite(t, busy, string(rec(written)[:n]))
			written++
		}
	}
	defer func() { testHookRingEmpty = nil }()
	drain(s)
	testHookRingEmpty = nil
	held := 2 * MinRing / align8(recHdr+n)
	s.mu.Lock()
	got := s.q.Len()
	s.mu.Unlock()
	if got > held+1 || got < 2 {
		t.Fatalf("one drain moved %d records (%d written meanwhile); the rings held at most %d", got, written, held)
	}
}

// A writer that broke its ring's format is counted once, also when the
// same look found another writer's record and looked at the empty rings
// again.
func TestBrokenRingCountedOnceBesideARecord(t *testing.T) {
	s := listenT(t, Config{Policy: owner, MaxMessageSize: 100, ReadTimeout: 0})
	honest := dialT(t, DialConfig{RingSize: MinRing})
	broken := dialT(t, DialConfig{RingSize: MinRing})
	putRaw(t, honest, nil, []byte("honest"))
	putRaw(t, broken, nil, bytes.Repeat([]byte{'x'}, 101))
	if out, _, _, err := s.Read(context.Background(), nil, true); err != nil || string(out) != "honest" {
		t.Fatalf("read %q, %v; want the honest writer's record", out, err)
	}
	if st := s.Stats(); st.Malformed != 1 || st.Records != 1 {
		t.Errorf("stats %+v: want the broken writer counted malformed once", st)
	}
}
