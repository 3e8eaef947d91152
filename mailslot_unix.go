//go:build !windows

package mailslot

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/local"
)

// maxSlotRecord is the largest maximum message size Create accepts.
const maxSlotRecord = local.MaxRecord

// sysSlot is a slot served by this process over the local transport
// (internal/local).
type sysSlot struct{ srv *local.Server }

func createSlot(n Name, _ string, o options) (*sysSlot, error) {
	srv, err := local.Listen(local.Config{
		Key:            n.key(),
		MaxMessageSize: o.maxMessageSize,
		Quota:          o.quota,
		ReadTimeout:    normTimeout(o.readTimeout),
		Policy: local.Policy{
			Owner:   currentUID(),
			AnyUser: o.anyUser,
			UIDs:    o.uids,
			GIDs:    o.gids,
		},
		Network: o.network,
	})
	if err != nil {
		return nil, err
	}
	return &sysSlot{srv}, nil
}

func (s *sysSlot) read(p []byte) (int, error) {
	_, n, _, err := s.srv.Read(context.Background(), p, false)
	if err != nil {
		if err == errs.BufferTooSmall {
			err = fmt.Errorf("%w: the record is %d bytes, the buffer %d", errs.BufferTooSmall, n, len(p))
		}
		return 0, err
	}
	return n, nil
}

func (s *sysSlot) readMessage(ctx context.Context) (Message, error) {
	data, _, m, err := s.srv.Read(ctx, nil, true)
	if err != nil {
		return Message{}, err
	}
	return Message{Data: data, From: from(m), Time: time.Unix(0, m.Time)}, nil
}

func from(m local.Meta) string {
	if m.Origin != "" {
		return m.Origin
	}
	return "local pid " + strconv.Itoa(int(m.PID)) + " uid " + strconv.FormatUint(uint64(m.UID), 10)
}

func (s *sysSlot) info() (next, count int, timeout time.Duration, err error) {
	return s.srv.Info()
}

func (s *sysSlot) setReadTimeout(d time.Duration) error { return s.srv.SetReadTimeout(d) }

func (s *sysSlot) stats() Stats { return Stats(s.srv.Stats()) }

func (s *sysSlot) close() error { return s.srv.Close() }

func (s *sysSlot) transfer(given string) (*os.File, error) { return s.srv.Transfer(given) }

func adoptSlot(f *os.File) (_ *sysSlot, given string, maxMsg int, _ error) {
	srv, given, err := local.Adopt(f)
	if err != nil {
		return nil, "", 0, err
	}
	max := srv.MaxMessageSize()
	if max == local.MaxRecord {
		max = 0
	}
	return &sysSlot{srv}, given, max, nil
}

type localWriter struct{ c *local.Conn }

func (l localWriter) write(p []byte, timeout time.Duration) error { return l.c.Write(p, "", timeout) }
func (l localWriter) maxMessageSize() int                         { return l.c.MaxMessageSize() }
func (l localWriter) close() error                                { return l.c.Close() }

func openLocal(n Name, o options) (writer, error) {
	c, err := local.Dial(n.key(), local.DialConfig{TrustUIDs: o.serverUIDs, TrustAny: o.anyServer})
	if err != nil {
		return nil, err
	}
	return localWriter{c}, nil
}

// key is the case-insensitive identity of a local slot.
func (n Name) key() string { return local.Key(n.Path) }

func currentUID() uint32 { return uint32(os.Geteuid()) }
