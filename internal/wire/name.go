package wire

import (
	"strconv"
	"strings"
)

// NetBIOS name sizes (RFC 1001 §14, RFC 1002 §4.1).
const (
	// NameLen is the number of name bytes before the suffix: a NetBIOS name
	// is padded with spaces to 15 bytes and followed by a one-byte suffix.
	NameLen = 15

	// EncodedNameLen is the size on the wire of a first-level encoded name
	// with no scope: a length byte (0x20), 32 letters, and the terminating
	// zero-length label.
	EncodedNameLen = 1 + 32 + 1

	// MaxEncodedNameLen is the largest encoded name, scope included,
	// that this package encodes or accepts (the DNS limit of 255 bytes that
	// RFC 1002 §4.1 inherits).
	MaxEncodedNameLen = 255

	// MaxScopeLen is the longest scope (dots included) that fits
	// MaxEncodedNameLen.
	MaxScopeLen = MaxEncodedNameLen - EncodedNameLen - 1

	// MaxLabelLen is the longest label of a scope.
	MaxLabelLen = 63
)

// Well-known name suffixes (the 16th byte of a NetBIOS name).
const (
	SuffixWorkstation   = 0x00 // computer (workstation service) or workgroup/domain group name
	SuffixMessenger     = 0x03 // messenger service: NET SEND / WinPopup
	SuffixServer        = 0x20 // file server service
	SuffixDomainMaster  = 0x1B // domain master browser
	SuffixMasterBrowser = 0x1D // local master browser of a workgroup (unique)
	SuffixBrowserElect  = 0x1E // browser election service of a workgroup (group)
	SuffixBrowseMaster  = 0x01 // suffix of the __MSBROWSE__ name
	SuffixDomainControl = 0x1C // domain controllers (group)
)

// nameCharsIllegalHere are the characters NewName refuses (as Windows does
// in computer names).
const nameCharsIllegalHere = "\\/:*?\"<>|"

// Name is a NetBIOS name: up to 15 bytes padded with spaces, a suffix byte
// (the service: 0x00 workstation, 0x20 server, 0x1D master browser...), and
// an optional scope (a dotted string appended to the encoded name, RFC 1001
// §14). It is a comparable value backed by a fixed array, so decoding a name
// without a scope allocates nothing.
//
// The zero Name is not a valid name (IsZero reports it). Build names with
// NewName, ParseName or NameFromBytes.
type Name struct {
	b     [16]byte
	scope string
}

// NewName returns the NetBIOS name for name (upper-cased, padded with spaces
// to 15 bytes) with the given suffix and no scope. The name must be 1 to 15
// ASCII characters, printable, not starting with a dot, and without any of
// \ / : * ? " < > | (ErrNameTooLong, ErrInvalidName otherwise). Names with
// other bytes (OEM characters, the __MSBROWSE__ name) can be made with
// NameFromBytes.
func NewName(name string, suffix byte) (Name, error) {
	var n Name
	name = strings.TrimRight(name, " ")
	if name == "" {
		return n, fieldErr(ErrInvalidName, "nbname", "NAME", -1, "empty name")
	}
	if len(name) > NameLen {
		return n, fieldErr(ErrNameTooLong, "nbname", "NAME", -1,
			strconv.Quote(name)+" has "+strconv.Itoa(len(name))+" bytes, at most 15 allowed")
	}
	if name[0] == '.' {
		return n, fieldErr(ErrInvalidName, "nbname", "NAME", -1, strconv.Quote(name)+" starts with a dot")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f {
			return n, fieldErr(ErrInvalidName, "nbname", "NAME", -1, "control character in "+strconv.Quote(name))
		}
		if c >= 0x80 {
			return n, fieldErr(ErrInvalidName, "nbname", "NAME", -1, "non-ASCII character in "+strconv.Quote(name))
		}
		if strings.IndexByte(nameCharsIllegalHere, c) >= 0 {
			return n, fieldErr(ErrInvalidName, "nbname", "NAME", -1,
				"illegal character "+strconv.QuoteRune(rune(c))+" in "+strconv.Quote(name))
		}
		n.b[i] = upper(c)
	}
	for i := len(name); i < NameLen; i++ {
		n.b[i] = ' '
	}
	n.b[15] = suffix
	return n, nil
}

// MustName is like NewName but panics on error. It is meant for constant
// names in tests and examples.
func MustName(name string, suffix byte) Name {
	n, err := NewName(name, suffix)
	if err != nil {
		panic(err)
	}
	return n
}

// NameFromBytes returns the name whose 16 bytes (15 name bytes and the
// suffix) are exactly b, with no validation and no case change. Use it for
// names that NewName refuses on purpose: the node status wildcard, the
// __MSBROWSE__ name, OEM characters.
func NameFromBytes(b [16]byte) Name { return Name{b: b} }

