//go:build !windows

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/labtest"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

const unitDir = "../../contrib/systemd"

// execStart returns the ExecStart= command of a unit file, with the
// programs in /usr/local/bin/ taken from bin and %h replaced by home.
func execStart(t *testing.T, unit, home string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(unitDir, unit))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if cmd, ok := strings.CutPrefix(l, "ExecStart="); ok {
			args := strings.Fields(strings.ReplaceAll(cmd, "%h", home))
			prog, ok := strings.CutPrefix(args[0], "/usr/local/bin/")
			if !ok {
				t.Fatalf("%s runs %s, not a program in /usr/local/bin", unit, args[0])
			}
			args[0] = labtest.BuildCmd(t, prog)
			return args
		}
	}
	t.Fatalf("%s has no ExecStart=", unit)
	return nil
}

// TestSystemdVerify checks the unit files with systemd-analyze verify,
// their programs replaced by the ones built here.
func TestSystemdVerify(t *testing.T) {
	analyze := testenv.LookPath(t, "systemd-analyze")
	dir := t.TempDir()
	for _, u := range []struct {
		unit string
		user bool
	}{{"mailslotd.service", false}, {"mailslot-messenger.service", true}} {
		b, err := os.ReadFile(filepath.Join(unitDir, u.unit))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/usr/local/bin/mailslotd", labtest.BuildCmd(t, "mailslotd"))
		text = strings.ReplaceAll(text, "/usr/local/bin/mailslot ", labtest.BuildCmd(t, "mailslot")+" ")
		path := filepath.Join(dir, u.unit)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"verify", "--man=no", path}
		if u.user {
			args = append([]string{"--user"}, args...)
		}
		cmd := exec.Command(analyze, args...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir) // --user wants one
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestSystemdMessenger runs the messenger unit's command line with the
// example configuration in a home of its own: it serves, keeps the
// history the example names, and takes a message.
func TestSystemdMessenger(t *testing.T) {
	home := t.TempDir()
	conf, err := os.ReadFile(filepath.Join(unitDir, "messenger.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".config/mailslot"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".config/mailslot/messenger.conf"), conf, 0o600); err != nil {
		t.Fatal(err)
	}
	slot := uniq(t)
	args := append(execStart(t, "mailslot-messenger.service", home), "--slot", slot, "--count", "1")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+home, "DBUS_SESSION_BUS_ADDRESS=")
	outFile, err := os.Create(filepath.Join(home, "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	output := func() string { b, _ := os.ReadFile(outFile.Name()); return string(b) }
	cmd.Stdout, cmd.Stderr = outFile, outFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill(); <-exited }()
	waitSlot(t, slot)
	netsendTo(t, slot, "", "--from", "SRV-1", "lunch is ready") // the example denies it
	netsendTo(t, slot, "", "--from", "SRV-1", "disk full")
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("messenger: %v\n%s", waitErr, output())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("messenger did not finish:\n%s", output())
	}
	hist, err := os.ReadFile(filepath.Join(home, ".local/share/mailslot/messages.jsonl"))
	if err != nil {
		t.Fatalf("the example's history file: %v\n%s", err, output())
	}
	if h := alerts(t, string(hist)); len(h) != 1 || h[0].Text != "disk full" {
		t.Errorf("history:\n%s", hist)
	}
}

// TestSystemdMailslotd runs mailslotd as the unit does, with the example
// configuration and only the capabilities the unit leaves it, on a lab
// host; a message from another host reaches the messenger there.
func TestSystemdMailslotd(t *testing.T) {
	t.Setenv("MAILSLOT_NO_DNS", "1")
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	setpriv := testenv.LookPath(t, "setpriv")
	l := lab.New(t)
	a, b := l.AddHost("UNITHOST"), l.AddHost("SENDER")
	args := execStart(t, "mailslotd.service", "")
	for i, arg := range args {
		if arg == "/etc/mailslot/mailslotd.conf" {
			args[i] = filepath.Join(unitDir, "mailslotd.conf")
		}
	}
	caps := "-all,+net_bind_service,+net_raw" // CapabilityBoundingSet= and AmbientCapabilities=
	d := a.Start(t, "env", append([]string{"MAILSLOTD_NAME=UNITHOST", setpriv, "--no-new-privs",
		"--bounding-set", caps, "--inh-caps", caps, "--ambient-caps", caps}, args...)...)
	if !d.WaitFor("mailslotd serving", 10*time.Second) {
		t.Fatalf("mailslotd with the unit's capabilities did not start:\n%s", d.Output())
	}
	labtest.StartDaemon(t, b, "WORKGROUP")
	bin := labtest.BuildCmd(t, "mailslot")
	m := a.Start(t, bin, "messenger", "--format", "json")
	if !m.WaitFor("serving", 10*time.Second) {
		t.Fatalf("messenger did not start:\n%s", m.Output())
	}
	for _, dest := range []string{"UNITHOST", "WORKGROUP"} {
		if out, err := b.Command(bin, "netsend", dest, "to "+dest).CombinedOutput(); err != nil {
			t.Fatalf("netsend %s: %v: %s", dest, err, out)
		}
	}
	for _, text := range []string{"to UNITHOST", "to WORKGROUP"} {
		if !m.WaitFor(text, 10*time.Second) {
			t.Errorf("the messenger never showed %q:\n%s\nmailslotd:\n%s", text, m.Output(), d.Output())
		}
	}
}
