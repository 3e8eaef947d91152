// Package nbnstest is a NetBIOS name server (or name-answering node) for
// tests, on loopback: it answers each name service request as the test's
// handler says, and keeps what it got.
package nbnstest

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/mailslot-go/mailslot/internal/wire"
)

// Handler returns the packets to answer a request with (none: silence).
type Handler func(p wire.NameServicePacket) []wire.NameServicePacket

// Server is the fake name server.
type Server struct {
	conn     *net.UDPConn
	mu       sync.Mutex
	got      []wire.NameServicePacket
	lastFrom netip.AddrPort
	handle   Handler
}

// New starts a server on 127.0.0.1 (a port of its own), stopped at t's
// cleanup. A packet that does not decode fails the test.
func New(t testing.TB, h Handler) *Server {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{conn: c, handle: h}
	done := make(chan struct{})
	t.Cleanup(func() { c.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			p, err := wire.DecodeNameService(append([]byte(nil), buf[:n]...)) // kept: not in buf
			if err != nil {
				t.Errorf("fake name server: %v", err)
				continue
			}
			s.mu.Lock()
			s.got = append(s.got, p)
			s.lastFrom = from
			h := s.handle
			s.mu.Unlock()
			for _, r := range h(p) {
				if err := s.Send(r, from); err != nil && !errors.Is(err, net.ErrClosed) {
					t.Errorf("fake name server: %v", err)
				}
			}
		}
	}()
	return s
}

// Addr is where the server listens.
func (s *Server) Addr() netip.AddrPort { return s.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Send sends p from the server's socket to to.
func (s *Server) Send(p wire.NameServicePacket, to netip.AddrPort) error {
	b, err := wire.AppendNameService(nil, &p)
	if err != nil {
		return err
	}
	_, err = s.conn.WriteToUDPAddrPort(b, to)
	return err
}

// LastFrom is where the last request came from.
func (s *Server) LastFrom() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastFrom
}

// Requests returns the requests it got for name with opcode op, in order.
func (s *Server) Requests(name wire.Name, op wire.NSOpcode) []wire.NameServicePacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wire.NameServicePacket
	for _, p := range s.got {
		if len(p.Questions) == 1 && p.Questions[0].Name == name && p.Opcode == op {
			out = append(out, p)
		}
	}
	return out
}

// Count is how many packets it got.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// SetHandler answers the requests from now on with h.
func (s *Server) SetHandler(h Handler) {
	s.mu.Lock()
	s.handle = h
	s.mu.Unlock()
}
