//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/mailslot-go/mailslot/internal/asuser"
	"github.com/mailslot-go/mailslot/internal/errs"
	"github.com/mailslot-go/mailslot/internal/trust"
)

// owner admits this process's user to the tests' slots, as the public
// API's Create does for its caller (a zero Policy admits root only).
var owner = Policy{Owner: uint32(os.Geteuid())}

// asDaemonUser lets this process relay records as mailslotd does: root
// may; another user may when MAILSLOT_DAEMON_USER names it, which the test
// then sets for its duration.
func asDaemonUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Setenv(trust.DaemonUserEnv, strconv.Itoa(os.Geteuid()))
	}
}

// The test binary re-runs itself to play writer processes: with
// MAILSLOT_TEST_HELPER (asuser.RoleEnv) set, the named role runs instead
// of the tests, with the slot's key as the last argument.
func TestMain(m *testing.M) {
	if role := asuser.Role(); role != "" {
		os.Exit(runHelper(role, os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

// helperCmd returns this test binary run as a helper playing role on the
// slot key, with env added. It is killed when the test process ends, so
// that a test stopped half-way (by its timeout, or a mutant under test)
// leaves no writer running.
func helperCmd(role, key string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$", key)
	cmd.Env = append(append(os.Environ(), asuser.RoleEnv+"="+role), env...)
	cmd.SysProcAttr = helperAttr()
	return cmd
}

func runHelper(role, key string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	switch role {
	case "serve":
		// Serve the slot, say so, and wait to be killed.
		s, err := Listen(Config{Policy: owner, Key: key, ReadTimeout: -1})
		if err != nil {
			return fail(err)
		}
		defer s.Close()
		fmt.Println("ready")
		select {}
	case "seq-writer":
		// Write seqRecord(id, 0), (id, 1), ... to the slot, MAILSLOT_TEST_COUNT
		// of them (0: until killed), and print each sequence number once its
		// Write has returned. Stdout is not buffered: each line is out before
		// the next record is written.
		id, _ := strconv.Atoi(os.Getenv("MAILSLOT_TEST_ID"))
		n, _ := strconv.Atoi(os.Getenv("MAILSLOT_TEST_COUNT"))
		c, err := Dial(key, DialConfig{})
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		for seq := 0; n == 0 || seq < n; seq++ {
			if err := c.Write(seqRecord(id, seq), "", -1); err != nil {
				return fail(fmt.Errorf("record %d: %w", seq, err))
			}
			if _, err := fmt.Fprintf(os.Stdout, "%d\n", seq); err != nil {
				return fail(err)
			}
		}
		return 0
	case "dial", "dial-relay":
		// Open the slot as a writer (a relay for dial-relay) trusting any
		// server, and say how that went: ok, permission, or the error.
		c, err := Dial(key, DialConfig{Relay: role == "dial-relay", TrustAny: true})
		switch {
		case err == nil:
			c.Close()
			fmt.Println("ok")
		case errors.Is(err, errs.Permission):
			fmt.Println("permission")
		default:
			fmt.Println(err)
		}
		return 0
	}
	if code, ok := wakerHelper(role, key); ok {
		return code
	}
	if code, ok := transportHelper(role, key); ok {
		return code
	}
	return fail(fmt.Errorf("unknown helper %q", role))
}

// seqRecord is record seq of writer id: "id seq " then a pattern of a
// length that varies with seq (up to 3000 bytes), so that records cross
// the end of the ring at every offset and a torn or mixed-up record shows.
func seqRecord(id, seq int) []byte {
	b := fmt.Appendf(nil, "%d %d ", id, seq)
	n := (seq * 37) % 3000
	for j := 0; j < n; j++ {
		b = append(b, byte(seq+j*(id+1)))
	}
	return b
}

// startServer starts a helper process serving key; it is killed at the
// test's cleanup.
func startServer(t *testing.T, key string) *exec.Cmd {
	t.Helper()
	return startServing(t, "serve", key)
}

// startServing starts a helper process playing role, one that serves key
// and says "ready" once it does; it is killed at the test's cleanup.
func startServing(t *testing.T, role, key string) *exec.Cmd {
	t.Helper()
	cmd := helperCmd(role, key)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("server said %q", line)
	}
	return cmd
}
