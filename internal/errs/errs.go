// Package errs holds the sentinel errors that the public package mailslot
// exports, so that internal transports can return them without importing
// the public package.
package errs

import (
	"errors"
	"io/fs"
	"os"
)

// The sentinels; package mailslot documents each.
var (
	InvalidName     = errors.New("invalid mailslot name")
	AlreadyExists   = &isErr{msg: "mailslot already exists", also: fs.ErrExist}
	NotFound        = &isErr{msg: "mailslot not found", also: fs.ErrNotExist}
	Timeout         = &isErr{msg: "timeout", also: os.ErrDeadlineExceeded, timeout: true}
	BufferTooSmall  = errors.New("buffer too small for the next record")
	MessageTooLarge = errors.New("record larger than the mailslot's maximum message size")
	Closed          = &isErr{msg: "use of closed mailslot", also: fs.ErrClosed}
	Permission      = &isErr{msg: "permission denied", also: fs.ErrPermission}
	Unreachable     = errors.New("computer unreachable")
)

// isErr is a sentinel that also matches a standard library sentinel, so that
// errors.Is(err, os.ErrDeadlineExceeded) holds for a mailslot timeout, and
// so on.
type isErr struct {
	msg     string
	also    error
	timeout bool
}

func (e *isErr) Error() string { return e.msg }

// Is reports whether target is the standard sentinel this one stands for.
func (e *isErr) Is(target error) bool { return target == e.also }

// Timeout reports whether the error is a timeout, as net.Error does.
func (e *isErr) Timeout() bool { return e.timeout }
