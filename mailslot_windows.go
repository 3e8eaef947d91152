//go:build windows

package mailslot

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/windows"
)

// On Windows a slot is the system's own mailslot: CreateMailslotW makes
// it, ReadFile reads it, GetMailslotInfo and SetMailslotInfo tell and set
// its state, and clients open it with CreateFileW and write with
// WriteFile. Nothing of this package's local transport is used.

var (
	kernel32            = windows.NewLazySystemDLL("kernel32.dll")
	procGetMailslotInfo = kernel32.NewProc("GetMailslotInfo")
	procSetMailslotInfo = kernel32.NewProc("SetMailslotInfo")
	ntdll               = windows.NewLazySystemDLL("ntdll.dll")
	procNtQueryObject   = ntdll.NewProc("NtQueryObject")

	procNtCreateMailslotFile = ntdll.NewProc("NtCreateMailslotFile")
)

const (
	mailslotWaitForever = 0xFFFFFFFF // MAILSLOT_WAIT_FOREVER
	mailslotNoMessage   = 0xFFFFFFFF // MAILSLOT_NO_MESSAGE
	objectNameInfo      = 1          // ObjectNameInformation
)

// maxSlotRecord is the largest maximum message size Create accepts: what
// one ReadFile or WriteFile carries.
const maxSlotRecord = math.MaxInt32

