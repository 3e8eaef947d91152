package dbus

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The message bus itself.
const (
	BusName      = "org.freedesktop.DBus"
	BusPath      = ObjectPath("/org/freedesktop/DBus")
	BusInterface = "org.freedesktop.DBus"
)

// ErrAddress means a bus address this package cannot connect to.
var ErrAddress = errors.New("dbus: unusable bus address")

// Error is an error reply to a method call.
type Error struct {
	Name    string // e.g. org.freedesktop.DBus.Error.ServiceUnknown
	Message string // the reply's first string, if any
	Call    string // interface.member of the call
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("dbus: %s: %s", e.Call, e.Name)
	}
	return fmt.Sprintf("dbus: %s: %s: %s", e.Call, e.Name, e.Message)
}

// maxQueued bounds the method calls kept for ReadMessage while Call waits
// for its reply.
const maxQueued = 64

// Conn is a connection to a message bus. It is not safe for concurrent
// use: one goroutine calls its methods at a time.
type Conn struct {
	c      net.Conn
	r      *bufio.Reader
	serial uint32
	name   string     // the unique name the bus gave us
	queue  []*Message // method calls that arrived while Call waited
}

// Dial connects to the bus at address (the form of
// DBUS_SESSION_BUS_ADDRESS: "unix:path=/run/user/1000/bus", or
// "unix:abstract=NAME", several separated by ';', tried in turn),
// authenticates as this process's user and says Hello. ctx bounds the
// whole handshake.
func Dial(ctx context.Context, address string) (*Conn, error) {
	if address == "" {
		return nil, fmt.Errorf("%w: empty", ErrAddress)
	}
	var errs []error
	for _, a := range strings.Split(address, ";") {
		if a == "" {
			continue
		}
		c, err := dialOne(ctx, a)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// socketPath turns one address into the Unix socket to dial.
func socketPath(address string) (string, error) {
	transport, params, ok := strings.Cut(address, ":")
	if !ok || transport != "unix" {
		return "", fmt.Errorf("%w %q: only unix: addresses are supported", ErrAddress, address)
	}
	for _, kv := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(kv, "=")
		v, err := url.PathUnescape(v)
		if err != nil {
			return "", fmt.Errorf("%w %q: %v", ErrAddress, address, err)
		}
		switch k {
		case "path":
			return v, nil
		case "abstract":
			return "@" + v, nil
		}
	}
	return "", fmt.Errorf("%w %q: no path= or abstract=", ErrAddress, address)
}

func dialOne(ctx context.Context, address string) (*Conn, error) {
	path, err := socketPath(address)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("dbus: connect to %s: %w", address, err)
	}
	c := &Conn{c: nc, r: bufio.NewReader(nc)}
	stop := c.bind(ctx)
	defer stop()
	if err := c.auth(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("dbus: authenticate to %s: %w", address, err)
	}
	reply, err := c.call(&Message{Type: TypeMethodCall, Path: BusPath, Interface: BusInterface, Member: "Hello", Destination: BusName})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("dbus: Hello to %s: %w", address, err)
	}
	if c.name, _ = first[string](reply); c.name == "" {
		nc.Close()
		return nil, fmt.Errorf("%w: Hello to %s returned no unique name", ErrFormat, address)
	}
	return c, nil
}

// bind makes ctx's deadline and cancellation end blocked reads and
// writes; the returned function undoes it.
func (c *Conn) bind(ctx context.Context) func() {
	dl, _ := ctx.Deadline()
	_ = c.c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		_ = c.c.SetDeadline(time.Time{})
	}
}

// auth runs the SASL EXTERNAL exchange: the server checks our uid against
// the socket's peer credentials.
func (c *Conn) auth() error {
	uid := hex.EncodeToString([]byte(strconv.Itoa(os.Getuid())))
	if _, err := c.c.Write([]byte("\x00AUTH EXTERNAL " + uid + "\r\n")); err != nil {
		return err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "OK ") {
		return fmt.Errorf("server answered %q to AUTH EXTERNAL", strings.TrimSpace(line))
	}
	_, err = c.c.Write([]byte("BEGIN\r\n"))
	return err
}

// first returns the first body value of a reply as a T.
func first[T any](m *Message) (T, bool) {
	var zero T
	if len(m.Body) == 0 {
		return zero, false
	}
	v, ok := m.Body[0].(T)
	return v, ok
}

