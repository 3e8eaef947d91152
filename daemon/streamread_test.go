//go:build !windows

package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"unsafe"

	"github.com/mailslot-go/mailslot/internal/stream"
)

// chunkReader hands out its bytes at most n at a time.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.b))
	copy(p, c.b[:k])
	c.b = c.b[k:]
	return k, nil
}

func TestRequestReader(t *testing.T) {
	var reqs []stream.Request
	for i, size := range []int{0, 1, 100, 4095, 4096, 65536, 65536, 65536, 7, 65536, 30000} {
		data := bytes.Repeat([]byte{byte(i + 1)}, size)
		name := fmt.Sprintf(`app\jobs%d`, i%3)
		reqs = append(reqs, stream.Request{Name: name, Source: "HOST" + string(rune('A'+i%2)), Data: data})
	}
	for i := 0; i < 30000; i++ { // more than a buffer of small ones
		reqs = append(reqs, stream.Request{Name: "s", Source: "H", Data: []byte{byte(i), byte(i >> 8), 3}})
	}
	var wire []byte
	for i := range reqs {
		wire, _ = stream.AppendRequest(wire, &reqs[i])
	}
	prefix := func(n int) int { return 1 + n + 20 }
	for _, chunk := range []int{1, 13, 1000, 65536, 1 << 20, 1 << 30} {
		rr := newRequestReader(&chunkReader{b: wire, n: chunk})
		for i, want := range reqs {
			got, err := rr.next(prefix)
			if err != nil {
				t.Fatalf("chunks of %d, request %d: %v", chunk, i, err)
			}
			if got.Name != want.Name || got.Source != want.Source || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("chunks of %d, request %d: got %q %q %d bytes", chunk, i, got.Name, got.Source, len(got.Data))
			}
		}
		if _, err := rr.next(prefix); err != io.EOF {
			t.Fatalf("chunks of %d: after the last request: %v", chunk, err)
		}
		rr.close()
	}
}

// requestsReader hands out one request per Read, as a writer that waits
// for each answer sends them.
type requestsReader struct{ reqs [][]byte }

func (r *requestsReader) Read(p []byte) (int, error) {
	if len(r.reqs) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.reqs[0])
	if r.reqs[0] = r.reqs[0][n:]; len(r.reqs[0]) == 0 {
		r.reqs = r.reqs[1:]
	}
	return n, nil
}

// A writer's requests to one slot, read one by one, have their data where
// the relay datagram wants them, modulo a page, from the second on.
func TestRequestReaderPlaces(t *testing.T) {
	src := &requestsReader{}
	for _, size := range []int{65536, 65536, 100, 65000, 5000, 65536} {
		b, _ := stream.AppendRequest(nil, &stream.Request{Name: `app\jobs`, Source: "HOSTA", Data: make([]byte, size)})
		src.reqs = append(src.reqs, b)
	}
	n := len(src.reqs)
	prefix := func(n int) int { return 1 + n + 20 }
	rr := newRequestReader(src)
	defer rr.close()
	for i := 0; i < n; i++ {
		got, err := rr.next(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if at := int(uintptr(unsafe.Pointer(&got.Data[0]))) % 4096; i > 0 && at != prefix(5) {
			t.Errorf("request %d: data %d bytes into a page, want %d", i, at, prefix(5))
		}
	}
}

func TestRequestReaderTruncated(t *testing.T) {
	wire, _ := stream.AppendRequest(nil, &stream.Request{Name: "x", Source: "S", Data: []byte("data")})
	prefix := func(n int) int { return n }
	for cut := 1; cut < len(wire); cut++ {
		rr := newRequestReader(bytes.NewReader(wire[:cut]))
		if _, err := rr.next(prefix); !errors.Is(err, stream.ErrFormat) {
			t.Fatalf("request cut at %d: %v", cut, err)
		}
		rr.close()
	}
	bad := append([]byte("XXXX"), wire[4:]...)
	rr := newRequestReader(bytes.NewReader(bad))
	defer rr.close()
	if _, err := rr.next(prefix); !errors.Is(err, stream.ErrFormat) {
		t.Fatalf("bad magic: %v", err)
	}
}

// FuzzRequestReader: any bytes, in any pieces, give the requests
// stream.ReadRequest finds in them, then an error.
func FuzzRequestReader(f *testing.F) {
	good, _ := stream.AppendRequest(nil, &stream.Request{Name: `a\b`, Source: "S", Data: []byte("data")})
	f.Add(append(good, good...), uint16(3))
	f.Add(good[:20], uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint16) {
		rr := newRequestReader(&chunkReader{b: b, n: int(chunk) + 1})
		defer rr.close()
		ref := bytes.NewReader(b)
		var buf []byte
		for {
			want, nb, werr := stream.ReadRequest(ref, buf)
			buf = nb
			got, err := rr.next(func(n int) int { return n + 7 })
			if (err == nil) != (werr == nil) {
				t.Fatalf("reader: %v, stream.ReadRequest: %v", err, werr)
			}
			if err != nil {
				return
			}
			if got.Name != want.Name || got.Source != want.Source || !bytes.Equal(got.Data, want.Data) {
				t.Fatal("requests differ")
			}
		}
	})
}

// Between requests the reader gives its buffer back, and takes one again
// for the next request; bytes of a request already read keep it.
func TestRequestReaderReleasesBetweenRequests(t *testing.T) {
	var wire []byte
	var reqs []stream.Request
	for i, size := range []int{10, 65536, 0, 300} {
		reqs = append(reqs, stream.Request{Name: "s", Source: "H", Data: bytes.Repeat([]byte{byte(i)}, size)})
		wire, _ = stream.AppendRequest(wire, &reqs[i])
	}
	prefix := func(n int) int { return 1 + n + 20 }
	for _, chunk := range []int{7, 1 << 20} {
		rr := newRequestReader(&chunkReader{b: wire, n: chunk})
		headers := 0
		rr.onHeader = func() { headers++ }
		for i, want := range reqs {
			got, err := rr.next(prefix)
			if err != nil || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("chunks of %d, request %d: %v, %d bytes", chunk, i, err, len(got.Data))
			}
			rr.release()
			if held := rr.bp != nil; held != rr.buffered() {
				t.Fatalf("chunks of %d, after request %d: holds a buffer %v with bytes buffered %v", chunk, i, held, rr.buffered())
			}
		}
		if _, err := rr.next(prefix); err != io.EOF {
			t.Fatalf("chunks of %d: after the last request: %v", chunk, err)
		}
		rr.close()
		if chunk == 7 && headers == 0 {
			t.Errorf("onHeader never called for requests that came in pieces")
		}
	}
}
