//go:build !windows

package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/messenger"
)

// Each test serves its own slot (--slot) rather than messngr, which is one
// per computer: the tests run side by side.

// runEnv runs the command like runCLI, with extra environment variables.
// The session bus is the one vars names, or none: a test never reaches
// the desktop of whoever runs it.
func runEnv(stdin string, vars map[string]string, args ...string) result {
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if v, ok := vars[k]; ok || k == "DBUS_SESSION_BUS_ADDRESS" {
			return v
		}
		return os.Getenv(k)
	}}
	v := find(args[0])
	code := run(v, env, args[1:])
	return result{code, out.String(), errb.String()}
}

// startMessenger runs `messenger --slot SLOT args...` in a goroutine and
// waits until the slot exists; the result arrives on the channel once the
// verb ends (give --count).
func startMessenger(t *testing.T, slot string, vars map[string]string, args ...string) <-chan result {
	t.Helper()
	ch := make(chan result, 1)
	go func() { ch <- runEnv("", vars, append([]string{"messenger", "--slot", slot}, args...)...) }()
	waitSlot(t, slot)
	return ch
}

// netsendTo sends a message to slot on this computer.
func netsendTo(t *testing.T, slot, stdin string, args ...string) {
	t.Helper()
	if r := runCLI(stdin, append([]string{"netsend", ".", "--slot", slot}, args...)...); r.code != 0 {
		t.Fatalf("netsend %q: %+v", args, r)
	}
}

// alerts parses JSON lines.
func alerts(t *testing.T, s string) []alertJSON {
	t.Helper()
	var out []alertJSON
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		var a alertJSON
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, a)
	}
	return out
}

func TestNetsendMessenger(t *testing.T) {
	slot := uniq(t)
	ch := startMessenger(t, slot, nil, "--count", "3", "--format", "json")
	netsendTo(t, slot, "", "Sauvegarde", "échouée", "à", "3h")
	netsendTo(t, slot, "line one\r\nline two\n")
	netsendTo(t, slot, "", "--from", "zoë", "--to", "OPS", "--codepage", "utf-8", "Sauvegarde échouée — 5 min €")
	r := wait(t, ch)
	if r.code != 0 {
		t.Fatalf("messenger: %+v", r)
	}
	me := hostinfo.Lookup().Name
	from := userName(&Env{Getenv: os.Getenv}) + "@" + me
	got := alerts(t, r.stdout)
	want := []alertJSON{
		{From: from, To: me, Text: "Sauvegarde échouée à 3h"},
		{From: from, To: me, Text: "line one\nline two"},
		{From: "zoë", To: "OPS", Text: "Sauvegarde échouée — 5 min €"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d messages: %s", len(got), r.stdout)
	}
	for i := range want {
		g := got[i]
		if g.From != want[i].From || g.To != want[i].To || g.Text != want[i].Text || !strings.HasPrefix(g.Origin, "local pid ") {
			t.Errorf("message %d: %+v, want %+v", i, g, want[i])
		}
		if _, err := time.Parse(time.RFC3339Nano, g.Time); err != nil {
			t.Errorf("message %d: time %q: %v", i, g.Time, err)
		}
	}
	if !strings.Contains(r.stderr, "serving") || strings.Contains(r.stderr, "notification") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

// The text form: a header line, then the text indented, so that a text
// cannot pass for a header.
func TestMessengerText(t *testing.T) {
	slot := uniq(t)
	ch := startMessenger(t, slot, nil, "--count", "1")
	netsendTo(t, slot, "", "--from", "ADMIN", "--to", "PC7", "two\n2024-01-01 00:00:00  Message from BOSS to PC7  (fake)")
	r := wait(t, ch)
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || len(lines) != 4 || lines[3] != "" {
		t.Fatalf("messenger: %+v", r)
	}
	if _, err := time.ParseInLocation("2006-01-02 15:04:05", lines[0][:19], time.Local); err != nil {
		t.Errorf("header %q: %v", lines[0], err)
	}
	if !strings.Contains(lines[0], "  Message from ADMIN to PC7  (local pid ") || lines[1] != "  two" || !strings.HasPrefix(lines[2], "  2024-01-01") {
		t.Errorf("text form:\n%s", r.stdout)
	}
}

func TestNetsendErrors(t *testing.T) {
	slot := uniq(t)
	ch := startMessenger(t, slot, nil, "--count", "2", "--format", "json")
	for _, tc := range []struct {
		stdin    string
		args     []string
		code     int
		contains string
	}{
		{"", []string{strings.Repeat("x", 400)}, 1, "the limit is 407 bytes (remove at least"},
		{"", []string{"--max-text", "128", strings.Repeat("y", 129)}, 1, "the limit is 128 bytes"},
		{"", []string{"--strict", "5 €"}, 1, "U+20AC"},
		{"", []string{"--codepage", "latin9", "x"}, 2, "--codepage"},
		{"", []string{"--to", "MUCH-TOO-LONG-FOR-NETBIOS", "x"}, 1, "at most 15"},
		{"\n", nil, 2, "no message"},
		{"", []string{"--max-text", "-1", "x"}, 2, "negative"},
	} {
		r := runCLI(tc.stdin, append([]string{"netsend", ".", "--slot", slot}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.contains) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: code %d, stderr %q; want code %d and one line with %q", tc.args, r.code, r.stderr, tc.code, tc.contains)
		}
	}
	// Replaced characters: sent, with a warning.
	r := runCLI("", "netsend", ".", "--slot", slot, "5 €, ok")
	if r.code != 0 || !strings.Contains(r.stderr, "1 character(s) have no byte in CP850") {
		t.Errorf("replacement: %+v", r)
	}
	// Exactly the limit passes: 407 bytes of record.
	from := "A"
	fit := strings.Repeat("z", messenger.MaxDatagramRecord-len(from)-len(hostinfo.Lookup().Name)-3)
	netsendTo(t, slot, "", "--from", from, fit)
	r = wait(t, ch)
	got := alerts(t, r.stdout)
	if r.code != 0 || len(got) != 2 || got[0].Text != "5 ?, ok" || got[1].Text != fit {
		t.Fatalf("only the valid messages should arrive: %+v", r)
	}

	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"netsend"}, 2, "DEST"},
		{[]string{"netsend", `\\PC\mailslot\messngr`, "x"}, 2, "give the name alone"},
		{[]string{"netsend", ".", "--slot", uniq(t) + "-none", "x"}, 1, "no 'mailslot messenger' serves it"},
		{[]string{"messenger", "extra"}, 2, "no arguments"},
		{[]string{"messenger", "--format", "xml"}, 2, "--format"},
		{[]string{"messenger", "--deny", "txt:x"}, 1, `bad filter rule "txt:x"`},
		{[]string{"messenger", "--codepage", "klingon"}, 2, "--codepage"},
		{[]string{"messenger", "--history", t.TempDir()}, 1, "history"},
		{[]string{"messenger", "--config", filepath.Join(t.TempDir(), "none")}, 1, "configuration"},
	} {
		r := runCLI("", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.contains) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: code %d, stderr %q; want code %d and one line with %q", tc.args, r.code, r.stderr, tc.code, tc.contains)
		}
	}
}