// WildcardName returns the name "*" padded with zero bytes (not spaces) and
// suffix 0x00, which a node status request (NBSTAT) asks for to mean "any
// name of the node at this address" (RFC 1002 §4.2.17).
func WildcardName() Name {
	var n Name
	n.b[0] = '*'
	return n
}

// BrowseMasterName returns the group name "\x01\x02__MSBROWSE__\x02" with
// suffix 0x01, which local master browsers register and to which they send
// DomainAnnouncement frames ([MS-BRWS] 2.1.1.3).
func BrowseMasterName() Name {
	return Name{b: [16]byte{1, 2, '_', '_', 'M', 'S', 'B', 'R', 'O', 'W', 'S', 'E', '_', '_', 2, SuffixBrowseMaster}}
}

// ParseName parses the form String returns: the name, then the suffix as two
// hex digits in angle brackets or after a '#' (as nmblookup writes it), then
// optionally a dot and the scope: "SAMBAHOST<20>", "labgroup#1d",
// "HOST<00>.corp.example". Inside the name, "<hh>" stands for the byte hh
// (as in "<01><02>__MSBROWSE__<02><01>"); "*<00>" is the wildcard name.
func ParseName(s string) (Name, error) {
	var n Name
	var name, suffix, scope string
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		name, suffix = s[:i], s[i+1:]
		if j := strings.IndexByte(suffix, '.'); j >= 0 {
			suffix, scope = suffix[:j], suffix[j+1:]
		}
	} else {
		j := strings.LastIndexByte(s, '>')
		if j < 3 || s[j-3] != '<' { // j < 0 when there is no '>'
			return n, fieldErr(ErrInvalidName, "nbname", "NAME", -1,
				strconv.Quote(s)+" has no suffix (write NAME<hh> or NAME#hh)")
		}
		name, suffix = s[:j-3], s[j-2:j]
		rest := s[j+1:]
		if rest != "" {
			if rest[0] != '.' {
				return n, fieldErr(ErrInvalidName, "nbname", "NAME", -1, "junk after the suffix in "+strconv.Quote(s))
			}
			scope = rest[1:]
		}
	}
	sfx, err := strconv.ParseUint(suffix, 16, 8)
	if err != nil || len(suffix) != 2 {
		return n, fieldErr(ErrInvalidName, "nbname", "suffix", -1, "suffix "+strconv.Quote(suffix)+" is not two hex digits")
	}
	if name == "*" {
		n = WildcardName()
		n.b[15] = byte(sfx)
		return n.WithScope(scope)
	}
	if !strings.Contains(name, "<") {
		n, err = NewName(name, byte(sfx))
		if err != nil {
			return n, err
		}
		return n.WithScope(scope)
	}
	// Escaped bytes: no validation beyond length, as for NameFromBytes.
	var b [16]byte
	k := 0
	for i := 0; i < len(name); {
		c := name[i]
		if c == '<' {
			if i+3 >= len(name) || name[i+3] != '>' {
				return n, fieldErr(ErrInvalidName, "nbname", "NAME", -1, "bad <hh> escape in "+strconv.Quote(name))
			}
			v, err := strconv.ParseUint(name[i+1:i+3], 16, 8)
			if err != nil {
				return n, fieldErr(ErrInvalidName, "nbname", "NAME", -1, "bad <hh> escape in "+strconv.Quote(name))
			}
			c = byte(v)
			i += 4
		} else {
			c = upper(c)
			i++
		}
		if k == NameLen {
			return n, fieldErr(ErrNameTooLong, "nbname", "NAME", -1, strconv.Quote(name)+" is longer than 15 bytes")
		}
		b[k] = c
		k++
	}
	for ; k < NameLen; k++ {
		b[k] = ' '
	}
	b[15] = byte(sfx)
	return NameFromBytes(b).WithScope(scope)
}

// WithScope returns n with the given scope ("" for none). A scope is a
// dotted name whose labels are 1 to 63 letters, digits, '-' or '_', at most
// MaxScopeLen bytes in all.
func (n Name) WithScope(scope string) (Name, error) {
	if err := checkScope(scope); err != nil {
		return Name{}, err
	}
	n.scope = scope
	return n, nil
}

// WithSuffix returns n with its suffix replaced.
func (n Name) WithSuffix(suffix byte) Name {
	n.b[15] = suffix
	return n
}

