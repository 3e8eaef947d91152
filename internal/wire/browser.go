package wire

import (
	"encoding/binary"
	"strconv"
)

// BrowserOpcode is the first byte of a browser frame ([MS-BRWS] 2.2).
type BrowserOpcode uint8

// Browser frame opcodes.
const (
	OpHostAnnouncement        BrowserOpcode = 0x01
	OpAnnouncementRequest     BrowserOpcode = 0x02
	OpRequestElection         BrowserOpcode = 0x08
	OpGetBackupListRequest    BrowserOpcode = 0x09
	OpGetBackupListResponse   BrowserOpcode = 0x0A
	OpBecomeBackup            BrowserOpcode = 0x0B
	OpDomainAnnouncement      BrowserOpcode = 0x0C
	OpMasterAnnouncement      BrowserOpcode = 0x0D
	OpResetStateRequest       BrowserOpcode = 0x0E
	OpLocalMasterAnnouncement BrowserOpcode = 0x0F
)

// String returns the frame's [MS-BRWS] name.
func (o BrowserOpcode) String() string {
	switch o {
	case OpHostAnnouncement:
		return "HostAnnouncement"
	case OpAnnouncementRequest:
		return "AnnouncementRequest"
	case OpRequestElection:
		return "RequestElection"
	case OpGetBackupListRequest:
		return "GetBackupListRequest"
	case OpGetBackupListResponse:
		return "GetBackupListResponse"
	case OpBecomeBackup:
		return "BecomeBackup"
	case OpDomainAnnouncement:
		return "DomainAnnouncement"
	case OpMasterAnnouncement:
		return "MasterAnnouncement"
	case OpResetStateRequest:
		return "ResetStateRequest"
	case OpLocalMasterAnnouncement:
		return "LocalMasterAnnouncement"
	}
	return "BrowserOpcode(0x" + strconv.FormatUint(uint64(o), 16) + ")"
}

// Server type bits of the ServerType field ([MS-RAP] SV_TYPE_*), the ones
// a host announcement commonly carries.
const (
	SVTypeWorkstation      uint32 = 0x00000001
	SVTypeServer           uint32 = 0x00000002
	SVTypePrintQueueServer uint32 = 0x00000200
	SVTypeXenixServer      uint32 = 0x00000800
	SVTypeNT               uint32 = 0x00001000 // Windows NT workstation
	SVTypeServerNT         uint32 = 0x00008000
	SVTypePotentialBrowser uint32 = 0x00010000
	SVTypeBackupBrowser    uint32 = 0x00020000
	SVTypeMasterBrowser    uint32 = 0x00040000
	SVTypeDomainMaster     uint32 = 0x00080000
	SVTypeDFS              uint32 = 0x00800000
	SVTypeDomainEnum       uint32 = 0x80000000
)

// Browser frame constants.
const (
	// BrowserSignature is the Signature of announcements (0xAA55).
	BrowserSignature = 0xAA55

	// BrowserVersionMajor and BrowserVersionMinor are the browser protocol
	// version that Windows and nmbd announce (15.1).
	BrowserVersionMajor = 15
	BrowserVersionMinor = 1

	// MaxAnnouncementComment is the longest Comment of an announcement,
	// without its NUL ([MS-BRWS] 2.2.1: 43 bytes with the NUL).
	MaxAnnouncementComment = 42

	announcementFixedLen = 32 // opcode .. Signature
)

// BrowserFrame is a decoded browser frame: *Announcement,
// *AnnouncementRequest or *RequestElection.
type BrowserFrame interface {
	BrowserOpcode() BrowserOpcode
}

// Announcement is a HostAnnouncement (0x01), DomainAnnouncement (0x0C) or
// LocalMasterAnnouncement (0x0F) frame ([MS-BRWS] 2.2.1, 2.2.7, 2.2.9):
// all three share one layout. Fields carry the HostAnnouncement names; in
// a DomainAnnouncement ServerName is the MachineGroup (workgroup),
// OSVersionMajor/Minor are BrowserConfigVersionMajor/Minor, and Comment is
// the LocalMasterBrowserName.
type Announcement struct {
	Opcode              BrowserOpcode // 0x01, 0x0C or 0x0F
	UpdateCount         uint8         // UpdateCount (sent as 0 by Windows)
	Periodicity         uint32        // Periodicity: announcement interval in milliseconds
	ServerName          string        // ServerName: up to 15 bytes, NUL-padded to 16 on the wire
	OSVersionMajor      uint8         // OSVersionMajor
	OSVersionMinor      uint8         // OSVersionMinor
	ServerType          uint32        // ServerType: SVType* bits
	BrowserVersionMajor uint8         // BrowserVersionMajor (15)
	BrowserVersionMinor uint8         // BrowserVersionMinor (1)
	Signature           uint16        // Signature (0xAA55)
	Comment             string        // Comment: NUL-terminated, at most 42 bytes
}

// BrowserOpcode returns a.Opcode.
func (a *Announcement) BrowserOpcode() BrowserOpcode { return a.Opcode }

