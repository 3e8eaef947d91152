// Package natsbench measures local mailslots against NATS, a message bus often
// used where a mailslot would do: an embedded nats-server on loopback, four
// publisher processes and one subscriber, against four writer processes and
// one slot reader, and against raw Unix datagram sockets doing the same, in
// the same run. It is a module of its own so that the mailslot command and
// library never carry a NATS server.
//
//	cd bench/nats && go test -run '^$' -bench .
//
// -records sets the records per run (400,000), -runs the alternating runs
// of which each side keeps its best (3). BenchmarkFourPublishers measures
// once per call and takes seconds, so the framework calls it once.
package natsbench

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/mailslot-go/mailslot"
	"github.com/mailslot-go/mailslot/internal/bench"
)

var (
	records = flag.Int("records", 400_000, "records per run of the four-publisher benchmark")
	runs    = flag.Int("runs", 3, "alternating runs of the four-publisher benchmark; each side keeps its best")
)

// TestMain lets this test binary serve as the publisher and writer
// processes (it runs its own binary again).
func TestMain(m *testing.M) {
	bench.Handle("natspub", natsPublish)
	bench.Child()
	os.Exit(m.Run())
}

// natsPublish is the publishers' task: URL SUBJECT SIZE COUNT. It connects,
// reports ready, publishes COUNT messages of SIZE bytes and flushes, which
// returns once the server has them all.
func natsPublish(args []string, ready func() error) (string, error) {
	if len(args) != 4 {
		return "", fmt.Errorf("natspub takes URL SUBJECT SIZE COUNT, not %q", args)
	}
	size, err := strconv.Atoi(args[2])
	if err != nil {
		return "", err
	}
	count, err := strconv.Atoi(args[3])
	if err != nil {
		return "", err
	}
	nc, err := nats.Connect(args[0], nats.Name("mailslot-bench-publisher"))
	if err != nil {
		return "", err
	}
	defer nc.Close()
	if err := ready(); err != nil {
		return "", err
	}
	msg := make([]byte, size)
	for i := 0; i < count; i++ {
		if err := nc.Publish(args[1], msg); err != nil {
			return "", fmt.Errorf("publish %d of %d: %w", i+1, count, err)
		}
	}
	return "", nc.FlushTimeout(time.Minute)
}

// startServer starts an embedded nats-server on a random loopback port.
func startServer(tb testing.TB) string {
	tb.Helper()
	s, err := server.NewServer(&server.Options{
		Host:   "127.0.0.1",
		Port:   server.RANDOM_PORT,
		NoLog:  true,
		NoSigs: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	s.Start()
	tb.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats-server did not start")
	}
	return s.ClientURL()
}

var subjects atomic.Int64

// natsOnce moves n messages of size bytes from the workers, each in its
// process publishing its share, to one subscriber in this process; the
// time runs from the publishers' go (all connected) until the subscriber
// has counted every message.
func natsOnce(ws []*bench.Worker, url string, size, n int) (time.Duration, error) {
	per := n / len(ws)
	total := int64(per * len(ws))
	done, stop := make(chan struct{}), make(chan struct{})
	var got atomic.Int64
	var asyncErr atomic.Value
	nc, err := nats.Connect(url, nats.Name("mailslot-bench-subscriber"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErr.Store(err) }))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	subject := fmt.Sprintf("mailslot.bench.%d", subjects.Add(1))
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		if len(m.Data) != size {
			asyncErr.Store(fmt.Errorf("a message of %d bytes, want %d", len(m.Data), size))
		}
		if got.Add(1) == total {
			close(done)
		}
	})
	if err != nil {
		return 0, err
	}
	// A subscriber that falls behind must not lose messages on its side.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return 0, err
	}
	// The server knows the subscription before anyone publishes.
	if err := nc.Flush(); err != nil {
		return 0, err
	}
	args := make([][]string, len(ws))
	for i := range ws {
		args[i] = []string{url, subject, strconv.Itoa(size), strconv.Itoa(per)}
	}
	consume := func() error {
		select {
		case <-done:
			return nil
		case <-stop:
			err, _ := asyncErr.Load().(error)
			return errors.Join(fmt.Errorf("the subscriber got %d of %d messages", got.Load(), total), err)
		}
	}
	el, _, err := bench.Drive(ws, "natspub", args, consume, func() { close(stop) })
	if err != nil {
		return 0, err
	}
	if err, _ := asyncErr.Load().(error); err != nil {
		return 0, err
	}
	return el, nil
}

