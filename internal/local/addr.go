//go:build !windows

// Package local is the same-computer transport of mailslots: a slot lives
// in the memory of the process that serves it, and clients on the computer
// reach it directly, with no daemon.
//
// A slot binds one Linux abstract SOCK_SEQPACKET socket named after it.
// Abstract names belong to the whole computer (strictly, the network
// namespace) for every user; binding one is exclusive, which gives "one
// server per name"; and the kernel frees it the instant the last
// descriptor closes, so a crashed server (even kill -9) leaves nothing
// stale behind.
//
// Each writer connects once. The kernel tells each side who the other is
// (SO_PEERCRED, taken at connect and listen time): the server applies its
// policy to the writer's user, the writer refuses a server run by a user
// it does not trust, and every record that comes through that connection
// is the connecting process's, whatever it does later. The writer then
// hands the server a ring in shared memory (ring.go) and writes records
// into it with no system call; the server copies each record once, out of
// the ring into the reader's buffer. The connection carries only wake-ups,
// and its end tells each side that the other has gone.
//
// That is the Linux transport (sys_linux.go, alive_linux.go). On macOS
// and the BSDs, and on Linux with the build tag mailslot_portable, the
// portable transport (sys_portable.go, over package sockdir) keeps the
// protocol and the rings but not the system objects: a pathname stream
// socket in a shared sticky directory with an flock(2)ed lock file for
// the name, a file for each ring, a pipe for wake-ups, and no page that
// says the server lives.
//
// Records are read from the rings directly while the server keeps up.
// When a writer's ring is full and nothing reads, the server moves the
// records of every ring into an in-memory queue (queue.go), up to the
// slot's byte quota; past that, writers wait (up to their write timeout).
package local

import (
	"crypto/sha256"
	"encoding/binary"
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

// A relay's record (mailslotd handing on a record from the network)
// starts with a one-byte origin length and that many bytes of origin (who
// sent the record to the relay), then the payload.

// MaxOrigin is the longest origin a relay may attach to a record.
const MaxOrigin = 255

// RelayPrefixLen returns how many bytes come before the payload in a
// relay's record whose origin is n bytes long.
func RelayPrefixLen(n int) int { return 1 + min(n, MaxOrigin) }

// The connection protocol. The client speaks first:
//
//	client: u8 version | u8 kind (kindPlain, kindRelay)
//	server: u8 version | u8 verdict | u8 flags | u8 reserved | u32 max record size
//	        (with the descriptors the flags name, see answerAlive)
//
// On any verdict but verdictAllowed the server closes the connection.
//
//	client: 'M' | u32 ring data size, with the ring's memfd (SCM_RIGHTS)
//	server: 'K'
//
// Then only one-byte messages: the client sends msgWake (records wait,
// and the server asked to be woken; a writer that has the slot's eventfd
// writes to it instead), msgFull (the ring is full and the
// writer waits) and msgFullNow (the same, for a writer that will not
// wait: answer at once); the server sends msgSpace (room in the ring) and
// msgQuotaFull (no room until the reader reads).
const (
	protoVersion = 2
	kindPlain    = 0
	kindRelay    = 1
	answerLen    = 8

	// The answer's flags (its third byte): which descriptors came with it,
	// in this order.
	answerAlive = 1 // the server process's page (alive.go)
	answerWake  = 2 // the slot's eventfd, to wake a sleeping reader

	verdictAllowed   = 0
	verdictDenied    = 1 // the policy refuses the writer's user
	verdictNoNetwork = 2 // a relay, to a slot that takes no network records
	verdictNotDaemon = 3 // a relay whose user is not a daemon user

	msgRing      = 'M'
	msgAck       = 'K'
	msgWake      = 'W'
	msgFull      = 'F'
	msgFullNow   = 'Z'
	msgSpace     = 'S'
	msgQuotaFull = 'Q'
)

func le32(b []byte) uint32     { return binary.LittleEndian.Uint32(b) }
func put32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }

// keyHash is the part of a slot's socket name that names the slot: its
// key hashed, because socket names are short (an abstract address holds
// at most 107 bytes, a socket's path 104 on macOS) and mailslot names
// may be 255 characters.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:20])
}

// Key returns the key of the slot with this path (the part after
// `mailslot\`): names compare case-insensitively.
func Key(path string) string { return strings.ToUpper(path) }
