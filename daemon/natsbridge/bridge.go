// Package natsbridge carries mailslot records between mailslotd hosts on
// different sites, over a NATS cluster (or leaf nodes, or a
// supercluster) that the sites already run. Each bridged mailslotd is a
// NATS client:
//
//   - group records written on its computer go to every other bridged
//     mailslotd of the workgroup, on subject mailslot.group.WG.PATH (see
//     GroupSubject), and each delivers them to its own slots only: a
//     bridged record is never sent on to a LAN;
//   - a record for a computer not found on the LAN is a NATS request to
//     mailslot.computer.NAME.PATH, which that computer's mailslotd
//     answers with what became of the record (ComputerSubject);
//   - with Options.Durable, messenger records for this computer that
//     find its messenger down wait in a JetStream stream (HeldSubject)
//     until it is served again.
//
// The bridge never waits for NATS: while the connection is down it
// counts each record it could not carry (Stats.NotBridged) and tells the
// caller, and the NATS client reconnects on its own. Authentication and
// permissions are the NATS server's (Options.Creds, Options.NKey, TLS).
package natsbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailslot-go/mailslot/internal/loglimit"
	"github.com/mailslot-go/mailslot/internal/stream"
)

// Options configure the bridge. The zero value (no URLs) is no bridge.
type Options struct {
	// URLs are the NATS servers to connect to (nats://host:4222,
	// tls://host:4222; user:password@ in a URL is passed on).
	URLs []string
	// Creds is a NATS credentials file (a user JWT and its nkey seed);
	// NKey a file holding an nkey seed (SU...).
	Creds, NKey string
	// TLSCert and TLSKey are a client certificate and its key for servers
	// that ask for one; TLSCA the CA certificates to verify the servers
	// with (default: the system's).
	TLSCert, TLSKey, TLSCA string
	// Site names this computer's site in the records it sends, which a
	// receiver shows in their origin (default: the name of the NATS
	// server it is connected to).
	Site string
	// Durable keeps messenger records (slot MESSNGR) for this computer
	// that find no reader in a JetStream stream, and delivers them when
	// the slot is served again: at most DurableMaxMsgs (default 1000) of
	// them, none older than DurableMaxAge (default 7 days).
	Durable        bool
	DurableMaxAge  time.Duration
	DurableMaxMsgs int
}

// Enabled reports whether the options ask for a bridge.
func (o Options) Enabled() bool { return len(o.URLs) > 0 }

// Defaults of the durable messenger.
const (
	DefaultDurableMaxAge  = 7 * 24 * time.Hour
	DefaultDurableMaxMsgs = 1000
)

// Handler is the daemon's side: it delivers what the bridge receives.
type Handler interface {
	// Group takes a group record from another mailslotd. r and its Data
	// are valid during the call only.
	Group(r *Record)
	// Direct takes a record sent to this computer's slot and returns
	// what became of it, as the stream port answers.
	Direct(r *Record) stream.Response
	// Held takes a messenger record the durable stream kept: nil once it
	// is in the slot, an error (the slot is not served) to keep it.
	Held(r *Record) error
	// MessengerServed reports whether this computer's messenger slot
	// has a reader now.
	MessengerServed() bool
}

