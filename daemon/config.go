//go:build !windows

package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailslot-go/mailslot/daemon/natsbridge"
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
	// WINS lists NetBIOS name servers (WINS: Windows Server's, or Samba's
	// nmbd with `wins support = yes`), each an IPv4 address with an
	// optional port (default 137). The daemon registers the computer's
	// names (NAME<00>, <03>, <20>) and the workgroup's (WORKGROUP<00>,
	// <1e>, as group names) with each, refreshes them before their TTL
	// runs out and releases them at Close, and tells local clients, which
	// then find computers on other subnets by asking the servers. A name
	// another computer holds is logged as a conflict, and served by
	// broadcast only.
	WINS []string
	// NodeType is how local clients resolve computer names: "b"
	// (broadcast), "p" (the WINS servers only), "m" (broadcast, then WINS)
	// or "h" (WINS, then broadcast). Default h with WINS servers, b
	// without. It is also the owner node type of the names registered.
	NodeType string
	// Multicast is an IPv4 multicast group, with an optional port (default
	// the datagram port), e.g. "239.255.13.8": the daemon joins it on its
	// interfaces and takes the datagrams sent to it as it takes
	// broadcasts, and local clients send each workgroup datagram (\WG,
	// \*) once to it besides broadcasting it, so that it reaches the
	// workgroup's mailslotd hosts on every subnet the routers forward the
	// group to. Its announcements (Announce) go to the group too.
	Multicast string
	// MulticastTTL is the IP TTL of datagrams sent to the group: how many
	// routers they may cross, less one (default 8).
	MulticastTTL int
	// NATS bridges the daemon to mailslotd hosts on other sites through a
	// NATS cluster (package natsbridge); off without URLs.
	NATS natsbridge.Options
	// Logger receives the daemon's logs (default: slog.Default()).
	Logger *slog.Logger
}

const defaultDedupWindow = 2 * time.Second

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
		c.DedupWindow = defaultDedupWindow
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
	if err := c.netbiosDefaults(); err != nil {
		return c, err
	}
	return c, nil
}

// Settings are the daemon's settings as text, from a config file, the
// environment and flags, in that order of precedence (flags win).
//
// The config file has one `key = value` a line; `#` starts a comment.
// Keys: name, workgroup, interface (repeatable, or comma-separated),
// name-port, dgram-port, stream-port, share-ports, log-level,
// dedup-window, announce, comment, announce-reply-delay, metrics-listen,
// max-stream-conns, max-stream-conns-per-host, stream-header-timeout,
// stream-body-timeout, stream-idle, wins (repeatable, or
// comma-separated), node-type, multicast, multicast-ttl, and the NATS
// bridge's (see NATSSettingKeys). The environment variables are
// MAILSLOTD_ and the key in upper case with '-' as '_' (MAILSLOTD_NAME,
// MAILSLOTD_DGRAM_PORT, ...).
type Settings map[string]string

// SettingKeys are the keys Settings understands.
var SettingKeys = []string{"name", "workgroup", "interface", "name-port", "dgram-port", "stream-port", "share-ports", "log-level", "dedup-window", "announce", "comment", "announce-reply-delay", "metrics-listen",
	"max-stream-conns", "max-stream-conns-per-host", "stream-header-timeout", "stream-body-timeout", "stream-idle",
	"wins", "node-type", "multicast", "multicast-ttl"}

// repeatable reports whether a key may be given more than once, each
// value adding to the list (comma-separated in one value too).
func repeatable(key string) bool { return key == "interface" || key == "wins" }

// Add sets key to v, or for a key that may be given more than once
// (interface, wins) adds v to the values it has.
func (s Settings) Add(key, v string) {
	if repeatable(key) && s[key] != "" {
		v = s[key] + "," + v
	}
	s[key] = v
}

// ReloadableKeys are the settings a running mailslotd takes from its
// config file again on SIGHUP; the others take effect after a restart.
var ReloadableKeys = []string{"log-level", "dedup-window", "metrics-listen"}

// ErrSetting is wrapped by the errors of settings that are unknown or
// whose value is wrong.
var ErrSetting = errors.New("bad setting")

// SettingError is a config file's line that has an unknown key, no `=`,
// or a value its key does not take.
type SettingError struct {
	Path string // the file
	Line int    // 1 for the first line
	Key  string // as written, lower-case
	Err  error  // what is wrong
}

func (e *SettingError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.Path, e.Line, e.Key, e.Err)
}

// Unwrap returns the cause, which wraps ErrSetting.
func (e *SettingError) Unwrap() error { return e.Err }

