// Package local is the same-computer transport of mailslots: a slot lives in
// the memory of the process that serves it, and clients on the computer reach
// it directly through two Linux abstract Unix sockets named after the slot.
//
// Why abstract sockets: their namespace is the whole computer (strictly, the
// network namespace) for every user; binding a name is exclusive, which gives
// "one server per name" for free; and the kernel frees the name the instant
// the last descriptor closes, so a crashed server (even kill -9) leaves no
// stale file or lock behind.
//
// Each slot binds:
//
//   - a SOCK_DGRAM socket, "data": one datagram is one record, the kernel
//     keeps record boundaries and attaches each writer's credentials
//     (SO_PASSCRED), and a successful send has already put the record on the
//     slot's socket queue, so Write returning means the record is in the slot;
//   - a SOCK_SEQPACKET listener, "control": Open connects to it once, the
//     server checks the peer's credentials (SO_PEERCRED) against the slot's
//     policy and answers with the verdict and the slot's maximum record size,
//     so a refused writer learns it at Open and an oversize write is refused
//     before anything is sent.
//
// A goroutine owned by the slot moves records from the data socket into a
// compact in-memory queue (see queue.go) as long as the slot's byte quota
// allows; when the quota is full it stops, the kernel queue fills, and local
// writers block in send until the reader makes room (or their write deadline
// passes).
package local

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxRecord is the largest record the local transport carries. Windows puts
// no fixed limit on local records; ours is 64 KiB, the same as the largest
// record that travels between computers, so a record that works locally
// works remotely too.
const MaxRecord = 64 << 10

// DefaultQuota is the default byte quota of a slot's queue.
const DefaultQuota = 64 << 20

// addrPrefix starts every abstract address of ours. The version lets a
// future incompatible transport live beside this one.
const addrPrefix = "@mailslot/v1/"

// Addrs returns the abstract socket addresses (Go spelling, with a leading
// '@') of the data and control sockets of the slot with the given canonical
// key. Keys are hashed because abstract addresses hold at most 107 bytes and
// mailslot names may be 255 characters.
func Addrs(key string) (data, control string) {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:20])
	return addrPrefix + h + "/d", addrPrefix + h + "/c"
}

// Record framing on the data socket. A plain writer's datagram is the
// record itself, nothing added: one write(2) of the caller's bytes, as
// fast as a bare socket. A relay (mailslotd handing on records from the
// network) says so when it registers, and each of its datagrams starts
// with a one-byte origin length and that many bytes of origin (who sent
// the record to the relay), then the payload.

// MaxOrigin is the longest origin a relay may attach to a record.
const MaxOrigin = 255

// Control protocol: after connecting, the client reads one 8-byte message:
//
//	u8 version (1) | u8 verdict | u16 reserved | u32 max record size
//
// verdict 0 means allowed, 1 means the caller's user may not write.
const (
	ctlVersion     = 1
	verdictAllowed = 0
	verdictDenied  = 1
	ctlLen         = 8
)

// Key returns the key of the slot with this path (the part after
// `mailslot\`): names compare case-insensitively.
func Key(path string) string { return strings.ToUpper(path) }
