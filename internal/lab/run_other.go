//go:build !linux && !windows

package lab

import (
	"fmt"
	"runtime"
)

// Run would run fn in the host's network namespace: Linux only (New
// skips, or fails under CI, before any host exists elsewhere).
func (h *Host) Run(fn func() error) error {
	return fmt.Errorf("network namespaces need Linux, not %s", runtime.GOOS)
}
