package daemon

import (
	"strings"
	"testing"
)

func TestOriginLen(t *testing.T) {
	for _, src := range []string{"", "HOSTA", strings.Repeat("N", 255)} {
		for _, remote := range []string{"10.0.0.1:4242", "[fe80::1%eth0]:65535"} {
			if got, want := originLen(len(src), remote), len(streamOrigin(src, remote)); got != want {
				t.Fatalf("originLen(%d, %q) = %d, want %d", len(src), remote, got, want)
			}
		}
	}
}
