// Package notify shows desktop notifications through the freedesktop
// notification service (org.freedesktop.Notifications) on the session bus.
package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mailslot-go/mailslot/internal/dbus"
)

// The notification service's name, object and interface.
const (
	Service   = "org.freedesktop.Notifications"
	Path      = dbus.ObjectPath("/org/freedesktop/Notifications")
	Interface = "org.freedesktop.Notifications"
)

// ErrNoService means no notification service on the bus: none owns
// Service and the bus cannot start one.
var ErrNoService = errors.New("notify: no notification service on the session bus")

// Client sends notifications over one session bus connection, made on
// first use and made again after a failure. It is not safe for concurrent
// use.
type Client struct {
	addr string
	app  string
	conn *dbus.Conn
	// learnt per connection
	activatable bool
	capsKnown   bool // the service's capabilities were asked for
	markup      bool // the service takes body markup
}

// New returns a client for the bus at addr (DBUS_SESSION_BUS_ADDRESS's
// form) that names itself app. It connects on first use.
func New(addr, app string) *Client { return &Client{addr: addr, app: app} }

// connect makes the connection if there is none, and learns whether the
// bus can start the service and whether it takes markup.
func (c *Client) connect(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	conn, err := dbus.Dial(ctx, c.addr)
	if err != nil {
		return err
	}
	c.activatable, err = conn.Activatable(ctx, Service)
	if err != nil {
		conn.Close()
		return err
	}
	c.conn, c.capsKnown, c.markup = conn, false, false
	return nil
}

// Available reports whether a notification service is there now: a
// connection owns Service, or the bus can start it. A nil error with
// false means the bus is there but the service is not.
func (c *Client) Available(ctx context.Context) (bool, error) {
	if err := c.connect(ctx); err != nil {
		return false, err
	}
	owned, err := c.conn.NameHasOwner(ctx, Service)
	if err != nil {
		c.drop()
		return false, err
	}
	return owned || c.activatable, nil
}

// Notify shows a notification with summary and body (plain text: escaped
// when the service takes markup) and returns its id. With no service it
// returns ErrNoService.
func (c *Client) Notify(ctx context.Context, summary, body string) (uint32, error) {
	ok, err := c.Available(ctx)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, ErrNoService
	}
	if !c.capsKnown {
		caps, err := c.call(ctx, "GetCapabilities", "")
		if err != nil {
			return 0, err
		}
		list, _ := caps.Body[0].([]any)
		c.capsKnown, c.markup = true, slices.Contains(list, any("body-markup"))
	}
	if c.markup {
		body = escape(body)
	}
	hints := map[string]dbus.Variant{"urgency": {Sig: "y", Value: byte(1)}, "category": {Sig: "s", Value: "im.received"}}
	r, err := c.call(ctx, "Notify", "susssasa{sv}i", c.app, uint32(0), "", summary, body, []string{}, hints, int32(-1))
	if err != nil {
		return 0, err
	}
	id, ok := r.Body[0].(uint32)
	if len(r.Body) != 1 || !ok {
		return 0, fmt.Errorf("%w: Notify returned %q", dbus.ErrFormat, r.Signature)
	}
	return id, nil
}

// call calls a method of the service; a failure drops the connection
// unless the service answered with an error.
func (c *Client) call(ctx context.Context, member string, sig dbus.Signature, args ...any) (*dbus.Message, error) {
	r, err := c.conn.Call(ctx, &dbus.Message{Destination: Service, Path: Path, Interface: Interface, Member: member, Signature: sig, Body: args})
	var de *dbus.Error
	if err != nil && !errors.As(err, &de) {
		c.drop()
	}
	if err == nil && len(r.Body) == 0 {
		return nil, fmt.Errorf("%w: %s returned nothing", dbus.ErrFormat, member)
	}
	return r, err
}

func (c *Client) drop() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// Close closes the connection, if any.
func (c *Client) Close() error {
	c.drop()
	return nil
}

// escape makes text safe in the notification body markup (a small subset
// of HTML): a hostile sender's <a href> or <img> shows as text.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}
