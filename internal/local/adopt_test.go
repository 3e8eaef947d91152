package local

import (
	"bytes"
	"fmt"
	"testing"
)

// Large records keep the area they were received into, small ones are
// copied into chunks; either way every record reads back whole, in order,
// with its origin, and the queue's bytes go back to zero.
func TestLargeRecordsKeepTheirArea(t *testing.T) {
	s, relay, plain := serveWithWriters(t)
	type rec struct {
		data   []byte
		origin string
	}
	var recs []rec
	for i, size := range []int{MaxRecord, 10, MaxRecord, MaxRecord - 1, 40000, 30000, 1, MaxRecord, 0, 36000, MaxRecord, 5000, MaxRecord} {
		data := bytes.Repeat([]byte{byte(i + 1)}, size)
		if size > 0 {
			data[size-1] = 0xee
		}
		origin := ""
		if i%2 == 0 {
			origin = fmt.Sprintf(`\\HOST%d (10.0.0.%d:4242)`, i, i)
		}
		recs = append(recs, rec{data, origin})
	}
	for round := 0; round < 3; round++ {
		for _, r := range recs {
			c := plain
			if r.origin != "" {
				c = relay
			}
			if err := c.Write(r.data, r.origin, -1); err != nil {
				t.Fatal(err)
			}
		}
		if round == 1 {
			// Let the slot's goroutine take them all, then look at the
			// queue from the side, as a hand-over does.
			if _, n, _, _ := s.Info(); n != len(recs) {
				t.Fatalf("%d records queued, want %d", n, len(recs))
			}
			i, kept := 0, 0
			s.mu.Lock()
			for _, a := range s.q.areas {
				if a != nil {
					kept++
				}
			}
			s.q.Each(func(p []byte, m Meta) {
				if !bytes.Equal(p, recs[i].data) || m.Origin != recs[i].origin {
					t.Errorf("Each: record %d: %d bytes, origin %q", i, len(p), m.Origin)
				}
				i++
			})
			s.mu.Unlock()
			if kept != 8 { // the records of 36000 bytes and more
				t.Errorf("%d records kept their area, want 8", kept)
			}
		}
		for i, want := range recs {
			got, m := read(t, s)
			if !bytes.Equal(got, want.data) || m.Origin != want.origin {
				t.Fatalf("round %d, record %d: %d bytes, origin %q; want %d bytes, %q", round, i, len(got), m.Origin, len(want.data), want.origin)
			}
		}
		if st := s.Stats(); st.QueuedBytes != 0 {
			t.Fatalf("round %d: %d bytes still counted", round, st.QueuedBytes)
		}
	}
}
