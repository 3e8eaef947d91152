//go:build !windows

package cli

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mailslot-go/mailslot/internal/bench"
)

// TestMain lets this test binary serve as the writer processes that
// `bench local` starts (it runs its own binary again).
func TestMain(m *testing.M) {
	bench.Child()
	os.Exit(m.Run())
}

// numeric reports whether s is a number, or a ratio such as "1.23x".
func numeric(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSuffix(s, "x"), 64)
	return err == nil
}

// tableRows returns the rows of the table whose title starts with title:
// the lines after its title and column header, up to a blank line.
func tableRows(t *testing.T, out, title string) [][]string {
	t.Helper()
	for _, sec := range strings.Split(out, "\n\n") {
		lines := strings.Split(strings.TrimSpace(sec), "\n")
		if !strings.HasPrefix(lines[0], title) {
			continue
		}
		if len(lines) < 3 {
			t.Fatalf("table %q has no rows:\n%s", title, sec)
		}
		var rows [][]string
		for _, l := range lines[2:] {
			rows = append(rows, strings.Fields(l))
		}
		return rows
	}
	t.Fatalf("no table %q in:\n%s", title, out)
	return nil
}

// checkNumeric checks that the last n fields of each row are numbers.
func checkNumeric(t *testing.T, title string, rows [][]string, n int) {
	t.Helper()
	for _, r := range rows {
		if len(r) < n {
			t.Fatalf("%s: short row %q", title, r)
		}
		for _, f := range r[len(r)-n:] {
			if !numeric(f) {
				t.Fatalf("%s: %q in row %q is not a figure", title, f, r)
			}
		}
	}
}

// TestBenchLocalQuick runs `mailslot bench local --quick` end to end and
// checks that every table is there with figures in it (not what the
// figures are: this machine's speed is not under test).
func TestBenchLocalQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quick bench, a few seconds")
	}
	r := runCLI("", "bench", "local", "--quick")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for title, cases := range map[string][]bench.Case{
		"throughput, writers in other processes": bench.ProcCases(),
		"throughput, writers as goroutines":      bench.DefaultLocalCases(),
	} {
		rows := tableRows(t, r.stdout, title)
		if len(rows) != len(cases) {
			t.Fatalf("%s: %d rows, want %d:\n%s", title, len(rows), len(cases), r.stdout)
		}
		// The last column is the range of the rounds' ratios, lo-hi.
		var figures [][]string
		for _, row := range rows {
			last := row[len(row)-1]
			lo, hi, ok := strings.Cut(strings.TrimSuffix(last, "x"), "-")
			if !ok || !strings.HasSuffix(last, "x") || !numeric(lo) || !numeric(hi) {
				t.Fatalf("%s: %q in row %q is not a range of ratios", title, last, row)
			}
			figures = append(figures, row[:len(row)-1])
		}
		checkNumeric(t, title, figures, 7)
	}
	for title, want := range map[string][]string{
		"round-trip latency": {"after the rings' first pass", "in the rings' first pass"},
		"wake latency":       {"wake, "},
	} {
		rows := tableRows(t, r.stdout, title)
		if len(rows) != len(want) {
			t.Fatalf("%s: %d rows, want %d", title, len(rows), len(want))
		}
		for i, row := range rows {
			if !strings.Contains(strings.Join(row, " "), want[i]) {
				t.Fatalf("%s: row %q, want it to say %q", title, row, want[i])
			}
		}
		checkNumeric(t, title, rows, 7)
	}
	rows := tableRows(t, r.stdout, "idle slots")
	if len(rows) != 3 || rows[0][0] != "ours" || rows[1][0] != "baseline" {
		t.Fatalf("idle slots: rows %q", rows)
	}
	checkNumeric(t, "idle slots", rows[:2], 7)
	if !strings.Contains(r.stdout, "queued-record overhead: ") {
		t.Fatalf("no queued-record overhead in:\n%s", r.stdout)
	}
	_, after, _ := strings.Cut(r.stdout, "queued-record overhead: ")
	if f := strings.Fields(after); len(f) == 0 || !numeric(f[0]) {
		t.Fatalf("queued-record overhead without a figure: %q", after)
	}
}
