package natsbridge

import (
	"strings"
)

// Subjects. Every name and path component becomes one token: upper case
// (mailslot names are case-insensitive and go on the wire in upper case),
// letters, digits, '-' and '_' as they are, every other byte as %XX (a
// '.' as %2E, a space as %20), and an empty component as %00, so that
// the mapping is one to one and NATS permissions can name a workgroup or
// a slot.
const (
	// GroupPrefix starts the subjects of group records:
	// mailslot.group.WORKGROUP.PATH... (`\\WG\mailslot\app\jobs` is
	// mailslot.group.WG.APP.JOBS).
	GroupPrefix = "mailslot.group."
	// ComputerPrefix starts the subjects of records to one computer, as
	// requests its mailslotd answers: mailslot.computer.NAME.PATH...
	ComputerPrefix = "mailslot.computer."
	// HeldPrefix starts the subject of the JetStream stream that keeps a
	// computer's messenger records while its messenger is down:
	// mailslot.held.NAME.
	HeldPrefix = "mailslot.held."
	// MemberPrefix starts the subject on which one bridged mailslotd of
	// a workgroup says that it has members (a queue group answers once):
	// mailslot.member.WORKGROUP. A writer whose LAN has no member of a
	// workgroup learns so that the name is a workgroup.
	MemberPrefix = "mailslot.member."
)

// Token maps a NetBIOS name or one component of a slot's path to a
// subject token.
func Token(s string) string {
	if s == "" {
		return "%"
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case plain(c):
			b.WriteByte(c)
		case 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		default:
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func plain(c byte) bool {
	return ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c == '-' || c == '_'
}

// PathTokens maps a slot's path (`app\jobs`) to its tokens joined by dots
// (APP.JOBS).
func PathTokens(path string) string {
	parts := strings.Split(path, `\`)
	for i, p := range parts {
		parts[i] = Token(p)
	}
	return strings.Join(parts, ".")
}

// GroupSubject is the subject of a group record to workgroup wg's slot
// path.
func GroupSubject(wg, path string) string { return GroupPrefix + Token(wg) + "." + PathTokens(path) }

// ComputerSubject is the subject of a record to computer name's slot path.
func ComputerSubject(name, path string) string {
	return ComputerPrefix + Token(name) + "." + PathTokens(path)
}

// MemberSubject is the subject on which workgroup wg's members answer.
func MemberSubject(wg string) string { return MemberPrefix + Token(wg) }

// HeldSubject is the subject of the stream that keeps computer name's
// messenger records.
func HeldSubject(name string) string { return HeldPrefix + Token(name) }

// HeldStream is the name of that stream.
func HeldStream(name string) string {
	return "MAILSLOT_HELD_" + strings.ReplaceAll(Token(name), "%", "_")
}
