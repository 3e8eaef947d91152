package local

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// curCPU names the CPU a thread is pinned to, on each CPU it may use,
// and on amd64 reads it from the vDSO's segment, not the kernel.
func TestCurCPUPinned(t *testing.T) {
	if runtime.GOARCH == "amd64" && !segmentCPUWorks() {
		t.Fatal("the vDSO's per-CPU segment does not give the CPU on this amd64 Linux")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &all)
	seen := 0
	for cpu := range 1024 {
		if !all.IsSet(cpu) {
			continue
		}
		var one unix.CPUSet
		one.Set(cpu)
		if err := unix.SchedSetaffinity(0, &one); err != nil {
			t.Fatal(err)
		}
		if got := curCPU(); got != cpu {
			t.Fatalf("pinned to CPU %d, curCPU = %d", cpu, got)
		}
		if got := getcpu(); got != cpu {
			t.Fatalf("pinned to CPU %d, getcpu = %d", cpu, got)
		}
		seen++
	}
	if seen == 0 {
		t.Fatal("no CPU in the thread's affinity")
	}
}

// segmentAgrees trusts a fast source only when it agrees with the
// kernel, and no try disagrees.
func TestSegmentAgrees(t *testing.T) {
	const node1 = 1 << 12
	seq := func(vs ...uint32) func() (uint32, bool) {
		i := 0
		return func() (uint32, bool) {
			v := vs[i%len(vs)]
			i++
			return v, true
		}
	}
	kernel := func(k int) func() int { return func() int { return k } }
	for _, c := range []struct {
		name   string
		fast   func() (uint32, bool)
		kernel func() int
		want   bool
	}{
		{"agrees", seq(3), kernel(3), true},
		{"node bits above the CPU", seq(node1 | 3), kernel(3), true},
		{"a CPU past 255", seq(node1 | 300), kernel(300), true},
		{"wrong CPU", seq(2), kernel(3), false},
		{"cannot read", func() (uint32, bool) { return 3, false }, kernel(3), false},
		{"cannot read the second time", func() func() (uint32, bool) {
			i := 0
			return func() (uint32, bool) { i++; return 3, i%2 == 1 }
		}(), kernel(3), false},
		{"kernel cannot say", seq(3), kernel(-1), false},
		// Every try sees the thread move: nothing agrees.
		{"always moving", seq(3, 4), kernel(3), false},
		// Two tries agree, then the thread keeps moving.
		{"agrees twice only", seq(3, 3, 3, 3, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4, 3, 4), kernel(3), false},
		// One try moves, the rest agree.
		{"moves once", seq(3, 4, 4, 4, 4, 4, 4, 4, 4), kernel(4), true},
	} {
		if got := segmentAgrees(c.fast, c.kernel); got != c.want {
			t.Errorf("%s: segmentAgrees = %v, want %v", c.name, got, c.want)
		}
	}
}
