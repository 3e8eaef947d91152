package mailslot

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// Name is a parsed mailslot name.
type Name struct {
	// Host is "." for this computer, "*" for every computer of the primary
	// domain, or a computer or domain (workgroup) name, upper-cased.
	Host string
	// Path is the slot's path below "mailslot\", directories separated by
	// backslashes, as given (names compare case-insensitively).
	Path string
}

// MaxPathLen is the longest mailslot path accepted, in bytes.
const MaxPathLen = 255

// maxHostLen is the longest host part: a DNS name at most.
const maxHostLen = 253

// ParseName parses `\\HOST\mailslot\PATH` or its forward-slash spelling
// `//HOST/mailslot/PATH`. HOST is ".", "*", or a computer or domain name;
// PATH is one or more non-empty directories and a final name. Anything
// else is ErrInvalidName, with the reason.
func ParseName(s string) (Name, error) {
	bad := func(why string) (Name, error) {
		return Name{}, &Error{Op: "parse", Name: s, Err: fmt.Errorf("%w: %s", errs.InvalidName, why)}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return bad("contains a NUL byte")
	}
	if !utf8.ValidString(s) {
		return bad("not valid UTF-8")
	}
	t := strings.ReplaceAll(s, "/", `\`)
	if !strings.HasPrefix(t, `\\`) {
		return bad(`must start with \\HOST\mailslot\ or //HOST/mailslot/`)
	}
	t = t[2:]
	host, rest, ok := strings.Cut(t, `\`)
	if !ok {
		return bad(`missing \mailslot\ after the host`)
	}
	if host == "" {
		return bad("empty host")
	}
	if len(host) > maxHostLen {
		return bad("host name too long")
	}
	if host != "." && host != "*" {
		for _, r := range host {
			if r < 0x21 || r == 0x7f || strings.ContainsRune(`\/:*?"<>|`, r) {
				return bad(fmt.Sprintf("host name contains %q", r))
			}
		}
	}
	prefix, path, ok := strings.Cut(rest, `\`)
	if !ok || !strings.EqualFold(prefix, "mailslot") {
		return bad(`the second part must be "mailslot"`)
	}
	if path == "" {
		return bad("empty path")
	}
	if len(path) > MaxPathLen {
		return bad(fmt.Sprintf("path is %d bytes, over %d", len(path), MaxPathLen))
	}
	for _, part := range strings.Split(path, `\`) {
		if part == "" {
			return bad("empty directory in the path")
		}
	}
	for _, r := range path {
		if r < 0x20 {
			return bad("control character in the path")
		}
	}
	return Name{Host: strings.ToUpper(host), Path: path}, nil
}

// String returns the canonical form `\\HOST\mailslot\PATH`.
func (n Name) String() string {
	return `\\` + n.Host + `\mailslot\` + n.Path
}

// IsLocal reports whether the name is on this computer (host ".").
func (n Name) IsLocal() bool { return n.Host == "." }

// IsBroadcast reports whether writes to the name are broadcast to a domain
// or to every computer of the primary domain: true for "*"; for any other
// remote host it depends on whether the host names a domain, which only
// the network knows, so IsBroadcast reports false.
func (n Name) IsBroadcast() bool { return n.Host == "*" }

// WirePath returns the name as the SMB mailslot protocol carries it:
// `\MAILSLOT\PATH`.
func (n Name) WirePath() string { return `\MAILSLOT\` + n.Path }