// Stats counts what the bridge did since it started.
type Stats struct {
	Connected bool   `json:"connected"`
	Server    string `json:"server,omitempty"` // the NATS server connected to now
	Site      string `json:"site,omitempty"`   // the site this computer's records name
	// Published: group records handed to NATS (a record the server then
	// refuses, for want of a permission, is counted as NotBridged too);
	// Received: group records
	// from other mailslotds; Deduplicated: of those, copies of a record
	// that had come over the LAN already (or twice over NATS); NotBridged:
	// records for other sites that could not be handed to NATS (it was
	// down, or refused them); Dropped: records NATS had for this computer
	// but that were lost here (a slow consumer) or did not decode.
	Published    uint64 `json:"published"`
	Received     uint64 `json:"received"`
	Deduplicated uint64 `json:"deduplicated"`
	NotBridged   uint64 `json:"not_bridged"`
	Dropped      uint64 `json:"dropped"`
	// Requests: records sent to computers on other sites; RequestsFailed:
	// of those, not delivered there (no such computer or slot, the slot
	// refused or stayed full, no answer); Answered: requests from other
	// sites this computer answered.
	Requests       uint64 `json:"requests"`
	RequestsFailed uint64 `json:"requests_failed"`
	Answered       uint64 `json:"answered"`
	// Held: messenger records kept in the durable stream; HeldDelivered:
	// of those, delivered once the messenger was back.
	Held          uint64 `json:"held"`
	HeldDelivered uint64 `json:"held_delivered"`
	// Disconnects and Reconnects count the connection's losses and
	// returns.
	Disconnects uint64 `json:"disconnects"`
	Reconnects  uint64 `json:"reconnects"`
}

type counters struct {
	published, received, deduplicated, notBridged, dropped, requests, requestsFailed,
	answered, held, heldDelivered, disconnects, reconnects atomic.Uint64
}

// ErrNotBridged is returned for a record the bridge could not hand to
// NATS.
var ErrNotBridged = errors.New("not bridged to other sites")

// Bridge is one mailslotd's connection to the NATS cluster.
type Bridge struct {
	opts            Options
	name, workgroup string
	log             *slog.Logger
	h               Handler
	nc              *nats.Conn
	subs            []*nats.Subscription
	c               counters
	server          atomic.Pointer[string]
	subjects        subjectCache
	groupNames      names // onGroup's (one goroutine)
	bufs            sync.Pool
	direct          chan struct{} // bounds the requests answered at once
	errMu           sync.Mutex
	errLogs         loglimit.Limiter // asyncError's
	done            chan struct{}
	wg              sync.WaitGroup

	jsMu     sync.Mutex
	js       jetstream.JetStream
	held     jetstream.Consumer // nil until the stream is set up
	heldKick chan struct{}
}

// maxDirect bounds the requests from other sites a mailslotd answers at
// once (each may wait for room in a full slot).
const maxDirect = 64

