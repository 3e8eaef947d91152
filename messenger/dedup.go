package messenger

import (
	"crypto/sha256"
	"strings"
	"sync"
	"time"
)

// DefaultDedupEntries is how many recent messages a Deduper from
// NewDeduper remembers at most.
const DefaultDedupEntries = 1024

// Deduper recognises a message that arrives again shortly after the first
// copy: Windows sends a broadcast once per protocol and interface, and a
// host can receive it over several, so one NET SEND may arrive two or
// three times within milliseconds. Show a message only when Seen returns
// false.
//
// A Deduper remembers a digest of each message (not its text) with the
// time it was first seen, forgets it once the window has passed, and never
// holds more than its maximum number of entries (the oldest go first). It
// reads no clock: the caller passes the time, so tests can say exactly
// when. It is safe for concurrent use.
type Deduper struct {
	window time.Duration
	max    int

	mu    sync.Mutex
	seen  map[[sha256.Size]byte]dedupEntry
	queue []dedupKey // in the order first seen; may hold stale keys
	head  int        // queue[head:] is live
	gen   uint64
}

type dedupEntry struct {
	at  time.Time
	gen uint64
}

type dedupKey struct {
	sum [sha256.Size]byte
	gen uint64
}

// NewDeduper returns a Deduper that calls a message a duplicate when the
// same sender (compared without regard to case, as NetBIOS names are) sent
// the same text less than window earlier. It remembers at most
// DefaultDedupEntries messages. A window of 0 or less makes every message
// new.
func NewDeduper(window time.Duration) *Deduper {
	return NewDeduperSize(window, DefaultDedupEntries)
}

// NewDeduperSize is NewDeduper remembering at most entries messages (at
// least 1). When more distinct messages than that arrive within the
// window, the oldest are forgotten and a late copy of one of them is shown
// again.
func NewDeduperSize(window time.Duration, entries int) *Deduper {
	return &Deduper{window: window, max: max(entries, 1), seen: make(map[[sha256.Size]byte]dedupEntry)}
}

// Seen reports whether m is a copy of a message seen less than the window
// before now: the same From (without regard to case) and the same Text.
// To is not compared, so a broadcast that arrives addressed once to the
// workgroup and once to this computer counts once. When it returns false,
// m is remembered as seen at now; a copy does not extend the window, so a
// message repeated for longer than the window is shown once a window.
//
// A time before the remembered one (a caller whose clock went back) within
// the window also counts as a copy.
func (d *Deduper) Seen(m Message, now time.Time) bool {
	if d.window <= 0 {
		return false
	}
	sum := digest(m)

	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(now)
	if e, ok := d.seen[sum]; ok {
		if age := now.Sub(e.at); age < d.window && age > -d.window {
			return true
		}
	}
	for len(d.seen) >= d.max {
		d.evictOldest()
	}
	d.gen++
	d.seen[sum] = dedupEntry{at: now, gen: d.gen}
	d.queue = append(d.queue, dedupKey{sum: sum, gen: d.gen})
	if len(d.queue)-d.head > 2*d.max {
		d.compact()
	}
	return false
}

// Len returns how many messages d remembers.
func (d *Deduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

// digest identifies a message by its sender, case-folded, and its text.
func digest(m Message) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(strings.ToUpper(m.From)))
	h.Write([]byte{0})
	h.Write([]byte(m.Text))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// expire forgets the messages, oldest first, that are at least a window
// older than now.
func (d *Deduper) expire(now time.Time) {
	for d.head < len(d.queue) {
		k := d.queue[d.head]
		if d.live(k) && now.Sub(d.seen[k.sum].at) < d.window {
			break
		}
		d.pop()
	}
}

// evictOldest forgets the oldest message still remembered.
func (d *Deduper) evictOldest() {
	// Every remembered message has its element in queue[head:], so there
	// is a live one to stop at.
	for !d.live(d.queue[d.head]) {
		d.pop()
	}
	d.pop()
}

// live reports whether the queue element k stands for a remembered message
// (and not for one replaced since).
func (d *Deduper) live(k dedupKey) bool {
	e, ok := d.seen[k.sum]
	return ok && e.gen == k.gen
}

// compact drops the queue elements of replaced messages. Times that go
// back and forth can leave them behind a message that does not expire;
// compacting keeps the queue within twice the entries.
func (d *Deduper) compact() {
	q := d.queue[:0]
	for _, k := range d.queue[d.head:] {
		if d.live(k) {
			q = append(q, k)
		}
	}
	clear(d.queue[len(q):])
	d.queue, d.head = q, 0
}

// pop removes the front of the queue, and its map entry when the entry is
// the one the queue element stands for, and compacts the queue when half
// of it is dead.
func (d *Deduper) pop() {
	if k := d.queue[d.head]; d.live(k) {
		delete(d.seen, k.sum)
	}
	d.queue[d.head] = dedupKey{}
	d.head++
	if d.head == len(d.queue) {
		d.queue, d.head = d.queue[:0], 0
	} else if d.head > 64 && d.head*2 >= len(d.queue) {
		n := copy(d.queue, d.queue[d.head:])
		d.queue, d.head = d.queue[:n], 0
	}
}