// ReadSettingsFile reads a config file. A line with an unknown key, or a
// value its key does not take, fails with a *SettingError naming the
// file, the line and the key.
func ReadSettingsFile(path string) (Settings, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read mailslotd settings: %w", err)
	}
	defer f.Close()
	s, err := ParseSettings(f, path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ParseSettings reads settings in the config file's form from r; name is
// the file's name for errors.
func ParseSettings(r io.Reader, name string) (Settings, error) {
	s := Settings{}
	sc := bufio.NewScanner(r)
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
		if !ok {
			return nil, &SettingError{name, line, "", fmt.Errorf("%w: expected key = value, with a key of %s", ErrSetting, strings.Join(SettingKeys, ", "))}
		}
		if !slices.Contains(SettingKeys, k) {
			return nil, &SettingError{name, line, k, fmt.Errorf("%w: unknown key (known: %s)", ErrSetting, strings.Join(SettingKeys, ", "))}
		}
		if err := checkSetting(k, v); err != nil {
			return nil, &SettingError{name, line, k, err}
		}
		s.Add(k, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mailslotd settings from %s: %w", name, err)
	}
	return s, nil
}

// checkSetting returns why v is not a value of key, or nil.
func checkSetting(key, v string) error {
	if err, ok := checkNATSSetting(key, v); ok {
		return err
	}
	switch key {
	case "name-port", "dgram-port", "stream-port":
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 || n > 65535 {
			return fmt.Errorf("%w: %q is not a port (1-65535, or -1 for off)", ErrSetting, v)
		}
	case "share-ports", "announce":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%w: %q is not true or false", ErrSetting, v)
		}
	case "dedup-window", "announce-reply-delay":
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			return fmt.Errorf("%w: %q is not a duration (such as 2s or 500ms)", ErrSetting, v)
		}
	case "stream-header-timeout", "stream-body-timeout", "stream-idle":
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("%w: %q is not a positive duration (such as 5s or 1m)", ErrSetting, v)
		}
	case "max-stream-conns", "max-stream-conns-per-host":
		if n, err := strconv.Atoi(v); err != nil || n < 1 {
			return fmt.Errorf("%w: %q is not a positive number", ErrSetting, v)
		}
	case "log-level":
		var level slog.Level
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return fmt.Errorf("%w: %q is not debug, info, warn or error", ErrSetting, v)
		}
	case "wins", "node-type", "multicast", "multicast-ttl":
		return checkNetBIOSSetting(key, v)
	case "metrics-listen":
		if v == "" {
			return nil
		}
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return fmt.Errorf("%w: %q is not an address host:port (such as 127.0.0.1:9138 or :9138)", ErrSetting, v)
		}
	}
	return nil
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

// Changed returns the keys whose values differ between s and next, in
// the order of SettingKeys.
func (s Settings) Changed(next Settings) []string {
	var keys []string
	for _, k := range SettingKeys {
		if s[k] != next[k] {
			keys = append(keys, k)
		}
	}
	return keys
}

// Reload splits the keys that differ between the running settings s and
// next into those a running daemon takes at once (ReloadableKeys) and
// those that wait for a restart, each in the order of SettingKeys.
func (s Settings) Reload(next Settings) (now, restart []string) {
	for _, k := range s.Changed(next) {
		if slices.Contains(ReloadableKeys, k) {
			now = append(now, k)
		} else {
			restart = append(restart, k)
		}
	}
	return now, restart
}

// Config turns settings into a Config and a log level.
func (s Settings) Config() (Config, slog.Level, error) {
	var c Config
	level := slog.LevelInfo
	for _, k := range SettingKeys {
		if v, ok := s[k]; ok && v != "" {
			if err := checkSetting(k, v); err != nil {
				return c, level, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	c.Name = s["name"]
	c.Workgroup = s["workgroup"]
	if v := s["interface"]; v != "" {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				c.Interfaces = append(c.Interfaces, f)
			}
		}
	}
	for key, dst := range map[string]*int{"name-port": &c.NamePort, "dgram-port": &c.DgramPort, "stream-port": &c.StreamPort,
		"max-stream-conns": &c.MaxStreamConns, "max-stream-conns-per-host": &c.MaxStreamConnsPerHost} {
		if v := s[key]; v != "" {
			*dst, _ = strconv.Atoi(v)
		}
	}
	for key, dst := range map[string]*bool{"share-ports": &c.SharePorts, "announce": &c.Announce} {
		if v := s[key]; v != "" {
			*dst, _ = strconv.ParseBool(v)
		}
	}
	for key, dst := range map[string]*time.Duration{"dedup-window": &c.DedupWindow, "announce-reply-delay": &c.AnnounceReplyDelay,
		"stream-header-timeout": &c.StreamHeaderTimeout, "stream-body-timeout": &c.StreamBodyTimeout, "stream-idle": &c.StreamIdle} {
		if v := s[key]; v != "" {
			*dst, _ = time.ParseDuration(v)
		}
	}
	c.Comment = s["comment"]
	s.netbiosConfig(&c)
	s.natsConfig(&c)
	if v := s["log-level"]; v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	return c, level, nil
}