// BenchmarkFourPublishers moves -records messages of 100 B from four
// publisher processes to one subscriber through NATS, the same records
// from four writer processes to one slot, and the same through raw Unix
// datagram sockets, alternating -runs times, and reports each side's best
// rate and the ratios ours/NATS and ours/raw (above 1: ours is faster).
func BenchmarkFourPublishers(b *testing.B) {
	const size, writers = 100, 4
	ws, err := bench.StartWorkers(writers)
	if err != nil {
		b.Fatal(err)
	}
	defer bench.StopWorkers(ws)
	url := startServer(b)
	n := max(*records-*records%writers, writers)
	sides := []struct {
		name string
		run  func(n int) (time.Duration, error)
	}{
		{"nats", func(n int) (time.Duration, error) { return natsOnce(ws, url, size, n) }},
		{"ours", func(n int) (time.Duration, error) { return bench.ProcOnce(ws, bench.Ours, size, n) }},
		{"raw", func(n int) (time.Duration, error) { return bench.ProcOnce(ws, bench.Raw, size, n) }},
	}
	best := make([]time.Duration, len(sides))
	for i := -1; i < *runs; i++ {
		for j, s := range sides {
			if i < 0 {
				// A warm-up of each, not counted.
				if _, err := s.run(max(n/10, writers)); err != nil {
					b.Fatalf("%s: %v", s.name, err)
				}
				continue
			}
			d, err := s.run(n)
			if err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
			if best[j] == 0 || d < best[j] {
				best[j] = d
			}
		}
	}
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	b.ReportMetric(rate(best[0]), "nats-rec/s")
	b.ReportMetric(rate(best[1]), "ours-rec/s")
	b.ReportMetric(rate(best[2]), "raw-rec/s")
	b.ReportMetric(rate(best[1])/rate(best[0]), "ours/nats")
	b.ReportMetric(rate(best[1])/rate(best[2]), "ours/raw")
	b.Logf("%d records of %d B from %d processes, best of %d: nats %.0f rec/s, ours %.0f rec/s, raw %.0f rec/s; ours/nats %.2fx, ours/raw %.2fx",
		n, size, writers, *runs, rate(best[0]), rate(best[1]), rate(best[2]), rate(best[1])/rate(best[0]), rate(best[1])/rate(best[2]))
}

// BenchmarkPublishFlush is the cost of one message sent and confirmed from
// this process, b.N times: a NATS publish followed by a flush (a round
// trip to the server, which then has the message), against a mailslot
// Write (which returns once the record is queued at the slot) and a raw
// Unix datagram socket write, each with a reader taking the records.
func BenchmarkPublishFlush(b *testing.B) {
	msg := make([]byte, 100)
	b.Run("nats", func(b *testing.B) {
		url := startServer(b)
		sc, err := nats.Connect(url)
		if err != nil {
			b.Fatal(err)
		}
		defer sc.Close()
		sub, err := sc.Subscribe("mailslot.bench.flush", func(*nats.Msg) {})
		if err != nil {
			b.Fatal(err)
		}
		sub.SetPendingLimits(-1, -1)
		sc.Flush()
		pc, err := nats.Connect(url)
		if err != nil {
			b.Fatal(err)
		}
		defer pc.Close()
		b.ResetTimer()
		for b.Loop() {
			if err := pc.Publish("mailslot.bench.flush", msg); err != nil {
				b.Fatal(err)
			}
			if err := pc.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ours", func(b *testing.B) {
		name := fmt.Sprintf(`\\.\mailslot\bench\nats\%d\flush`, os.Getpid())
		s, err := mailslot.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		go func() {
			buf := make([]byte, 200)
			for {
				if _, err := s.Read(buf); err != nil {
					return
				}
			}
		}()
		c, err := mailslot.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		addr := &net.UnixAddr{Name: fmt.Sprintf("@mailslot-bench-nats/%d/flush", os.Getpid()), Net: "unixgram"}
		l, err := net.ListenUnixgram("unixgram", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		go func() {
			buf := make([]byte, 200)
			for {
				if _, err := l.Read(buf); err != nil {
					return
				}
			}
		}()
		c, err := net.DialUnix("unixgram", nil, addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