// New connects to NATS as computer name of workgroup and starts
// receiving; it returns at once even if no server answers yet (the
// client keeps trying, and the bridge counts what it cannot carry
// meanwhile). An error is for options that cannot work (a missing
// credentials file, say).
func New(opts Options, name, workgroup string, log *slog.Logger, h Handler) (*Bridge, error) {
	if log == nil {
		log = slog.Default()
	}
	if opts.DurableMaxAge <= 0 {
		opts.DurableMaxAge = DefaultDurableMaxAge
	}
	if opts.DurableMaxMsgs <= 0 {
		opts.DurableMaxMsgs = DefaultDurableMaxMsgs
	}
	b := &Bridge{
		opts: opts, name: strings.ToUpper(name), workgroup: strings.ToUpper(workgroup), log: log, h: h,
		direct: make(chan struct{}, maxDirect), done: make(chan struct{}), heldKick: make(chan struct{}, 1),
	}
	b.bufs.New = func() any { s := make([]byte, 0, 2048); return &s }
	no := ""
	b.server.Store(&no)
	nopts := []nats.Option{
		nats.Name("mailslotd " + b.name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(200*time.Millisecond, time.Second),
		// While reconnecting, a publish fails instead of waiting in a
		// buffer that a later failure could lose: what is not carried is
		// counted, never claimed.
		nats.ReconnectBufSize(-1),
		// A mailslotd does not hear its own group records back: its
		// computer got them on its LAN.
		nats.NoEcho(),
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(nc *nats.Conn) { b.up(nc, false) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { b.up(nc, true) }),
		nats.DisconnectErrHandler(b.down),
		nats.ErrorHandler(b.asyncError),
	}
	if opts.Creds != "" {
		nopts = append(nopts, nats.UserCredentials(opts.Creds))
	}
	if opts.NKey != "" {
		o, err := nats.NkeyOptionFromSeed(opts.NKey)
		if err != nil {
			return nil, fmt.Errorf("nats nkey %s: %w", opts.NKey, err)
		}
		nopts = append(nopts, o)
	}
	if opts.TLSCert != "" || opts.TLSKey != "" {
		if opts.TLSCert == "" || opts.TLSKey == "" {
			return nil, errors.New("nats TLS: a client certificate needs both its file and its key's")
		}
		nopts = append(nopts, nats.ClientCert(opts.TLSCert, opts.TLSKey))
	}
	if opts.TLSCA != "" {
		nopts = append(nopts, nats.RootCAs(opts.TLSCA))
	}
	nc, err := nats.Connect(strings.Join(opts.URLs, ","), nopts...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", redacted(opts.URLs), err)
	}
	b.nc = nc
	if !nc.IsConnected() {
		log.Warn("NATS not reachable yet: mailslotd serves its LAN and keeps trying; records for other sites are counted as not bridged meanwhile",
			"nats", redacted(opts.URLs))
	}
	// Subscriptions made before the first connection are sent once it is
	// up.
	for _, s := range []struct {
		subject, queue string
		cb             nats.MsgHandler
	}{
		{GroupPrefix + Token(b.workgroup) + ".>", "", b.onGroup},
		{ComputerPrefix + Token(b.name) + ".>", "", b.onDirect},
		{MemberSubject(b.workgroup), "mailslotd", b.onMember},
	} {
		var sub *nats.Subscription
		var err error
		if s.queue != "" {
			sub, err = nc.QueueSubscribe(s.subject, s.queue, s.cb)
		} else {
			sub, err = nc.Subscribe(s.subject, s.cb)
		}
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("nats subscribe %s: %w", s.subject, err)
		}
		// Room for a burst: a record is up to 64 KiB.
		_ = sub.SetPendingLimits(65536, 64<<20)
		b.subs = append(b.subs, sub)
	}
	if opts.Durable {
		b.wg.Add(1)
		go b.heldLoop()
	}
	return b, nil
}

// Redacted is a comma-separated list of server URLs (as the nats setting
// takes them) with their passwords and tokens hidden, for logs.
func Redacted(urls string) string { return redacted(strings.Split(urls, ",")) }

// redacted lists the URLs with their passwords hidden, for logs.
func redacted(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		p, err := url.Parse(strings.TrimSpace(u))
		switch {
		case err != nil:
			out[i] = "(a URL that does not parse)"
		case p.User != nil:
			if _, ok := p.User.Password(); ok {
				p.User = url.UserPassword(p.User.Username(), "xxxxx")
			} else {
				p.User = url.User("xxxxx") // a token
			}
			out[i] = p.String()
		default:
			out[i] = p.String()
		}
	}
	return strings.Join(out, ",")
}

// up notes a (re)connection, and logs it once.
func (b *Bridge) up(nc *nats.Conn, again bool) {
	srv := nc.ConnectedServerName()
	b.server.Store(&srv)
	if again {
		b.c.reconnects.Add(1)
		b.log.Info("NATS reconnected: bridging to other sites again", "server", srv, "url", nc.ConnectedUrlRedacted())
	} else {
		b.log.Info("NATS connected: bridging to other sites", "server", srv, "url", nc.ConnectedUrlRedacted(), "site", b.Site())
	}
	b.kickHeld()
}

// down notes a lost connection, and logs it once.
func (b *Bridge) down(nc *nats.Conn, err error) {
	if nc.IsClosed() {
		return // Close
	}
	b.c.disconnects.Add(1)
	b.log.Warn("NATS disconnected: mailslotd serves its LAN and reconnects on its own; records for other sites are counted as not bridged meanwhile",
		"err", err)
}

