//go:build !windows

package docgen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/internal/cli"
	"github.com/mailslot-go/mailslot/internal/mailslotd"
)

// ConfPath is where the packages put mailslotd's settings file, and what
// the systemd unit passes to --config.
const ConfPath = "/etc/mailslot/mailslotd.conf"

// Mailslot returns mailslot's overview with each command's help, as
// `mailslot help` and `mailslot COMMAND --help` print them.
func Mailslot() (Overview, error) {
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		if code := cli.Main(args, strings.NewReader(""), &out, &errb); code != 0 {
			return "", fmt.Errorf("mailslot %s: exit status %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.String(), nil
	}
	text, err := run("help")
	if err != nil {
		return Overview{}, err
	}
	o, err := ParseOverview(text)
	if err != nil {
		return o, fmt.Errorf("mailslot help: %w", err)
	}
	for i, c := range o.Commands {
		text, err := run(c.Name, "--help")
		if err != nil {
			return o, err
		}
		if o.Commands[i].Help, err = ParseHelp(text); err != nil {
			return o, fmt.Errorf("mailslot %s --help: %w", c.Name, err)
		}
	}
	return o, nil
}

// Mailslotd returns mailslotd's help, as `mailslotd --help` prints it.
func Mailslotd() (Help, error) {
	var out, errb bytes.Buffer
	if code := mailslotd.Main([]string{"--help"}, func(string) string { return "" }, &out, &errb); code != 0 {
		return Help{}, fmt.Errorf("mailslotd --help: exit status %d: %s", code, errb.String())
	}
	h, err := ParseHelp(out.String())
	if err != nil {
		return h, fmt.Errorf("mailslotd --help: %w", err)
	}
	return h, nil
}

// Files returns every generated file by its path under the output
// directory.
func Files(version string) (map[string]string, error) {
	o, err := Mailslot()
	if err != nil {
		return nil, err
	}
	d, err := Mailslotd()
	if err != nil {
		return nil, err
	}
	example, err := os.ReadFile(filepath.Join(moduleRoot(), "contrib", "systemd", "mailslotd.conf"))
	if err != nil {
		example = nil // the page then has no EXAMPLE section
	}
	return map[string]string{
		"man/mailslot.1": CommandPage(o, version),
		"man/mailslotd.8": DaemonPage("mailslotd", "the mailslot host service: this computer's mailslots on the LAN", d,
			[]string{ConfPath + " settings (mailslotd.conf(5)), read with --config"}, version),
		"man/mailslotd.conf.5":            ConfPage("mailslotd", d, daemon.SettingKeys, ConfPath, string(example), version),
		"completions/bash/mailslot":       Bash(o),
		"completions/bash/mailslotd":      BashFlags("mailslotd", d),
		"completions/zsh/_mailslot":       Zsh(o),
		"completions/zsh/_mailslotd":      ZshFlags("mailslotd", d),
		"completions/fish/mailslot.fish":  Fish(o),
		"completions/fish/mailslotd.fish": FishFlags("mailslotd", d),
	}, nil
}

// Write writes Files under dir.
func Write(dir, version string) error {
	files, err := Files(version)
	if err != nil {
		return err
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// moduleRoot is the directory of go.mod above the working directory, or
// the working directory.
func moduleRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return wd
		}
	}
}
