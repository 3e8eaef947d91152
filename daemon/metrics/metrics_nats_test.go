//go:build !windows

package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/daemon/natsbridge"
)

// The NATS bridge's metrics follow Prometheus' naming rules, say what
// the snapshot says, and are absent without a bridge.
func TestCollectorNATS(t *testing.T) {
	st := fakeStatus()
	st.Bridge = &natsbridge.Stats{Connected: true, Published: 5, Received: 4, Deduplicated: 3, NotBridged: 2, Dropped: 1,
		Requests: 9, RequestsFailed: 2, Answered: 6, Held: 2, HeldDelivered: 1, Disconnects: 1, Reconnects: 1}
	c := NewCollector(func() daemon.Status { return st })
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
	want := `
# HELP mailslotd_nats_connected 1 while the NATS bridge is connected to a server, else 0.
# TYPE mailslotd_nats_connected gauge
mailslotd_nats_connected 1
# HELP mailslotd_nats_records_total Group records over the NATS bridge, by outcome: published, received, deduplicated (a copy of one that came over the LAN), not_bridged (for other sites, but NATS was down or refused it), dropped (lost here: slow consumer, or malformed).
# TYPE mailslotd_nats_records_total counter
mailslotd_nats_records_total{outcome="deduplicated"} 3
mailslotd_nats_records_total{outcome="dropped"} 1
mailslotd_nats_records_total{outcome="not_bridged"} 2
mailslotd_nats_records_total{outcome="published"} 5
mailslotd_nats_records_total{outcome="received"} 4
# HELP mailslotd_nats_requests_total Records to computers on other sites through the NATS bridge, by outcome: delivered, failed.
# TYPE mailslotd_nats_requests_total counter
mailslotd_nats_requests_total{outcome="delivered"} 7
mailslotd_nats_requests_total{outcome="failed"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "mailslotd_nats_connected", "mailslotd_nats_records_total", "mailslotd_nats_requests_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(NewCollector(fakeStatus), "mailslotd_nats_connected", "mailslotd_nats_records_total"); n != 0 {
		t.Errorf("%d NATS metrics without a bridge", n)
	}
}
