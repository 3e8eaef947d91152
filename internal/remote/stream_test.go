package remote

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/netif"
	"github.com/mailslot-go/mailslot/internal/stream"
)

// TestStreamRetrySendsRecordOnce: when mailslotd has closed an idle
// connection, the writer sends the record once more on a new one, and
// exactly that record, for small (copied behind the head) and large
// (written from where it lies) records alike.
func TestStreamRetrySendsRecordOnce(t *testing.T) {
	for _, size := range []int{100, inlineData + 1} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		w := &Writer{path: "X", self: hostinfo.Info{Name: "A", StreamPort: port},
			res: Resolution{Addr: netip.MustParseAddr("127.0.0.1")}}
		defer func() {
			if w.conn != nil {
				w.conn.Close()
			}
		}()

		// serve answers each request of one connection with OK and sends
		// what it read on got; closeAfter requests, it closes.
		got := make(chan []byte, 4)
		serve := func(closeAfter int) {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			for i := 0; closeAfter == 0 || i < closeAfter; i++ {
				_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				req, _, err := stream.ReadRequest(c, nil)
				if err != nil {
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						got <- []byte("bad request: " + err.Error())
					}
					return
				}
				got <- req.Data
				if _, err := c.Write(stream.AppendResponse(nil, &stream.Response{Status: stream.OK})); err != nil {
					return
				}
			}
		}
		first, second := bytes.Repeat([]byte{'1'}, size), bytes.Repeat([]byte{'2'}, size)
		closed := make(chan struct{})
		go func() { defer close(closed); serve(1) }()
		if err := w.sendStream(first, time.Second); err != nil {
			t.Fatalf("size %d, first record: %v", size, err)
		}
		if d := <-got; !bytes.Equal(d, first) {
			t.Fatalf("size %d: first record arrived as %q", size, d)
		}
		<-closed // the far side has closed the connection (on loopback its FIN is here now)
		done := make(chan struct{})
		go func() { defer close(done); serve(0) }()
		if err := w.sendStream(second, time.Second); err != nil {
			t.Fatalf("size %d, record after the far side closed: %v", size, err)
		}
		<-done // the server read on until its deadline: nothing followed
		close(got)
		var recs [][]byte
		for d := range got {
			recs = append(recs, d)
		}
		if len(recs) != 1 || !bytes.Equal(recs[0], second) {
			t.Errorf("size %d: on the new connection the server read %d records: %q", size, len(recs), recs)
		}
	}
}

// A computer with no stream port (Windows, Samba) takes datagrams only: a
// record over the datagram limit is refused with ErrMessageTooLarge naming
// the limit, before anything is sent; so is one to a writer told to send
// datagrams only.
func TestTooLargeForADatagramHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now: the host has no stream port
	for _, datagramsOnly := range []bool{false, true} {
		w := &Writer{host: "SAMBAHOST", path: "X", self: hostinfo.Info{Name: "A", StreamPort: port},
			res: Resolution{Addr: netip.MustParseAddr("127.0.0.1")}, maxDgram: 407, DatagramsOnly: datagramsOnly}
		err := w.Write(make([]byte, 408), time.Second)
		if !errors.Is(err, errs.MessageTooLarge) || errors.Is(err, errs.Unreachable) ||
			!strings.Contains(err.Error(), "408 bytes") || !strings.Contains(err.Error(), "at most 407 bytes") || !strings.Contains(err.Error(), "SAMBAHOST") {
			t.Errorf("datagrams only %v: a 408-byte record: %v", datagramsOnly, err)
		}
		if w.conn != nil {
			w.conn.Close()
		}
	}
}

// A computer name NetBIOS cannot carry (17 characters: at most 15) is
// refused as an invalid name before any look-up (hosts file, NetBIOS
// query, DNS) is tried.
func TestLongComputerNameRefusedBeforeLookup(t *testing.T) {
	defer func(f func(string, hostinfo.Info, []netif.Iface) (Resolution, error)) { resolve = f }(resolve)
	resolve = func(host string, _ hostinfo.Info, _ []netif.Iface) (Resolution, error) {
		t.Errorf("%s was looked up", host)
		return Resolution{}, errs.Unreachable
	}
	w, err := Open("ABCDEFGHIJKLMNOPQ", "x")
	if err == nil {
		w.Close()
	}
	if !errors.Is(err, errs.InvalidName) || !strings.Contains(err.Error(), `"ABCDEFGHIJKLMNOPQ" has 17 bytes, at most 15 allowed`) {
		t.Fatalf("Open of a 17-character computer name: %v", err)
	}
}
