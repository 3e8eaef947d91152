// Package mailslot provides Windows-style mailslots: one-way, name-addressed,
// record-oriented messaging between processes on one computer and across a
// LAN.
//
// A server creates a slot with a name of the form `\\.\mailslot\[path\]name`
// and reads records from it, one at a time, in arrival order. Clients open
// the name and write records. Names compare case-insensitively; only one
// process on a computer serves a given name.
//
//	slot, err := mailslot.Create(`\\.\mailslot\app\events`)
//	...
//	c, err := mailslot.Open(`\\.\mailslot\app\events`)
//	c.Write([]byte("hello"))
//	...
//	n, err := slot.Read(buf) // buf[:n] == "hello"
//
// Local slots need no daemon. Clients may also name another computer
// (`\\HOST\mailslot\x`), a domain or workgroup (`\\WG\mailslot\x`) or the
// primary domain (`\\*\mailslot\x`); those records travel as NetBIOS
// datagrams that Windows and Samba hosts understand, received on Linux
// hosts by mailslotd.
//
// Better than the original: the writer's pid and uid come with each record,
// who may write is checked, a slot's queued memory is bounded by a quota,
// and a server can hand its slot, queued records included, to another
// process.
//
// On Windows the package is a thin layer over the system's own mailslots
// (CreateMailslotW's system call, ReadFile, GetMailslotInfo,
// SetMailslotInfo, CreateFileW, WriteFile), with the same API; each
// function's documentation says where Windows differs (From, Stats, the
// timeout of blocked reads, the client's view of the maximum message
// size). Remote names go through this package's NetBIOS datagram sender
// there too, since recent Windows versions refuse remote mailslot writes;
// mailslotd does not run on Windows.
package mailslot

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// WaitForever as a read or write timeout means wait as long as it takes.
const WaitForever time.Duration = -1

// NoMessage is Info.NextSize when no record is waiting.
const NoMessage = -1

// MaxLocalMessageSize is the largest record a local slot carries (64 KiB),
// and the largest that goes to another computer over mailslotd's stream
// port. On Windows, a slot created with no maximum message size takes
// larger records too, as the system allows.
const MaxLocalMessageSize = 65536

// Info describes a slot, as GetMailslotInfo does on Windows.
type Info struct {
	MaxMessageSize int           // 0 = any size up to the transport limit
	NextSize       int           // NoMessage when the queue is empty
	MessageCount   int           // records waiting
	ReadTimeout    time.Duration // WaitForever, 0, or a duration
}

// Message is a record with what the slot knows of it.
type Message struct {
	Data []byte
	// From says who wrote the record: "local pid N uid M" for a local
	// writer, or, for a record mailslotd received from the network, the
	// sender as `\\NAME (ip:port)`. On Windows it is empty: the system
	// does not tell a mailslot's server who wrote a record.
	From string
	Time time.Time // when the slot received it
}

// Stats counts what a slot has received since it was created.
type Stats struct {
	Records     uint64 // records queued
	Bytes       uint64 // payload bytes queued
	Refused     uint64 // writers refused at Open: their user may not write, or records from the network without WithNetwork
	Oversize    uint64 // records dropped for being over the maximum message size
	Malformed   uint64 // writers cut off for breaking the shared-memory format (only a hostile writer does)
	QuotaWaits  uint64 // times the queue was full and a writer had to wait
	QueuedBytes int    // bytes in the slot's queue now, per-record headers included; records still in writers' rings are not counted
}

// Slot is the server end of a mailslot. It is safe for concurrent use.
type Slot struct {
	name   Name
	given  string
	maxMsg int      // as configured: 0 = transport limit
	sys    *sysSlot // the platform's slot: mailslot_unix.go, mailslot_windows.go
}

// Create creates the mailslot with the given local name and starts serving
// it. The name must be `\\.\mailslot\...` (or `//./mailslot/...`).
//
// On Windows, Create is CreateMailslotW with the maximum message size, the
// read timeout and a security descriptor whose DACL lets the creating user,
// SYSTEM and Administrators do anything with the slot, and the users and
// groups of WithAllowUsers, WithAllowGroups and WithAllowSIDs (or everyone,
// with WithAnyUser) write to it.
func Create(name string, opts ...Option) (*Slot, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, opErr("create", name, unwrapParse(err))
	}
	if !n.IsLocal() {
		return nil, opErr("create", name, fmt.Errorf(`%w: a server creates \\.\mailslot\ names only`, errs.InvalidName))
	}
	o := buildOptions(opts)
	if o.maxMessageSize < 0 || o.maxMessageSize > maxSlotRecord {
		return nil, opErr("create", name, fmt.Errorf("%w: maximum message size %d is outside 0..%d", errs.MessageTooLarge, o.maxMessageSize, maxSlotRecord))
	}
	sys, err := createSlot(n, name, o)
	if err != nil {
		return nil, opErr("create", name, err)
	}
	return &Slot{name: n, given: name, maxMsg: o.maxMessageSize, sys: sys}, nil
}

