package wire

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// SMB and mailslot constants ([MS-CIFS] 2.2.3.1, 2.2.4.33; [MS-MAIL] 2.2.1).
const (
	// SMBHeaderSize is the size of the SMB header that starts a mailslot
	// write: Protocol "\xffSMB", Command, Status, Flags, Flags2, PIDHigh,
	// SecurityFeatures, Reserved, TID, PIDLow, UID, MID.
	SMBHeaderSize = 32

	// SMBComTransaction is the SMB command code of SMB_COM_TRANSACTION.
	SMBComTransaction = 0x25

	// MailslotWordCount is the WordCount of a mailslot write: 14 transaction
	// words and SetupCount (3) setup words.
	MailslotWordCount = 17

	// MailslotSetupCount is the SetupCount of a mailslot write.
	MailslotSetupCount = 3

	// MailslotOpcodeWrite is the only mailslot transaction opcode, the
	// first setup word: a mailslot write.
	MailslotOpcodeWrite = 1

	// ClassReliable (first class) asks the receiver for an answer; it is
	// only used over SMB sessions, which no modern peer offers.
	ClassReliable = 1

	// ClassUnreliable (second class) is the class of every datagram
	// mailslot write: unreliable, possibly broadcast.
	ClassUnreliable = 2

	// MailslotPrefix starts every mailslot name on the wire (matched without
	// regard to case).
	MailslotPrefix = `\MAILSLOT\`

	// BrowseMailslot is the mailslot of the browser protocol ([MS-BRWS]).
	BrowseMailslot = `\MAILSLOT\BROWSE`

	// LanmanMailslot is the LAN Manager browser mailslot.
	LanmanMailslot = `\MAILSLOT\LANMAN`

	// MaxMailslotNameLen is the longest mailslot name (prefix included, NUL
	// excluded) this package encodes or accepts.
	MaxMailslotNameLen = 255

	// MailslotWriteOverhead is the size of a mailslot write without its
	// name and data: SMB header (32), WordCount (1), 17 words (34),
	// ByteCount (2) and the name's terminating NUL (1).
	MailslotWriteOverhead = SMBHeaderSize + 1 + 2*MailslotWordCount + 2 + 1
)

// Offsets of the SMB_COM_TRANSACTION request fields from the start of the
// SMB header.
const (
	offCommand             = 4
	offFlags               = 9
	offWordCount           = 32
	offTotalParameterCount = 33
	offTotalDataCount      = 35
	offMaxParameterCount   = 37
	offMaxDataCount        = 39
	offMaxSetupCount       = 41
	offTransFlags          = 43
	offTimeout             = 45
	offParameterCount      = 51
	offParameterOffset     = 53
	offDataCount           = 55
	offDataOffset          = 57
	offSetupCount          = 59
	offOpcode              = 61
	offPriority            = 63
	offClass               = 65
	offByteCount           = 67
	offBytes               = 69

	smbFlagsReply = 0x80
)

// Sizes of datagrams and records.
const (
	// MaxDatagramRecord is the largest record a datagram carries, the
	// figure Windows documents for mailslot messages between computers. It
	// is what remains of the MaxDatagramSize (576-byte) datagram after:
	//
	//	 14  NetBIOS datagram header (MSG_TYPE ... PACKET_OFFSET)
	//	 34  SOURCE_NAME, first-level encoded, no scope
	//	 34  DESTINATION_NAME, likewise
	//	 32  SMB header
	//	  1  WordCount
	//	 34  17 transaction and setup words
	//	  2  ByteCount
	//	  1  the NUL after the mailslot name
	//	---
	//	152  so 576 - 152 = 424
	//
	// The mailslot name's own characters are not counted, so a 424-byte
	// record makes a datagram of 576 + len(name) bytes, and Samba's nmbd
	// silently drops every datagram over 576 bytes (checked: it accepts a
	// 408-byte HostAnnouncement on \MAILSLOT\BROWSE, a 576-byte datagram,
	// and ignores a 424-byte one, 592 bytes; see testdata/README.md). Use
	// MaxMailslotData for the exact figure that fits 576 bytes.
	MaxDatagramRecord = MaxDatagramSize - DatagramHeaderSize - 2*EncodedNameLen - MailslotWriteOverhead
)

// MaxMailslotData returns the largest record that fits one datagram of at
// most MaxDatagramSize (576) bytes written to mailslot (the full name,
// `\MAILSLOT\...`) from src to dst, scopes included: 424 - len(mailslot)
// for names without scope. It returns 0 or less when not even an empty
// record fits.
func MaxMailslotData(mailslot string, src, dst Name) int {
	return MaxDatagramSize - DatagramHeaderSize - src.EncodedLen() - dst.EncodedLen() -
		MailslotWriteOverhead - len(mailslot)
}

// MailslotWrite is a mailslot write message ([MS-MAIL] 2.2.1): an
// SMB_COM_TRANSACTION request whose setup words are the opcode (1, write),
// the priority and the class, whose name is the mailslot, and whose data is
// the record. Fields that are always zero in a mailslot write (TID, UID,
// PID, MID, parameter counts...) are written as zero and not kept.
type MailslotWrite struct {
	// Name is the MailslotName, `\MAILSLOT\` and a path, e.g.
	// `\MAILSLOT\BROWSE`, sent as a NUL-terminated OEM string. Bytes at or
	// above 0x80 are passed through as OEM bytes, unchanged.
	Name string

	// Priority is the second setup word (0 to 9; Windows sends 0, nmbd 1).
	Priority uint16

	// Class is the third setup word: ClassUnreliable (2) for datagrams.
	Class uint16

	// Timeout is the transaction's Timeout in milliseconds (nmbd sends 0,
	// Windows 1000).
	Timeout uint32

	// Data is the record (Databytes). When decoded, it is a sub-slice of the
	// buffer, found at DataOffset, not a copy.
	Data []byte
}

// MailslotWriteLen returns the encoded size of a mailslot write with a name
// of nameLen bytes and dataLen bytes of data.
func MailslotWriteLen(nameLen, dataLen int) int {
	return MailslotWriteOverhead + nameLen + dataLen
}

// CheckMailslotName reports whether name is a mailslot name this package
// can put on the wire: `\MAILSLOT\` (any case) and at least one more
// character, at most MaxMailslotNameLen bytes, no empty path component,
// no control character and none of / : * ? " < > |.
func CheckMailslotName(name string) error {
	return checkMailslotName(name, -1)
}

func checkMailslotName[S string | []byte](name S, off int) error {
	if !hasPrefixFold(name, MailslotPrefix) {
		return fieldErr(ErrInvalidName, "mailslot", "MailslotName", off, strconv.Quote(string(name))+` does not start with \MAILSLOT\`)
	}
	if len(name) == len(MailslotPrefix) {
		return fieldErr(ErrInvalidName, "mailslot", "MailslotName", off, `nothing after \MAILSLOT\`)
	}
	if len(name) > MaxMailslotNameLen {
		return fieldErr(ErrNameTooLong, "mailslot", "MailslotName", off,
			strconv.Itoa(len(name))+" bytes, at most "+strconv.Itoa(MaxMailslotNameLen)+" allowed")
	}
	prev := byte('\\')
	for i := len(MailslotPrefix); i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(`/:*?"<>|`, c) >= 0 {
			return fieldErr(ErrInvalidName, "mailslot", "MailslotName", off,
				"illegal character "+strconv.QuoteRune(rune(c))+" in "+strconv.Quote(string(name)))
		}
		if c == '\\' && prev == '\\' {
			return fieldErr(ErrInvalidName, "mailslot", "MailslotName", off, "empty path component in "+strconv.Quote(string(name)))
		}
		prev = c
	}
	if prev == '\\' {
		return fieldErr(ErrInvalidName, "mailslot", "MailslotName", off, "trailing backslash in "+strconv.Quote(string(name)))
	}
	return nil
}