func (b *Bridge) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) {
		if sub != nil {
			if n, derr := sub.Dropped(); derr == nil && n > 0 {
				b.log.Warn("NATS records dropped: this mailslotd could not keep up", "subject", sub.Subject, "dropped_total", n)
			}
		}
		return
	}
	if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(strings.ToLower(err.Error()), "for publish") {
		// The server refused a record (a publish this user may not make,
		// which Publish could not know): it was not bridged.
		b.c.notBridged.Add(1)
	}
	b.errMu.Lock()
	ok, more := b.errLogs.Allow(time.Now(), errLogEvery)
	b.errMu.Unlock()
	if ok {
		b.log.Warn("NATS error", "err", err, "errors_since_last_log", more)
	}
}

// errLogEvery is the least time between two logs of NATS errors.
const errLogEvery = 10 * time.Second

// Site is the site this computer's records name.
func (b *Bridge) Site() string {
	if b.opts.Site != "" {
		return b.opts.Site
	}
	return *b.server.Load()
}

// Connected reports whether the bridge is connected now.
func (b *Bridge) Connected() bool { return b.nc.IsConnected() }

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	c := &b.c
	var dropped uint64
	for _, s := range b.subs {
		if n, err := s.Dropped(); err == nil && n > 0 {
			dropped += uint64(n)
		}
	}
	st := Stats{
		Connected: b.nc.IsConnected(), Site: b.Site(),
		Published: c.published.Load(), Received: c.received.Load(), Deduplicated: c.deduplicated.Load(),
		NotBridged: c.notBridged.Load(), Dropped: c.dropped.Load() + dropped,
		Requests: c.requests.Load(), RequestsFailed: c.requestsFailed.Load(), Answered: c.answered.Load(),
		Held: c.held.Load(), HeldDelivered: c.heldDelivered.Load(),
		Disconnects: c.disconnects.Load(), Reconnects: c.reconnects.Load(),
	}
	if st.Connected {
		st.Server = *b.server.Load()
	}
	return st
}

// Duplicate counts a record received over the bridge that was a copy of
// one already delivered.
func (b *Bridge) Duplicate() { b.c.deduplicated.Add(1) }

// NotBridged counts a record for other sites that was not handed to the
// bridge (the caller found it down, say).
func (b *Bridge) NotBridged() { b.c.notBridged.Add(1) }

// PublishGroup hands a group record to every other bridged mailslotd of
// workgroup r.Target. It never waits for the network: with the
// connection down it counts the record as not bridged and returns
// ErrNotBridged.
func (b *Bridge) PublishGroup(r *Record) error {
	if !b.nc.IsConnected() {
		b.c.notBridged.Add(1)
		return ErrNotBridged
	}
	bp := b.bufs.Get().(*[]byte)
	buf := AppendRecord((*bp)[:0], r)
	err := b.nc.Publish(b.subjects.get(GroupPrefix, r.Target, r.Path), buf)
	if cap(buf) <= 128<<10 {
		*bp = buf[:0]
		b.bufs.Put(bp)
	}
	if err != nil {
		b.c.notBridged.Add(1)
		return fmt.Errorf("%w: %v", ErrNotBridged, err)
	}
	b.c.published.Add(1)
	return nil
}

// Request sends a record to computer r.Target's slot r.Path through the
// bridge and returns that computer's answer: stream.OK once the record is
// in its slot's queue, else why not (stream.Unreachable when no mailslotd
// answers for that computer, or the bridge is down).
func (b *Bridge) Request(r *Record, timeout time.Duration) stream.Response {
	b.c.requests.Add(1)
	resp := b.request(r, timeout)
	if resp.Status != stream.OK {
		b.c.requestsFailed.Add(1)
	}
	return resp
}

