module github.com/mailslot-go/mailslot

go 1.26.0

require (
	github.com/godbus/dbus/v5 v5.2.4
	golang.org/x/sys v0.50.0
	golang.org/x/text v0.44.0
)
