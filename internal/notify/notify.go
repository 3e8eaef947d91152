//go:build !dragonfly

package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"
)

// Path is the notification service's object.
const Path = dbus.ObjectPath("/org/freedesktop/Notifications")

// Supported reports whether this build shows desktop notifications (it
// does on every system but DragonFly BSD: see notify_dragonfly.go).
const Supported = true

// Client sends notifications over one session bus connection, made on
// first use and made again after a failure. It is not safe for concurrent
// use.
type Client struct {
	addr string
	app  string
	conn *dbus.Conn
	end  context.CancelFunc // ends conn's life context
	// learnt per connection
	activatable bool
	capsKnown   bool // the service's capabilities were asked for
	markup      bool // the service takes body markup
}

// New returns a client for the bus at addr (DBUS_SESSION_BUS_ADDRESS's
// form) that names itself app. It connects on first use.
func New(addr, app string) *Client { return &Client{addr: addr, app: app} }

// connect makes the connection if there is none, and learns whether the
// bus can start the service. ctx bounds the handshake: godbus's own
// handshake takes no context, so ctx's end closes the connection under it.
func (c *Client) connect(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	if c.addr == "" {
		return errors.New("notify: no session bus address (DBUS_SESSION_BUS_ADDRESS is empty)")
	}
	life, end := context.WithCancel(context.Background()) // the connection's life: godbus closes it when life ends
	stop := context.AfterFunc(ctx, end)
	conn, err := dbus.Connect(c.addr, dbus.WithContext(life))
	if !stop() {
		err = ctx.Err()
	}
	if err != nil {
		end()
		return fmt.Errorf("notify: connect to the session bus %s: %w", c.addr, err)
	}
	var names []string
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", 0).Store(&names); err != nil {
		conn.Close()
		end()
		return fmt.Errorf("notify: ListActivatableNames on the session bus %s: %w", c.addr, err)
	}
	c.conn, c.end, c.activatable, c.capsKnown, c.markup = conn, end, slices.Contains(names, Service), false, false
	return nil
}

// Available reports whether a notification service is there now: a
// connection owns Service, or the bus can start it. A nil error with
// false means the bus is there but the service is not.
func (c *Client) Available(ctx context.Context) (bool, error) {
	if err := c.connect(ctx); err != nil {
		return false, err
	}
	var owned bool
	if err := c.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, Service).Store(&owned); err != nil {
		c.drop()
		return false, fmt.Errorf("notify: NameHasOwner %s on the session bus %s: %w", Service, c.addr, err)
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
		var caps []string
		if err := c.call(ctx, "GetCapabilities", &caps); err != nil {
			return 0, err
		}
		c.capsKnown, c.markup = true, slices.Contains(caps, "body-markup")
	}
	if c.markup {
		body = escape(body)
	}
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(byte(1)), "category": dbus.MakeVariant("im.received")}
	var id uint32
	if err := c.call(ctx, "Notify", &id, c.app, uint32(0), "", summary, body, []string{}, hints, int32(-1)); err != nil {
		return 0, err
	}
	return id, nil
}

// call calls a method of the service and stores its one result in out; a
// failure drops the connection unless the service answered with an error.
func (c *Client) call(ctx context.Context, member string, out any, args ...any) error {
	err := c.conn.Object(Service, Path).CallWithContext(ctx, Interface+"."+member, 0, args...).Store(out)
	if err == nil {
		return nil
	}
	var de dbus.Error
	if !errors.As(err, &de) {
		c.drop()
	} else if de.Name != "" {
		err = fmt.Errorf("%s: %w", de.Name, err)
	}
	return fmt.Errorf("notify: %s on %s: %w", member, Service, err)
}

func (c *Client) drop() {
	if c.conn != nil {
		c.conn.Close()
		c.end()
		c.conn, c.end = nil, nil
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
