package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrConfig means a messenger configuration file that cannot be used.
var ErrConfig = errors.New("bad messenger configuration")

// messengerConfig is what the messenger's --config file says. Each line is
// a keyword and its value; blank lines and lines starting with # are
// skipped:
//
//	allow RULE          show only messages matching a RULE (repeatable)
//	deny RULE           hide messages matching RULE (repeatable; deny wins)
//	history PATH        append each message to PATH (JSON lines)
//	exec CMD            run CMD with sh -c for each message
//	exec-timeout D      kill CMD after D (default 10s)
//	dedup-window D      show copies within D once (default 5s)
//	notify yes|no       desktop notifications (default yes)
//
// RULE is from:GLOB, to:GLOB, text:REGEXP or GLOB (the sender), as for
// --allow and --deny. PATH may start with ~/ for the home directory.
type messengerConfig struct {
	allow, deny []string
	history     string
	exec        string
	execTimeout time.Duration // 0: not set
	dedup       time.Duration // -1: not set
	notify      *bool
}

// readMessengerConfig reads a configuration file; errors name the file
// and line.
func readMessengerConfig(path string) (*messengerConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read messenger configuration: %w", err)
	}
	defer f.Close()
	c := &messengerConfig{dedup: -1}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := c.set(line); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrConfig, path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read messenger configuration %s: %w", path, err)
	}
	return c, nil
}

// set applies one line.
func (c *messengerConfig) set(line string) error {
	key, value, _ := strings.Cut(line, " ")
	value = strings.TrimSpace(value)
	if value == "" {
		return fmt.Errorf("%q needs a value", key)
	}
	var err error
	switch key {
	case "allow":
		c.allow = append(c.allow, value)
	case "deny":
		c.deny = append(c.deny, value)
	case "history":
		c.history, err = expandHome(value)
	case "exec":
		c.exec = value
	case "exec-timeout":
		c.execTimeout, err = positiveDuration(value)
	case "dedup-window":
		c.dedup, err = time.ParseDuration(value)
		if err == nil && c.dedup < 0 {
			err = fmt.Errorf("dedup-window %v is negative", c.dedup)
		}
	case "notify":
		on := value == "yes" || value == "on" || value == "true"
		if !on && value != "no" && value != "off" && value != "false" {
			return fmt.Errorf("notify %q: want yes or no", value)
		}
		c.notify = &on
	default:
		return fmt.Errorf("unknown keyword %q (want allow, deny, history, exec, exec-timeout, dedup-window or notify)", key)
	}
	return err
}

func positiveDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err == nil && d <= 0 {
		err = fmt.Errorf("%v is not a positive duration", d)
	}
	return d, err
}

// expandHome turns a leading ~/ into the home directory.
func expandHome(p string) (string, error) {
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(home, rest), nil
}
