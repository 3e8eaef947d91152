//go:build !windows

package remote

import "testing"

// wineLacksUDP is false: only a Windows build can run under Wine.
func wineLacksUDP(*testing.T) bool { return false }
