package bench

import (
	"os"
	"testing"
)

// TestLocalRuns checks that the measurement itself works: every case moves
// all its records both ways and yields positive durations.
func TestLocalRuns(t *testing.T) {
	rs, err := Local([]Case{{Writers: 1, Size: 16}, {Writers: 4, Size: 100}}, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Ours <= 0 || r.Baseline <= 0 || r.Records < 2000 {
			t.Fatalf("bad result %+v", r)
		}
	}
	Print(os.Stderr, "local", "raw", rs)
}

func TestQueueOverhead(t *testing.T) {
	per, err := QueueOverhead(20000, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The figure itself is for the benchmark; a sane range proves it is
	// measured (a record costs its header and some slack, never kilobytes).
	if per < 0 || per > 256 {
		t.Fatalf("overhead %.1f bytes per record", per)
	}
}