func TestMessengerFilterDedup(t *testing.T) {
	slot := uniq(t)
	ch := startMessenger(t, slot, nil, "--count", "3", "--format", "json", "--verbose",
		"--deny", "text:(?i)lunch", "--allow", "admin*", "--allow", "to:OPS")
	for _, m := range [][]string{
		{"--from", "bob", "--to", "PC7", "hidden: no allow rule"},
		{"--from", "ADMIN1", "Lunch time"},
		{"--from", "ADMIN1", "disk full"},
		{"--from", "admin1", "disk full"}, // a copy: same sender (any case) and text
		{"--from", "bob", "--to", "OPS", "deploy"},
		{"--from", "ADMIN1", "--to", "OPS", "lunch for ops"},
		{"--from", "admin2", "last"},
	} {
		netsendTo(t, slot, "", m...)
	}
	r := wait(t, ch)
	got := alerts(t, r.stdout)
	var texts []string
	for _, a := range got {
		texts = append(texts, a.From+": "+a.Text)
	}
	if r.code != 0 || strings.Join(texts, "|") != "ADMIN1: disk full|bob: deploy|admin2: last" {
		t.Fatalf("shown %q; %+v", texts, r)
	}
	for _, s := range []string{"no allow rule matches", `rule "text:(?i)lunch"`, "a copy of a message from admin1"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}

	// A zero window shows every copy.
	slot2 := slot + "-all"
	ch = startMessenger(t, slot2, nil, "--count", "2", "--dedup-window", "0", "--format", "json")
	netsendTo(t, slot2, "", "--from", "A", "again")
	netsendTo(t, slot2, "", "--from", "A", "again")
	if r := wait(t, ch); r.code != 0 || len(alerts(t, r.stdout)) != 2 {
		t.Fatalf("dedup off: %+v", r)
	}
}