// AnnouncementRequest is an AnnouncementRequest frame (0x02, [MS-BRWS]
// 2.2.2): it asks every server of a workgroup to send a HostAnnouncement.
type AnnouncementRequest struct {
	// Reserved is the byte after the opcode: 0 from Windows; nmbd puts
	// its workgroup token (1) there.
	Reserved uint8
	// ResponseName is the sender's name, up to 15 bytes (receivers ignore
	// it).
	ResponseName string
}

// BrowserOpcode returns OpAnnouncementRequest.
func (*AnnouncementRequest) BrowserOpcode() BrowserOpcode { return OpAnnouncementRequest }

// RequestElection is a RequestElection frame (0x08, [MS-BRWS] 2.2.3),
// which nmbd broadcasts while it tries to become local master browser.
type RequestElection struct {
	Version    uint8  // Version
	Criteria   uint32 // Criteria: OS level in the top byte, then version and role bits
	Uptime     uint32 // Uptime in milliseconds
	ServerName string // ServerName: the sender
}

// BrowserOpcode returns OpRequestElection.
func (*RequestElection) BrowserOpcode() BrowserOpcode { return OpRequestElection }

// DecodeBrowser decodes the browser frame in data (the Data of a mailslot
// write to \MAILSLOT\BROWSE or \MAILSLOT\LANMAN). Frames other than
// announcements, announcement requests and election requests give
// ErrUnsupported.
func DecodeBrowser(data []byte) (BrowserFrame, error) {
	if len(data) < 1 {
		return nil, shortErr("browser", "Opcode", 0, 1, len(data))
	}
	switch op := BrowserOpcode(data[0]); op {
	case OpHostAnnouncement, OpDomainAnnouncement, OpLocalMasterAnnouncement:
		a, err := DecodeAnnouncement(data)
		if err != nil {
			return nil, err
		}
		return &a, nil
	case OpAnnouncementRequest:
		r, err := DecodeAnnouncementRequest(data)
		if err != nil {
			return nil, err
		}
		return &r, nil
	case OpRequestElection:
		e, err := DecodeRequestElection(data)
		if err != nil {
			return nil, err
		}
		return &e, nil
	default:
		return nil, fieldErr(ErrUnsupported, "browser", "Opcode", 0, op.String())
	}
}

// cstring returns b up to its first NUL, or all of b when there is none.
func cstring(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// DecodeAnnouncement decodes a HostAnnouncement, DomainAnnouncement or
// LocalMasterAnnouncement. The comment ends at its NUL or at the end of
// data (a missing NUL is tolerated, trailing bytes are ignored).
func DecodeAnnouncement(data []byte) (Announcement, error) {
	var a Announcement
	if len(data) < 1 {
		return a, shortErr("browser", "Opcode", 0, 1, len(data))
	}
	a.Opcode = BrowserOpcode(data[0])
	switch a.Opcode {
	case OpHostAnnouncement, OpDomainAnnouncement, OpLocalMasterAnnouncement:
	default:
		return a, fieldErr(ErrUnsupported, "browser", "Opcode", 0, a.Opcode.String()+" is not an announcement")
	}
	if len(data) < announcementFixedLen {
		return a, shortErr("browser", a.Opcode.String(), 0, announcementFixedLen, len(data))
	}
	le := binary.LittleEndian
	a.UpdateCount = data[1]
	a.Periodicity = le.Uint32(data[2:])
	a.ServerName = string(cstring(data[6:22]))
	a.OSVersionMajor = data[22]
	a.OSVersionMinor = data[23]
	a.ServerType = le.Uint32(data[24:])
	a.BrowserVersionMajor = data[28]
	a.BrowserVersionMinor = data[29]
	a.Signature = le.Uint16(data[30:])
	a.Comment = string(cstring(data[announcementFixedLen:]))
	return a, nil
}

func checkBrowserString(s, field string, max int) error {
	if len(s) > max {
		e := ErrNameTooLong
		if field == "Comment" {
			e = ErrTooLarge
		}
		return fieldErr(e, "browser", field, -1, strconv.Itoa(len(s))+" bytes, at most "+strconv.Itoa(max))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return fieldErr(ErrInvalidName, "browser", field, -1, "control character in "+strconv.Quote(s))
		}
	}
	return nil
}

