package notify

import (
	"context"
	"errors"
)

// Supported reports whether this build shows desktop notifications. On
// DragonFly BSD it does not: the D-Bus library, github.com/godbus/dbus/v5
// (v5.2.4, its latest), does not build there.
const Supported = false

// errUnsupported is every call's error on this system.
var errUnsupported = errors.New("notify: desktop notifications are not built for DragonFly BSD (github.com/godbus/dbus/v5 does not build there)")

// Client stands for the notification client on this system, where no
// notification can be shown: each call says so.
type Client struct{}

// New returns a client; on this system its calls fail.
func New(addr, app string) *Client { return &Client{} }

// Available returns errUnsupported: no notification can be shown here.
func (c *Client) Available(ctx context.Context) (bool, error) { return false, errUnsupported }

// Notify returns errUnsupported: no notification can be shown here.
func (c *Client) Notify(ctx context.Context, summary, body string) (uint32, error) {
	return 0, errUnsupported
}

// Close does nothing.
func (c *Client) Close() error { return nil }
