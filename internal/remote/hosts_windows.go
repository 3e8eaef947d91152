//go:build windows

package remote

import (
	"os"
	"path/filepath"
)

// On Windows the hosts file is under the system folder.
func init() {
	root := os.Getenv("SystemRoot")
	if root == "" {
		root = `C:\Windows`
	}
	hostsFile = filepath.Join(root, "System32", "drivers", "etc", "hosts")
}
