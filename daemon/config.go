package daemon

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/wire"
)

// Config is what a Daemon serves. The zero value of each field means its
// default.
type Config struct {
	// Name is the computer's NetBIOS name (default: the host name up to
	// its first dot, upper-case, at most 15 characters).
	Name string
	// Workgroup is the computer's workgroup or domain (default WORKGROUP).
	Workgroup string
	// Interfaces lists the network interfaces to serve (default: every
	// interface that is up, can broadcast and has an IPv4 address).
	Interfaces []string
	// NamePort, DgramPort and StreamPort are the UDP ports of the NetBIOS
	// name and datagram services (137, 138) and the TCP port for large
	// records (1138). A port of -1 turns that service off.
	NamePort, DgramPort, StreamPort int
	// SharePorts binds the UDP ports beside another program that holds
	// them with SO_REUSEADDR, as Samba's nmbd does: the daemon then hears
	// broadcasts and workgroup datagrams, while the kernel gives unicast
	// datagrams to nmbd's more specific sockets; records for this computer
	// by name come over the stream port, which clients of ours prefer.
	SharePorts bool
	// DedupWindow is how long a datagram is remembered to drop copies of
	// it (default 2s).
	DedupWindow time.Duration
	// StreamWait bounds how long a record from the stream port waits for
	// room in a full slot (default 5s).
	StreamWait time.Duration
	// MaxStreamConns bounds the stream port's open connections (default
	// 512); MaxStreamConnsPerHost bounds those from one address (default
	// 32). A connection over either is closed as soon as it is accepted.
	MaxStreamConns, MaxStreamConnsPerHost int
	// StreamHeaderTimeout bounds the time from a request's first byte to
	// its whole header (default 5s); StreamBodyTimeout from its header to
	// its whole body (default 10s). A slower sender's connection is
	// closed.
	StreamHeaderTimeout, StreamBodyTimeout time.Duration
	// StreamIdle is how long a stream connection may wait for a request:
	// the first, or the next after an answer (default 1m).
	StreamIdle time.Duration
	// Announce makes the daemon announce this computer to its
	// workgroup's master browser (Windows or Samba's nmbd), which then
	// lists it for `net view`, Explorer and `mailslot browse`: a
	// HostAnnouncement at start, then at intervals growing from 1 to 12
	// minutes, and in answer to an AnnouncementRequest.
	Announce bool
	// Comment is the comment announced with the computer (default
	// "mailslotd"; at most 42 bytes).
	Comment string
	// AnnounceReplyDelay bounds the random delay before an answer to an
	// AnnouncementRequest, so that a workgroup's computers do not all
	// answer at once (default 5s).
	AnnounceReplyDelay time.Duration
	// Logger receives the daemon's logs (default: slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Name == "" {
		c.Name = hostinfo.HostName()
	}
	if c.Workgroup == "" {
		c.Workgroup = hostinfo.DefaultWorkgroup
	}
	c.Name = strings.ToUpper(c.Name)
	c.Workgroup = strings.ToUpper(c.Workgroup)
	if _, err := wire.NewName(c.Name, 0); err != nil {
		return c, fmt.Errorf("computer name %q: %w", c.Name, err)
	}
	if _, err := wire.NewName(c.Workgroup, 0); err != nil {
		return c, fmt.Errorf("workgroup %q: %w", c.Workgroup, err)
	}
	if c.NamePort == 0 {
		c.NamePort = hostinfo.DefaultNamePort
	}
	if c.DgramPort == 0 {
		c.DgramPort = hostinfo.DefaultDgramPort
	}
	if c.StreamPort == 0 {
		c.StreamPort = hostinfo.DefaultStreamPort
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = 2 * time.Second
	}
	if c.StreamWait == 0 {
		c.StreamWait = 5 * time.Second
	}
	for _, v := range []struct {
		p   *int
		def int
	}{{&c.MaxStreamConns, 512}, {&c.MaxStreamConnsPerHost, 32}} {
		if *v.p == 0 {
			*v.p = v.def
		}
	}
	for _, v := range []struct {
		p   *time.Duration
		def time.Duration
	}{{&c.StreamHeaderTimeout, 5 * time.Second}, {&c.StreamBodyTimeout, 10 * time.Second}, {&c.StreamIdle, time.Minute}} {
		if *v.p == 0 {
			*v.p = v.def
		}
	}
	if c.Comment == "" {
		c.Comment = DefaultComment
	}
	if len(c.Comment) > wire.MaxAnnouncementComment {
		return c, fmt.Errorf("comment %q: longer than %d bytes", c.Comment, wire.MaxAnnouncementComment)
	}
	if c.AnnounceReplyDelay == 0 {
		c.AnnounceReplyDelay = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Settings are the daemon's settings as text, from a config file, the
// environment and flags, in that order of precedence (flags win).
//
// The config file has one `key = value` a line; `#` starts a comment.
// Keys: name, workgroup, interface (repeatable, or comma-separated),
// name-port, dgram-port, stream-port, share-ports, log-level,
// dedup-window, announce, comment, announce-reply-delay,
// max-stream-conns, max-stream-conns-per-host, stream-header-timeout,
// stream-body-timeout, stream-idle. The
// environment variables are MAILSLOTD_ and the key in upper case with
// '-' as '_' (MAILSLOTD_NAME, MAILSLOTD_DGRAM_PORT, ...).
type Settings map[string]string

// SettingKeys are the keys Settings understands.
var SettingKeys = []string{"name", "workgroup", "interface", "name-port", "dgram-port", "stream-port", "share-ports", "log-level", "dedup-window", "announce", "comment", "announce-reply-delay",
	"max-stream-conns", "max-stream-conns-per-host", "stream-header-timeout", "stream-body-timeout", "stream-idle"}

func knownKey(k string) bool {
	for _, s := range SettingKeys {
		if s == k {
			return true
		}
	}
	return false
}

// ReadSettingsFile reads a config file.
func ReadSettingsFile(path string) (Settings, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := Settings{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = strings.TrimSpace(t[:i])
		}
		if t == "" {
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || !knownKey(k) {
			return nil, fmt.Errorf("%s:%d: expected one of %s = value", path, line, strings.Join(SettingKeys, ", "))
		}
		if k == "interface" && s[k] != "" {
			v = s[k] + "," + v
		}
		s[k] = v
	}
	return s, sc.Err()
}

// SettingsFromEnv reads MAILSLOTD_* variables.
func SettingsFromEnv(getenv func(string) string) Settings {
	s := Settings{}
	for _, k := range SettingKeys {
		if v := getenv("MAILSLOTD_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))); v != "" {
			s[k] = v
		}
	}
	return s
}

// Merge returns s with every key of later set over it.
func (s Settings) Merge(later Settings) Settings {
	out := Settings{}
	for k, v := range s {
		out[k] = v
	}
	for k, v := range later {
		out[k] = v
	}
	return out
}

// Config turns settings into a Config and a log level.
func (s Settings) Config() (Config, slog.Level, error) {
	var c Config
	level := slog.LevelInfo
	c.Name = s["name"]
	c.Workgroup = s["workgroup"]
	if v := s["interface"]; v != "" {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				c.Interfaces = append(c.Interfaces, f)
			}
		}
	}
	for key, dst := range map[string]*int{"name-port": &c.NamePort, "dgram-port": &c.DgramPort, "stream-port": &c.StreamPort} {
		if v := s[key]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < -1 || n > 65535 {
				return c, level, fmt.Errorf("%s: %q is not a port (1-65535, or -1 for off)", key, v)
			}
			*dst = n
		}
	}
	for key, dst := range map[string]*int{"max-stream-conns": &c.MaxStreamConns, "max-stream-conns-per-host": &c.MaxStreamConnsPerHost} {
		if v := s[key]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return c, level, fmt.Errorf("%s: %q is not a positive number", key, v)
			}
			*dst = n
		}
	}
	for key, dst := range map[string]*bool{"share-ports": &c.SharePorts, "announce": &c.Announce} {
		if v := s[key]; v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return c, level, fmt.Errorf("%s: %q is not true or false", key, v)
			}
			*dst = b
		}
	}
	for key, dst := range map[string]*time.Duration{"dedup-window": &c.DedupWindow, "announce-reply-delay": &c.AnnounceReplyDelay,
		"stream-header-timeout": &c.StreamHeaderTimeout, "stream-body-timeout": &c.StreamBodyTimeout, "stream-idle": &c.StreamIdle} {
		if v := s[key]; v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return c, level, fmt.Errorf("%s: %q is not a duration", key, v)
			}
			*dst = d
		}
	}
	c.Comment = s["comment"]
	if v := s["log-level"]; v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return c, level, fmt.Errorf("log-level: %q is not debug, info, warn or error", v)
		}
	}
	return c, level, nil
}
