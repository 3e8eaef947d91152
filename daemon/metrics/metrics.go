//go:build !windows

// Package metrics exports a mailslotd's counters to Prometheus: a
// prometheus.Collector that takes a daemon.Status snapshot at each scrape
// (so the daemon keeps plain atomic counters and pays nothing between
// scrapes), and an HTTP server for /metrics.
//
// Metrics (all prefixed mailslotd_):
//
//	datagrams_total{outcome}       datagrams received: for_us, not_for_us, malformed
//	dedup_hits_total               datagrams dropped as copies of one delivered
//	records_total{outcome}         records (datagram and stream): delivered, no_slot, local_only, queue_full
//	stream_records_total           records received on the stream port
//	stream_errors_total            stream connections ended by a malformed request
//	stream_connections             stream connections open now
//	name_queries_total             NetBIOS name queries answered
//	announcements_total            host announcements sent
//	slot_records_total{slot,outcome}  per local slot: delivered, dropped
//	slot_queue_depth{slot}         records waiting for a slot in the daemon (when it queues)
//	dedup_entries, relay_slots     datagrams remembered; slots with a relay connection
//	start_time_seconds, build_info{version,revision,goversion}
//	wins_names{server,state}       names at each WINS server, by state: registered, conflict, ...
//
// With the NATS bridge (mailslotd --nats):
//
//	nats_connected                 1 while connected to a NATS server, else 0
//	nats_records_total{outcome}    group records: published, received, deduplicated,
//	                               not_bridged (could not be handed to NATS), dropped
//	nats_requests_total{outcome}   records to computers on other sites: delivered, failed
//	nats_answered_total            records from other sites' writers answered here
//	nats_held_total{outcome}       durable messenger records: held, delivered
//	nats_disconnects_total, nats_reconnects_total
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailslot-go/mailslot/daemon"
	"github.com/mailslot-go/mailslot/internal/printable"
)

// OtherSlots is the slot label of the records of slots beyond
// daemon.MaxSlotStats.
const OtherSlots = "(other)"

var (
	descDatagrams   = prometheus.NewDesc("mailslotd_datagrams_total", "Mailslot datagrams received, by outcome: for_us (addressed to this computer, its workgroup or everyone), not_for_us, malformed.", []string{"outcome"}, nil)
	descDedup       = prometheus.NewDesc("mailslotd_dedup_hits_total", "Datagrams dropped as copies of one already delivered within the dedup window.", nil, nil)
	descRecords     = prometheus.NewDesc("mailslotd_records_total", "Records from the network (datagram and stream), by outcome: delivered, no_slot, local_only, queue_full.", []string{"outcome"}, nil)
	descStreamRecs  = prometheus.NewDesc("mailslotd_stream_records_total", "Records received on the stream port.", nil, nil)
	descStreamErrs  = prometheus.NewDesc("mailslotd_stream_errors_total", "Stream connections ended by a malformed request or a broken peer.", nil, nil)
	descStreamConns = prometheus.NewDesc("mailslotd_stream_connections", "Stream connections open now.", nil, nil)
	descNameQueries = prometheus.NewDesc("mailslotd_name_queries_total", "NetBIOS name queries answered.", nil, nil)
	descAnnounce    = prometheus.NewDesc("mailslotd_announcements_total", "Host announcements sent (one per interface).", nil, nil)
	descSlotRecs    = prometheus.NewDesc("mailslotd_slot_records_total", "Records for one local slot, by outcome: delivered, dropped (slot full or local-only). Slots beyond the first 256 are summed under slot=\"(other)\".", []string{"slot", "outcome"}, nil)
	descSlotQueue   = prometheus.NewDesc("mailslotd_slot_queue_depth", "Records waiting in the daemon for one local slot.", []string{"slot"}, nil)
	descDedupSize   = prometheus.NewDesc("mailslotd_dedup_entries", "Datagrams the duplicate filter remembers now.", nil, nil)
	descRelaySlots  = prometheus.NewDesc("mailslotd_relay_slots", "Local slots the daemon holds a relay connection to.", nil, nil)
	descStart       = prometheus.NewDesc("mailslotd_start_time_seconds", "When the daemon started, in seconds since the Unix epoch.", nil, nil)
	descWINSNames   = prometheus.NewDesc("mailslotd_wins_names", "This computer's NetBIOS names at each WINS server, by state: registering, registered, conflict (another computer holds it), refused, no answer, released.", []string{"server", "state"}, nil)
	descNATSConn    = prometheus.NewDesc("mailslotd_nats_connected", "1 while the NATS bridge is connected to a server, else 0.", nil, nil)
	descNATSRecs    = prometheus.NewDesc("mailslotd_nats_records_total", "Group records over the NATS bridge, by outcome: published, received, deduplicated (a copy of one that came over the LAN), not_bridged (for other sites, but NATS was down or refused it), dropped (lost here: slow consumer, or malformed).", []string{"outcome"}, nil)
	descNATSReqs    = prometheus.NewDesc("mailslotd_nats_requests_total", "Records to computers on other sites through the NATS bridge, by outcome: delivered, failed.", []string{"outcome"}, nil)
	descNATSAnswer  = prometheus.NewDesc("mailslotd_nats_answered_total", "Records from writers on other sites that this computer answered.", nil, nil)
	descNATSHeld    = prometheus.NewDesc("mailslotd_nats_held_total", "Durable messenger records, by outcome: held (kept in JetStream while the messenger was down), delivered (once it was back).", []string{"outcome"}, nil)
	descNATSDisc    = prometheus.NewDesc("mailslotd_nats_disconnects_total", "Times the NATS bridge lost its connection.", nil, nil)
	descNATSRecon   = prometheus.NewDesc("mailslotd_nats_reconnects_total", "Times the NATS bridge reconnected.", nil, nil)
	descBuild       = prometheus.NewDesc("mailslotd_build_info", "The daemon's build: module version, vcs revision, Go version (always 1).", []string{"version", "revision", "goversion"}, nil)
)

