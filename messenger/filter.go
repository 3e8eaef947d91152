package messenger

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrFilter means a filter rule that ParseFilter cannot read.
var ErrFilter = errors.New("messenger: bad filter rule")

// Filter decides which messages to show, by sender, recipient and text.
// Build one with ParseFilter. A nil *Filter allows everything. A Filter is
// immutable and safe for concurrent use.
type Filter struct {
	allow, deny []rule
}

type rule struct {
	src   string // the rule as written
	field string // "from", "to" or "text"
	re    *regexp.Regexp
}

func (r rule) match(m Message) bool {
	switch r.field {
	case "from":
		return r.re.MatchString(m.From)
	case "to":
		return r.re.MatchString(m.To)
	}
	return r.re.MatchString(m.Text)
}

// ParseFilter builds a Filter from allow and deny rules. Each rule is one
// of:
//
//	from:GLOB   the sender matches GLOB
//	to:GLOB     the recipient matches GLOB
//	text:REGEXP the text contains a match of REGEXP (Go syntax, RE2)
//	GLOB        short for from:GLOB
//
// A GLOB matches the whole name, without regard to case (NetBIOS names
// are upper-case on the wire, people type them in any case): '*' matches
// any run of characters, '?' one character, [abc], [a-z] and [!abc] (or
// [^abc]) one character of (not of) a set, and '\' makes the next
// character literal. A REGEXP is case-sensitive unless it starts with
// (?i), and matches anywhere in the text unless anchored with ^ and $
// (which stand for the start and end of the whole text; lines are joined
// by "\n").
//
// Precedence: deny wins. A message is allowed when it matches no deny rule
// and either there are no allow rules or it matches at least one. So
// ParseFilter(nil, []string{"text:(?i)lunch"}) shows everything but lunch
// talk, and ParseFilter([]string{"ADMIN*"}, []string{"ADMIN-TEST"}) shows
// only the ADMIN computers but ADMIN-TEST.
//
// An empty rule, an unknown prefix ("txt:x"), and a bad glob or regexp give
// an error wrapping ErrFilter that quotes the rule.
func ParseFilter(allow, deny []string) (*Filter, error) {
	f := &Filter{}
	var err error
	if f.allow, err = parseRules(allow); err != nil {
		return nil, err
	}
	if f.deny, err = parseRules(deny); err != nil {
		return nil, err
	}
	return f, nil
}

func parseRules(src []string) ([]rule, error) {
	rules := make([]rule, 0, len(src))
	for _, s := range src {
		r, err := parseRule(s)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseRule(s string) (rule, error) {
	field, pat, ok := strings.Cut(s, ":")
	if !ok {
		field, pat = "from", s
	}
	r := rule{src: s, field: strings.ToLower(field)}
	if pat == "" {
		return rule{}, fmt.Errorf("%w %q: empty pattern", ErrFilter, s)
	}
	var err error
	switch r.field {
	case "from", "to":
		var expr string
		if expr, err = globRegexp(pat); err == nil {
			r.re, err = regexp.Compile(expr)
		}
	case "text":
		r.re, err = regexp.Compile(pat)
	default:
		return rule{}, fmt.Errorf("%w %q: unknown field %q (want from:, to: or text:)", ErrFilter, s, field)
	}
	if err != nil {
		return rule{}, fmt.Errorf("%w %q: %v", ErrFilter, s, err)
	}
	return r, nil
}

// globRegexp translates a glob into an anchored, case-insensitive regular
// expression.
func globRegexp(glob string) (string, error) {
	var b strings.Builder
	b.WriteString(`(?is)\A`)
	rs := []rune(glob)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '\\':
			if i+1 == len(rs) {
				return "", errors.New(`trailing \`)
			}
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case '[':
			start := i + 1
			negated := start < len(rs) && (rs[start] == '!' || rs[start] == '^')
			if negated {
				start++
			}
			j := start
			if j < len(rs) && rs[j] == ']' { // a leading ']' is literal
				j++
			}
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j == len(rs) {
				return "", errors.New("unclosed [")
			}
			b.WriteString(globClass(negated, rs[start:j]))
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`\z`)
	return b.String(), nil
}

// globClass translates the inside of a glob's [...] (without the leading
// '!' or '^' of a negated set) into a regexp class. Every character is
// quoted but '-', which QuoteMeta leaves as it is: a range stays a range.
func globClass(negated bool, set []rune) string {
	var b strings.Builder
	b.WriteByte('[')
	if negated {
		b.WriteByte('^')
	}
	for _, c := range set {
		b.WriteString(regexp.QuoteMeta(string(c)))
	}
	b.WriteByte(']')
	return b.String()
}

// Allowed reports whether m passes the filter: no deny rule matches it,
// and some allow rule does or there are none.
func (f *Filter) Allowed(m Message) bool {
	_, ok := f.Match(m)
	return ok
}

// Match returns the first rule that decides about m, as written, and
// whether it allows m: the first deny rule that matches, else the first
// allow rule that matches, else "" (allowed when there are no allow
// rules). It tells a user why a message was hidden.
func (f *Filter) Match(m Message) (rule string, allowed bool) {
	if f == nil {
		return "", true
	}
	for _, r := range f.deny {
		if r.match(m) {
			return r.src, false
		}
	}
	for _, r := range f.allow {
		if r.match(m) {
			return r.src, true
		}
	}
	return "", len(f.allow) == 0
}