// hasPrefixFold reports whether s starts with prefix, ASCII case folded.
func hasPrefixFold[S string | []byte](s S, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if upper(s[i]) != upper(prefix[i]) {
			return false
		}
	}
	return true
}

func checkMailslotWrite(w *MailslotWrite) error {
	if err := checkMailslotName(w.Name, -1); err != nil {
		return err
	}
	if w.Class != ClassReliable && w.Class != ClassUnreliable {
		return fieldErr(ErrMalformed, "mailslot", "Class", -1, "must be 1 or 2, not "+strconv.Itoa(int(w.Class)))
	}
	// ByteCount (name, NUL, data) and DataCount are 16-bit.
	if n := len(w.Name) + 1 + len(w.Data); n > 0xFFFF {
		return tooLargeErr("smb", "ByteCount", n, 0xFFFF)
	}
	return nil
}

// AppendMailslotWrite appends the SMB_COM_TRANSACTION of w to dst, with no
// padding between the name and the data (as Windows and nmbd send it):
// DataOffset and DataCount are computed. It returns ErrInvalidName or
// ErrNameTooLong for a bad name, ErrMalformed for a Class other than 1 or
// 2, ErrTooLarge when the record does not fit the 16-bit counts. No
// datagram size limit applies here (see AppendMailslotDatagram).
func AppendMailslotWrite(dst []byte, w *MailslotWrite) ([]byte, error) {
	if err := checkMailslotWrite(w); err != nil {
		return dst, err
	}
	return appendMailslotWrite(dst, w), nil
}

