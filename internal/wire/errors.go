package wire

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error this package returns wraps exactly one of
// them (test with errors.Is) inside a *FieldError that names the layer and
// the field that was wrong (get it with errors.As).
var (
	// ErrShort means the buffer ends before a field that the packet says is
	// there (a truncated packet, or a length or offset beyond the buffer).
	ErrShort = errors.New("packet too short")

	// ErrMalformed means a field holds a value that is impossible or
	// inconsistent with another field (wrong word count, a count that
	// disagrees with the buffer, a bad label in an encoded name...). Encoders
	// return it too when a value to encode cannot be represented.
	ErrMalformed = errors.New("malformed packet")

	// ErrNameTooLong means a NetBIOS name is longer than 15 bytes, a scope
	// or one of its labels is longer than the protocol allows, or a mailslot
	// name is longer than MaxMailslotNameLen.
	ErrNameTooLong = errors.New("name too long")

	// ErrInvalidName means a name has an illegal character, is empty, or (for
	// mailslot names) does not start with `\MAILSLOT\`.
	ErrInvalidName = errors.New("invalid name")

	// ErrTooLarge means an encoded packet would be larger than the limit the
	// encoder was asked to respect (MaxDatagramSize unless the caller chose
	// a large variant) or than a 16-bit length field can express.
	ErrTooLarge = errors.New("packet too large")

	// ErrUnsupported means the packet is well formed as far as it was read,
	// but is of a kind this package does not decode further (an unknown
	// datagram type or browser opcode, a fragment of a fragmented datagram).
	// Callers usually ignore such packets.
	ErrUnsupported = errors.New("unsupported packet")
)

// FieldError tells which field of which layer made an encoder or decoder
// fail. It wraps one of the package's sentinel errors.
type FieldError struct {
	Layer  string // "nbname", "nbdgm", "smb", "mailslot", "nbns" or "browser"
	Field  string // the field as the specification names it, e.g. "DGM_LENGTH"
	Offset int    // byte offset of the field in the decoded buffer, -1 when encoding or unknown
	Detail string // what was wrong, in words
	Err    error  // the sentinel
}

// Error formats the error as "wire: layer FIELD at offset N: detail: sentinel".
func (e *FieldError) Error() string {
	s := "wire: " + e.Layer + " " + e.Field
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the sentinel error.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(err error, layer, field string, off int, detail string) error {
	return &FieldError{Layer: layer, Field: field, Offset: off, Detail: detail, Err: err}
}

// shortErr reports that field, of want bytes at off, does not fit in a
// buffer of have bytes.
func shortErr(layer, field string, off, want, have int) error {
	return fieldErr(ErrShort, layer, field, off,
		"needs "+strconv.Itoa(want)+" bytes, "+strconv.Itoa(max(have-off, 0))+" left")
}

// withOffset returns err with its FieldError offset moved by base, so that
// errors from a nested decoder point into the outer buffer.
func withOffset(err error, base int) error {
	var fe *FieldError
	if base != 0 && errors.As(err, &fe) && fe.Offset >= 0 {
		c := *fe
		c.Offset += base
		return &c
	}
	return err
}
