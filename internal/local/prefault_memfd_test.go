//go:build linux && !mailslot_portable

package local

import (
	"bytes"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of mem (page-aligned) in memory.
func resident(t *testing.T, mem []byte) int {
	t.Helper()
	vec := make([]byte, (len(mem)+sysPage-1)/sysPage)
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// A writer maps its ring's pages ahead of its records in chunks, during
// the ring's first pass, and no further than a chunk and a half ahead:
// memory follows the records. The reader maps ahead of its head alike.
// (MADV_POPULATE_*: Linux 5.14 and later. The portable transport's ring
// is a file, which the kernel reads ahead of what is asked: only a memfd
// ring shows the bound.)
func TestRingMappedAheadOfRecords(t *testing.T) {
	s := listenT(t, Config{Policy: owner, ReadTimeout: -1})
	c := dialT(t, DialConfig{RingSize: 4 << 20})
	pages := func(from, to int) int { return resident(t, c.r.data[from:to]) }
	const chunk = faultChunk

	mustWrite(t, c, "first")
	if noPrefault.Load() {
		t.Fatal("the kernel refused MADV_POPULATE_WRITE")
	}
	if got := pages(0, chunk); got != chunk/sysPage {
		t.Fatalf("after one record: %d of the first chunk's %d pages mapped", got, chunk/sysPage)
	}
	if got := pages(chunk, len(c.r.data)); got != 0 {
		t.Fatalf("after one record: %d pages mapped past the first chunk", got)
	}
	if data, _ := read(t, s); string(data) != "first" {
		t.Fatalf("read %q", data)
	}
	s.mu.Lock()
	w := s.writers[0]
	if w.faulted != chunk {
		t.Errorf("the reader mapped %d bytes ahead of its head, want %d", w.faulted, chunk)
	}
	s.mu.Unlock()

	// Records up to half a chunk: the next chunk is mapped, no more.
	rec := bytes.Repeat([]byte{'r'}, 1000)
	for c.tail < chunk/2 {
		if err := c.Write(rec, "", -1); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.Read(t.Context(), make([]byte, len(rec)), false); err != nil {
			t.Fatal(err)
		}
	}
	if got := pages(0, 2*chunk); got != 2*chunk/sysPage {
		t.Fatalf("past half the first chunk: %d of two chunks' %d pages mapped", got, 2*chunk/sysPage)
	}
	if got := pages(2*chunk, len(c.r.data)); got != 0 {
		t.Fatalf("past half the first chunk: %d pages mapped past the second", got)
	}
	s.mu.Lock()
	if w.faulted != 2*chunk {
		t.Errorf("the reader mapped %d bytes ahead, want %d", w.faulted, 2*chunk)
	}
	s.mu.Unlock()
}

// faultAhead's bookkeeping: it maps from what is done (or from pos's page
// when pos ran past it), a chunk at most, and nothing past the first pass.
func TestFaultAheadSteps(t *testing.T) {
	mem, err := unix.Mmap(-1, 0, ringHdr+2<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	r := newRing(mem)
	const chunk = faultChunk
	for _, c := range []struct {
		pos, done, want uint64
	}{
		{0, 0, chunk},
		{chunk/2 - 1, chunk, chunk},   // more than half a chunk ahead: nothing
		{chunk / 2, chunk, 2 * chunk}, // half a chunk ahead: the next
		{3*chunk + 5000, chunk, (3*chunk+5000)&^uint64(sysPage-1) + chunk}, // ran past: from pos's page
		{2<<20 - 100, 7 * chunk, 2 << 20},                                  // the last chunk, cut at the end
		{5 << 20, 1 << 20, 2 << 20},                                        // past the first pass
		{100, 2 << 20, 2 << 20},                                            // all done
	} {
		done := c.done
		r.faultAhead(c.pos, &done, true)
		if done != c.want {
			t.Errorf("faultAhead(pos %d, done %d): done %d, want %d", c.pos, c.done, done, c.want)
		}
	}
}

// A writer can cut its ring file short under the reader's mapping (the
// portable transport's rings are files): mapping ahead must then fail
// quietly, never raise SIGBUS in the reader, and leave prefaulting on.
func TestPrefaultOfACutFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "ring")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const size = 1 << 20
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	prefault(mem[:faultChunk], true)
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	prefault(mem[faultChunk:], true)
	prefault(mem[faultChunk:], false)
	if noPrefault.Load() {
		t.Fatal("a cut file turned prefaulting off")
	}
}