func appendMailslotWrite(dst []byte, w *MailslotWrite) []byte {
	le := binary.LittleEndian
	n := len(w.Data)
	dst = append(dst, 0xFF, 'S', 'M', 'B', SMBComTransaction)
	dst = append(dst, make([]byte, SMBHeaderSize-5)...) // Status .. MID: all zero
	dst = append(dst, MailslotWordCount)
	dst = le.AppendUint16(dst, 0)         // TotalParameterCount
	dst = le.AppendUint16(dst, uint16(n)) // TotalDataCount
	dst = le.AppendUint16(dst, 0)         // MaxParameterCount
	dst = le.AppendUint16(dst, 0)         // MaxDataCount
	dst = append(dst, 0, 0)               // MaxSetupCount, Reserved1
	dst = le.AppendUint16(dst, 0)         // Flags
	dst = le.AppendUint32(dst, w.Timeout) // Timeout
	dst = le.AppendUint16(dst, 0)         // Reserved2
	dst = le.AppendUint16(dst, 0)         // ParameterCount
	dst = le.AppendUint16(dst, 0)         // ParameterOffset
	dst = le.AppendUint16(dst, uint16(n)) // DataCount
	dst = le.AppendUint16(dst, uint16(offBytes+len(w.Name)+1))
	dst = append(dst, MailslotSetupCount, 0) // SetupCount, Reserved3
	dst = le.AppendUint16(dst, MailslotOpcodeWrite)
	dst = le.AppendUint16(dst, w.Priority)
	dst = le.AppendUint16(dst, w.Class)
	dst = le.AppendUint16(dst, uint16(len(w.Name)+1+n)) // ByteCount
	dst = append(dst, w.Name...)
	dst = append(dst, 0)
	return append(dst, w.Data...)
}

// DecodeMailslotWrite decodes the mailslot write in b, the user data of a
// datagram. It follows DataOffset and DataCount rather than assuming a
// layout, so padding between the name and the data is skipped, and it
// rejects anything inconsistent: a Protocol other than "\xffSMB", a reply,
// a WordCount other than 17, a SetupCount other than 3, a ByteCount or
// DataOffset+DataCount beyond the buffer, data overlapping the name, a
// DataCount different from TotalDataCount (mailslot writes are never
// split), a Class other than 1 or 2, a name that is not a mailslot name.
// A command other than SMB_COM_TRANSACTION, or a transaction opcode other
// than 1, gives ErrUnsupported. Bytes after the SMB message are ignored.
// Data is a sub-slice of b; Name is the only allocation.
func DecodeMailslotWrite(b []byte) (MailslotWrite, error) {
	return decodeMailslotWrite(b, nil)
}

// NameFunc turns a decoded name's bytes into the string a decoder returns;
// a table of names seen before (an interner) spares an allocation per
// message. It must not keep b.
type NameFunc func(b []byte) string

// DecodeMailslotWriteNames is DecodeMailslotWrite with Name made by names.
func DecodeMailslotWriteNames(b []byte, names NameFunc) (MailslotWrite, error) {
	return decodeMailslotWrite(b, names)
}

