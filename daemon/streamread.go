//go:build !windows

package daemon

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/stream"
)

// maxRequest is the size of the largest request.
const maxRequest = stream.ReqHeaderLen + stream.MaxName + stream.MaxSource + stream.MaxData

// requestBufs holds the buffers of requestReaders: room for the largest
// request placed anywhere in a page, and some for what follows it.
var requestBufs = sync.Pool{New: func() any {
	b := make([]byte, maxRequest+4095+16<<10)
	return &b
}}

// requestReader reads a stream connection's requests. It reads as much as
// the connection has into one buffer, so that a large request that has
// arrived whole costs one read(2) (each read may make the kernel send a
// window update), and it starts each request where its data will lie as
// they will in the relay's datagram to the slot, modulo a page, so that
// the kernel copies them at full speed (see local.AlignedAt). Where that
// is depends on the request's name and source lengths, known once its
// fixed part is in: the reader starts a request where the previous one's
// lengths put it, which a writer's requests to one slot all share.
//
// The reader holds its buffer only while it has bytes of a request: a
// connection that waits between requests holds none (release).
type requestReader struct {
	c    io.Reader
	bp   *[]byte
	buf  []byte
	r, w int // buf[r:w] has been read and not yet used
	at   int // where in a page the next request should start

	// onHeader, when set, is called once a request's header is in and
	// its body is still to come (the stream port gives the body a
	// deadline of its own).
	onHeader func()
}

func newRequestReader(c io.Reader) *requestReader {
	return &requestReader{c: c}
}

// buffered reports whether the reader holds bytes not yet used.
func (rr *requestReader) buffered() bool { return rr.r < rr.w }

// release gives the buffer back if the reader holds nothing in it; the
// next request takes one again.
func (rr *requestReader) release() {
	if rr.bp == nil || rr.buffered() {
		return
	}
	requestBufs.Put(rr.bp)
	rr.bp, rr.buf = nil, nil
	rr.r, rr.w = 0, 0
}

// close gives the buffer back for good.
func (rr *requestReader) close() {
	if rr.bp != nil {
		requestBufs.Put(rr.bp)
	}
	rr.bp, rr.buf = nil, nil
	rr.r, rr.w = 0, 0
}

// next reads the next request. prefix gives the bytes that come before
// the data in the datagram that will carry a request whose source is n
// bytes long. The request's Data stay valid until the next call. io.EOF
// means the peer closed cleanly between requests.
func (rr *requestReader) next(prefix func(n int) int) (stream.Request, error) {
	if rr.bp == nil {
		rr.bp = requestBufs.Get().(*[]byte)
		rr.buf = *rr.bp
		rr.r, rr.w = 0, 0
	}
	if rr.r == rr.w {
		rr.r = local.AlignIndex(rr.buf, rr.at)
		rr.w = rr.r
	}
	for rr.w-rr.r < stream.ReqHeaderLen {
		if len(rr.buf)-rr.r < stream.ReqHeaderLen {
			rr.moveTo(local.AlignIndex(rr.buf, rr.at)) // no room behind
		}
		if err := rr.fill(); err != nil {
			if rr.w > rr.r && errors.Is(err, io.EOF) {
				return stream.Request{}, fmt.Errorf("%w: short header", stream.ErrFormat)
			}
			return stream.Request{}, err
		}
	}
	nl, sl, dl, err := stream.ParseRequestHeader(rr.buf[rr.r:rr.w])
	if err != nil {
		return stream.Request{}, err
	}
	total := stream.ReqHeaderLen + nl + sl + dl
	rr.at = prefix(sl) - nl - sl - stream.ReqHeaderLen
	have := rr.w - rr.r
	if rr.r+total > len(rr.buf) || (have < total && have <= 4096 && local.AlignIndex(rr.buf[rr.r:], rr.at) != 0) {
		// No room behind, or little of the request in and misplaced:
		// move what there is to where the request should start.
		rr.moveTo(local.AlignIndex(rr.buf, rr.at))
	}
	if rr.w-rr.r < total && rr.onHeader != nil {
		rr.onHeader()
	}
	for rr.w-rr.r < total {
		if err := rr.fill(); err != nil {
			return stream.Request{}, fmt.Errorf("%w: short body: %v", stream.ErrFormat, err)
		}
	}
	op := rr.buf[rr.r+5]
	body := rr.buf[rr.r+stream.ReqHeaderLen : rr.r+total : rr.r+total]
	rr.r += total
	req := stream.ParseRequestBody(body, nl, sl)
	req.Op = op
	return req, nil
}

// moveTo moves the bytes read and not yet used, part of one request, to
// buf[to:], where to is below 4096.
func (rr *requestReader) moveTo(to int) {
	n := copy(rr.buf[to:], rr.buf[rr.r:rr.w])
	rr.r, rr.w = to, to+n
}

// fill reads what the connection has, at least one byte, behind buf[:w].
func (rr *requestReader) fill() error {
	n, err := rr.c.Read(rr.buf[rr.w:])
	rr.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}
