//go:build !windows

package local

import (
	"bytes"
	"runtime"
	"testing"
)

// The arena packs records back to back: records that exactly fill a
// chunk share it, the next one opens another, a record larger than a
// chunk gets a block of exactly its size, and a chunk is let go as soon
// as its last record is read.
func TestQueueArena(t *testing.T) {
	var q queue
	// Four records whose costs add up to exactly one chunk.
	quarter := chunkSize/4 - recHeader
	for i := 0; i < 4; i++ {
		q.Push(bytes.Repeat([]byte{byte(i)}, quarter), Meta{PID: int32(i)})
	}
	if len(q.chunks) != 1 || len(q.chunks[0]) != chunkSize || cap(q.chunks[0]) != chunkSize {
		t.Fatalf("4 records of a quarter chunk: %d chunks, first %d/%d bytes", len(q.chunks), len(q.chunks[0]), cap(q.chunks[0]))
	}
	q.Push([]byte("next"), Meta{PID: 4})
	if len(q.chunks) != 2 || len(q.chunks[1]) != Cost(4, "") {
		t.Fatalf("a record after a full chunk: %d chunks", len(q.chunks))
	}
	// A record larger than a chunk: a block of its own, of its size; the
	// next small record takes a new chunk rather than the big block's
	// (full) tail.
	big := bytes.Repeat([]byte{0xBB}, chunkSize)
	q.Push(big, Meta{PID: 5})
	if len(q.chunks) != 3 || cap(q.chunks[2]) != Cost(chunkSize, "") {
		t.Fatalf("a record over a chunk: %d chunks, last cap %d", len(q.chunks), cap(q.chunks[len(q.chunks)-1]))
	}
	q.Push([]byte("after"), Meta{PID: 6})
	if len(q.chunks) != 4 || cap(q.chunks[3]) != chunkSize {
		t.Fatalf("a small record after a big one: %d chunks", len(q.chunks))
	}
	// A record of exactly a chunk's cost fills a pooled chunk.
	q.Push(make([]byte, chunkSize-recHeader), Meta{PID: 7})
	if len(q.chunks) != 5 || cap(q.chunks[4]) != chunkSize || len(q.chunks[4]) != chunkSize {
		t.Fatalf("a record of a chunk's cost: %d chunks, last %d/%d", len(q.chunks), len(q.chunks[4]), cap(q.chunks[4]))
	}

	// Each, starting in the middle of the first chunk, sees every record
	// left, across chunks, in order.
	if _, _, m, fit := q.Pop(nil, true); !fit || m.PID != 0 {
		t.Fatalf("first Pop: %v %+v", fit, m)
	}
	var pids []int32
	q.Each(func(_ []byte, m Meta) { pids = append(pids, m.PID) })
	if want := []int32{1, 2, 3, 4, 5, 6, 7}; !equalPIDs(pids, want) {
		t.Fatalf("Each after one Pop: %v, want %v", pids, want)
	}
	// Reading the first chunk's last record lets it go at once.
	for i := 1; i < 4; i++ {
		if len(q.chunks) != 5 {
			t.Fatalf("before reading record %d: %d chunks", i, len(q.chunks))
		}
		q.Pop(nil, true)
	}
	if len(q.chunks) != 4 || q.head != 0 {
		t.Fatalf("after the first chunk's records: %d chunks, head %d", len(q.chunks), q.head)
	}
	for pid := int32(4); pid <= 7; pid++ {
		out, _, m, fit := q.Pop(nil, true)
		if !fit || m.PID != pid || (pid == 5 && !bytes.Equal(out, big)) {
			t.Fatalf("Pop of record %d: %v %+v", pid, fit, m)
		}
		if len(q.chunks) != int(7-pid) {
			t.Fatalf("after record %d: %d chunks", pid, len(q.chunks))
		}
	}
	if q.Len() != 0 || q.Bytes() != 0 || q.chunks != nil && len(q.chunks) != 0 {
		t.Fatalf("drained: Len %d Bytes %d chunks %d", q.Len(), q.Bytes(), len(q.chunks))
	}
}

// Each stops after the queued records even when a chunk's tail holds
// bytes of records already read (Each counts records, not bytes).
func TestQueueEachCountsRecords(t *testing.T) {
	var q queue
	for i := 0; i < 3; i++ {
		q.Push([]byte{byte(i)}, Meta{PID: int32(i)})
	}
	q.Pop(nil, true)
	n := 0
	q.Each(func(p []byte, m Meta) {
		if m.PID != int32(n+1) || p[0] != byte(n+1) {
			t.Errorf("Each record %d: %+v %v", n, m, p)
		}
		n++
	})
	if n != 2 {
		t.Fatalf("Each saw %d records, want 2", n)
	}
}

func equalPIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A chunk the queue has emptied goes back to the pool and serves again:
// a queue that records pass through takes no new memory for them.
func TestQueueReusesChunks(t *testing.T) {
	var q queue
	rec := make([]byte, 150<<10) // one a chunk
	buf := make([]byte, len(rec))
	cycle := func() {
		q.Push(rec, Meta{})
		q.Push(rec, Meta{})
		q.Pop(buf, false)
		q.Pop(buf, false)
	}
	cycle()
	const cycles = 40
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range cycles {
		cycle()
	}
	runtime.ReadMemStats(&after)
	// Two chunks a cycle if none came back; the race detector's pool
	// drops a quarter of what it is given, so half a chunk a cycle.
	if got := after.TotalAlloc - before.TotalAlloc; got >= cycles*chunkSize {
		t.Errorf("%d cycles of two chunks' records took %d bytes: the chunks did not come back", cycles, got)
	}
}