func (b *Bridge) request(r *Record, timeout time.Duration) stream.Response {
	if !b.nc.IsConnected() {
		b.c.notBridged.Add(1)
		return stream.Response{Status: stream.Unreachable, Message: "the bridge to other sites is down (NATS not connected)"}
	}
	msg, err := b.nc.Request(ComputerSubject(r.Target, r.Path), AppendRecord(nil, r), timeout)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		// No computer of that name: perhaps a workgroup with no member
		// on the writer's LAN.
		if _, err := b.nc.Request(MemberSubject(r.Target), nil, 2*time.Second); err == nil {
			if err := b.PublishGroup(r); err != nil {
				return stream.Response{Status: stream.Unreachable, Message: "the group record was not bridged to other sites: " + err.Error()}
			}
			return stream.Response{Status: stream.OK}
		}
		return stream.Response{Status: stream.Unreachable, Message: "no computer or workgroup " + r.Target + " on this LAN or through the bridge to other sites"}
	case errors.Is(err, nats.ErrTimeout):
		return stream.Response{Status: stream.Unreachable, Message: fmt.Sprintf("%s did not answer through the bridge within %v", r.Target, timeout)}
	case err != nil:
		b.c.notBridged.Add(1)
		return stream.Response{Status: stream.Unreachable, Message: "not bridged: " + err.Error()}
	}
	if len(msg.Data) < 1 {
		return stream.Response{Status: stream.Failed, Message: "empty answer through the bridge"}
	}
	return stream.Response{Status: stream.Status(msg.Data[0]), Message: string(msg.Data[1:])}
}

func (b *Bridge) onGroup(m *nats.Msg) {
	r, err := DecodeRecord(m.Data, b.groupNames.intern)
	if err != nil {
		b.c.dropped.Add(1)
		b.log.Debug("dropped NATS record that did not decode", "subject", m.Subject, "err", err)
		return
	}
	if strings.EqualFold(r.Source, b.name) && r.Site == b.Site() {
		return // our own, come back (NoEcho covers this connection)
	}
	b.c.received.Add(1)
	b.h.Group(&r)
}

// onMember answers for this computer's workgroup (one member answers).
func (b *Bridge) onMember(m *nats.Msg) {
	if m.Reply != "" {
		_ = m.Respond([]byte{1})
	}
}

func (b *Bridge) onDirect(m *nats.Msg) {
	if m.Reply == "" {
		b.c.dropped.Add(1)
		return
	}
	select {
	case b.direct <- struct{}{}:
	default:
		// Too many at once: say so rather than queue without bound.
		_ = m.Respond(answer(stream.Response{Status: stream.Busy, Message: b.name + " is answering too many records from other sites"}))
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() { <-b.direct }()
		r, err := DecodeRecord(m.Data, nil)
		var resp stream.Response
		if err != nil {
			b.c.dropped.Add(1)
			resp = stream.Response{Status: stream.BadRequest, Message: err.Error()}
		} else {
			resp = b.h.Direct(&r)
			b.c.answered.Add(1)
		}
		_ = m.Respond(answer(resp))
	}()
}

func answer(r stream.Response) []byte {
	msg := r.Message
	if len(msg) > stream.MaxReason {
		msg = msg[:stream.MaxReason]
	}
	return append([]byte{byte(r.Status)}, msg...)
}

