//go:build !windows

package daemon

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NATSSettingKeys are the settings of the NATS bridge (Config.NATS), part
// of SettingKeys: nats (server URLs, comma-separated), nats-creds and
// nats-nkey (files), nats-tls-cert, nats-tls-key and nats-tls-ca (files),
// nats-site, nats-durable-messenger (true or false),
// nats-durable-max-age (a duration) and nats-durable-max-msgs (a count).
// Each takes effect after a restart.
var NATSSettingKeys = []string{"nats", "nats-creds", "nats-nkey", "nats-tls-cert", "nats-tls-key", "nats-tls-ca",
	"nats-site", "nats-durable-messenger", "nats-durable-max-age", "nats-durable-max-msgs"}

func init() { SettingKeys = append(SettingKeys, NATSSettingKeys...) }

// checkNATSSetting returns why v is not a value of a NATS key; ok is
// false for other keys.
func checkNATSSetting(key, v string) (err error, ok bool) {
	switch key {
	case "nats":
		for _, u := range strings.Split(v, ",") {
			u = strings.TrimSpace(u)
			if u == "" {
				continue
			}
			p, perr := url.Parse(u)
			if perr != nil || p.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, p.Scheme) {
				return fmt.Errorf("%w: %q is not a NATS server URL (such as nats://nats.example:4222 or tls://...)", ErrSetting, u), true
			}
		}
	case "nats-creds", "nats-nkey", "nats-tls-cert", "nats-tls-key", "nats-tls-ca":
		if v == "" {
			return nil, true
		}
		if _, serr := os.Stat(v); serr != nil {
			return fmt.Errorf("%w: %v", ErrSetting, serr), true
		}
	case "nats-site":
		if strings.ContainsAny(v, "\x00\r\n") || len(v) > 64 {
			return fmt.Errorf("%w: %q is not a site name (one line, at most 64 bytes)", ErrSetting, v), true
		}
	case "nats-durable-messenger":
		if _, perr := strconv.ParseBool(v); perr != nil {
			return fmt.Errorf("%w: %q is not true or false", ErrSetting, v), true
		}
	case "nats-durable-max-age":
		if d, perr := time.ParseDuration(v); perr != nil || d <= 0 {
			return fmt.Errorf("%w: %q is not a positive duration (such as 72h)", ErrSetting, v), true
		}
	case "nats-durable-max-msgs":
		if n, perr := strconv.Atoi(v); perr != nil || n < 1 {
			return fmt.Errorf("%w: %q is not a positive number", ErrSetting, v), true
		}
	default:
		return nil, false
	}
	return nil, true
}

// natsConfig fills c.NATS from the settings (checked already).
func (s Settings) natsConfig(c *Config) {
	for _, u := range strings.Split(s["nats"], ",") {
		if u = strings.TrimSpace(u); u != "" {
			c.NATS.URLs = append(c.NATS.URLs, u)
		}
	}
	c.NATS.Creds, c.NATS.NKey = s["nats-creds"], s["nats-nkey"]
	c.NATS.TLSCert, c.NATS.TLSKey, c.NATS.TLSCA = s["nats-tls-cert"], s["nats-tls-key"], s["nats-tls-ca"]
	c.NATS.Site = s["nats-site"]
	if v := s["nats-durable-messenger"]; v != "" {
		c.NATS.Durable, _ = strconv.ParseBool(v)
	}
	if v := s["nats-durable-max-age"]; v != "" {
		c.NATS.DurableMaxAge, _ = time.ParseDuration(v)
	}
	if v := s["nats-durable-max-msgs"]; v != "" {
		c.NATS.DurableMaxMsgs, _ = strconv.Atoi(v)
	}
}
