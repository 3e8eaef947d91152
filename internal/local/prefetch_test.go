//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import "testing"

func TestPrefetchSpan(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		fetched, tail, head, size uint64
		from, to                  uint64
	}{
		{"first record", 0, 120, 0, 1 << 16, 64, 120 + writeAhead},
		{"next record", 120 + writeAhead, 240, 0, 1 << 16, 576, 240 + writeAhead},
		{"fetched to a line's middle", 100, 100, 0, 1 << 16, 64, 100 + writeAhead},
		{"a large record jumped past", 600, 70000, 65536, 1 << 20, 69952, 70000 + writeAhead},
		{"stops at the reader's unread records", 0, 3900, 0, 4096, 3840, 4096},
		{"full ring", 4096, 4096, 0, 4096, 4096, 4096},
		{"fetched beyond the tail's window", 5000, 4000, 2000, 4096, 4992, 4992},
		{"after the reader moved on", 13000, 13000, 10000, 4096, 12992, 13000 + writeAhead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := prefetchSpan(tc.fetched, tc.tail, tc.head, tc.size)
			if from != tc.from || to != tc.to {
				t.Fatalf("prefetchSpan(%d, %d, %d, %d) = [%d, %d), want [%d, %d)",
					tc.fetched, tc.tail, tc.head, tc.size, from, to, tc.from, tc.to)
			}
		})
	}
}

// A writer prefetches up to writeAhead past its tail, never into
// records the reader has still to read.
func TestWriterPrefetches(t *testing.T) {
	if !canPrefetchWrite {
		t.Log("this CPU cannot prefetch for writing: fetched stays 0")
	}
	listenT(t, Config{Policy: owner, MaxMessageSize: 1000})
	c := dialT(t, DialConfig{RingSize: MinRing})
	rec := make([]byte, 1000)
	for i := range 3 {
		if err := c.Write(rec, "", -1); err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		tail, head, fetched := c.tail, c.head, c.fetched
		c.mu.Unlock()
		want := uint64(0)
		if canPrefetchWrite {
			want = min(tail+writeAhead, head+MinRing)
		}
		if fetched != want {
			t.Fatalf("after record %d (tail %d, head %d): prefetched to %d, want %d", i+1, tail, head, fetched, want)
		}
	}
}