// Close ends the connection and waits for the bridge's goroutines.
func (b *Bridge) Close() {
	select {
	case <-b.done:
		return
	default:
	}
	close(b.done)
	// Connected, let what was received be handled and what was published
	// go out; Drain returns at once, so wait (a little) for it to end.
	if b.nc.IsConnected() && b.nc.Drain() == nil {
		deadline := time.Now().Add(2 * time.Second)
		for !b.nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	b.nc.Close()
	b.wg.Wait()
}

// names hands out one string per name met, so that the records of a busy
// sender cost no allocation for its names; it forgets them all when full.
// One goroutine uses it.
type names struct{ m map[string]string }

func (n *names) intern(b []byte) string {
	if s, ok := n.m[string(b)]; ok {
		return s
	}
	if n.m == nil || len(n.m) >= 1024 {
		n.m = map[string]string{}
	}
	s := string(b)
	n.m[s] = s
	return s
}

// subjectCache keeps the subjects of recent targets and paths, so that a
// busy slot's records cost no subject to build.
type subjectCache struct {
	mu sync.Mutex
	m  map[[3]string]string
}

func (sc *subjectCache) get(prefix, target, path string) string {
	k := [3]string{prefix, target, path}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if s, ok := sc.m[k]; ok {
		return s
	}
	if sc.m == nil || len(sc.m) >= 1024 {
		sc.m = map[[3]string]string{}
	}
	s := prefix + Token(target) + "." + PathTokens(path)
	sc.m[k] = s
	return s
}

// Durable messenger.

// Hold keeps a messenger record for this computer in the durable stream
// until its messenger slot is served; nil once JetStream has stored it.
func (b *Bridge) Hold(r *Record) error {
	if !b.opts.Durable {
		return ErrNotBridged
	}
	js, err := b.jetStream()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, HeldSubject(b.name), AppendRecord(nil, r)); err != nil {
		return fmt.Errorf("%w: keep the messenger record: %v", ErrNotBridged, err)
	}
	b.c.held.Add(1)
	b.kickHeld()
	return nil
}

// jetStream sets up the stream and its consumer once NATS is up.
func (b *Bridge) jetStream() (jetstream.JetStream, error) {
	b.jsMu.Lock()
	defer b.jsMu.Unlock()
	if b.held != nil {
		return b.js, nil
	}
	if !b.nc.IsConnected() {
		return nil, fmt.Errorf("%w: NATS not connected", ErrNotBridged)
	}
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        HeldStream(b.name),
		Description: "messenger records for " + b.name + " kept while its messenger is down (mailslotd --nats-durable-messenger)",
		Subjects:    []string{HeldSubject(b.name)},
		Retention:   jetstream.WorkQueuePolicy,
		MaxAge:      b.opts.DurableMaxAge,
		MaxMsgs:     int64(b.opts.DurableMaxMsgs),
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: messenger stream %s: %v", ErrNotBridged, HeldStream(b.name), err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   "mailslotd",
		AckPolicy: jetstream.AckExplicitPolicy,
		AckWait:   30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: messenger stream %s's consumer: %v", ErrNotBridged, HeldStream(b.name), err)
	}
	b.js, b.held = js, cons
	return js, nil
}

func (b *Bridge) kickHeld() {
	if !b.opts.Durable {
		return
	}
	select {
	case b.heldKick <- struct{}{}:
	default:
	}
}

// heldLoop delivers held messenger records once the messenger is served:
// it looks every second, and at once when a record is held or NATS comes
// back.
func (b *Bridge) heldLoop() {
	defer b.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var logged bool
	for {
		select {
		case <-b.done:
			return
		case <-tick.C:
		case <-b.heldKick:
		}
		if !b.nc.IsConnected() || !b.h.MessengerServed() {
			continue
		}
		if _, err := b.jetStream(); err != nil {
			if !logged {
				b.log.Warn("durable messenger: stream not ready", "err", err)
				logged = true
			}
			continue
		}
		logged = false
		b.deliverHeld()
	}
}

// deliverHeld hands the held records to the messenger, oldest first,
// until none is left or one is refused.
func (b *Bridge) deliverHeld() {
	for {
		batch, err := b.held.FetchNoWait(16)
		if err != nil {
			return
		}
		n, failed := 0, false
		for m := range batch.Messages() {
			n++
			if failed {
				_ = m.NakWithDelay(time.Second)
				continue
			}
			r, err := DecodeRecord(m.Data(), nil)
			if err != nil {
				_ = m.Term()
				b.c.dropped.Add(1)
				continue
			}
			if err := b.h.Held(&r); err != nil {
				failed = true
				_ = m.NakWithDelay(time.Second)
				continue
			}
			_ = m.Ack()
			b.c.heldDelivered.Add(1)
		}
		if n == 0 || failed {
			return
		}
	}
}
