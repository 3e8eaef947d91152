package local

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// canPrefetchWrite agrees with the kernel, which names the CPUID bit
// 3dnowprefetch.
func TestCanPrefetchWriteAsTheKernelSays(t *testing.T) {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(info)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != "flags" {
			continue
		}
		want := slices.Contains(strings.Fields(value), "3dnowprefetch")
		if canPrefetchWrite != want {
			t.Fatalf("canPrefetchWrite = %v; the kernel's flags say %v", canPrefetchWrite, want)
		}
		return
	}
	t.Fatal("no flags line in /proc/cpuinfo")
}