func TestMessengerConfigHistoryExec(t *testing.T) {
	dir := t.TempDir()
	history := filepath.Join(dir, "history.jsonl")
	conf := filepath.Join(dir, "messenger.conf")
	script := `printf '%s|%s|%s|%s\n' "$MESSENGER_FROM" "$MESSENGER_TO" "$MESSENGER_TEXT" "$MESSENGER_ORIGIN" >> ` + dir + `/env; ` +
		`echo "$MESSENGER_TIME" >> ` + dir + `/time; cat >> ` + dir + `/stdin; echo "exec output"`
	if err := os.WriteFile(conf, []byte(`# messenger settings
deny  text:^ignore
allow SRV-*

history `+history+`
exec `+script+`
exec-timeout 5s
dedup-window 2s
notify no
`), 0o600); err != nil {
		t.Fatal(err)
	}
	slot := uniq(t)
	ch := startMessenger(t, slot, nil, "--config", conf, "--count", "2", "--allow", "ops")
	netsendTo(t, slot, "", "--from", "SRV-1", "ignore me")
	netsendTo(t, slot, "", "--from", "SRV-1", "disk full\non /var")
	netsendTo(t, slot, "", "--from", "other", "not allowed")
	netsendTo(t, slot, "", "--from", "ops", "from the flag's rule")
	r := wait(t, ch)
	if r.code != 0 || strings.Count(r.stdout, "Message from") != 2 || strings.Count(r.stderr, "exec output") != 2 {
		t.Fatalf("messenger: %+v", r)
	}
	hist, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	h := alerts(t, string(hist))
	if len(h) != 2 || h[0].From != "SRV-1" || h[0].Text != "disk full\non /var" || h[1].From != "ops" || !strings.HasPrefix(h[0].Origin, "local pid ") {
		t.Fatalf("history:\n%s", hist)
	}
	if fi, err := os.Stat(history); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("history file mode: %v, %v", fi.Mode(), err)
	}
	me := hostinfo.Lookup().Name
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	env := strings.Split(strings.TrimSpace(read("env")), "\n")
	if len(env) != 3 || env[0] != "SRV-1|"+me+"|disk full" || !strings.HasPrefix(env[1], "on /var|local pid ") || !strings.HasPrefix(env[2], "ops|"+me+"|from the flag's rule|local pid ") {
		t.Errorf("environment of the commands:\n%s", read("env"))
	}
	if got := read("stdin"); got != "disk full\non /var\nfrom the flag's rule\n" {
		t.Errorf("standard input of the commands: %q", got)
	}
	for _, l := range strings.Fields(read("time")) {
		if _, err := time.Parse(time.RFC3339, l); err != nil {
			t.Errorf("MESSENGER_TIME %q: %v", l, err)
		}
	}

	// A history file grows; it is not rewritten.
	ch = startMessenger(t, slot, nil, "--count", "1", "--history", history)
	netsendTo(t, slot, "", "--from", "SRV-2", "third")
	if r := wait(t, ch); r.code != 0 {
		t.Fatal(r)
	}
	if hist, _ := os.ReadFile(history); len(alerts(t, string(hist))) != 3 {
		t.Errorf("history after a second run:\n%s", hist)
	}
}

func TestMessengerConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]string{
		"allow A\nfrobnicate x\n": ":2: unknown keyword",
		"# c\n\ndeny\n":           `:3: "deny" needs a value`,
		"exec-timeout soon\n":     ":1: time: invalid duration",
		"exec-timeout 0s\n":       ":1: 0s is not a positive duration",
		"notify maybe\n":          `:1: notify "maybe"`,
		"dedup-window -1s\n":      ":1: dedup-window -1s is negative",
		"deny text:(unclosed\n":   `bad filter rule "text:(unclosed"`,
		"history ~/x\nallow \t\n": `:2: "allow" needs a value`,
	} {
		conf := filepath.Join(dir, "c"+strconv.Itoa(len(text)))
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCLI("", "messenger", "--slot", uniq(t), "--config", conf)
		if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "configuration") && !strings.Contains(r.stderr, "filter") {
			t.Errorf("%q: %+v; want %q", text, r, want)
		}
	}
}

// A command that does not finish is killed at --exec-timeout, its whole
// process group, and the messenger goes on.
func TestMessengerExecTimeout(t *testing.T) {
	dir := t.TempDir()
	slot := uniq(t)
	script := `sleep 60 & echo $! >> ` + dir + `/pids; echo $$ >> ` + dir + `/pids; wait`
	ch := startMessenger(t, slot, nil, "--count", "2", "--exec", script, "--exec-timeout", "300ms")
	netsendTo(t, slot, "", "--from", "A", "one")
	netsendTo(t, slot, "", "--from", "A", "two")
	start := time.Now()
	r := wait(t, ch)
	if r.code != 0 || strings.Count(r.stdout, "Message from A") != 2 || strings.Count(r.stderr, "did not finish within 300ms: killed") != 2 {
		t.Fatalf("messenger: %+v", r)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("took %v", d)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		deadline := time.Now().Add(5 * time.Second)
		for !gone(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !gone(pid) {
			t.Errorf("process %d of the command still runs", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// gone reports whether pid has exited (a zombie counts as gone).
func gone(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

func TestRecipient(t *testing.T) {
	me := hostinfo.Info{Name: "PC7", Workgroup: "OFFICE"}
	for host, want := range map[string]string{
		"*": "OFFICE", ".": "PC7", "SERVER1": "SERVER1", "SRV.EXAMPLE.COM": "SRV",
		"10.213.2.10": "10.213.2.10", "A-VERY-LONG-COMPUTER-NAME": "A-VERY-LONG-COM",
	} {
		if got := recipient(host, me); got != want {
			t.Errorf("recipient(%q) = %q, want %q", host, got, want)
		}
	}
}