func checkScope(scope string) error {
	if scope == "" {
		return nil
	}
	if len(scope) > MaxScopeLen {
		return fieldErr(ErrNameTooLong, "nbname", "scope", -1,
			"scope has "+strconv.Itoa(len(scope))+" bytes, at most "+strconv.Itoa(MaxScopeLen)+" allowed")
	}
	start := 0
	for i := 0; i <= len(scope); i++ {
		if i == len(scope) || scope[i] == '.' {
			if i == start {
				return fieldErr(ErrInvalidName, "nbname", "scope", -1, "empty label in scope "+strconv.Quote(scope))
			}
			if i-start > MaxLabelLen {
				return fieldErr(ErrNameTooLong, "nbname", "scope", -1, "label longer than 63 bytes in scope")
			}
			start = i + 1
			continue
		}
		if !scopeChar(scope[i]) {
			return fieldErr(ErrInvalidName, "nbname", "scope", -1, "illegal character in scope "+strconv.Quote(scope))
		}
	}
	return nil
}

// scopeChar reports whether c may appear in a scope label: letters, digits,
// '-' and '_' (the DNS host name characters RFC 1001 §14 borrows, and the
// underscore some networks use).
func scopeChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// IsZero reports whether n is the zero Name (all 16 bytes zero, no scope).
func (n Name) IsZero() bool { return n == Name{} }

// Bytes returns the 16 bytes of the name: 15 name bytes and the suffix.
func (n Name) Bytes() [16]byte { return n.b }

// Suffix returns the 16th byte, the service suffix.
func (n Name) Suffix() byte { return n.b[15] }

// Scope returns the scope, "" for none.
func (n Name) Scope() string { return n.scope }

// Name returns the 15 name bytes without the trailing padding (spaces, or
// zero bytes as in the wildcard name).
func (n Name) Name() string {
	return string(n.b[:n.nameLen()])
}

func (n Name) nameLen() int {
	k := NameLen
	for k > 0 && (n.b[k-1] == ' ' || n.b[k-1] == 0) {
		k--
	}
	return k
}

// String returns the name as "NAME<hh>" with the suffix in hex, followed by
// ".scope" when there is a scope. Trailing spaces (the padding) are left
// out; every byte that NewName would not have produced (control and
// non-ASCII bytes, zero bytes, lower-case letters, \ / : * ? " < > | #, a
// leading dot) is written as "<hh>", as Wireshark does:
// "<01><02>__MSBROWSE__<02><01>", "*<00><00>...<00>" for the wildcard.
// ParseName reads every such string back to the same Name.
func (n Name) String() string {
	const hex = "0123456789abcdef"
	buf := make([]byte, 0, 24+len(n.scope))
	k := n.paddedLen()
	if k == 0 {
		k = 1 // an all-space name shows its first space, escaped
	}
	// A leading '*' can stay as it is when a later byte is escaped, which
	// sends ParseName down its raw path (the wildcard: "*<00><00>...").
	starOK := false
	for i := 1; i < k; i++ {
		if n.mustEscape(i, k) {
			starOK = true
			break
		}
	}
	for i, c := range n.b[:k] {
		if n.mustEscape(i, k) && !(i == 0 && c == '*' && starOK) {
			buf = append(buf, '<', hex[c>>4], hex[c&15], '>')
		} else {
			buf = append(buf, c)
		}
	}
	buf = append(buf, '<', hex[n.b[15]>>4], hex[n.b[15]&15], '>')
	if n.scope != "" {
		buf = append(buf, '.')
		buf = append(buf, n.scope...)
	}
	return string(buf)
}

// mustEscape reports whether String writes byte i (of k shown) as <hh>.
func (n Name) mustEscape(i, k int) bool {
	c := n.b[i]
	return c < 0x20 || c >= 0x7f || 'a' <= c && c <= 'z' ||
		strings.IndexByte(nameCharsIllegalHere+"#", c) >= 0 ||
		i == 0 && (c == '.' || c == ' ' && k == 1)
}

// paddedLen returns the length of the name bytes without trailing spaces.
func (n Name) paddedLen() int {
	k := NameLen
	for k > 0 && n.b[k-1] == ' ' {
		k--
	}
	return k
}

// EqualFold reports whether n and o are the same name, comparing ASCII
// letters of the name and the scope without regard to case, as NetBIOS
// peers do.
func (n Name) EqualFold(o Name) bool {
	for i := range n.b {
		if upper(n.b[i]) != upper(o.b[i]) {
			return false
		}
	}
	return strings.EqualFold(n.scope, o.scope)
}

// EncodedLen returns the number of bytes AppendName writes for n.
func (n Name) EncodedLen() int {
	if n.scope == "" {
		return EncodedNameLen
	}
	return EncodedNameLen + len(n.scope) + 1
}