func normTimeout(d time.Duration) time.Duration {
	if d < 0 {
		return WaitForever
	}
	return d
}

// unwrapParse turns ParseName's *Error into its cause, so that callers
// wrap it once with their own operation.
func unwrapParse(err error) error {
	if e, ok := err.(*Error); ok {
		return e.Err
	}
	return err
}

// Name returns the slot's name.
func (s *Slot) Name() Name { return s.name }

// Read reads the next record into p and returns its length. It waits as
// the slot's read timeout says. When p is smaller than the record, Read
// returns ErrBufferTooSmall and the record stays queued; Info().NextSize
// tells the size needed.
//
// On Windows, Read is ReadFile on the slot's handle; Windows applies the
// read timeout.
func (s *Slot) Read(p []byte) (int, error) {
	if p == nil {
		p = []byte{}
	}
	n, err := s.sys.read(p)
	if err != nil {
		return 0, opErr("read", s.given, err)
	}
	return n, nil
}

// ReadMessage reads the next record with its sender and arrival time. It
// waits as the slot's read timeout says, and no longer than ctx allows:
// when ctx ends first, it returns ctx's error and no record is taken.
//
// On Windows the read is an overlapped ReadFile that CancelIoEx cancels
// when ctx ends; Windows does not tell who wrote a record, so From is
// empty, and Time is when the read completed.
func (s *Slot) ReadMessage(ctx context.Context) (Message, error) {
	m, err := s.sys.readMessage(ctx)
	if err != nil {
		return Message{}, opErr("read", s.given, err)
	}
	return m, nil
}

// Info returns the slot's maximum message size, the size of the next record,
// the number of records waiting and the read timeout. Every record whose
// Write returned before Info was called is counted.
//
// On Windows, Info is GetMailslotInfo.
func (s *Slot) Info() (Info, error) {
	next, count, timeout, err := s.sys.info()
	if err != nil {
		return Info{}, opErr("info", s.given, err)
	}
	return Info{MaxMessageSize: s.maxMsg, NextSize: next, MessageCount: count, ReadTimeout: timeout}, nil
}

// SetReadTimeout changes the read timeout, for later reads and for reads
// blocked now (their wait is measured from when they began).
//
// On Windows, SetReadTimeout is SetMailslotInfo, which Windows applies to
// reads that begin later: a read blocked now keeps the timeout it began
// with.
func (s *Slot) SetReadTimeout(d time.Duration) error {
	return opErr("set read timeout", s.given, s.sys.setReadTimeout(normTimeout(d)))
}

// Stats returns the slot's counters.
//
// On Windows, where the system keeps the queue and tells nothing of what
// arrives until it is read, Records and Bytes count the records this
// process has read from the slot (through this Slot and, before a
// Transfer, the Slot it came from in this process), and the other
// counters stay 0.
func (s *Slot) Stats() Stats {
	return s.sys.stats()
}

// Close stops serving the slot. Unread records are discarded and blocked
// reads return ErrClosed. Once no process holds the slot (see Transfer),
// the name is free.
func (s *Slot) Close() error {
	return opErr("close", s.given, s.sys.close())
}

// Transfer hands the slot over to another process, as a Windows server
// hands an inheritable mailslot handle to a program it starts. It returns a
// file to pass to that process, which calls FileSlot with it. Records
// queued now, and those written meanwhile, are kept in order; the name
// stays taken while the file or the new Slot lives. s itself is closed:
// later calls return ErrClosed.
//
// On Linux and other Unix systems the file is a Unix socket: pass it in
// exec.Cmd.ExtraFiles, or over a Unix socket (net.UnixConn.WriteMsgUnix
// with syscall.UnixRights).
//
// On Windows the file is the mailslot handle itself, made inheritable:
// pass it to a child in exec.Cmd.SysProcAttr.AdditionalInheritedHandles
// and tell the child its value (f.Fd()), which the child wraps with
// os.NewFile; or copy it into a running process with DuplicateHandle.
func (s *Slot) Transfer() (*os.File, error) {
	f, err := s.sys.transfer(s.given)
	if err != nil {
		return nil, opErr("transfer", s.given, err)
	}
	return f, nil
}

