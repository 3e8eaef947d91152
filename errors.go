package mailslot

import (
	"github.com/mailslot-go/mailslot/internal/errs"
)

// Errors returned by this package, for use with errors.Is. Every error the
// package returns is an *Error that names the operation and the slot and
// wraps one of these (or a system error).
var (
	// ErrInvalidName: the name is not a mailslot name of the right form.
	ErrInvalidName = errs.InvalidName
	// ErrAlreadyExists: another server on this computer serves the name.
	// It also matches fs.ErrExist.
	ErrAlreadyExists = errs.AlreadyExists
	// ErrNotFound: nothing serves the name (on this computer, or on the
	// named computer for a record sent over a connection). It also
	// matches fs.ErrNotExist.
	ErrNotFound = errs.NotFound
	// ErrTimeout: the read or write timeout passed. It also matches
	// os.ErrDeadlineExceeded, and the *Error has Timeout() == true.
	ErrTimeout = errs.Timeout
	// ErrBufferTooSmall: Read's buffer is smaller than the next record,
	// which stays queued.
	ErrBufferTooSmall = errs.BufferTooSmall
	// ErrMessageTooLarge: the record is over the slot's maximum message
	// size, or over what the transport carries (see MaxDatagramSize);
	// nothing was sent.
	ErrMessageTooLarge = errs.MessageTooLarge
	// ErrClosed: the Slot or Client was closed. It also matches fs.ErrClosed.
	ErrClosed = errs.Closed
	// ErrPermission: the slot's server does not let this user write.
	// It also matches fs.ErrPermission.
	ErrPermission = errs.Permission
	// ErrUnreachable: a remote computer could not be resolved or reached.
	ErrUnreachable = errs.Unreachable
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
	t, ok := e.Err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

func opErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Name: name, Err: err}
}
