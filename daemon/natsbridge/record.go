package natsbridge

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Record is one record on the bridge: a group record, a record to one
// computer, or a messenger record held for one.
type Record struct {
	// Target is the workgroup (a group record) or the computer (a record
	// to one), upper case.
	Target string
	// Path is the slot's path, as in `\\HOST\mailslot\PATH`.
	Path string
	// Source is the sender's NetBIOS name, Suffix its suffix byte.
	Source string
	Suffix byte
	// Site is the sender's site (Options.Site, else the name of the NATS
	// server its mailslotd is connected to).
	Site string
	// Addr is the sender's address on its own LAN, and ID the datagram id
	// it gave the record there: with Source, the record's identity, which
	// a mailslotd that got it over its LAN too uses to drop the second
	// copy.
	Addr netip.Addr
	ID   uint16
	// Origin, when set, is the record's origin as its reader is told it
	// (a held messenger record keeps the one it came with).
	Origin string
	// Data is the record.
	Data []byte
}

// The envelope, all integers big-endian:
//
//	u8 version (1) | u16 id | u8 suffix | u8 address length (0, 4, 16) | address |
//	u8 source length | source | u8 site length | site | u8 target length | target |
//	u16 path length | path | u8 origin length | origin | data
const envelopeVersion = 1

// ErrEnvelope reports a message that is not a record of this bridge.
var ErrEnvelope = errors.New("natsbridge: malformed record")

// AppendRecord encodes r after dst.
func AppendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, envelopeVersion)
	dst = binary.BigEndian.AppendUint16(dst, r.ID)
	dst = append(dst, r.Suffix)
	switch {
	case r.Addr.Is4():
		a := r.Addr.As4()
		dst = append(dst, 4)
		dst = append(dst, a[:]...)
	case r.Addr.IsValid():
		a := r.Addr.As16()
		dst = append(dst, 16)
		dst = append(dst, a[:]...)
	default:
		dst = append(dst, 0)
	}
	dst = appendShort(dst, r.Source)
	dst = appendShort(dst, r.Site)
	dst = appendShort(dst, r.Target)
	path := r.Path
	if len(path) > 0xFFFF {
		path = path[:0xFFFF]
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(path)))
	dst = append(dst, path...)
	dst = appendShort(dst, r.Origin)
	return append(dst, r.Data...)
}

func appendShort(dst []byte, s string) []byte {
	if len(s) > 255 {
		s = s[:255]
	}
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

// DecodeRecord decodes an envelope; Data is the tail of b. intern makes
// the strings (nil: string conversion), so that a receiver can reuse the
// few names it meets.
func DecodeRecord(b []byte, intern func([]byte) string) (Record, error) {
	var r Record
	if intern == nil {
		intern = func(b []byte) string { return string(b) }
	}
	if len(b) < 5 || b[0] != envelopeVersion {
		return r, ErrEnvelope
	}
	r.ID = binary.BigEndian.Uint16(b[1:])
	r.Suffix = b[3]
	n := int(b[4])
	b = b[5:]
	if len(b) < n {
		return r, ErrEnvelope
	}
	switch n {
	case 0:
	case 4:
		r.Addr = netip.AddrFrom4([4]byte(b[:4]))
	case 16:
		r.Addr = netip.AddrFrom16([16]byte(b[:16]))
	default:
		return r, ErrEnvelope
	}
	b = b[n:]
	for _, s := range []*string{&r.Source, &r.Site, &r.Target} {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return r, ErrEnvelope
		}
		*s = intern(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
	}
	if len(b) < 2 {
		return r, ErrEnvelope
	}
	n = int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return r, ErrEnvelope
	}
	r.Path = intern(b[2 : 2+n])
	b = b[2+n:]
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return r, ErrEnvelope
	}
	if b[0] > 0 {
		r.Origin = string(b[1 : 1+int(b[0])])
	}
	r.Data = b[1+int(b[0]):]
	return r, nil
}
