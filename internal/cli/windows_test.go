//go:build windows

package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// On Windows, mailslot read serves a slot of the system's and mailslot
// send writes to it, one record a line of standard input.
func TestReadAndSendOnWindows(t *testing.T) {
	name := fmt.Sprintf(`\\.\mailslot\test\cli\%d`, os.Getpid())
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"read", name, "--count", "2", "--format", "json", "--timeout", "20s"}, strings.NewReader(""), &out, &errOut)
	}()
	// send fails with "not found" until read has created the slot.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var sendErr bytes.Buffer
		code := Main([]string{"send", name}, strings.NewReader("one\ntwo\n"), &bytes.Buffer{}, &sendErr)
		if code == 0 {
			break
		}
		if !strings.Contains(sendErr.String(), "not found") || time.Now().After(deadline) {
			t.Fatalf("send: status %d: %s", code, sendErr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code := <-done; code != 0 {
		t.Fatalf("read: status %d: %s", code, errOut.String())
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec jsonRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("read printed %q: %v", line, err)
		}
		if rec.From != "" {
			t.Errorf("From = %q: Windows does not tell who wrote a record", rec.From)
		}
		got = append(got, rec.Data)
	}
	if strings.Join(got, ",") != "one,two" {
		t.Fatalf("read printed %q, want the records one and two", out.String())
	}
}

// The verbs that need mailslotd or the local transport do not exist on
// Windows; the others do.
func TestVerbsOnWindows(t *testing.T) {
	for _, v := range []string{"send", "read", "browse", "netsend", "messenger"} {
		if find(v) == nil {
			t.Errorf("no verb %s on Windows", v)
		}
	}
	for _, v := range []string{"bench", "status"} {
		if find(v) != nil {
			t.Errorf("verb %s exists on Windows, where mailslotd does not run", v)
		}
	}
}