// Collector turns status snapshots into metrics.
type Collector struct {
	status func() daemon.Status
}

// NewCollector returns a collector that calls status at each scrape.
func NewCollector(status func() daemon.Status) *Collector { return &Collector{status: status} }

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDatagrams, descDedup, descRecords, descStreamRecs, descStreamErrs,
		descStreamConns, descNameQueries, descAnnounce, descSlotRecs, descSlotQueue, descDedupSize, descRelaySlots,
		descStart, descBuild, descWINSNames, descNATSConn, descNATSRecs, descNATSReqs, descNATSAnswer, descNATSHeld, descNATSDisc, descNATSRecon} {
		ch <- d
	}
}

// Collect takes a snapshot and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	s := st.Stats
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descDatagrams, s.Datagrams, "for_us")
	counter(descDatagrams, s.NotForUs, "not_for_us")
	counter(descDatagrams, s.Malformed, "malformed")
	counter(descDedup, s.Duplicates)
	counter(descRecords, s.Delivered, "delivered")
	counter(descRecords, s.NoSlot, "no_slot")
	counter(descRecords, s.LocalOnly, "local_only")
	counter(descRecords, s.QueueFull, "queue_full")
	counter(descStreamRecs, s.StreamRecords)
	counter(descStreamErrs, s.StreamErrors)
	gauge(descStreamConns, float64(st.StreamConnections))
	counter(descNameQueries, s.NameQueries)
	counter(descAnnounce, s.Announcements)
	slots := st.Slots
	if st.OtherSlots != nil {
		o := *st.OtherSlots
		o.Path = OtherSlots
		slots = append(slots, o)
	}
	for _, sl := range slots {
		path := printable.Line(sl.Path) // as a record from the network spelt it
		counter(descSlotRecs, sl.Delivered, path, "delivered")
		counter(descSlotRecs, sl.Dropped, path, "dropped")
		if sl.QueueDepth >= 0 {
			gauge(descSlotQueue, float64(sl.QueueDepth), path)
		}
	}
	gauge(descDedupSize, float64(st.DedupEntries))
	gauge(descRelaySlots, float64(st.RelaySlots))
	gauge(descStart, float64(st.Started.UnixNano())/1e9)
	gauge(descBuild, 1, st.Version.Version, st.Version.Revision, st.Version.GoVersion)
	// Every state of every server, 0 included, so that a name leaving a
	// state shows. Servers come from the configuration, not the network.
	wins := map[[2]string]int{}
	for _, n := range st.WINS {
		for _, state := range winsStates {
			wins[[2]string{n.Server, state}] += 0
		}
		wins[[2]string{n.Server, n.State}]++
	}
	for k, n := range wins {
		gauge(descWINSNames, float64(n), k[0], k[1])
	}
	if b := st.Bridge; b != nil {
		up := 0.0
		if b.Connected {
			up = 1
		}
		gauge(descNATSConn, up)
		counter(descNATSRecs, b.Published, "published")
		counter(descNATSRecs, b.Received, "received")
		counter(descNATSRecs, b.Deduplicated, "deduplicated")
		counter(descNATSRecs, b.NotBridged, "not_bridged")
		counter(descNATSRecs, b.Dropped, "dropped")
		counter(descNATSReqs, b.Requests-b.RequestsFailed, "delivered")
		counter(descNATSReqs, b.RequestsFailed, "failed")
		counter(descNATSAnswer, b.Answered)
		counter(descNATSHeld, b.Held, "held")
		counter(descNATSHeld, b.HeldDelivered, "delivered")
		counter(descNATSDisc, b.Disconnects)
		counter(descNATSRecon, b.Reconnects)
	}
}

// winsStates are the states a name has at a WINS server.
var winsStates = []string{daemon.WINSRegistering, daemon.WINSRegistered, daemon.WINSConflict,
	daemon.WINSRefused, daemon.WINSNoAnswer, daemon.WINSReleased}

// Registry returns a registry with the collector and Go's runtime and
// process collectors.
func Registry(status func() daemon.Status) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(status), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Server serves /metrics on one address until closed.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}
}

// Listen binds addr (host:port) and serves the registry's metrics at
// /metrics in the Prometheus text format.
func Listen(addr string, reg *prometheus.Registry) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4, Timeout: 10 * time.Second}))
	s := &Server{
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: 15 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 8 << 10},
		ln: ln, done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // http.ErrServerClosed after Close
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the server, ending open scrapes, and waits for it.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	<-s.done
	return err
}
