// Package testenv tells tests what the machine can do, and turns a missing
// capability into a failure where it must not be missing (under CI).
package testenv

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"time"
)

// Strict reports whether a missing tool or capability must fail the test
// rather than skip it: under CI (CI set to anything but "" or "false") or
// when MAILSLOT_STRICT=1.
func Strict() bool {
	if os.Getenv("MAILSLOT_STRICT") == "1" {
		return true
	}
	ci := os.Getenv("CI")
	return ci != "" && ci != "false" && ci != "0"
}

// TB is the part of testing.TB these helpers use.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Missing skips the test with the reason, or fails it when Strict.
func Missing(t TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("required for this test under CI: %s", reason)
	}
	t.Skipf("skipped: %s (set MAILSLOT_STRICT=1 to make this a failure)", reason)
}

// LookPath returns the path of the named program, or calls Missing.
func LookPath(t TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not installed (run scripts/test, which installs it)")
	}
	return p
}

// Root calls Missing unless the test runs as root.
func Root(t TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root (network namespaces, ports 137/138)")
	}
}

// WaitGoroutines waits up to 5 s until no more than n goroutines run
// (what ran before the code under test started), and fails the test with
// every goroutine's stack if some stay: a leak.
func WaitGoroutines(t TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BuildFlags returns the go build flags that give a program built by a
// test what the test binary was built with: its build tags (so that,
// under -tags mailslot_portable, the programs a test starts speak the
// same local transport as the test).
func BuildFlags() []string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	for _, s := range bi.Settings {
		if s.Key == "-tags" && s.Value != "" {
			return []string{"-tags", s.Value}
		}
	}
	return nil
}
