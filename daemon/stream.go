package daemon

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/stream"
)

// streamIdle is how long a stream connection may sit between requests.
const streamIdle = 2 * time.Minute

func (d *Daemon) acceptLoop() {
	defer d.wg.Done()
	for {
		c, err := d.stream.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			d.log.Warn("accept stream connection", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			c.Close()
			return
		}
		d.conns[c] = struct{}{}
		d.wg.Add(1)
		d.mu.Unlock()
		go d.serveStream(c)
	}
}

// streamOrigin says where a record from the stream port came from.
func streamOrigin(source, remote string) string { return `\\` + source + " (" + remote + ")" }

// originLen is len(streamOrigin(source, remote)) for a source of n bytes.
func originLen(n int, remote string) int { return len(`\\ ()`) + n + len(remote) }

// serveStream answers one connection's requests, one at a time.
func (d *Daemon) serveStream(c net.Conn) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		delete(d.conns, c)
		d.mu.Unlock()
		c.Close()
	}()
	rr := newRequestReader(c)
	defer rr.release()
	var out []byte
	var source, origin string // the last request's source, and the origin made of it
	remote := c.RemoteAddr().String()
	prefix := func(n int) int { return local.RelayPrefixLen(originLen(n, remote)) }
	for {
		_ = c.SetReadDeadline(time.Now().Add(streamIdle))
		req, err := rr.next(prefix)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				d.c.streamErrors.Add(1)
				d.log.Debug("stream connection ended", "from", c.RemoteAddr(), "err", err)
				if errors.Is(err, stream.ErrFormat) {
					out = stream.AppendResponse(out[:0], &stream.Response{Status: stream.BadRequest, Message: err.Error()})
					_, _ = c.Write(out)
				}
			}
			return
		}
		d.c.streamRecords.Add(1)
		if origin == "" || req.Source != source {
			source, origin = req.Source, streamOrigin(req.Source, remote)
		}
		key := local.Key(req.Name)
		err = d.deliverKey(key, req.Data, origin, d.cfg.StreamWait)
		d.queues.count(key, req.Name, err)
		resp := d.streamResult(req.Name, err)
		out = stream.AppendResponse(out[:0], &resp)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// streamResult says what became of a record, for its writer.
func (d *Daemon) streamResult(path string, err error) stream.Response {
	if err == nil {
		return stream.Response{Status: stream.OK}
	}
	slot := fmt.Sprintf(`\\%s\mailslot\%s`, d.cfg.Name, path)
	switch {
	case errors.Is(err, errs.NotFound):
		d.c.noSlot.Add(1)
		return stream.Response{Status: stream.NotFound, Message: "nothing serves " + slot}
	case errors.Is(err, errs.MessageTooLarge):
		return stream.Response{Status: stream.TooLarge, Message: "record over the maximum size of " + slot}
	case errors.Is(err, errs.Timeout):
		d.c.queueFull.Add(1)
		return stream.Response{Status: stream.Busy, Message: slot + " stayed full for " + d.cfg.StreamWait.String()}
	case errors.Is(err, errs.Permission):
		d.c.localOnly.Add(1)
		d.log.Debug("slot takes no records from the network, stream record refused", "slot", path,
			"admit", "serve it with mailslot.WithNetwork() or mailslot read --network", "err", err)
		return stream.Response{Status: stream.Refused, Message: slot + " takes no records from the network"}
	}
	return stream.Response{Status: stream.Failed, Message: err.Error()}
}