func decodeMailslotWrite(b []byte, names NameFunc) (MailslotWrite, error) {
	var w MailslotWrite
	le := binary.LittleEndian
	if len(b) < offWordCount+1 {
		return w, shortErr("smb", "header", 0, offWordCount+1, len(b))
	}
	if b[0] != 0xFF || b[1] != 'S' || b[2] != 'M' || b[3] != 'B' {
		return w, fieldErr(ErrMalformed, "smb", "Protocol", 0, `not "\xffSMB"`)
	}
	if b[offCommand] != SMBComTransaction {
		return w, fieldErr(ErrUnsupported, "smb", "Command", offCommand,
			"0x"+strconv.FormatUint(uint64(b[offCommand]), 16)+", not SMB_COM_TRANSACTION (0x25)")
	}
	if b[offFlags]&smbFlagsReply != 0 {
		return w, fieldErr(ErrMalformed, "smb", "Flags", offFlags, "a reply, not a request")
	}
	if wc := b[offWordCount]; wc != MailslotWordCount {
		return w, fieldErr(ErrMalformed, "smb", "WordCount", offWordCount, strconv.Itoa(int(wc))+", a mailslot write has 17")
	}
	if len(b) < offBytes {
		return w, shortErr("smb", "SMB_Parameters", offWordCount, offBytes-offWordCount, len(b))
	}
	if sc := b[offSetupCount]; sc != MailslotSetupCount {
		return w, fieldErr(ErrMalformed, "smb", "SetupCount", offSetupCount, strconv.Itoa(int(sc))+", a mailslot write has 3")
	}
	if op := le.Uint16(b[offOpcode:]); op != MailslotOpcodeWrite {
		return w, fieldErr(ErrUnsupported, "mailslot", "MailSlotOpcode", offOpcode, strconv.Itoa(int(op))+", not 1 (write)")
	}
	w.Priority = le.Uint16(b[offPriority:])
	w.Class = le.Uint16(b[offClass:])
	if w.Class != ClassReliable && w.Class != ClassUnreliable {
		return w, fieldErr(ErrMalformed, "mailslot", "Class", offClass, strconv.Itoa(int(w.Class))+", not 1 or 2")
	}
	w.Timeout = le.Uint32(b[offTimeout:])
	byteCount := int(le.Uint16(b[offByteCount:]))
	bytesEnd := offBytes + byteCount
	if bytesEnd > len(b) {
		return w, shortErr("smb", "ByteCount", offBytes, byteCount, len(b))
	}
	area := b[offBytes:bytesEnd]
	nul := -1
	for i, c := range area {
		if c == 0 {
			nul = i
			break
		}
	}
	if nul < 0 {
		return w, fieldErr(ErrMalformed, "mailslot", "MailslotName", offBytes, "no NUL terminator within ByteCount")
	}
	if err := checkMailslotName(area[:nul], offBytes); err != nil {
		return w, err
	}
	nameEnd := offBytes + nul + 1

	paramCount := int(le.Uint16(b[offParameterCount:]))
	if total := int(le.Uint16(b[offTotalParameterCount:])); total != paramCount {
		return w, fieldErr(ErrMalformed, "smb", "TotalParameterCount", offTotalParameterCount,
			strconv.Itoa(total)+" differs from ParameterCount "+strconv.Itoa(paramCount))
	}
	if paramCount > 0 {
		po := int(le.Uint16(b[offParameterOffset:]))
		if po < nameEnd || po+paramCount > bytesEnd {
			return w, fieldErr(ErrMalformed, "smb", "ParameterOffset", offParameterOffset,
				"parameters at "+strconv.Itoa(po)+"+"+strconv.Itoa(paramCount)+" outside the bytes after the name")
		}
	}
	dataCount := int(le.Uint16(b[offDataCount:]))
	if total := int(le.Uint16(b[offTotalDataCount:])); total != dataCount {
		return w, fieldErr(ErrMalformed, "smb", "TotalDataCount", offTotalDataCount,
			strconv.Itoa(total)+" differs from DataCount "+strconv.Itoa(dataCount)+" (a mailslot write is never split)")
	}
	dataOffset := int(le.Uint16(b[offDataOffset:]))
	if dataCount == 0 {
		w.Data = b[nameEnd:nameEnd:nameEnd]
	} else {
		if dataOffset < nameEnd {
			return w, fieldErr(ErrMalformed, "smb", "DataOffset", offDataOffset,
				strconv.Itoa(dataOffset)+" points before the end of the mailslot name ("+strconv.Itoa(nameEnd)+")")
		}
		if dataOffset+dataCount > bytesEnd {
			e := ErrMalformed
			if dataOffset+dataCount > len(b) {
				e = ErrShort
			}
			return w, fieldErr(e, "smb", "DataCount", offDataCount,
				"data at "+strconv.Itoa(dataOffset)+"+"+strconv.Itoa(dataCount)+" ends after ByteCount's "+strconv.Itoa(bytesEnd))
		}
		w.Data = b[dataOffset : dataOffset+dataCount : dataOffset+dataCount]
	}
	if names != nil {
		w.Name = names(area[:nul])
	} else {
		w.Name = string(area[:nul])
	}
	return w, nil
}

