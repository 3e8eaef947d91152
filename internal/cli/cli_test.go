//go:build !windows

package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := Main(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func uniq(t *testing.T) string { return fmt.Sprintf(`cli\%d\%s`, os.Getpid(), t.Name()) }

// startRead runs `read NAME args...` in a goroutine and waits until the
// slot exists; the result arrives on the channel.
func startRead(t *testing.T, name string, args ...string) <-chan result {
	t.Helper()
	ch := make(chan result, 1)
	go func() { ch <- runCLI("", append([]string{"read", name}, args...)...) }()
	waitSlot(t, name)
	return ch
}

// waitSlot waits until a server serves the slot.
func waitSlot(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := mailslot.Open(slotName(name))
		if err == nil {
			c.Close()
			return
		}
		if !errors.Is(err, mailslot.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("the slot %s never appeared: %v", name, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wait(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("read did not finish")
		return result{}
	}
}

func TestSendAndReadText(t *testing.T) {
	name := uniq(t)
	// Every record sent is read: a reader that stopped early would close
	// the slot under the sender's last write, which then fails.
	ch := startRead(t, name, "--count", "5")
	if r := runCLI("", "send", name, "hello", "world"); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	if r := runCLI("line one\nline two\r\n\nlast without newline", "send", name); r.code != 0 {
		t.Fatalf("send from stdin: %+v", r)
	}
	r := wait(t, ch)
	if r.code != 0 || r.stdout != "hello world\nline one\nline two\n\nlast without newline\n" {
		t.Fatalf("read: %+v", r)
	}
}

func TestSendFileAndJSON(t *testing.T) {
	name := uniq(t)
	big := bytes.Repeat([]byte{0xff, 'a'}, 32<<10) // 64 KiB, not UTF-8
	file := filepath.Join(t.TempDir(), "rec")
	if err := os.WriteFile(file, big, 0o600); err != nil {
		t.Fatal(err)
	}
	ch := startRead(t, name, "--count=2", "--format=json")
	if r := runCLI("", "send", "--file", file, name); r.code != 0 {
		t.Fatalf("send --file: %+v", r)
	}
	if r := runCLI("", "send", slotName(name), "é"); r.code != 0 {
		t.Fatalf("send: %+v", r)
	}
	r := wait(t, ch)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 2 {
		t.Fatalf("read: %+v", r)
	}
	var rec [2]jsonRecord
	for i := range lines {
		if err := json.Unmarshal([]byte(lines[i]), &rec[i]); err != nil {
			t.Fatal(err)
		}
	}
	if rec[0].Size != len(big) || rec[0].Encoding != "base64" || !strings.Contains(rec[0].From, "pid") {
		t.Fatalf("first record: size %d encoding %s from %q", rec[0].Size, rec[0].Encoding, rec[0].From)
	}
	if rec[1].Data != "é" || rec[1].Encoding != "utf-8" {
		t.Fatalf("second record: %+v", rec[1])
	}
	if _, err := time.Parse(time.RFC3339Nano, rec[1].Time); err != nil {
		t.Fatal(err)
	}
}

func TestHexFormat(t *testing.T) {
	name := uniq(t)
	ch := startRead(t, name, "--count", "1", "--format", "hex")
	runCLI("", "send", name, "AB")
	r := wait(t, ch)
	if !strings.Contains(r.stdout, "2 bytes from local pid") || !strings.Contains(r.stdout, "41 42") {
		t.Fatalf("hex: %+v", r)
	}
}

func TestErrors(t *testing.T) {
	name := uniq(t)
	s, err := mailslot.Create(slotName(name))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"read", name, "--timeout", "0"}, 1, "already"},
		{[]string{"send", uniq(t) + "-nobody", "x"}, 1, `\\.\mailslot\cli\`},
		{[]string{"read", uniq(t) + "-t", "--timeout", "0"}, 1, "timeout"},
		{[]string{"read", name, "--bogus"}, 2, "bogus"},
		{[]string{"read"}, 2, "one NAME"},
		{[]string{"read", `\\HOST\mailslot\x`}, 2, "another computer"},
		{[]string{"read", "x", "--format", "xml"}, 2, "--format"},
		{[]string{"read", "x", "--max-size", "100000"}, 2, "--max-size 100000 is outside 0..65536"},
		{[]string{"read", "x", "--max-size", "-1"}, 2, "--max-size -1 is outside 0..65536"},
		{[]string{"read", "x", "--count", "-1"}, 2, "--count -1 is negative"},
		{[]string{"messenger", "--count", "-1"}, 2, "--count -1 is negative"},
		{[]string{"messenger", "--exec-timeout", "0"}, 2, `"0" is not a positive duration`},
		{[]string{"messenger", "--dedup-window", "-1s"}, 2, `"-1s" is not a duration of 0 or more`},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"send", `\\.\mailslot\` + strings.Repeat("a", 300), "x"}, 1, "invalid"},
	} {
		r := runCLI("", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.contains) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: code %d, stderr %q; want code %d and one line with %q", tc.args, r.code, r.stderr, tc.code, tc.contains)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, v := range verbs {
		r := runCLI("", v.name, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "usage: mailslot "+v.name) || !strings.Contains(r.stdout, "flags:") || r.stderr != "" {
			t.Errorf("%s --help: %+v", v.name, r)
		}
		// Each flag's default is said once, and is one a user can type.
		for _, line := range strings.Split(r.stdout, "\n") {
			if strings.Count(line, "(default ") > 1 || strings.Contains(line, "(default -") {
				t.Errorf("%s --help: %q", v.name, line)
			}
		}
	}
	if r := runCLI("", "help"); r.code != 0 || !strings.Contains(r.stdout, "commands:") {
		t.Errorf("help: %+v", r)
	}
	if r := runCLI(""); r.code != 2 {
		t.Errorf("no arguments: %+v", r)
	}
}

func TestSlotName(t *testing.T) {
	for in, want := range map[string]string{
		"alerts":            `\\.\mailslot\alerts`,
		"app/x":             `\\.\mailslot\app\x`,
		`\\HOST\mailslot\x`: `\\HOST\mailslot\x`,
		"//./mailslot/a":    "//./mailslot/a",
	} {
		if got := slotName(in); got != want {
			t.Errorf("slotName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("a benchmark run")
	}
	r := runCLI("", "bench", "local", "--quick")
	if r.code != 0 || !strings.Contains(r.stdout, "ratio") || !strings.Contains(r.stdout, "bytes/record") || strings.Contains(r.stdout, "measuring") {
		t.Fatalf("bench: %+v", r)
	}
	// Progress on standard error, a line before each measurement.
	for _, want := range []string{
		"bench local: measuring throughput, 1 writer process, 16 B (case 1 of 8)...\n",
		"bench local: measuring throughput, 4 writer goroutines, 100 B (case ",
		"bench local: measuring round-trip latency...\n",
		"bench local: measuring wake latency...\n",
		"bench local: measuring the cost of 1000 idle slots...\n",
		"bench local: measuring the cost of 20000 queued records...\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("bench local's progress lacks %q:\n%s", want, r.stderr)
		}
	}
}

// The real binary, as two processes.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mailslot")
	if out, err := exec.Command("go", append(append([]string{"build", "-o", bin}, testenv.BuildFlags()...), "../../cmd/mailslot")...).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	name := uniq(t)
	reader := exec.Command(bin, "read", name, "--count", "1")
	var out bytes.Buffer
	reader.Stdout = &out
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	defer once.Do(func() { reader.Process.Kill(); reader.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := exec.Command(bin, "send", name, "across", "processes").Run()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send never succeeded: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var err error
	once.Do(func() { err = reader.Wait() })
	if err != nil || out.String() != "across processes\n" {
		t.Fatalf("reader: %v, %q", err, out.String())
	}
}

// bench net without root says it needs root, and exits with status 4
// before it tries anything.
func TestBenchNetNeedsRoot(t *testing.T) {
	defer func(f func() int) { geteuid = f }(geteuid)
	geteuid = func() int { return 1000 }
	r := runCLI("", "bench", "net", "--quick")
	if r.code != ExitPrivilege || ExitPrivilege != 4 || r.stdout != "" ||
		!strings.HasPrefix(r.stderr, "mailslot bench: bench net needs root:") || strings.Contains(r.stderr, "skip") {
		t.Fatalf("bench net as uid 1000: %+v", r)
	}
}

// bench net builds its own namespace LAN: root only.
func TestBenchNetQuick(t *testing.T) {
	testenv.Root(t)
	if testing.Short() {
		t.Skip("a benchmark run")
	}
	dir := t.TempDir()
	for _, c := range []string{"mailslot", "mailslotd"} {
		if out, err := exec.Command("go", append(append([]string{"build", "-o", filepath.Join(dir, c)}, testenv.BuildFlags()...), "../../cmd/"+c)...).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", c, err, out)
		}
	}
	out, err := exec.Command(filepath.Join(dir, "mailslot"), "bench", "net", "--quick").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ratio") || !strings.Contains(string(out), "resident memory") || !strings.Contains(string(out), "ours/floor") {
		t.Fatalf("bench net: %v\n%s", err, out)
	}
}
