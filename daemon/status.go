package daemon

import (
	"encoding/json"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/mailslot-go/mailslot/internal/local"
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
}

// IfaceStatus is one interface the daemon serves.
type IfaceStatus struct {
	Name      string `json:"name"`
	Addr      string `json:"addr"`
	Broadcast string `json:"broadcast"`
}

// SlotStats counts the records for one local slot, by its path as the
// first record named it. QueueDepth is the records waiting for the slot
// in the daemon, -1 when the daemon does not queue for slots.
type SlotStats struct {
	Path       string `json:"path"`
	Delivered  uint64 `json:"delivered"`
	Dropped    uint64 `json:"dropped"` // the slot was full, or takes no records from the network
	QueueDepth int    `json:"queue_depth"`
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

// MaxSlotStats bounds the slots counted one by one: slot names come from
// the network, so their number must not grow without bound (in memory or
// as metric labels). Only slots that exist here are counted.
const MaxSlotStats = 256

// slotStats counts records per slot.
type slotStats struct {
	mu    sync.Mutex
	slots map[string]*SlotStats // by local.Key
	other SlotStats
}

func newSlotStats() *slotStats { return &slotStats{slots: map[string]*SlotStats{}} }

func (ss *slotStats) entry(path string) *SlotStats {
	k := local.Key(path)
	e := ss.slots[k]
	if e == nil {
		if len(ss.slots) >= MaxSlotStats {
			return &ss.other
		}
		e = &SlotStats{Path: path, QueueDepth: -1}
		ss.slots[k] = e
	}
	return e
}

func (ss *slotStats) delivered(path string) {
	ss.mu.Lock()
	ss.entry(path).Delivered++
	ss.mu.Unlock()
}

func (ss *slotStats) dropped(path string) {
	ss.mu.Lock()
	ss.entry(path).Dropped++
	ss.mu.Unlock()
}

func (ss *slotStats) snapshot() ([]SlotStats, *SlotStats) {
	ss.mu.Lock()
	out := make([]SlotStats, 0, len(ss.slots))
	for _, e := range ss.slots {
		out = append(out, *e)
	}
	var other *SlotStats
	if ss.other.Delivered+ss.other.Dropped > 0 {
		o := ss.other
		o.Path, o.QueueDepth = "", -1
		other = &o
	}
	ss.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Delivered+out[i].Dropped, out[j].Delivered+out[j].Dropped
		if a != b {
			return a > b
		}
		return out[i].Path < out[j].Path
	})
	return out, other
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
	}
	for _, ifc := range d.ifaces {
		st.Interfaces = append(st.Interfaces, IfaceStatus{Name: ifc.Name, Addr: ifc.Addr.String(), Broadcast: ifc.Broadcast.String()})
	}
	d.mu.Lock()
	st.StreamConnections = len(d.conns)
	d.mu.Unlock()
	st.Slots, st.OtherSlots = d.slotStats.snapshot()
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
