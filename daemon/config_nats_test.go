//go:build !windows

package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/daemon/natsbridge"
)

func TestNATSSettings(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "site1.creds")
	if err := os.WriteFile(creds, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := "nats = nats://a:4222, tls://b:4222\nnats-creds = " + creds + "\nnats-site = Site One\n" +
		"nats-durable-messenger = true\nnats-durable-max-age = 72h\nnats-durable-max-msgs = 50\n"
	s, err := ParseSettings(strings.NewReader(file), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.Config()
	if err != nil {
		t.Fatal(err)
	}
	want := natsbridge.Options{URLs: []string{"nats://a:4222", "tls://b:4222"}, Creds: creds, Site: "Site One",
		Durable: true, DurableMaxAge: 72 * time.Hour, DurableMaxMsgs: 50}
	if !reflect.DeepEqual(c.NATS, want) {
		t.Fatalf("NATS options %+v, want %+v", c.NATS, want)
	}
	// The environment has them too.
	env := SettingsFromEnv(func(k string) string {
		return map[string]string{"MAILSLOTD_NATS": "nats://c:4222", "MAILSLOTD_NATS_DURABLE_MESSENGER": "1"}[k]
	})
	if env["nats"] != "nats://c:4222" || env["nats-durable-messenger"] != "1" {
		t.Fatalf("from the environment: %v", env)
	}
	// Off unless asked.
	if c, _, _ := (Settings{}).Config(); c.NATS.Enabled() {
		t.Fatal("no nats key, yet a bridge")
	}
	for _, bad := range []string{
		"nats = http://a:4222", "nats = a:4222", "nats-creds = /nonexistent/creds", "nats-durable-messenger = maybe",
		"nats-durable-max-age = 0s", "nats-durable-max-msgs = 0", "nats-site = " + strings.Repeat("x", 65),
	} {
		if _, err := ParseSettings(strings.NewReader(bad+"\n"), "test.conf"); !errors.Is(err, ErrSetting) {
			t.Errorf("%q: %v, want a bad setting", bad, err)
		}
	}
	// Every key restarts the daemon.
	if now, restart := (Settings{}).Reload(Settings{"nats": "nats://a:4222"}); len(now) != 0 || len(restart) != 1 {
		t.Errorf("nats changes at once %v, after a restart %v", now, restart)
	}
}
