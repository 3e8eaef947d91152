//go:build !windows

package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mailslot-go/mailslot/internal/lab"

	"github.com/mailslot-go/mailslot/internal/bench"
)

func init() {
	register(&verb{
		name:    "bench",
		args:    "local|net [--quick]",
		summary: "measure mailslots against raw sockets, in the same run",
		help: `bench local (about 3 minutes; --quick: seconds): standard error names each measurement as
it starts; each table prints as soon as it is measured, with a baseline measured in
the same run (raw Unix datagram sockets doing the same work) and the ratio:
  - throughput (records/s, MB/s) of 1 and 4 writers in other processes (this binary run
    again as writer workers) with records of 16 B, 100 B, 4 KiB and 64 KiB; then of 1, 4
    and 16 writers as goroutines of this process;
  - round-trip latency (p50, p99): a writer process writes to one slot, this process
    answers into a slot the writer serves; once on connections whose rings have been
    round once (their steady state), once on fresh ones, whose first pass touches each
    page of the rings for the first time;
  - wake latency (p50, p99): from just before a writer process's write until a Read
    blocked on the empty slot returns;
  - idle slots: the time, heap, goroutines and descriptors that 10,000 slots cost;
  - the memory a queued record costs beyond its payload (1,000,000 records of 100 B).

bench net (root only; without root it says so and exits with status 4): builds a LAN of two network namespaces, runs mailslotd on both, and
measures 100-byte datagram records against a raw UDP loop sending the same bytes, and
64 KiB records over the stream port against raw TCP between two processes (a worker on
the far host reads each record and answers with one byte, as mailslotd answers), with
mailslotd's peak resident memory during the datagram flood.
`,
		flags: func(fs *flag.FlagSet) func(*Env, []string) error {
			quick := fs.Bool("quick", false, "a short run (fewer records), for a smoke test")
			return func(env *Env, args []string) error {
				if len(args) != 1 || (args[0] != "local" && args[0] != "net") {
					return usagef("bench takes one target: local or net")
				}
				if args[0] == "net" {
					n := 100_000
					if *quick {
						n = 5_000
					}
					return benchNet(env, n)
				}
				settings := bench.FullLocal
				if *quick {
					settings = bench.QuickLocal
				}
				settings.Progress = env.Stderr
				return bench.RunLocal(env.Stdout, settings)
			}
		},
	})
}

// shimT lets the lab run outside a test: a fatal error ends the bench.
type shimT struct {
	cleanups []func()
	failed   bool
	log      io.Writer
}

type benchAbort struct{ msg string }

func (s *shimT) Helper()                      {}
func (s *shimT) Cleanup(f func())             { s.cleanups = append(s.cleanups, f) }
func (s *shimT) Logf(format string, a ...any) { fmt.Fprintf(s.log, format+"\n", a...) }
func (s *shimT) Failed() bool                 { return s.failed }
func (s *shimT) Fatalf(format string, a ...any) {
	s.failed = true
	panic(benchAbort{fmt.Sprintf(format, a...)})
}
func (s *shimT) Skipf(format string, a ...any) {
	s.failed = true
	panic(benchAbort{fmt.Sprintf(format, a...)})
}

func (s *shimT) cleanup() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
}

// benchNet builds a two-host LAN of network namespaces (root only), runs
// mailslotd (the binary next to this one, or on PATH) on the receiving
// host, and measures.
func benchNet(env *Env, records int) (err error) {
	if geteuid() != 0 {
		return &privilegeError{"bench net needs root: it makes network namespaces, a bridge and veth pairs (CAP_SYS_ADMIN, CAP_NET_ADMIN) and runs mailslotd in them; run it as root (sudo mailslot bench net)"}
	}
	daemonBin, err := findMailslotd()
	if err != nil {
		return err
	}
	t := &shimT{log: env.Stderr}
	defer t.cleanup()
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(benchAbort)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("bench net: %s", a.msg)
		}
	}()
	l := lab.New(t)
	a, b := l.AddHost("BENCHA"), l.AddHost("BENCHB")
	var pid int
	for _, h := range []*lab.Host{a, b} {
		p := h.Start(t, daemonBin, "--name", h.Name, "--workgroup", "BENCH")
		if !p.WaitFor("mailslotd serving", 10*time.Second) {
			return fmt.Errorf("mailslotd did not start on %s: %s", h.Name, p.Output())
		}
		pid = p.Pid()
	}
	os.Setenv("MAILSLOT_NO_DNS", "1")
	rs, err := bench.Net(a, b, pid, records)
	if err != nil {
		return err
	}
	bench.PrintNet(env.Stdout, rs)
	return nil
}

func findMailslotd() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "mailslotd")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("mailslotd")
	if err != nil {
		return "", errors.New("bench net needs the mailslotd binary next to mailslot or on PATH (go build -o . ./cmd/...)")
	}
	return p, nil
}
