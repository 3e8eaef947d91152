//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The state a hand-over carries: the slot's configuration, policy and
// label come back as they were, and every shorter copy of the state is
// refused as not a hand-over (never a panic, never a half-read slot).
func TestHandoffState(t *testing.T) {
	cfg := Config{
		Key:            testKey(t),
		MaxMessageSize: 1000,
		Quota:          3 << 20,
		ReadTimeout:    1234 * time.Millisecond,
		Network:        true,
		Policy:         Policy{Owner: uint32(os.Geteuid()), UIDs: []uint32{5, 6}, GIDs: []uint32{7, 8, 9}},
	}
	s, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// What moves: the queue (records with their metadata and origins) and
	// the writers being handed on.
	type record struct {
		data string
		m    Meta
	}
	records := []record{
		{"one", Meta{PID: 11, UID: 12, Time: 13}},
		{"", Meta{PID: 21, UID: 22, Time: 23, Origin: `\\HOSTA (10.0.0.1:138)`}},
		{"three", Meta{PID: -1, UID: 1 << 31, Time: -5}},
	}
	moving := []*writer{
		{pid: 100, uid: 101, gid: 102, relay: true, r: &ring{size: 8192}, h: 1 << 40, last: 55},
		{pid: 200, uid: 201, gid: 202, r: &ring{size: 4096}, h: 3, last: -1},
	}
	for _, r := range records {
		s.q.Push([]byte(r.data), r.m)
	}
	f, err := snapshotWith(s, "the label", moving, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, q, label, moved, _, err := restore(f)
	if err != nil {
		t.Fatal(err)
	}
	if label != "the label" {
		t.Errorf("label %q", label)
	}
	if !reflect.DeepEqual(got, cfg) {
		t.Errorf("config\n%+v, want\n%+v", got, cfg)
	}
	wantMoved := []movedWriter{
		{pid: 100, uid: 101, gid: 102, relay: true, size: 8192, h: 1 << 40, last: 55},
		{pid: 200, uid: 201, gid: 202, size: 4096, h: 3, last: -1},
	}
	if !reflect.DeepEqual(moved, wantMoved) {
		t.Errorf("moved writers\n%+v, want\n%+v", moved, wantMoved)
	}
	var back []record
	q.Each(func(p []byte, m Meta) { back = append(back, record{string(p), m}) })
	if !reflect.DeepEqual(back, records) {
		t.Errorf("queue\n%+v, want\n%+v", back, records)
	}

	all := readAllFrom(t, f)
	dir := t.TempDir()
	for n := 0; n < len(all); n++ {
		p := filepath.Join(dir, "cut")
		if err := os.WriteFile(p, all[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		cut, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, _, _, err = restore(cut)
		cut.Close()
		if !errors.Is(err, ErrNotHandoff) {
			t.Fatalf("state cut to %d of %d bytes: %v, want ErrNotHandoff", n, len(all), err)
		}
	}

}

func readAllFrom(t *testing.T, f *os.File) []byte {
	t.Helper()
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	var b []byte
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return b
}

// A count in the state is below 2^24: one of 2^24 or more marks the
// state bad (and is not taken modulo 2^24).
func TestHandoffStateCount(t *testing.T) {
	for _, c := range []struct {
		n   uint32
		bad bool
	}{{0, false}, {1<<24 - 1, false}, {1 << 24, true}, {1<<24 + 3, true}, {^uint32(0), true}} {
		d := &dec{b: binary.LittleEndian.AppendUint32(nil, c.n)}
		got := d.count()
		if d.bad != c.bad || (!c.bad && got != int(c.n)) {
			t.Errorf("count %d: %d, bad %v", c.n, got, d.bad)
		}
	}
}

// snapshotWith writes s's state as Transfer would with wk as its waker,
// letting go of the lock even if that panics.
func snapshotWith(s *Server, label string, moving []*writer, wk *waker) (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wk = wk
	defer func() { s.wk = nil }()
	return s.snapshotLocked(label, moving)
}
