//go:build !windows

package daemon

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name, file string
		want       Settings
		line       int    // of the error; 0: no error
		key        string // the error names it
		msg        string // and says this
	}{
		{"empty", "", Settings{}, 0, "", ""},
		{"comments and blanks", "# a comment\n\n  name = HOSTA  # the computer\nworkgroup=LAB\n", Settings{"name": "HOSTA", "workgroup": "LAB"}, 0, "", ""},
		{"interfaces add up", "interface = eth0\ninterface = eth1,eth2\n", Settings{"interface": "eth0,eth1,eth2"}, 0, "", ""},
		{"keys ignore case", "Log-Level = debug\n", Settings{"log-level": "debug"}, 0, "", ""},
		{"every key", "name=A\nworkgroup=B\ninterface=lo\nname-port=-1\ndgram-port=1138\nstream-port=65535\nshare-ports=true\nlog-level=warn\ndedup-window=0s\nannounce=false\ncomment=x\nannounce-reply-delay=1s\nmetrics-listen=127.0.0.1:9138\n",
			Settings{"name": "A", "workgroup": "B", "interface": "lo", "name-port": "-1", "dgram-port": "1138", "stream-port": "65535", "share-ports": "true", "log-level": "warn", "dedup-window": "0s", "announce": "false", "comment": "x", "announce-reply-delay": "1s", "metrics-listen": "127.0.0.1:9138"}, 0, "", ""},
		{"unknown key", "name = A\n\n# x\ndedup-windw = 2s\n", nil, 4, "dedup-windw", "unknown key"},
		{"no equals", "name A\n", nil, 1, "", "expected key = value"},
		{"bad port", "dgram-port = 70000\n", nil, 1, "dgram-port", `"70000" is not a port`},
		{"port not a number", "name=A\nstream-port = tcp\n", nil, 2, "stream-port", "not a port"},
		{"bad bool", "announce = maybe\n", nil, 1, "announce", "not true or false"},
		{"bad duration", "dedup-window = 2\n", nil, 1, "dedup-window", "not a duration"},
		{"negative duration", "announce-reply-delay = -1s\n", nil, 1, "announce-reply-delay", "not a duration"},
		{"bad level", "log-level = loud\n", nil, 1, "log-level", "not debug, info, warn or error"},
		{"bad address", "metrics-listen = 9138\n", nil, 1, "metrics-listen", "not an address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSettings(strings.NewReader(tt.file), "test.conf")
			if tt.line == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				for k, v := range tt.want {
					if got[k] != v {
						t.Fatalf("%s = %q, want %q", k, got[k], v)
					}
				}
				if _, _, err := got.Config(); err != nil {
					t.Fatalf("Config: %v", err)
				}
				return
			}
			var se *SettingError
			if !errors.As(err, &se) || !errors.Is(err, ErrSetting) {
				t.Fatalf("error %v, want a *SettingError wrapping ErrSetting", err)
			}
			if se.Line != tt.line || se.Key != tt.key || se.Path != "test.conf" {
				t.Fatalf("error at %s:%d key %q, want line %d key %q", se.Path, se.Line, se.Key, tt.line, tt.key)
			}
			prefix := "test.conf:" + itoa(tt.line) + ": "
			if tt.key != "" {
				prefix += tt.key + ": "
			}
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.msg) {
				t.Fatalf("error %q, want it to start %q and say %q", msg, prefix, tt.msg)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestReadSettingsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mailslotd.conf")
	if err := os.WriteFile(path, []byte("name = HOSTA\ncolour = blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSettingsFile(path)
	if err == nil || err.Error() != path+":2: colour: bad setting: unknown key (known: "+strings.Join(SettingKeys, ", ")+")" {
		t.Fatalf("ReadSettingsFile = %v", err)
	}
	if _, err := ReadSettingsFile(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSettingsConfig(t *testing.T) {
	c, level, err := Settings{"dedup-window": "750ms", "log-level": "debug", "stream-port": "-1", "announce": "1"}.Config()
	if err != nil || c.DedupWindow != 750*time.Millisecond || level.String() != "DEBUG" || c.StreamPort != -1 || !c.Announce {
		t.Fatalf("Config = %+v, %v, %v", c, level, err)
	}
	// From the environment or flags a bad value names its key.
	if _, _, err := (Settings{"dedup-window": "soon"}).Config(); err == nil || !strings.HasPrefix(err.Error(), "dedup-window: ") || !errors.Is(err, ErrSetting) {
		t.Fatalf("bad value: %v", err)
	}
}

func TestSettingsChanged(t *testing.T) {
	old := Settings{"name": "A", "log-level": "info", "comment": "x"}
	next := Settings{"name": "A", "log-level": "debug", "dedup-window": "1s"}
	got := strings.Join(old.Changed(next), ",")
	if got != "log-level,dedup-window,comment" {
		t.Fatalf("Changed = %s", got)
	}
}

func TestSettingsReload(t *testing.T) {
	tests := []struct {
		old, next    Settings
		now, restart string
	}{
		{Settings{}, Settings{}, "", ""},
		{Settings{"log-level": "info"}, Settings{"log-level": "debug"}, "log-level", ""},
		{Settings{"dedup-window": "2s", "metrics-listen": ":9138"}, Settings{"metrics-listen": ":9139"}, "dedup-window,metrics-listen", ""},
		{Settings{"name": "A", "log-level": "info"}, Settings{"name": "B", "log-level": "info", "stream-port": "-1"}, "", "name,stream-port"},
		{Settings{"interface": "eth0", "comment": "x"}, Settings{"interface": "eth0,eth1", "log-level": "warn"}, "log-level", "interface,comment"},
	}
	for _, tt := range tests {
		now, restart := tt.old.Reload(tt.next)
		if strings.Join(now, ",") != tt.now || strings.Join(restart, ",") != tt.restart {
			t.Errorf("%v -> %v: now %v, restart %v; want %s and %s", tt.old, tt.next, now, restart, tt.now, tt.restart)
		}
	}
}

// FuzzParseSettings checks that any file either parses into settings that
// Config takes, or fails with a *SettingError naming a line of the file.
func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{"name = A\n", "dedup-window = 2s # c\n", "x\n", "interface=a\ninterface=b", "metrics-listen = :9138\n\n=\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		s, err := ParseSettings(strings.NewReader(file), "f")
		if err != nil {
			var se *SettingError
			if !errors.As(err, &se) {
				if strings.Contains(err.Error(), "token too long") {
					return // a line over bufio.Scanner's 64 KiB
				}
				t.Fatalf("error %v is not a *SettingError", err)
			}
			if se.Line < 1 || se.Line > strings.Count(file, "\n")+1 {
				t.Fatalf("error at line %d of a %d-line file", se.Line, strings.Count(file, "\n")+1)
			}
			return
		}
		if _, _, err := s.Config(); err != nil {
			t.Fatalf("parsed %q into %v, which Config refuses: %v", file, s, err)
		}
	})
}

// Add sets a key, and adds to the values of one that may be given more
// than once (a flag repeated on the command line, or a config line).
func TestSettingsAdd(t *testing.T) {
	s := Settings{}
	for _, kv := range [][2]string{{"interface", "eth0"}, {"wins", "10.0.0.1"}, {"name", "A"}, {"interface", "eth1"}, {"name", "B"}, {"wins", "10.0.0.2"}} {
		s.Add(kv[0], kv[1])
	}
	want := Settings{"interface": "eth0,eth1", "wins": "10.0.0.1,10.0.0.2", "name": "B"}
	if !maps.Equal(s, want) {
		t.Errorf("%v, want %v", s, want)
	}
}
