//go:build !windows && !mailslot_unit

package daemon_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/lab"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

// An embedded daemon answers the status socket with its Status, changes
// its dedup window at once, and leaves no goroutine behind after Close.
func TestEmbeddedStatus(t *testing.T) {
	l := lab.New(t)
	h := l.AddHost("HOSTE")
	before := runtime.NumGoroutine()
	var d *daemon.Daemon
	if err := h.Run(func() (err error) {
		d, err = daemon.New(daemon.Config{Name: "HOSTE", Workgroup: "WGE", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.Serve() }()
	d.SetDedupWindow(750 * time.Millisecond)
	var b []byte
	if err := h.Run(func() (err error) {
		b, err = hostinfo.AskStatus()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var st daemon.Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if st.Name != "HOSTE" || st.Workgroup != "WGE" || st.StreamPort != 1138 || len(st.Interfaces) != 1 ||
		time.Duration(st.DedupWindow) != 750*time.Millisecond || st.Version.GoVersion != runtime.Version() || st.Slots == nil && !st.SlotsHidden {
		t.Fatalf("status: %s", b)
	}
	if got := d.Status(); got.Name != "HOSTE" || got.Started.IsZero() || got.Started.After(time.Now()) {
		t.Fatalf("Status() = %+v", got)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != daemon.ErrClosed {
		t.Fatalf("Serve = %v", err)
	}
	testenv.WaitGoroutines(t, before)
	if err := h.Run(func() error {
		_, err := hostinfo.AskStatus()
		if err == nil || !strings.Contains(err.Error(), "no mailslotd") {
			return fmt.Errorf("status after Close: %v", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
