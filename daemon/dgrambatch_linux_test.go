package daemon

import (
	"net"
	"slices"
	"testing"
	"time"
)

// The batch reader pauses before a receive only after a batch of
// busyBatch or more: a datagram that finds it idle is taken at once.
func TestDgramBatchPausesUnderLoad(t *testing.T) {
	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc, err := net.DialUDP("udp4", nil, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	b, err := newDgramBatch(rc)
	if err != nil {
		t.Fatal(err)
	}
	var pauses []time.Duration
	b.pause = func(d time.Duration) {
		if d != busyPause {
			t.Fatalf("paused %v, want %v", d, busyPause)
		}
		pauses = append(pauses, d)
	}
	var sizes []int // every read's batch
	want := 0       // reads that came after a batch of busyBatch or more
	// burst sends k datagrams and reads until all are in. How the kernel
	// splits them into batches is its business: after each read the
	// pauses must be those the batches so far call for.
	burst := func(k int) {
		for i := 0; i < k; i++ {
			if _, err := sc.Write([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		for got := 0; got < k; {
			if len(sizes) > 0 && sizes[len(sizes)-1] >= busyBatch {
				want++
			}
			n, err := b.read()
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				if data, _, cut := b.msg(i); cut || len(data) != 1 || int(data[0]) != got+i {
					t.Fatalf("datagram %d of the batch: %v (cut %v), want [%d]", i, data, cut, got+i)
				}
			}
			sizes = append(sizes, n)
			got += n
			if len(pauses) != want {
				t.Fatalf("batches %v: %d pauses, want %d", sizes, len(pauses), want)
			}
		}
	}
	burst(1)
	burst(1) // idle: no pause
	// A batch of exactly busyBatch, then another read: the loopback
	// queues a datagram as its send returns, so this takes one try
	// unless the machine is very busy.
	for i := 0; !slices.Contains(sizes, busyBatch); i++ {
		if i == 100 {
			t.Fatalf("no batch of %d in 100 bursts: %v", busyBatch, sizes)
		}
		burst(busyBatch)
	}
	burst(1)
	burst(busyBatch - 1)
	burst(1)
	if want == 0 || want == len(sizes)-1 {
		t.Fatalf("batches %v: the reader was never both idle and busy", sizes)
	}
}

// nanosleep sleeps at least as long as asked.
func TestNanosleep(t *testing.T) {
	start := time.Now()
	nanosleep(2 * time.Millisecond)
	if el := time.Since(start); el < 2*time.Millisecond {
		t.Fatalf("slept %v, want at least 2ms", el)
	}
}
