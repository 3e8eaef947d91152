package cli

import (
	"flag"
	"fmt"

	"github.com/mailslot-go/mailslot/internal/bench"
)

func init() {
	register(&verb{
		name:    "bench",
		args:    "local [--quick]",
		summary: "measure mailslots against raw sockets, in the same run",
		help: `bench local: records/s and MB/s for 1, 4 and 16 writers and 16 B, 100 B, 4 KiB and
64 KiB records, through local mailslots and through a raw Unix datagram socket loop
doing the same work; then the memory a queued record costs beyond its payload.
`,
		flags: func(fs *flag.FlagSet) func(*Env, []string) error {
			quick := fs.Bool("quick", false, "a short run (fewer records), for a smoke test")
			return func(env *Env, args []string) error {
				if len(args) != 1 || args[0] != "local" {
					return usagef("bench takes one target: local")
				}
				budget, queued := 16<<20, 1_000_000
				if *quick {
					budget, queued = 256<<10, 20_000
				}
				rs, err := bench.Local(bench.DefaultLocalCases(), budget)
				if err != nil {
					return err
				}
				bench.Print(env.Stdout, "local mailslots", "raw Unix datagram socket loop", rs)
				per, err := bench.QueueOverhead(queued, 100)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "queued-record overhead: %.1f bytes/record beyond the payload (%d records of 100 B)\n", per, queued)
				return nil
			}
		},
	})
}
