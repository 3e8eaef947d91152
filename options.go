package mailslot

import (
	"time"
)

// Option configures Create (server options) or Open (client options);
// an option that does not apply to the call is ignored.
type Option func(*options)

type options struct {
	maxMessageSize int
	readTimeout    time.Duration
	writeTimeout   time.Duration
	quota          int
	anyUser        bool
	uids           []uint32
	gids           []uint32
	sids           []string
	network        bool
	serverUIDs     []uint32
	anyServer      bool
}

func buildOptions(opts []Option) options {
	o := options{readTimeout: WaitForever, writeTimeout: WaitForever}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// WithMaxMessageSize sets the largest record the slot accepts (server).
// 0, the default, means any size the transport carries: 64 KiB locally.
func WithMaxMessageSize(n int) Option { return func(o *options) { o.maxMessageSize = n } }

// WithReadTimeout sets the slot's read timeout (server): WaitForever (the
// default), 0 (never wait), or a duration.
func WithReadTimeout(d time.Duration) Option { return func(o *options) { o.readTimeout = d } }

// WithQueueQuota bounds the bytes the slot keeps queued (server); each
// record costs its length plus 24 bytes. When the quota is full, local
// writers wait (see WithWriteTimeout) and records arriving from the network
// are dropped and counted. The default is 64 MiB. Windows keeps a slot's
// queue itself, unbounded by this package: there it has no effect.
func WithQueueQuota(bytes int) Option { return func(o *options) { o.quota = bytes } }

// WithAllowUsers lets these users write to the slot (server), besides the
// server's own user and root, who always may.
//
// On Windows, each number is a relative ID (RID) in this computer's
// account domain, as local accounts have (1000, 1001, ...): the slot's
// DACL gets an ACE granting FILE_GENERIC_WRITE to that account's SID. The
// server's own user, SYSTEM and Administrators always have all rights.
// Use WithAllowSIDs for domain and built-in accounts.
func WithAllowUsers(uids ...int) Option {
	return func(o *options) {
		for _, u := range uids {
			o.uids = append(o.uids, uint32(u))
		}
	}
}

// WithAllowGroups lets members of these groups write to the slot (server).
//
// On Windows, each number is a relative ID in this computer's account
// domain, as local groups have: an ACE grants the group FILE_GENERIC_WRITE.
func WithAllowGroups(gids ...int) Option {
	return func(o *options) {
		for _, g := range gids {
			o.gids = append(o.gids, uint32(g))
		}
	}
}

// WithAnyUser lets every local user write to the slot (server), as Windows
// does for mailslots created without a security descriptor.
//
// On Windows, the slot's DACL gets an ACE granting FILE_GENERIC_WRITE to
// Everyone (S-1-1-0).
func WithAnyUser() Option { return func(o *options) { o.anyUser = true } }

// WithAllowSIDs lets the Windows accounts and groups with these security
// identifiers (strings like "S-1-5-32-545", BUILTIN\Users) write to the
// slot (server): the slot's DACL gets an ACE granting FILE_GENERIC_WRITE
// to each. A string that is not a SID makes Create fail with
// ErrInvalidName. Unix systems have no SIDs, and there this option is
// ignored, so a writer it names is refused unless another option lets it
// write.
func WithAllowSIDs(sids ...string) Option {
	return func(o *options) { o.sids = append(o.sids, sids...) }
}

// WithWriteTimeout bounds how long Write waits while a local slot's queue
// is full (client): WaitForever (the default), 0, or a duration. A write
// that times out returns ErrTimeout and the record was not queued.
// Windows mailslot writes never wait: there it has no effect.
func WithWriteTimeout(d time.Duration) Option { return func(o *options) { o.writeTimeout = d } }

// WithNetwork lets the slot take records from the network (server): those
// mailslotd receives from other computers, over UDP 138 or its stream
// port, and hands on with their sender in Message.From. Without it, a
// slot takes records from local writers only, and mailslotd counts what
// it could not deliver. Only the computer's mailslotd (a process of root,
// or of the user MAILSLOT_DAEMON_USER names) may relay records.
// On Windows, where mailslotd does not run, it has no effect: the system
// delivers records from the network itself.
func WithNetwork() Option { return func(o *options) { o.network = true } }

// WithServerUsers lets the client write to slots served by these users
// (client), besides its own user and root, whom it always trusts. A slot
// served by any other user is refused at Open with ErrPermission: another
// user may have taken the name first. Windows does not tell a client who
// serves a name: there it has no effect.
func WithServerUsers(uids ...int) Option {
	return func(o *options) {
		for _, u := range uids {
			o.serverUIDs = append(o.serverUIDs, uint32(u))
		}
	}
}

// WithAnyServer lets the client write to a slot whoever serves it
// (client), as on Windows, where every client does.
func WithAnyServer() Option { return func(o *options) { o.anyServer = true } }
