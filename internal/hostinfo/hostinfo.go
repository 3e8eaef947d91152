// Package hostinfo tells clients on a computer who that computer is on
// the LAN: the NetBIOS name, workgroup and ports of the mailslotd running
// there. mailslotd answers on an abstract Unix socket, which belongs to
// the network namespace, so each namespace (each computer of a test LAN)
// has its own. With no mailslotd, Lookup falls back to the host name and
// WORKGROUP.
package hostinfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// Addr is the abstract socket mailslotd answers on.
const Addr = "@mailslotd/v1/info"

// Default ports.
const (
	DefaultNamePort   = 137
	DefaultDgramPort  = 138
	DefaultStreamPort = 1138
	DefaultWorkgroup  = "WORKGROUP"
)

// Info is what a client needs to speak as its computer.
type Info struct {
	Name       string `json:"name"`      // NetBIOS computer name
	Workgroup  string `json:"workgroup"` // primary domain for `\\*`
	NamePort   int    `json:"name_port"`
	DgramPort  int    `json:"dgram_port"`
	StreamPort int    `json:"stream_port"`
	Daemon     bool   `json:"-"` // a mailslotd answered
}

// Listener answers Lookup with an Info until closed.
type Listener struct {
	ln   *net.UnixListener
	done chan struct{}
}

// Listen starts answering; the caller closes the Listener.
func Listen(info Info) (*Listener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: Addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", Addr, err)
	}
	b, err := json.Marshal(info)
	if err != nil {
		ln.Close()
		return nil, err
	}
	l := &Listener{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(b)
			c.Close()
		}
	}()
	return l, nil
}

// Close stops answering and waits for the answering goroutine.
func (l *Listener) Close() error {
	err := l.ln.Close()
	<-l.done
	return err
}

// Lookup asks the local mailslotd; with none, it returns the defaults.
func Lookup() Info {
	c, err := net.DialTimeout("unix", Addr, time.Second)
	if err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		var info Info
		if json.NewDecoder(c).Decode(&info) == nil && info.Name != "" {
			info.Daemon = true
			return info
		}
	}
	return Default()
}

// Default is who this computer is without a mailslotd: its host name (up
// to the first dot, upper-case, at most 15 characters) and WORKGROUP.
func Default() Info {
	return Info{
		Name:       HostName(),
		Workgroup:  DefaultWorkgroup,
		NamePort:   DefaultNamePort,
		DgramPort:  DefaultDgramPort,
		StreamPort: DefaultStreamPort,
	}
}

// HostName returns this computer's host name as a NetBIOS name.
func HostName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "LOCALHOST"
	}
	if i := strings.IndexByte(h, '.'); i > 0 {
		h = h[:i]
	}
	h = strings.ToUpper(h)
	if len(h) > 15 {
		h = h[:15]
	}
	return h
}
