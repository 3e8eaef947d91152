//go:build !windows

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
	"github.com/mailslot-go/mailslot/internal/loglimit"
	"github.com/mailslot-go/mailslot/internal/printable"
	"github.com/mailslot-go/mailslot/internal/stream"
	"golang.org/x/sys/unix"
)

func (d *Daemon) acceptLoop() {
	defer d.wg.Done()
	d.serveAccept(d.stream, time.Sleep)
}

// Backoff after a failed accept: from acceptPauseMin, doubling to
// acceptPauseMax while accept keeps failing. An accept that fails for want
// of descriptors (EMFILE) fails again at once until a connection closes.
const (
	acceptPauseMin = 5 * time.Millisecond
	acceptPauseMax = time.Second
	// acceptLogEvery is the least time between two logs of failed accepts.
	acceptLogEvery = 10 * time.Second
)

// serveAccept accepts stream connections on ln until it closes, within
// the caps on connections; sleep pauses after a failed accept.
func (d *Daemon) serveAccept(ln net.Listener, sleep func(time.Duration)) {
	pause := time.Duration(0)
	var logs loglimit.Limiter
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			pause = min(max(2*pause, acceptPauseMin), acceptPauseMax)
			if ok, more := logs.Allow(time.Now(), acceptLogEvery); ok {
				d.log.Warn("accept stream connection", "err", err, "failed_since_last_log", more, "pause", pause)
			}
			sleep(pause)
			continue
		}
		pause = 0
		host := remoteHost(c)
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			c.Close()
			return
		}
		if len(d.conns) >= d.cfg.MaxStreamConns || d.perHost[host] >= d.cfg.MaxStreamConnsPerHost {
			d.mu.Unlock()
			d.c.streamRefused.Add(1)
			if d.log.Enabled(context.Background(), slog.LevelDebug) {
				d.log.Debug("stream connection refused: too many", "from", c.RemoteAddr().String(),
					"max", d.cfg.MaxStreamConns, "max_per_host", d.cfg.MaxStreamConnsPerHost)
			}
			refuse(c)
			continue
		}
		d.conns[c] = struct{}{}
		d.perHost[host]++
		d.wg.Add(1)
		d.mu.Unlock()
		go d.serveStream(c, host)
	}
}

// refuse closes a connection over the caps at once, with a reset rather
// than a FIN, so that it costs no TIME_WAIT state here.
func refuse(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func remoteHost(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		a, _ := netip.AddrFromSlice(ta.IP)
		return a.Unmap()
	}
	return netip.Addr{}
}

// streamOrigin says where a record from the stream port came from: the
// sender's computer name it gave, made printable and shortened so that
// its address always fits in the origin.
func streamOrigin(source, remote string) string {
	return printable.Origin(source, remote, local.MaxOrigin)
}

// serveStream answers one connection's requests, one at a time. Between
// requests it holds no buffer. A request must start within StreamIdle (of
// the connection, or of the previous answer), its header must come within
// StreamHeaderTimeout of its first byte, its body within
// StreamBodyTimeout of its header.
func (d *Daemon) serveStream(c net.Conn, host netip.Addr) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		delete(d.conns, c)
		if d.perHost[host]--; d.perHost[host] <= 0 {
			delete(d.perHost, host)
		}
		d.mu.Unlock()
		c.Close()
	}()
	rr := newRequestReader(c)
	defer rr.close()
	rr.onHeader = func() { _ = c.SetReadDeadline(time.Now().Add(d.cfg.StreamBodyTimeout)) }
	var out []byte
	var source, origin string // the last request's source, and the origin made of it
	remote := c.RemoteAddr().String()
	// The origin is known only once a request's source is in; its
	// length, for placing the data, is bounded by the source's.
	prefix := func(n int) int {
		if n == len(source) && origin != "" {
			return local.RelayPrefixLen(len(origin))
		}
		return local.RelayPrefixLen(len(`\\ ()`) + n + len(remote))
	}
	for {
		if !rr.buffered() {
			rr.release()
			_ = c.SetReadDeadline(time.Now().Add(d.cfg.StreamIdle))
			if err := waitReadable(c); err != nil {
				if isTimeout(err) {
					d.log.Debug("stream connection closed: idle", "from", remote, "after", d.cfg.StreamIdle)
				}
				return
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(d.cfg.StreamHeaderTimeout))
		req, err := rr.next(prefix)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				d.c.streamErrors.Add(1)
				d.log.Debug("stream connection ended", "from", remote, "err", err)
				if errors.Is(err, stream.ErrFormat) && !isTimeout(err) {
					out = stream.AppendResponse(out[:0], &stream.Response{Status: stream.BadRequest, Message: err.Error()})
					_ = c.SetWriteDeadline(time.Now().Add(time.Second))
					_, _ = c.Write(out)
				}
			}
			return
		}
		d.c.streamRecords.Add(1)
		if req.Op == stream.OpRelay || req.Op == stream.OpGroup {
			resp := d.forward(&req, host)
			out = stream.AppendResponse(out[:0], &resp)
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(out); err != nil {
				return
			}
			continue
		}
		if origin == "" || req.Source != source {
			source, origin = req.Source, streamOrigin(req.Source, remote)
		}
		key := local.Key(req.Name)
		// The writer hears first, then the slot's reader is woken: its
		// wake-up must not delay the answer (nor the next request).
		wake, err := d.deliverHeld(key, req.Data, origin, d.cfg.StreamWait)
		err = d.holdMessenger(key, req.Data, origin, err)
		d.queues.count(key, req.Name, err)
		resp := d.streamResult(req.Name, err)
		out = stream.AppendResponse(out[:0], &resp)
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, werr := c.Write(out)
		if wake != nil {
			wake.Wake()
		}
		if werr != nil {
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

// waitReadable waits, holding no buffer, until c has bytes to read (or its
// end, or an error), within its read deadline.
func waitReadable(c net.Conn) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil // the read itself waits
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Read(func(fd uintptr) bool {
		// Peek: the poller forgets earlier readiness when a wait begins,
		// so only the socket can say whether bytes are already there.
		var b [1]byte
		for {
			_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			switch err {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // wait for the poller
			}
			return true // bytes, the end, or an error the read will see
		}
	})
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