// UniqueName is the name the bus gave this connection (":1.42").
func (c *Conn) UniqueName() string { return c.name }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Send writes m, giving it the next serial, and returns that serial.
func (c *Conn) Send(m *Message) (uint32, error) {
	c.serial++
	m.Serial = c.serial
	b, err := m.Marshal()
	if err != nil {
		return 0, err
	}
	if _, err := c.c.Write(b); err != nil {
		return 0, fmt.Errorf("dbus: send %s: %w", m.describe(), err)
	}
	return m.Serial, nil
}

// Call sends a method call and waits for its reply, within ctx. Signals
// that arrive meanwhile are dropped; method calls are kept for
// ReadMessage. An error reply is an *Error.
func (c *Conn) Call(ctx context.Context, m *Message) (*Message, error) {
	stop := c.bind(ctx)
	defer stop()
	return c.call(m)
}

func (c *Conn) call(m *Message) (*Message, error) {
	m.Type = TypeMethodCall
	serial, err := c.Send(m)
	if err != nil {
		return nil, err
	}
	name := m.describe()
	for {
		r, err := ReadMessage(c.r)
		if err != nil {
			return nil, fmt.Errorf("dbus: waiting for the reply to %s: %w", name, err)
		}
		switch {
		case r.Type == TypeMethodCall:
			if len(c.queue) < maxQueued {
				c.queue = append(c.queue, r)
			}
		case r.ReplySerial != serial:
		case r.Type == TypeError:
			msg, _ := first[string](r)
			return nil, &Error{Name: r.ErrorName, Message: msg, Call: name}
		case r.Type == TypeMethodReturn:
			return r, nil
		}
	}
}

// ReadMessage returns the next message for this connection: a method call
// kept by Call, else the next from the bus.
func (c *Conn) ReadMessage() (*Message, error) {
	if len(c.queue) > 0 {
		m := c.queue[0]
		c.queue = c.queue[1:]
		return m, nil
	}
	return ReadMessage(c.r)
}

// Reply answers the method call to with a return of these values.
func (c *Conn) Reply(to *Message, sig Signature, body ...any) error {
	_, err := c.Send(&Message{Type: TypeMethodReturn, Flags: FlagNoReplyExpected, ReplySerial: to.Serial,
		Destination: to.Sender, Signature: sig, Body: body})
	return err
}

// ReplyError answers the method call to with an error.
func (c *Conn) ReplyError(to *Message, name, text string) error {
	_, err := c.Send(&Message{Type: TypeError, Flags: FlagNoReplyExpected, ReplySerial: to.Serial,
		Destination: to.Sender, ErrorName: name, Signature: "s", Body: []any{text}})
	return err
}

// busCall calls a method of the bus itself.
func (c *Conn) busCall(ctx context.Context, member string, sig Signature, args ...any) (*Message, error) {
	return c.Call(ctx, &Message{Path: BusPath, Interface: BusInterface, Member: member, Destination: BusName, Signature: sig, Body: args})
}

// NameHasOwner asks the bus whether a connection owns name.
func (c *Conn) NameHasOwner(ctx context.Context, name string) (bool, error) {
	r, err := c.busCall(ctx, "NameHasOwner", "s", name)
	if err != nil {
		return false, err
	}
	b, ok := first[bool](r)
	if !ok {
		return false, fmt.Errorf("%w: NameHasOwner returned %q", ErrFormat, r.Signature)
	}
	return b, nil
}

// Activatable asks the bus whether it can start a service for name.
func (c *Conn) Activatable(ctx context.Context, name string) (bool, error) {
	r, err := c.busCall(ctx, "ListActivatableNames", "")
	if err != nil {
		return false, err
	}
	names, _ := first[[]any](r)
	for _, n := range names {
		if n == name {
			return true, nil
		}
	}
	return false, nil
}

// RequestName reply codes.
const (
	NamePrimaryOwner = 1
	NameInQueue      = 2
	NameExists       = 3
	NameAlreadyOwner = 4
)

// RequestName asks the bus for a well-known name without queueing for it
// and returns the bus's reply code.
func (c *Conn) RequestName(ctx context.Context, name string) (uint32, error) {
	const doNotQueue = 4
	r, err := c.busCall(ctx, "RequestName", "su", name, uint32(doNotQueue))
	if err != nil {
		return 0, err
	}
	code, ok := first[uint32](r)
	if !ok {
		return 0, fmt.Errorf("%w: RequestName returned %q", ErrFormat, r.Signature)
	}
	return code, nil
}
