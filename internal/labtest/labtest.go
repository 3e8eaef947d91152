//go:build !windows

// Package labtest holds what LAN tests of several packages share: building
// the commands once, starting mailslotd and Samba's nmbd on a lab host.
package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// CoverDirEnv names the directory of a coverage run (scripts/test cover):
// set, BuildCmd builds the programs for coverage and has them count into
// it.
const CoverDirEnv = "MAILSLOT_COVERDIR"

// BuildCmd builds cmd/<name> of this module once per test binary and
// returns the program's path. See CoverDirEnv.
func BuildCmd(t lab.T, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin := built[name]; bin != "" {
		return bin
	}
	dir, err := os.MkdirTemp("", "mailslot-test")
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	bin := filepath.Join(dir, name)
	args := append([]string{"build", "-o", bin}, testenv.BuildFlags()...)
	if dir := os.Getenv(CoverDirEnv); dir != "" {
		// A coverage run (scripts/test cover): the programs the LAN tests
		// start count what they run into the run's directory too (go test
		// points GOCOVERDIR at a directory of its own, removed after).
		args = append(args, "-cover", "-coverpkg=github.com/mailslot-go/mailslot/...")
		os.Setenv("GOCOVERDIR", dir)
	}
	out, err := exec.Command("go", append(args, "github.com/mailslot-go/mailslot/cmd/"+name)...).CombinedOutput()
	if err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	built[name] = bin
	return bin
}

// StartDaemon runs mailslotd on h, named after h, in workgroup wg, logging
// at debug level, and waits until it serves.
func StartDaemon(t lab.T, h *lab.Host, wg string, extra ...string) *lab.Proc {
	t.Helper()
	args := append([]string{"--name", h.Name, "--workgroup", wg, "--log-level", "debug"}, extra...)
	p := h.Start(t, BuildCmd(t, "mailslotd"), args...)
	if !p.WaitFor("mailslotd serving", 10*time.Second) {
		t.Fatalf("mailslotd on %s did not start:\n%s", h.Name, p.Output())
	}
	return p
}

// Nmbd is Samba's NetBIOS name server running on a lab host.
type Nmbd struct {
	*lab.Proc
	Dir  string // its state, lock, cache and log directories live here
	Conf string // its smb.conf
}

// NmbdConf writes an smb.conf for nmbd on h as computer name in workgroup
// wg, every directory under a fresh temporary one, and returns its path and
// that directory. extra lines go into [global].
func NmbdConf(t testing.TB, h *lab.Host, name, wg string, extra ...string) (conf, dir string) {
	t.Helper()
	dir = t.TempDir()
	for _, d := range []string{"lock", "state", "cache", "private", "pid"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	text := fmt.Sprintf(`[global]
  netbios name = %s
  workgroup = %s
  interfaces = %s
  bind interfaces only = yes
  lock directory = %[4]s/lock
  state directory = %[4]s/state
  cache directory = %[4]s/cache
  private dir = %[4]s/private
  pid directory = %[4]s/pid
  log file = %[4]s/log.%%m
  disable netbios = no
`, name, wg, h.Iface, dir)
	for _, l := range extra {
		text += "  " + l + "\n"
	}
	conf = filepath.Join(dir, "smb.conf")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf, dir
}

// StartNmbd runs nmbd in the foreground on h (logging to its output at
// debug level debug) and waits until it holds UDP port 138. Missing nmbd
// skips the test, or fails it under CI.
func StartNmbd(t testing.TB, h *lab.Host, name, wg string, debug int, extra ...string) *Nmbd {
	t.Helper()
	bin := testenv.LookPath(t, "nmbd")
	conf, dir := NmbdConf(t, h, name, wg, extra...)
	p := h.Start(t, bin, "-F", "--no-process-group", "--debug-stdout", "-d", fmt.Sprint(debug), "-s", conf)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := h.Command("ss", "-uln").Output()
		if strings.Contains(string(out), ":138 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nmbd on %s did not bind UDP 138:\n%s", h.Name, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &Nmbd{Proc: p, Dir: dir, Conf: conf}
}