// AppendName appends the first-level encoding of n (RFC 1001 §14.1): a
// label of 32 letters, each byte of the 16 split into two nibbles and each
// nibble added to 'A', then one label per part of the scope, then a zero
// byte. It returns ErrInvalidName or ErrNameTooLong for a bad scope.
func AppendName(dst []byte, n Name) ([]byte, error) {
	if err := checkScope(n.scope); err != nil {
		return dst, err
	}
	return appendName(dst, n), nil
}

// appendName encodes a name whose scope is known to be valid.
func appendName(dst []byte, n Name) []byte {
	dst = append(dst, 32)
	for _, c := range n.b {
		dst = append(dst, 'A'+c>>4, 'A'+c&15)
	}
	for s := n.scope; s != ""; {
		label, rest, _ := strings.Cut(s, ".")
		dst = append(dst, byte(len(label)))
		dst = append(dst, label...)
		s = rest
	}
	return append(dst, 0)
}

// DecodeName decodes the encoded name at the start of b and returns it with
// the number of bytes it took. It does not follow compression pointers
// (only name service packets use them; DecodeNameService follows them).
func DecodeName(b []byte) (Name, int, error) {
	return decodeName(b, 0, false, "nbname", "NAME")
}

// maxPointerHops bounds the compression pointers one name may follow.
const maxPointerHops = 16

// decodeName decodes the name at msg[off:]. With compress, labels may be
// compression pointers (top two bits set) to earlier offsets of msg, as in
// DNS; otherwise a pointer is malformed. It returns the name and the offset
// just after it in the original sequence (after the first pointer, if any).
func decodeName(msg []byte, off int, compress bool, layer, field string) (Name, int, error) {
	var n Name
	var scope [MaxEncodedNameLen]byte
	scopeLen := 0
	total := 0   // encoded length so far, against MaxEncodedNameLen
	end := -1    // offset after the name in the original sequence
	hops := 0    // pointers followed
	first := off // start of the name, for error offsets
	p := off
	for label := 0; ; label++ {
		if p >= len(msg) {
			return n, 0, shortErr(layer, field, p, 1, len(msg))
		}
		l := int(msg[p])
		switch l & 0xC0 {
		case 0xC0:
			if !compress {
				return n, 0, fieldErr(ErrMalformed, layer, field, p, "compression pointer where none is allowed")
			}
			if p+1 >= len(msg) {
				return n, 0, shortErr(layer, field, p, 2, len(msg))
			}
			target := (l&0x3F)<<8 | int(msg[p+1])
			if target >= p {
				return n, 0, fieldErr(ErrMalformed, layer, field, p,
					"compression pointer to offset "+strconv.Itoa(target)+" does not point backwards")
			}
			if hops++; hops > maxPointerHops {
				return n, 0, fieldErr(ErrMalformed, layer, field, p, "too many compression pointers")
			}
			if end < 0 {
				end = p + 2
			}
			p = target
			label-- // a pointer is not a label
			continue
		case 0x40, 0x80:
			return n, 0, fieldErr(ErrMalformed, layer, field, p, "reserved label type 0x"+strconv.FormatUint(uint64(l&0xC0), 16))
		}
		total += 1 + l
		if total > MaxEncodedNameLen {
			return n, 0, fieldErr(ErrNameTooLong, layer, field, first, "encoded name longer than 255 bytes")
		}
		if l == 0 {
			if label == 0 {
				return n, 0, fieldErr(ErrMalformed, layer, field, p, "empty name")
			}
			p++
			break
		}
		if p+1+l > len(msg) {
			return n, 0, shortErr(layer, field, p, 1+l, len(msg))
		}
		lab := msg[p+1 : p+1+l]
		if label == 0 {
			if l != 32 {
				return n, 0, fieldErr(ErrMalformed, layer, field, p,
					"first label has "+strconv.Itoa(l)+" bytes, a NetBIOS name has 32")
			}
			for i := 0; i < 16; i++ {
				hi, lo := lab[2*i]-'A', lab[2*i+1]-'A'
				if hi > 15 || lo > 15 {
					return n, 0, fieldErr(ErrMalformed, layer, field, p+1+2*i,
						"byte outside 'A'..'P' in a first-level encoded name")
				}
				n.b[i] = hi<<4 | lo
			}
		} else {
			for i, c := range lab {
				if !scopeChar(c) {
					return n, 0, fieldErr(ErrInvalidName, layer, field, p+1+i, "illegal character in scope")
				}
			}
			if scopeLen > 0 {
				scope[scopeLen] = '.'
				scopeLen++
			}
			scopeLen += copy(scope[scopeLen:], lab)
		}
		p += 1 + l
	}
	if end < 0 {
		end = p
	}
	n.scope = string(scope[:scopeLen])
	return n, end, nil
}
