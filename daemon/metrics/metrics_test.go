//go:build !windows

package metrics

import (
	"bufio"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/internal/testenv"
)

func fakeStatus() daemon.Status {
	return daemon.Status{
		Name: "HOSTA", Started: time.Unix(1700000000, 0),
		Stats:             daemon.Stats{Datagrams: 10, Delivered: 7, NoSlot: 1, LocalOnly: 1, QueueFull: 1, Duplicates: 2, NotForUs: 3, Malformed: 4, NameQueries: 5, StreamRecords: 6, StreamErrors: 1, Announcements: 2},
		StreamConnections: 3,
		Slots: []daemon.SlotStats{
			{Path: `app\jobs`, Delivered: 6, Dropped: 1, QueueDepth: -1},
			{Path: "evil\x1b[2J\"\n", Delivered: 1, QueueDepth: 4},
		},
		OtherSlots: &daemon.SlotStats{Delivered: 9, Dropped: 2, QueueDepth: -1},
		WINS: []daemon.WINSName{
			{Server: "10.0.0.5:137", Name: "HOSTA<00>", State: daemon.WINSConflict},
			{Server: "10.0.0.5:137", Name: "HOSTA<03>", State: daemon.WINSRegistered},
			{Server: "10.0.0.5:137", Name: "HOSTA<20>", State: daemon.WINSRegistered},
		},
	}
}

// The collector's metrics follow Prometheus' naming rules and say what
// the snapshot says; label values from the network come out escaped.
func TestCollector(t *testing.T) {
	c := NewCollector(fakeStatus)
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
	want := `
# HELP mailslotd_records_total Records from the network (datagram and stream), by outcome: delivered, no_slot, local_only, queue_full.
# TYPE mailslotd_records_total counter
mailslotd_records_total{outcome="delivered"} 7
mailslotd_records_total{outcome="local_only"} 1
mailslotd_records_total{outcome="no_slot"} 1
mailslotd_records_total{outcome="queue_full"} 1
# HELP mailslotd_slot_queue_depth Records waiting in the daemon for one local slot.
# TYPE mailslotd_slot_queue_depth gauge
mailslotd_slot_queue_depth{slot="evil\\x1b[2J\"\\n"} 4
# HELP mailslotd_stream_connections Stream connections open now.
# TYPE mailslotd_stream_connections gauge
mailslotd_stream_connections 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "mailslotd_records_total", "mailslotd_slot_queue_depth", "mailslotd_stream_connections"); err != nil {
		t.Fatal(err)
	}
	wins := `
# HELP mailslotd_wins_names This computer's NetBIOS names at each WINS server, by state: registering, registered, conflict (another computer holds it), refused, no answer, released.
# TYPE mailslotd_wins_names gauge
mailslotd_wins_names{server="10.0.0.5:137",state="conflict"} 1
mailslotd_wins_names{server="10.0.0.5:137",state="no answer"} 0
mailslotd_wins_names{server="10.0.0.5:137",state="refused"} 0
mailslotd_wins_names{server="10.0.0.5:137",state="registered"} 2
mailslotd_wins_names{server="10.0.0.5:137",state="registering"} 0
mailslotd_wins_names{server="10.0.0.5:137",state="released"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(wins), "mailslotd_wins_names"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "mailslotd_slot_records_total"); n != 6 {
		t.Fatalf("%d slot samples, want 6 (3 slots, 2 outcomes)", n)
	}
}

// The server serves /metrics and leaves no goroutine behind after Close.
func TestServerClose(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := Listen("127.0.0.1:0", Registry(fakeStatus))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := bufio.NewScanner(resp.Body)
	found := false
	for body.Scan() {
		found = found || strings.HasPrefix(body.Text(), `mailslotd_datagrams_total{outcome="for_us"} 10`)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if !found {
		t.Fatal("no mailslotd_datagrams_total in /metrics")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testenv.WaitGoroutines(t, before)
	if _, err := Listen("256.0.0.1:1", Registry(fakeStatus)); err == nil || !strings.Contains(err.Error(), "listen for metrics on 256.0.0.1:1") {
		t.Fatalf("bad address: %v", err)
	}
}
