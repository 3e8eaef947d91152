package messenger_test

import (
	"errors"
	"testing"

	"github.com/mailslot-go/mailslot/messenger"
)

func TestFilter(t *testing.T) {
	admin := messenger.Message{From: "ADMIN-PC", To: "WORKGROUP", Text: "Server reboot at 18:00"}
	test := messenger.Message{From: "ADMIN-TEST", To: "WORKGROUP", Text: "ignore me"}
	lunch := messenger.Message{From: "BOB", To: "PC7", Text: "Lunch?\nAt noon"}
	spam := messenger.Message{From: "spammer", To: "PC7", Text: "CHEAP WATCHES"}
	all := []messenger.Message{admin, test, lunch, spam}

	for _, c := range []struct {
		name        string
		allow, deny []string
		want        []bool // for admin, test, lunch, spam
	}{
		{"no rules", nil, nil, []bool{true, true, true, true}},
		{"deny a sender", nil, []string{"spammer"}, []bool{true, true, true, false}},
		{"sender without regard to case", nil, []string{"SPAMMER", "from:bob"}, []bool{true, true, false, false}},
		{"allow a glob", []string{"admin-*"}, nil, []bool{true, true, false, false}},
		{"deny wins", []string{"ADMIN*"}, []string{"ADMIN-TEST"}, []bool{true, false, false, false}},
		{"deny wins over a text allow", []string{"text:reboot"}, []string{"from:ADMIN-?C"}, []bool{false, false, false, false}},
		{"text regexp", nil, []string{"text:(?i)watches|lunch"}, []bool{true, true, false, false}},
		{"text is case-sensitive", nil, []string{"text:watches"}, []bool{true, true, true, true}},
		{"text anchors", []string{`text:^Lunch\?\nAt noon$`}, nil, []bool{false, false, true, false}},
		{"recipient", []string{"to:workgroup"}, nil, []bool{true, true, false, false}},
		{"any allow rule", []string{"to:PC7", "from:ADMIN-PC"}, []string{"text:CHEAP"}, []bool{true, false, true, false}},
		{"glob is whole name", []string{"ADMIN"}, nil, []bool{false, false, false, false}},
		{"glob class", []string{"[a-c]*"}, nil, []bool{true, true, true, false}},
		{"negated class", []string{"[!a]*"}, nil, []bool{false, false, true, true}},
		{"escaped star", []string{`from:ADMIN\*`}, nil, []bool{false, false, false, false}},
		{"prefix case", []string{"FROM:bob", "Text:WATCHES"}, nil, []bool{false, false, true, true}},
	} {
		f, err := messenger.ParseFilter(c.allow, c.deny)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for i, m := range all {
			if got := f.Allowed(m); got != c.want[i] {
				t.Errorf("%s: Allowed(%s) = %v, want %v", c.name, m.From, got, c.want[i])
			}
		}
	}

	var nilFilter *messenger.Filter
	if !nilFilter.Allowed(spam) {
		t.Error("a nil filter denies")
	}
}

func TestFilterMatch(t *testing.T) {
	f, err := messenger.ParseFilter([]string{"ADMIN*"}, []string{"text:(?i)test", "ADMIN-TEST"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m       messenger.Message
		rule    string
		allowed bool
	}{
		{messenger.Message{From: "ADMIN-PC", Text: "hello"}, "ADMIN*", true},
		{messenger.Message{From: "ADMIN-TEST", Text: "hello"}, "ADMIN-TEST", false},
		{messenger.Message{From: "ADMIN-PC", Text: "a Test"}, "text:(?i)test", false},
		{messenger.Message{From: "BOB", Text: "hello"}, "", false},
	} {
		if rule, ok := f.Match(c.m); rule != c.rule || ok != c.allowed {
			t.Errorf("%+v: %q %v, want %q %v", c.m, rule, ok, c.rule, c.allowed)
		}
	}
}

// TestGlobClass checks the edges of a glob's character set: a leading
// ']' is literal, after the '!' or '^' of a negated set too; ranges; and
// quoting of what means something in a regexp class.
func TestGlobClass(t *testing.T) {
	for _, c := range []struct {
		glob string
		in   []string // names it matches
		out  []string // names it does not
	}{
		{"[]]", []string{"]"}, []string{"x", "[]]", "\\"}},
		{"[]a]", []string{"]", "a", "A"}, []string{"x", "[", "]a"}},
		{"[!]]", []string{"x", "!"}, []string{"]", "!]"}},
		{"[^]]", []string{"x", "^"}, []string{"]"}},
		{"[!]a]", []string{"x"}, []string{"]", "a"}},
		{"[!a]", []string{"b", "!", "]"}, []string{"a", "A"}},
		{"[a!]", []string{"a", "!"}, []string{"b"}},
		{"[a^]", []string{"a", "^"}, []string{"b"}},
		{"[b-d]x", []string{"bx", "CX", "dx"}, []string{"ax", "ex", "-x"}},
		{"[-b]", []string{"-", "b"}, []string{"a"}},
		{"[\\d]", []string{"d", "\\"}, []string{"5"}},
		{"[[:]", []string{"[", ":"}, []string{"a"}},
	} {
		f, err := messenger.ParseFilter([]string{"from:" + c.glob}, nil)
		if err != nil {
			t.Errorf("%q: %v", c.glob, err)
			continue
		}
		for _, name := range c.in {
			if !f.Allowed(messenger.Message{From: name}) {
				t.Errorf("%q does not match %q", c.glob, name)
			}
		}
		for _, name := range c.out {
			if f.Allowed(messenger.Message{From: name}) {
				t.Errorf("%q matches %q", c.glob, name)
			}
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, r := range []string{"", "from:", "text:", "txt:hello", "text:(", "from:[abc", `from:x\`, "from:[!]", "from:[", "from:[!", "from:[^", "from:[]", "from:[!]x", "from:ab["} {
		if _, err := messenger.ParseFilter([]string{r}, nil); !errors.Is(err, messenger.ErrFilter) {
			t.Errorf("allow %q: %v", r, err)
		}
		if _, err := messenger.ParseFilter(nil, []string{r}); !errors.Is(err, messenger.ErrFilter) {
			t.Errorf("deny %q: %v", r, err)
		}
	}
}
