//go:build !windows

package daemon

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mailslot-go/mailslot/internal/hostinfo"
)

// defaultMulticastTTL is the IP TTL of datagrams to the multicast group.
const defaultMulticastTTL = 8

// checkNetBIOSSetting checks the value of a WINS or multicast key.
func checkNetBIOSSetting(key, v string) error {
	switch key {
	case "wins":
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			if _, err := hostinfo.ParseAddrPort(f, hostinfo.DefaultNamePort); err != nil {
				return fmt.Errorf("%w: a WINS server: %v", ErrSetting, err)
			}
		}
	case "node-type":
		if _, err := hostinfo.ParseNodeType(v); err != nil {
			return fmt.Errorf("%w: %v", ErrSetting, err)
		}
	case "multicast":
		if v == "" || strings.EqualFold(v, "off") {
			return nil
		}
		ap, err := hostinfo.ParseAddrPort(v, hostinfo.DefaultDgramPort)
		if err != nil || !ap.Addr().IsMulticast() {
			return fmt.Errorf("%w: %q is not an IPv4 multicast group (224.0.0.0/4), with or without :PORT", ErrSetting, v)
		}
	case "multicast-ttl":
		if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 255 {
			return fmt.Errorf("%w: %q is not a TTL (1-255)", ErrSetting, v)
		}
	}
	return nil
}

// netbiosConfig sets the WINS and multicast fields of c from s (checked).
func (s Settings) netbiosConfig(c *Config) {
	for _, f := range strings.Split(s["wins"], ",") {
		if f = strings.TrimSpace(f); f != "" {
			c.WINS = append(c.WINS, f)
		}
	}
	c.NodeType = s["node-type"]
	if v := s["multicast"]; !strings.EqualFold(v, "off") {
		c.Multicast = v
	}
	if v := s["multicast-ttl"]; v != "" {
		c.MulticastTTL, _ = strconv.Atoi(v)
	}
}

// netbiosDefaults checks the WINS and multicast fields and fills in their
// defaults: the node type H with WINS servers, B without; the group's
// port, the datagram port; its TTL, 8.
func (c *Config) netbiosDefaults() error {
	for i, w := range c.WINS {
		ap, err := hostinfo.ParseAddrPort(w, hostinfo.DefaultNamePort)
		if err != nil {
			return fmt.Errorf("WINS server: %w", err)
		}
		c.WINS[i] = ap.String()
	}
	switch {
	case c.NodeType != "":
		t, err := hostinfo.ParseNodeType(c.NodeType)
		if err != nil {
			return fmt.Errorf("node type: %w", err)
		}
		c.NodeType = t
	case len(c.WINS) > 0:
		c.NodeType = hostinfo.NodeH
	default:
		c.NodeType = hostinfo.NodeB
	}
	if c.Multicast != "" {
		port := c.DgramPort
		if port <= 0 {
			port = hostinfo.DefaultDgramPort
		}
		ap, err := hostinfo.ParseAddrPort(c.Multicast, port)
		if err != nil || !ap.Addr().IsMulticast() {
			return fmt.Errorf("multicast group %q: not an IPv4 multicast address (224.0.0.0/4), with or without :PORT", c.Multicast)
		}
		c.Multicast = ap.String()
	}
	if c.MulticastTTL == 0 {
		c.MulticastTTL = defaultMulticastTTL
	}
	if c.MulticastTTL < 1 || c.MulticastTTL > 255 {
		return fmt.Errorf("multicast TTL %d: not 1-255", c.MulticastTTL)
	}
	return nil
}
