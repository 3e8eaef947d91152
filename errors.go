package mailslot

import (
	"errors"

	"github.com/mailslot-go/mailslot/internal/errs"
)

// Errors returned by this package, for use with errors.Is. Every error the
// package returns is an *Error that names the operation and the slot and
// wraps one of these (or a system error). Each one's text is quoted in its
// comment.
var (
	// ErrInvalidName ("invalid mailslot name"): the name is not a mailslot
	// name of the right form, or names a computer or workgroup that
	// NetBIOS cannot carry (over 15 bytes).
	ErrInvalidName error = errs.InvalidName
	// ErrAlreadyExists ("mailslot already exists"): another server on this
	// computer serves the name. It also matches fs.ErrExist.
	ErrAlreadyExists error = errs.AlreadyExists
	// ErrNotFound ("mailslot not found"): nothing serves the name (on this
	// computer, or on the named computer for a record sent over a
	// connection). It also matches fs.ErrNotExist.
	ErrNotFound error = errs.NotFound
	// ErrTimeout ("timeout"): the read or write timeout passed. It also
	// matches os.ErrDeadlineExceeded, and the *Error has Timeout() == true.
	ErrTimeout error = errs.Timeout
	// ErrBufferTooSmall ("buffer too small for the next record"): Read's
	// buffer is smaller than the next record, which stays queued.
	ErrBufferTooSmall error = errs.BufferTooSmall
	// ErrMessageTooLarge ("record larger than the mailslot's maximum
	// message size"): the record is over the slot's maximum message size,
	// over MaxLocalMessageSize, or over what one datagram carries (424
	// bytes at most, less for long names) where records go as datagrams:
	// to a workgroup or to a computer with no mailslotd. The error names
	// the limit; nothing was sent.
	ErrMessageTooLarge error = errs.MessageTooLarge
	// ErrClosed ("use of closed mailslot"): the Slot or Client was closed.
	// It also matches fs.ErrClosed.
	ErrClosed error = errs.Closed
	// ErrPermission ("permission denied"): the slot's server does not let
	// this user write, or this client does not trust the server's user.
	// It also matches fs.ErrPermission.
	ErrPermission error = errs.Permission
	// ErrUnreachable ("computer unreachable"): a remote computer could not
	// be resolved or reached.
	ErrUnreachable error = errs.Unreachable
)

// Error records a failed operation on a mailslot.
type Error struct {
	Op   string // "create", "open", "read", "write", "info", ...
	Name string // the mailslot name as given
	Err  error  // what went wrong; wraps one of the Err sentinels
}

func (e *Error) Error() string {
	if e.Name == "" {
		return "mailslot: " + e.Op + ": " + e.Err.Error()
	}
	return "mailslot: " + e.Op + " " + e.Name + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Timeout reports whether the error is a timeout.
func (e *Error) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

func opErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Name: name, Err: err}
}
