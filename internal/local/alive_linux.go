//go:build linux && !mailslot_portable

package local

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Knowing that the server has died, without a system call per record.
//
// A writer puts records in shared memory, so a write "succeeds" even when
// the server was killed a moment ago; the end of the connection tells the
// writer's goroutine, but only after the scheduler runs it. So each
// serving process keeps one page that says it lives, and the kernel
// itself marks it when the process dies, before it closes its sockets:
// a thread of ours holds a robust futex in that page (set_robust_list),
// and on the thread's exit, even by SIGKILL, the kernel sets the futex
// word's FUTEX_OWNER_DIED bit. Writers map the page read-only (it is
// sealed against new writable mappings) and load the word before
// publishing each record: one load of a line nobody writes.
//
// A slot handed to another process (Transfer) outlives the process whose
// page its writers hold; a writer that sees the page marked asks its
// connection, which lives on in the new holder, and from then on asks it
// at every record.

// Layout of the page.
const (
	aliveSize      = 4096
	aliveHead      = 0   // struct robust_list_head: next, futex_offset, list_op_pending
	aliveEntry     = 128 // struct robust_list: next (back to the head)
	aliveWord      = 192 // the futex word: the holding thread's tid
	futexOwnerDied = 0x40000000
)

var alivePage struct {
	once sync.Once
	fd   *os.File // nil when the kernel does not offer it
}

// aliveFile returns this process's page, made on first use, or nil.
func aliveFile() *os.File {
	alivePage.once.Do(func() { alivePage.fd = makeAlive() })
	return alivePage.fd
}

func makeAlive() *os.File {
	fd, err := unix.MemfdCreate("mailslot-alive", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "mailslot-alive")
	if unix.Ftruncate(fd, aliveSize) != nil {
		f.Close()
		return nil
	}
	mem, err := unix.Mmap(fd, 0, aliveSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_FUTURE_WRITE|unix.F_SEAL_SEAL); err != nil {
		unix.Munmap(mem)
		f.Close()
		return nil
	}
	ok := make(chan bool)
	go holdAlive(mem, ok) // owned by the process: it never ends
	if !<-ok {
		f.Close()
		return nil
	}
	return f
}

// holdAlive registers the page's futex as held by this goroutine's
// thread, then keeps the thread for good: the kernel marks the word when
// the thread ends, which is when the process does.
func holdAlive(mem []byte, ok chan<- bool) {
	runtime.LockOSThread()
	head := uintptr(unsafe.Pointer(&mem[aliveHead]))
	entry := uintptr(unsafe.Pointer(&mem[aliveEntry]))
	word := (*uint32)(unsafe.Pointer(&mem[aliveWord]))
	atomic.StoreUint32(word, uint32(unix.Gettid()))
	*(*uintptr)(unsafe.Pointer(&mem[aliveEntry])) = head // the list ends at its head
	*(*uintptr)(unsafe.Pointer(&mem[aliveHead])) = entry
	*(*int64)(unsafe.Pointer(&mem[aliveHead+8])) = aliveWord - aliveEntry
	*(*uintptr)(unsafe.Pointer(&mem[aliveHead+16])) = 0
	_, _, e := unix.RawSyscall(unix.SYS_SET_ROBUST_LIST, head, 24, 0)
	ok <- e == 0
	if e != 0 {
		runtime.UnlockOSThread()
		return
	}
	select {}
}

// mapAlive maps a server's page read-only, checking its size and that
// it is sealed against shrinking; nil when it is not one. A page the
// server could still cut short would let it kill the writer: a load from
// a mapping past the end of its file is a SIGBUS.
func mapAlive(fd int) []byte {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Size != aliveSize {
		return nil
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil || seals&unix.F_SEAL_SHRINK == 0 {
		return nil
	}
	mem, err := unix.Mmap(fd, 0, aliveSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	return mem
}

// ownerDied reports whether the page's holder has ended.
func ownerDied(mem []byte) bool {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&mem[aliveWord])))&futexOwnerDied != 0
}