// createMailslot creates the mailslot name (`\\.\mailslot\...`) as
// CreateMailslotW does, through the same system call, but for overlapped
// I/O: CreateMailslotW's handle is synchronous, and there a pending read
// holds the file object's lock, so that GetMailslotInfo and
// SetMailslotInfo would wait for it and no read could be cancelled
// without cancelling the thread's I/O. The read timeout is then set with
// SetMailslotInfo.
func createMailslot(name string, maxSize uint32, timeout uint32, sa *windows.SecurityAttributes) (windows.Handle, error) {
	// The system's name for `\\.\mailslot\PATH`, as
	// RtlDosPathNameToNtPathName_U makes it.
	nt, err := windows.NewNTUnicodeString(`\??\MAILSLOT\` + name[len(`\\.\mailslot\`):])
	if err != nil {
		return windows.InvalidHandle, fmt.Errorf("%w: %v", errs.InvalidName, err)
	}
	attr := windows.OBJECT_ATTRIBUTES{ObjectName: nt, Attributes: windows.OBJ_CASE_INSENSITIVE}
	attr.Length = uint32(unsafe.Sizeof(attr))
	if sa != nil {
		attr.SecurityDescriptor = sa.SecurityDescriptor
	}
	var h windows.Handle
	var iosb windows.IO_STATUS_BLOCK
	var zero int64 // a finite read timeout, replaced below
	r, _, _ := procNtCreateMailslotFile.Call(uintptr(unsafe.Pointer(&h)),
		uintptr(windows.GENERIC_READ|windows.SYNCHRONIZE|windows.WRITE_DAC),
		uintptr(unsafe.Pointer(&attr)), uintptr(unsafe.Pointer(&iosb)),
		0, // CreateOptions: no FILE_SYNCHRONOUS_IO_*, so the handle is overlapped
		0, uintptr(maxSize), uintptr(unsafe.Pointer(&zero)))
	if r != 0 {
		return windows.InvalidHandle, sysErr("CreateMailslotW (NtCreateMailslotFile)", windows.NTStatus(r).Errno())
	}
	if err := setMailslotInfo(h, timeout); err != nil {
		windows.CloseHandle(h)
		return windows.InvalidHandle, err
	}
	return h, nil
}

func getMailslotInfo(h windows.Handle) (maxSize, next, count, timeout uint32, err error) {
	r, _, e := procGetMailslotInfo.Call(uintptr(h), uintptr(unsafe.Pointer(&maxSize)), uintptr(unsafe.Pointer(&next)),
		uintptr(unsafe.Pointer(&count)), uintptr(unsafe.Pointer(&timeout)))
	if r == 0 {
		return 0, 0, 0, 0, sysErr("GetMailslotInfo", e)
	}
	return maxSize, next, count, timeout, nil
}

func setMailslotInfo(h windows.Handle, timeout uint32) error {
	r, _, e := procSetMailslotInfo.Call(uintptr(h), uintptr(timeout))
	if r == 0 {
		return sysErr("SetMailslotInfo", e)
	}
	return nil
}

// sysErr maps a Windows error to the package's sentinel, keeping the
// Windows error (a syscall.Errno, for errors.Is and errors.As) in the
// chain behind it.
func sysErr(call string, e error) error {
	var en windows.Errno
	if !errors.As(e, &en) || en == 0 {
		if e == nil {
			e = windows.ERROR_GEN_FAILURE
		}
		return &os.SyscallError{Syscall: call, Err: e}
	}
	var base error
	switch en {
	case windows.ERROR_ALREADY_EXISTS, windows.ERROR_FILE_EXISTS, windows.ERROR_PIPE_BUSY:
		base = errs.AlreadyExists
	case windows.ERROR_FILE_NOT_FOUND, windows.ERROR_PATH_NOT_FOUND, windows.ERROR_BAD_NETPATH, windows.ERROR_HANDLE_EOF:
		base = errs.NotFound
	case windows.ERROR_SEM_TIMEOUT, windows.WAIT_TIMEOUT:
		base = errs.Timeout
	case windows.ERROR_INSUFFICIENT_BUFFER, windows.ERROR_MORE_DATA:
		base = errs.BufferTooSmall
	case windows.ERROR_ACCESS_DENIED, windows.ERROR_PRIVILEGE_NOT_HELD:
		base = errs.Permission
	case windows.ERROR_INVALID_NAME, windows.ERROR_BAD_PATHNAME, windows.ERROR_FILENAME_EXCED_RANGE:
		base = errs.InvalidName
	case windows.ERROR_INVALID_HANDLE, windows.ERROR_OPERATION_ABORTED:
		base = errs.Closed
	default:
		return &os.SyscallError{Syscall: call, Err: en}
	}
	return fmt.Errorf("%w (%s: %w)", base, call, en)
}

// msTimeout converts a read timeout to SetMailslotInfo's milliseconds:
// WaitForever is MAILSLOT_WAIT_FOREVER, a positive duration rounds up to
// whole milliseconds.
func msTimeout(d time.Duration) uint32 {
	if d < 0 {
		return mailslotWaitForever
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms >= mailslotWaitForever {
		ms = mailslotWaitForever - 1
	}
	return uint32(ms)
}

func durTimeout(ms uint32) time.Duration {
	if ms == mailslotWaitForever {
		return WaitForever
	}
	return time.Duration(ms) * time.Millisecond
}

// sysSlot is a mailslot server handle. Every read is overlapped I/O, so
// that a context or Close can cancel it (CancelIoEx) and the handle is
// never closed under a call that uses it.
type sysSlot struct {
	mu      sync.Mutex
	h       windows.Handle
	closed  bool
	pending map[*readOp]struct{} // reads issued and not completed
	users   sync.WaitGroup       // calls using h
	cancels sync.WaitGroup       // Close's cancellations under way
	free    []*readOp            // ops with their events, for reuse

	records, bytes atomic.Uint64
}

// readOp is one overlapped read. It lives on the heap (pending holds it)
// and keeps its buffer referenced until the read completes, since the
// system writes to both after ReadFile returns.
type readOp struct {
	ov   windows.Overlapped
	ev   windows.Handle
	buf  []byte
	done chan struct{} // closed when the read has completed
}

func newSysSlot(h windows.Handle) *sysSlot {
	return &sysSlot{h: h, pending: map[*readOp]struct{}{}}
}

func createSlot(n Name, _ string, o options) (*sysSlot, error) {
	sa, err := securityAttributes(o)
	if err != nil {
		return nil, err
	}
	h, err := createMailslot(`\\.\mailslot\`+n.Path, uint32(o.maxMessageSize), msTimeout(normTimeout(o.readTimeout)), sa)
	if err != nil {
		return nil, err
	}
	return newSysSlot(h), nil
}

// acquire marks a call that uses the handle; release ends it.
func (s *sysSlot) acquire() (windows.Handle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errs.Closed
	}
	s.users.Add(1)
	return s.h, nil
}

func (s *sysSlot) release() { s.users.Done() }

// readInto reads one record into p, waiting as the slot's timeout says and
// until ctx ends. A read that ctx or Close cancels takes no record.
func (s *sysSlot) readInto(ctx context.Context, p []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errs.Closed
	}
	op, err := s.opLocked()
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	// Registered before it is issued, so that Close sees every read it
	// must cancel.
	op.buf = p
	op.done = make(chan struct{})
	s.pending[op] = struct{}{}
	s.users.Add(1)
	s.mu.Unlock()
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		s.cancel(op)
	})
	var done uint32
	err = windows.ReadFile(s.h, op.buf, &done, &op.ov)
	if err == windows.ERROR_IO_PENDING {
		err = windows.GetOverlappedResult(s.h, &op.ov, &done, true)
	}
	close(op.done)
	if !stop() {
		<-cancelled
	}
	s.mu.Lock()
	delete(s.pending, op)
	closed := s.closed
	op.buf, op.done = nil, nil
	s.free = append(s.free, op)
	s.mu.Unlock()
	s.users.Done()
	if err != nil {
		if err == windows.ERROR_OPERATION_ABORTED {
			if closed {
				return 0, errs.Closed
			}
			if cerr := ctx.Err(); cerr != nil {
				return 0, cerr
			}
		}
		if err == windows.ERROR_INSUFFICIENT_BUFFER || err == windows.ERROR_MORE_DATA {
			return 0, s.tooSmall(len(p), err)
		}
		return 0, sysErr("ReadFile", err)
	}
	s.records.Add(1)
	s.bytes.Add(uint64(done))
	return int(done), nil
}

// cancel cancels the read op until it completes: CancelIoEx finds nothing
// to cancel while the read is not yet issued, so it is asked again.
func (s *sysSlot) cancel(op *readOp) {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		windows.CancelIoEx(s.h, &op.ov)
		select {
		case <-op.done:
			return
		case <-t.C:
		}
	}
}

// tooSmall is the error of a read whose buffer the next record does not
// fit, saying how large the record is.
func (s *sysSlot) tooSmall(have int, err error) error {
	next, _, _, ierr := s.info()
	if ierr != nil || next == NoMessage {
		return fmt.Errorf("%w: the buffer is %d bytes (ReadFile: %w)", errs.BufferTooSmall, have, err)
	}
	return fmt.Errorf("%w: the record is %d bytes, the buffer %d (ReadFile: %w)", errs.BufferTooSmall, next, have, err)
}

// opLocked returns a read operation with a fresh OVERLAPPED. Its event's
// handle has the low bit set, so that no completion packet is queued to
// an I/O completion port the handle may be bound to (os.NewFile binds an
// overlapped handle to Go's own).
func (s *sysSlot) opLocked() (*readOp, error) {
	var op *readOp
	if n := len(s.free); n > 0 {
		op, s.free = s.free[n-1], s.free[:n-1]
		if err := windows.ResetEvent(op.ev); err != nil {
			return nil, sysErr("ResetEvent", err)
		}
	} else {
		ev, err := windows.CreateEvent(nil, 1, 0, nil)
		if err != nil {
			return nil, sysErr("CreateEvent", err)
		}
		op = &readOp{ev: ev}
	}
	op.ov = windows.Overlapped{HEvent: op.ev | 1}
	return op, nil
}

func (s *sysSlot) read(p []byte) (int, error) { return s.readInto(context.Background(), p) }

// messageBuf is the buffer ReadMessage reads into before it knows the
// record's size: records up to its size need one read.
var messageBuf = sync.Pool{New: func() any { b := make([]byte, MaxLocalMessageSize); return &b }}

func (s *sysSlot) readMessage(ctx context.Context) (Message, error) {
	bp := messageBuf.Get().(*[]byte)
	defer messageBuf.Put(bp)
	buf := *bp
	for {
		n, err := s.readInto(ctx, buf)
		if err == nil {
			return Message{Data: append([]byte{}, buf[:n]...), Time: time.Now()}, nil
		}
		if !errors.Is(err, errs.BufferTooSmall) {
			return Message{}, err
		}
		// A record larger than the buffer stays queued: read it with a
		// buffer of its size.
		next, _, _, ierr := s.info()
		if ierr != nil {
			return Message{}, ierr
		}
		if next > len(buf) {
			buf = make([]byte, next)
		}
	}
}

func (s *sysSlot) info() (next, count int, timeout time.Duration, err error) {
	h, err := s.acquire()
	if err != nil {
		return 0, 0, 0, err
	}
	defer s.release()
	_, nx, c, t, err := getMailslotInfo(h)
	if err != nil {
		return 0, 0, 0, err
	}
	next = int(nx)
	if nx == mailslotNoMessage {
		next = NoMessage
	}
	return next, int(c), durTimeout(t), nil
}

func (s *sysSlot) setReadTimeout(d time.Duration) error {
	h, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.release()
	return setMailslotInfo(h, msTimeout(d))
}

func (s *sysSlot) stats() Stats {
	return Stats{Records: s.records.Load(), Bytes: s.bytes.Load()}
}

// stop marks the slot closed, cancels its pending reads and waits until
// no call uses the handle, which it returns to the caller to close or
// hand on.
func (s *sysSlot) stop() (windows.Handle, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, errs.Closed
	}
	s.closed = true
	for op := range s.pending {
		s.cancels.Add(1)
		go func() {
			defer s.cancels.Done()
			s.cancel(op)
		}()
	}
	s.mu.Unlock()
	s.users.Wait()
	s.cancels.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range s.free {
		windows.CloseHandle(op.ev)
	}
	s.free = nil
	return s.h, nil
}

func (s *sysSlot) close() error {
	h, err := s.stop()
	if err != nil {
		return err
	}
	if err := windows.CloseHandle(h); err != nil {
		return sysErr("CloseHandle", err)
	}
	return nil
}

// transfer hands the handle on as an inheritable file named after the
// slot.
func (s *sysSlot) transfer(given string) (*os.File, error) {
	h, err := s.stop()
	if err != nil {
		return nil, err
	}
	if err := windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, windows.HANDLE_FLAG_INHERIT); err != nil {
		windows.CloseHandle(h)
		return nil, sysErr("SetHandleInformation", err)
	}
	// The returned file reports records read so far no more; a FileSlot
	// in this process starts its counts again.
	return os.NewFile(uintptr(h), given), nil
}

// adoptSlot takes a mailslot server handle from f: a duplicate of it, not
// inheritable, so that f can be closed.
func adoptSlot(f *os.File) (_ *sysSlot, given string, maxMsg int, _ error) {
	defer f.Close()
	src := windows.Handle(f.Fd())
	maxSize, _, _, _, err := getMailslotInfo(src)
	if err != nil {
		return nil, "", 0, fmt.Errorf("not a mailslot server handle: %w", err)
	}
	given = f.Name()
	if n, perr := ParseName(given); perr != nil || !n.IsLocal() {
		if given, err = kernelName(src); err != nil {
			return nil, "", 0, err
		}
	}
	proc := windows.CurrentProcess()
	var h windows.Handle
	if err := windows.DuplicateHandle(proc, src, proc, &h, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
		return nil, "", 0, sysErr("DuplicateHandle", err)
	}
	return newSysSlot(h), given, int(maxSize), nil
}

// kernelName asks Windows for the name of a mailslot handle
// (`\Device\Mailslot\PATH`) and returns it as `\\.\mailslot\PATH`.
func kernelName(h windows.Handle) (string, error) {
	buf := make([]uint16, 1024)
	var n uint32
	r, _, _ := procNtQueryObject.Call(uintptr(h), objectNameInfo, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)*2), uintptr(unsafe.Pointer(&n)))
	if r != 0 {
		return "", fmt.Errorf("NtQueryObject: %w", windows.NTStatus(r))
	}
	us := (*windows.NTUnicodeString)(unsafe.Pointer(&buf[0]))
	name := us.String()
	const dev = `\Device\Mailslot\`
	if len(name) < len(dev) || !strings.EqualFold(name[:len(dev)], dev) {
		return "", fmt.Errorf("%w: the handle's name %q is not a mailslot's", errs.InvalidName, name)
	}
	return `\\.\mailslot\` + name[len(dev):], nil
}

// winWriter is a client handle of a mailslot on this computer.
type winWriter struct {
	mu sync.RWMutex // writes hold it shared, close exclusively
	h  windows.Handle
}

func openLocal(n Name, _ options) (writer, error) {
	p, err := windows.UTF16PtrFromString(`\\.\mailslot\` + n.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errs.InvalidName, err)
	}
	h, err := windows.CreateFile(p, windows.GENERIC_WRITE, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil,
		windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, sysErr("CreateFileW", err)
	}
	return &winWriter{h: h}, nil
}

func (w *winWriter) write(p []byte, _ time.Duration) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.h == windows.InvalidHandle {
		return errs.Closed
	}
	var n uint32
	if err := windows.WriteFile(w.h, p, &n, nil); err != nil {
		switch err {
		case windows.ERROR_BROKEN_PIPE, windows.ERROR_PIPE_NOT_CONNECTED, windows.ERROR_NO_DATA, windows.ERROR_INVALID_HANDLE,
			windows.ERROR_FILE_NOT_FOUND, windows.ERROR_HANDLE_EOF:
			// This client's handle is open (mu guards it): the slot's
			// server has gone.
			return fmt.Errorf("%w: the slot's server has gone (WriteFile: %w)", errs.NotFound, err)
		}
		if err == windows.ERROR_INVALID_PARAMETER || err == windows.ERROR_BAD_LENGTH {
			// The record is over the slot's maximum message size, which
			// a client cannot learn beforehand on Windows.
			return fmt.Errorf("%w: %d bytes (WriteFile: %w)", errs.MessageTooLarge, len(p), err)
		}
		return sysErr("WriteFile", err)
	}
	if int(n) != len(p) {
		return fmt.Errorf("WriteFile wrote %d bytes of %d", n, len(p))
	}
	return nil
}

// maxMessageSize is what one WriteFile carries: a client cannot learn a
// Windows slot's maximum message size, and WriteFile refuses a record
// over it.
func (w *winWriter) maxMessageSize() int { return maxSlotRecord }

func (w *winWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.h
	w.h = windows.InvalidHandle
	if err := windows.CloseHandle(h); err != nil {
		return sysErr("CloseHandle", err)
	}
	return nil
}
