// Package notify shows desktop notifications through the freedesktop
// notification service (org.freedesktop.Notifications) on the session bus,
// over github.com/godbus/dbus/v5.
package notify

import "errors"

// The notification service's name and interface.
const (
	Service   = "org.freedesktop.Notifications"
	Interface = "org.freedesktop.Notifications"
)

// ErrNoService means no notification service on the bus: none owns
// Service and the bus cannot start one.
var ErrNoService = errors.New("notify: no notification service on the session bus")