// AppendMailslotDatagram appends a datagram carrying the mailslot write w:
// the datagram header and names from d (whose Type must be DirectUnique,
// DirectGroup or BroadcastDatagram, and whose UserData must be empty), then
// the SMB transaction. The whole datagram must fit MaxDatagramSize (576)
// bytes, else ErrTooLarge: MaxMailslotData tells how much data fits.
func AppendMailslotDatagram(dst []byte, d *Datagram, w *MailslotWrite) ([]byte, error) {
	return appendMailslotDatagram(dst, d, w, MaxDatagramSize)
}

// AppendLargeMailslotDatagram is AppendMailslotDatagram with the limit
// MaxUDPPayload: for our own peers only, since Windows and nmbd drop
// datagrams over 576 bytes.
func AppendLargeMailslotDatagram(dst []byte, d *Datagram, w *MailslotWrite) ([]byte, error) {
	return appendMailslotDatagram(dst, d, w, MaxUDPPayload)
}

func appendMailslotDatagram(dst []byte, d *Datagram, w *MailslotWrite, limit int) ([]byte, error) {
	if !d.Type.carriesData() {
		return dst, fieldErr(ErrMalformed, "nbdgm", "MSG_TYPE", -1, d.Type.String()+" carries no mailslot write")
	}
	if len(d.UserData) != 0 {
		return dst, fieldErr(ErrMalformed, "nbdgm", "USER_DATA", -1, "must be empty: the mailslot write is the user data")
	}
	if err := checkDatagramHeader(d); err != nil {
		return dst, err
	}
	if err := checkNames(d); err != nil {
		return dst, err
	}
	if err := checkMailslotWrite(w); err != nil {
		return dst, err
	}
	names := d.SourceName.EncodedLen() + d.DestinationName.EncodedLen()
	size := DatagramHeaderSize + names + MailslotWriteLen(len(w.Name), len(w.Data))
	if size > limit {
		return dst, tooLargeErr("nbdgm", "DGM_LENGTH", size, limit)
	}
	dst = appendDatagramHeader(dst, d)
	dst = binary.BigEndian.AppendUint16(dst, uint16(size-DatagramHeaderSize))
	dst = binary.BigEndian.AppendUint16(dst, d.PacketOffset)
	dst = appendName(dst, d.SourceName)
	dst = appendName(dst, d.DestinationName)
	return appendMailslotWrite(dst, w), nil
}

// DecodeMailslotDatagram decodes a datagram (DecodeDatagram) and the
// mailslot write it carries (DecodeMailslotWrite). The datagram's UserData
// is the whole SMB message; the write's Data is a sub-slice of b. A
// datagram of another type gives ErrUnsupported, and so does a fragment
// (M set or PACKET_OFFSET not 0): nobody fragments mailslot datagrams.
// Error offsets count from the start of b.
func DecodeMailslotDatagram(b []byte) (Datagram, MailslotWrite, error) {
	return DecodeMailslotDatagramNames(b, nil)
}

// DecodeMailslotDatagramNames is DecodeMailslotDatagram with the mailslot
// name made by names (nil: a new string).
func DecodeMailslotDatagramNames(b []byte, names NameFunc) (Datagram, MailslotWrite, error) {
	d, err := DecodeDatagram(b)
	if err != nil {
		return d, MailslotWrite{}, err
	}
	if !d.Type.carriesData() {
		return d, MailslotWrite{}, fieldErr(ErrUnsupported, "nbdgm", "MSG_TYPE", 0, d.Type.String()+" carries no mailslot write")
	}
	if d.Flags.More() || d.PacketOffset != 0 {
		return d, MailslotWrite{}, fieldErr(ErrUnsupported, "nbdgm", "FLAGS", 1, "a fragment of a fragmented datagram")
	}
	w, err := decodeMailslotWrite(d.UserData, names)
	if err != nil {
		return d, w, withOffset(err, len(b)-len(d.UserData))
	}
	return d, w, nil
}