// AppendAnnouncement appends the frame a (Opcode 0x01, 0x0C or 0x0F).
// ServerName must have at most 15 bytes and Comment at most 42, neither a
// control character; Signature and the browser version are written as
// given (use BrowserSignature and BrowserVersionMajor/Minor).
func AppendAnnouncement(dst []byte, a *Announcement) ([]byte, error) {
	switch a.Opcode {
	case OpHostAnnouncement, OpDomainAnnouncement, OpLocalMasterAnnouncement:
	default:
		return dst, fieldErr(ErrMalformed, "browser", "Opcode", -1, a.Opcode.String()+" is not an announcement")
	}
	if err := checkBrowserString(a.ServerName, "ServerName", NameLen); err != nil {
		return dst, err
	}
	if err := checkBrowserString(a.Comment, "Comment", MaxAnnouncementComment); err != nil {
		return dst, err
	}
	le := binary.LittleEndian
	dst = append(dst, byte(a.Opcode), a.UpdateCount)
	dst = le.AppendUint32(dst, a.Periodicity)
	var name [16]byte
	copy(name[:], a.ServerName)
	dst = append(dst, name[:]...)
	dst = append(dst, a.OSVersionMajor, a.OSVersionMinor)
	dst = le.AppendUint32(dst, a.ServerType)
	dst = append(dst, a.BrowserVersionMajor, a.BrowserVersionMinor)
	dst = le.AppendUint16(dst, a.Signature)
	dst = append(dst, a.Comment...)
	return append(dst, 0), nil
}

// DecodeAnnouncementRequest decodes an AnnouncementRequest. The name ends
// at its NUL or at the end of data. nmbd writes the name one byte late
// (after an extra NUL) and without its NUL: when the name at the specified
// place is empty and bytes follow, the name is taken from the next byte.
func DecodeAnnouncementRequest(data []byte) (AnnouncementRequest, error) {
	var r AnnouncementRequest
	if len(data) < 2 {
		return r, shortErr("browser", "AnnouncementRequest", 0, 2, len(data))
	}
	if BrowserOpcode(data[0]) != OpAnnouncementRequest {
		return r, fieldErr(ErrUnsupported, "browser", "Opcode", 0, BrowserOpcode(data[0]).String()+" is not an AnnouncementRequest")
	}
	r.Reserved = data[1]
	name := cstring(data[2:])
	if len(name) == 0 && len(data) > 2 {
		name = cstring(data[3:])
	}
	r.ResponseName = string(name)
	return r, nil
}

// AppendAnnouncementRequest appends the frame r as [MS-BRWS] specifies it:
// opcode, Reserved, ResponseName and its NUL. ResponseName must have at
// most 15 bytes, no control character.
func AppendAnnouncementRequest(dst []byte, r *AnnouncementRequest) ([]byte, error) {
	if err := checkBrowserString(r.ResponseName, "ResponseName", NameLen); err != nil {
		return dst, err
	}
	dst = append(dst, byte(OpAnnouncementRequest), r.Reserved)
	dst = append(dst, r.ResponseName...)
	return append(dst, 0), nil
}

// DecodeRequestElection decodes a RequestElection frame: Version,
// Criteria, Uptime, 4 unused bytes, ServerName.
func DecodeRequestElection(data []byte) (RequestElection, error) {
	var e RequestElection
	if len(data) < 14 {
		return e, shortErr("browser", "RequestElection", 0, 14, len(data))
	}
	if BrowserOpcode(data[0]) != OpRequestElection {
		return e, fieldErr(ErrUnsupported, "browser", "Opcode", 0, BrowserOpcode(data[0]).String()+" is not a RequestElection")
	}
	le := binary.LittleEndian
	e.Version = data[1]
	e.Criteria = le.Uint32(data[2:])
	e.Uptime = le.Uint32(data[6:])
	e.ServerName = string(cstring(data[14:]))
	return e, nil
}

// AppendRequestElection appends the frame e. ServerName must have at most
// 15 bytes, no control character.
func AppendRequestElection(dst []byte, e *RequestElection) ([]byte, error) {
	if err := checkBrowserString(e.ServerName, "ServerName", NameLen); err != nil {
		return dst, err
	}
	le := binary.LittleEndian
	dst = append(dst, byte(OpRequestElection), e.Version)
	dst = le.AppendUint32(dst, e.Criteria)
	dst = le.AppendUint32(dst, e.Uptime)
	dst = le.AppendUint32(dst, 0)
	dst = append(dst, e.ServerName...)
	return append(dst, 0), nil
}

// serverTypeNames names the ServerType bits ([MS-RAP] SV_TYPE_*), lowest
// bit first.
var serverTypeNames = [32]string{
	"workstation", "server", "sql-server", "domain-controller",
	"backup-domain-controller", "time-source", "afp", "novell",
	"domain-member", "print-queue", "dialin", "unix",
	"nt", "wfw", "mfpn", "server-nt",
	"potential-browser", "backup-browser", "master-browser", "domain-master",
	"osf", "vms", "windows", "dfs",
	"cluster-nt", "terminal-server", "cluster-vs-nt", "",
	"dce", "alternate-xport", "local-list-only", "domain-enum",
}

// ServerTypeNames returns the names of the bits set in a ServerType, as
// "workstation", "server", "master-browser", ...; a bit without a name
// comes out as "0x…".
func ServerTypeNames(t uint32) []string {
	var out []string
	for i, name := range serverTypeNames {
		bit := uint32(1) << i
		if t&bit == 0 {
			continue
		}
		if name == "" {
			name = "0x" + strconv.FormatUint(uint64(bit), 16)
		}
		out = append(out, name)
	}
	return out
}
