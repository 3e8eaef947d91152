//go:build !windows

package daemon

import (
	"encoding/json"
	"os"
	"sort"
	"time"

	"github.com/mailslot-go/mailslot/daemon/natsbridge"
	"github.com/mailslot-go/mailslot/internal/trust"
	"github.com/mailslot-go/mailslot/internal/version"
)

// Status is a snapshot of a running daemon, for operators: what
// `mailslot status` prints and what the Prometheus collector
// (package daemon/metrics) exports.
type Status struct {
	Name       string        `json:"name"`
	Workgroup  string        `json:"workgroup"`
	Interfaces []IfaceStatus `json:"interfaces"`
	NamePort   int           `json:"name_port"`
	DgramPort  int           `json:"dgram_port"`
	StreamPort int           `json:"stream_port"`
	Started    time.Time     `json:"started"`
	Uptime     Duration      `json:"uptime"`
	Version    version.Info  `json:"version"`
	Stats      Stats         `json:"stats"`
	// StreamConnections is the number of stream connections open now.
	StreamConnections int `json:"stream_connections"`
	// DedupEntries is how many datagrams the duplicate filter remembers;
	// RelaySlots how many slots the daemon holds a relay connection to.
	DedupEntries int `json:"dedup_entries"`
	RelaySlots   int `json:"relay_slots"`
	// DedupWindow is the duplicate filter's window now (SIGHUP may change it).
	DedupWindow Duration `json:"dedup_window"`
	// Slots are the local slots records went to (delivered or dropped),
	// by path, busiest first. OtherSlots sums the slots beyond the
	// first MaxSlotStats the daemon met.
	Slots      []SlotStats `json:"slots"`
	OtherSlots *SlotStats  `json:"other_slots,omitempty"`
	// SlotsHidden is set when the asker may not see slot names (see
	// hostinfo.ListenStatus).
	SlotsHidden bool `json:"slots_hidden,omitempty"`
	// NodeType is how local clients resolve names (B, P, M or H); WINS
	// the state of each name at each WINS server; Multicast the group
	// workgroup datagrams also go to (GROUP:PORT).
	NodeType  string     `json:"node_type,omitempty"`
	WINS      []WINSName `json:"wins,omitempty"`
	Multicast string     `json:"multicast,omitempty"`
	// Bridge is the NATS bridge's state and counters (nil without one).
	Bridge *natsbridge.Stats `json:"nats,omitempty"`
}

// IfaceStatus is one interface the daemon serves.
type IfaceStatus struct {
	Name      string `json:"name"`
	Addr      string `json:"addr"`
	Broadcast string `json:"broadcast"`
}

// Duration is a time.Duration that marshals as its text ("1m30s").
type Duration time.Duration

// String is time.Duration's.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// MaxSlotStats bounds the slots a status (and the metrics) shows one by
// one, the busiest first; the others are summed. Slot names come from the
// network, so their number must not grow without bound, in memory or as
// metric labels.
const MaxSlotStats = 256

// slotsByTraffic returns the first MaxSlotStats of the slots' counters,
// the busiest first, and the sum of the others (nil when there are none).
func slotsByTraffic(all []SlotStats) ([]SlotStats, *SlotStats) {
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].Delivered+all[i].Dropped, all[j].Delivered+all[j].Dropped
		if a != b {
			return a > b
		}
		return all[i].Path < all[j].Path
	})
	if len(all) <= MaxSlotStats {
		return all, nil
	}
	other := &SlotStats{QueueDepth: -1}
	for _, s := range all[MaxSlotStats:] {
		other.Delivered += s.Delivered
		other.Dropped += s.Dropped
	}
	return all[:MaxSlotStats], other
}

// Status returns a snapshot of the daemon.
func (d *Daemon) Status() Status {
	st := Status{
		Name: d.cfg.Name, Workgroup: d.cfg.Workgroup,
		NamePort: d.cfg.NamePort, DgramPort: d.cfg.DgramPort, StreamPort: d.cfg.StreamPort,
		Started: d.started, Uptime: Duration(time.Since(d.started).Round(time.Second)),
		Version: version.Get(), Stats: d.Stats(),
		DedupEntries: d.dedup.len(), DedupWindow: Duration(d.dedup.getWindow()),
		RelaySlots: d.slots.len(),
		NodeType:   d.cfg.NodeType, WINS: d.wins.status(), Multicast: d.cfg.Multicast,
	}
	for _, ifc := range d.ifaces {
		st.Interfaces = append(st.Interfaces, IfaceStatus{Name: ifc.Name, Addr: ifc.Addr.String(), Broadcast: ifc.Broadcast.String()})
	}
	d.mu.Lock()
	st.StreamConnections = len(d.conns)
	d.mu.Unlock()
	st.Slots, st.OtherSlots = slotsByTraffic(d.queues.stats())
	if bs, ok := d.BridgeStats(); ok {
		st.Bridge = &bs
	}
	return st
}

// statusAnswer is the status socket's answer to a process of user uid:
// the status as JSON, without the slots' names unless uid is root, a
// mailslotd user or the daemon's own user (slot names say what other
// users run).
func (d *Daemon) statusAnswer(uid uint32) []byte {
	st := d.Status()
	if uid != 0 && uid != uint32(os.Geteuid()) && !trust.IsDaemonUID(uid) {
		st.Slots, st.OtherSlots, st.SlotsHidden = nil, nil, true
	}
	b, err := json.Marshal(st)
	if err != nil {
		d.log.Warn("encode status", "err", err)
		return nil
	}
	return b
}

// SetDedupWindow changes how long datagrams are remembered to drop their
// copies (0: the default, 2s), for a running daemon.
func (d *Daemon) SetDedupWindow(w time.Duration) {
	if w == 0 {
		w = defaultDedupWindow
	}
	d.dedup.setWindow(w)
}