// FileSlot takes over the slot carried by f, a file made by Transfer in
// this or another process. It closes f.
//
// On Windows, f is a mailslot server handle (from Transfer, or from any
// program's CreateMailslot); the slot's name is f.Name() when that is a
// `\\.\mailslot\` name, and otherwise the one Windows keeps for the
// handle. A handle made by another program's CreateMailslotW is
// synchronous: while a read waits on it, Info and SetReadTimeout wait for
// that read to end.
func FileSlot(f *os.File) (*Slot, error) {
	sys, given, max, err := adoptSlot(f)
	if err != nil {
		return nil, opErr("adopt", f.Name(), err)
	}
	n, err := ParseName(given)
	if err != nil {
		sys.close()
		return nil, opErr("adopt", given, unwrapParse(err))
	}
	return &Slot{name: n, given: given, maxMsg: max, sys: sys}, nil
}

// Client is the writing end of a mailslot. It is safe for concurrent use.
type Client struct {
	name    Name
	given   string
	timeout atomic.Int64 // time.Duration
	w       writer
	closed  atomic.Bool
}

// writer is a transport's writing end.
type writer interface {
	write(p []byte, timeout time.Duration) error
	maxMessageSize() int
	close() error
}

// Open opens a mailslot for writing. A local name (`\\.\mailslot\...`) with
// no server returns ErrNotFound; a server that does not let this user write
// returns ErrPermission, and so does a server run by a user this client
// does not trust (by default it trusts its own user and root; see
// WithServerUsers), so that a name taken first by another user never gets
// the client's records.
//
// On Windows, Open of a local name is CreateFileW (GENERIC_WRITE, sharing
// read and write, so that any number of clients coexist), and a DACL that
// does not let this user write gives ErrPermission. Windows does not tell
// a client who serves a name, so WithServerUsers and WithAnyServer have no
// effect there.
func Open(name string, opts ...Option) (*Client, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, opErr("open", name, unwrapParse(err))
	}
	o := buildOptions(opts)
	var w writer
	if n.IsLocal() {
		w, err = openLocal(n, o)
		if err != nil {
			return nil, opErr("open", name, err)
		}
	} else {
		w, err = openRemote(n)
		if err != nil {
			return nil, opErr("open", name, err)
		}
	}
	c := &Client{name: n, given: name, w: w}
	c.timeout.Store(int64(normTimeout(o.writeTimeout)))
	return c, nil
}

// Name returns the name the client writes to.
func (c *Client) Name() Name { return c.name }

// MaxMessageSize returns the largest record Write accepts for this name.
func (c *Client) MaxMessageSize() int { return c.w.maxMessageSize() }

// Write writes p as exactly one record. It returns len(p) once the record
// is in the slot's queue (locally, or as the far side answered for a record
// sent over a connection), or once a datagram is sent for broadcast names.
// A record over the slot's maximum returns ErrMessageTooLarge and nothing
// is sent.
//
// On Windows, a local Write is WriteFile, which never waits; a client
// cannot learn the slot's maximum there (MaxMessageSize is what one
// WriteFile carries), and WriteFile refuses a larger record with
// ErrMessageTooLarge.
func (c *Client) Write(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, opErr("write", c.given, errs.Closed)
	}
	if max := c.w.maxMessageSize(); len(p) > max {
		return 0, opErr("write", c.given, fmt.Errorf("%w: %d bytes, the limit is %d", errs.MessageTooLarge, len(p), max))
	}
	if err := c.w.write(p, time.Duration(c.timeout.Load())); err != nil {
		if c.closed.Load() {
			err = errs.Closed
		}
		return 0, opErr("write", c.given, err)
	}
	return len(p), nil
}

// SetWriteTimeout changes how long later writes wait for room in a full
// local slot. Windows mailslot writes never wait: there it has no effect.
func (c *Client) SetWriteTimeout(d time.Duration) { c.timeout.Store(int64(normTimeout(d))) }

// Close closes the client.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return opErr("close", c.given, errs.Closed)
	}
	return opErr("close", c.given, c.w.close())
}
