//go:build !windows

package mailslotd

import (
	"bytes"
	"strings"
	"testing"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, func(string) string { return "" }, &out, &errb)
	return code, out.String(), errb.String()
}

// --help goes to standard output, as mailslot's does, with each flag's
// default said once; a wrong flag goes to standard error, with status 2.
func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		code, out, errs := run(arg)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "usage: mailslotd [flags]") || !strings.Contains(out, "-dgram-port PORT") {
			t.Fatalf("%s: code %d, stdout %q, stderr %q", arg, code, out, errs)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Count(line, "(default ") > 1 {
				t.Errorf("%s: %q", arg, line)
			}
		}
	}
	code, out, errs := run("--bogus")
	if code != 2 || out != "" || errs != "flag provided but not defined: -bogus\nsee mailslotd --help\n" {
		t.Fatalf("--bogus: code %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, errs = run("extra")
	if code != 2 || out != "" || !strings.Contains(errs, `unexpected argument "extra"`) {
		t.Fatalf("an argument: code %d, stdout %q, stderr %q", code, out, errs)
	}
}
