//go:build !windows

package mailslot_test

import (
	"fmt"
	"testing"

	"github.com/mailslot-go/mailslot/internal/bench"
)

// BenchmarkLocal moves b.N records from W writers to one slot, then the
// same through a raw Unix datagram socket loop, and reports both rates and
// their ratio (ours/raw: 1.0 is as fast as the bare socket).
func BenchmarkLocal(b *testing.B) {
	for _, c := range bench.DefaultLocalCases() {
		b.Run(fmt.Sprintf("writers=%d/size=%d", c.Writers, c.Size), func(b *testing.B) {
			n := max(b.N, c.Writers)
			ours, raw, err := bench.LocalOnce(c, n)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(c.Size))
			b.ReportMetric(float64(n)/ours.Seconds(), "rec/s")
			b.ReportMetric(float64(n)/raw.Seconds(), "raw-rec/s")
			b.ReportMetric(raw.Seconds()/ours.Seconds(), "ratio")
		})
	}
}

// BenchmarkQueueOverhead queues a million 100-byte records and reports the
// heap bytes each costs beyond its payload.
func BenchmarkQueueOverhead(b *testing.B) {
	for i := 0; i < b.N; i++ {
		per, err := bench.QueueOverhead(1_000_000, 100)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(per, "B/record-overhead")
	}
}
