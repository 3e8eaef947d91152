package wire

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// DatagramType is the MSG_TYPE of a NetBIOS datagram service packet
// (RFC 1002 §4.4.1).
type DatagramType uint8

// The datagram service message types.
const (
	DirectUnique                  DatagramType = 0x10 // DIRECT_UNIQUE DATAGRAM: to a unique name
	DirectGroup                   DatagramType = 0x11 // DIRECT_GROUP DATAGRAM: to a group name
	BroadcastDatagram             DatagramType = 0x12 // BROADCAST DATAGRAM: to every node (destination name "*")
	DatagramError                 DatagramType = 0x13 // DATAGRAM ERROR
	DatagramQueryRequest          DatagramType = 0x14 // DATAGRAM QUERY REQUEST (to an NBDD)
	DatagramPositiveQueryResponse DatagramType = 0x15 // DATAGRAM POSITIVE QUERY RESPONSE
	DatagramNegativeQueryResponse DatagramType = 0x16 // DATAGRAM NEGATIVE QUERY RESPONSE
)

// String returns the RFC 1002 name of the type.
func (t DatagramType) String() string {
	switch t {
	case DirectUnique:
		return "DIRECT_UNIQUE"
	case DirectGroup:
		return "DIRECT_GROUP"
	case BroadcastDatagram:
		return "BROADCAST"
	case DatagramError:
		return "DATAGRAM_ERROR"
	case DatagramQueryRequest:
		return "DATAGRAM_QUERY_REQUEST"
	case DatagramPositiveQueryResponse:
		return "DATAGRAM_POSITIVE_QUERY_RESPONSE"
	case DatagramNegativeQueryResponse:
		return "DATAGRAM_NEGATIVE_QUERY_RESPONSE"
	}
	return "MSG_TYPE(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// carriesData reports whether datagrams of type t carry DGM_LENGTH,
// PACKET_OFFSET, two names and user data.
func (t DatagramType) carriesData() bool {
	return t == DirectUnique || t == DirectGroup || t == BroadcastDatagram
}

// isQuery reports whether t is a query request or response, which carries
// only the destination name.
func (t DatagramType) isQuery() bool {
	return t >= DatagramQueryRequest && t <= DatagramNegativeQueryResponse
}

// NodeType is a NetBIOS node type: the SNT bits of datagram FLAGS and the
// ONT bits of name service NB_FLAGS and NAME_FLAGS.
type NodeType uint8

// Node types. In SNT (datagram FLAGS) 3 means an NBDD; in ONT (name service)
// Microsoft uses 3 for an H node.
const (
	BNode NodeType = 0 // broadcast node
	PNode NodeType = 1 // point-to-point node (uses a NetBIOS name server)
	MNode NodeType = 2 // mixed node
	HNode NodeType = 3 // hybrid node (ONT); NBDD in datagram SNT
)

// String returns "B", "P", "M" or "H".
func (t NodeType) String() string { return string("BPMH"[t&3]) }

// DatagramFlags is the FLAGS byte of a datagram header: bit 0 M (more
// fragments follow), bit 1 F (first fragment), bits 2-3 SNT (the sending
// node's type), the top four bits reserved and zero.
type DatagramFlags uint8

// Datagram FLAGS bits.
const (
	FlagMore  DatagramFlags = 0x01 // M: more fragments follow
	FlagFirst DatagramFlags = 0x02 // F: first fragment (set on unfragmented datagrams too)

	flagsSNTShift               = 2
	flagsReserved DatagramFlags = 0xF0
)

// NewDatagramFlags returns the flags of an unfragmented datagram sent by a
// node of type nt: F set, M clear. Samba's nmbd sends M node (0x0a).
func NewDatagramFlags(nt NodeType) DatagramFlags {
	return FlagFirst | DatagramFlags(nt&3)<<flagsSNTShift
}

// More reports the M bit.
func (f DatagramFlags) More() bool { return f&FlagMore != 0 }

// First reports the F bit.
func (f DatagramFlags) First() bool { return f&FlagFirst != 0 }

// NodeType returns the SNT bits.
func (f DatagramFlags) NodeType() NodeType { return NodeType(f>>flagsSNTShift) & 3 }

// DATAGRAM ERROR codes (ERROR_CODE, RFC 1002 §4.4.3).
const (
	ErrorCodeDestinationNameNotPresent    = 0x82
	ErrorCodeInvalidSourceNameFormat      = 0x83
	ErrorCodeInvalidDestinationNameFormat = 0x84
)

// datagramHeaderSizeWithoutLengthOffsets is the header common to all
// datagram types: MSG_TYPE, FLAGS, DGM_ID, SOURCE_IP, SOURCE_PORT.
const datagramHeaderSizeWithoutLengthOffsets = 10

// Datagram service sizes.
const (
	// DatagramHeaderSize is the fixed header of DIRECT_UNIQUE, DIRECT_GROUP
	// and BROADCAST datagrams: MSG_TYPE, FLAGS, DGM_ID, SOURCE_IP,
	// SOURCE_PORT, DGM_LENGTH, PACKET_OFFSET.
	DatagramHeaderSize = 14

	// MaxDatagramSize is the largest NetBIOS datagram (UDP payload) that
	// peers accept: RFC 1002 §4.4 limits a datagram to 576 bytes, Windows
	// keeps to it, and Samba's nmbd drops anything longer. Encoders refuse
	// to exceed it unless the caller uses a Large variant.
	MaxDatagramSize = 576

	// MaxUDPPayload is the largest UDP payload over IPv4 (65535 minus the
	// 20-byte IP and 8-byte UDP headers). Decoders accept datagrams up to
	// this size; the Large encoders refuse beyond it.
	MaxUDPPayload = 65535 - 20 - 8
)

// Datagram is one NetBIOS datagram service packet (RFC 1002 §4.4). Which
// fields are used depends on Type:
//
//   - DirectUnique, DirectGroup, BroadcastDatagram: all but ErrorCode;
//   - DatagramError: the header and ErrorCode;
//   - DatagramQueryRequest and the two query responses: the header and
//     DestinationName.
type Datagram struct {
	Type       DatagramType  // MSG_TYPE
	Flags      DatagramFlags // FLAGS: M, F, SNT
	ID         uint16        // DGM_ID
	SourceIP   netip.Addr    // SOURCE_IP (IPv4)
	SourcePort uint16        // SOURCE_PORT

	// PacketOffset is PACKET_OFFSET: where this fragment's user data starts
	// in the whole datagram (0 when unfragmented). DGM_LENGTH is computed
	// when encoding and checked when decoding, so it is not a field here.
	PacketOffset uint16

	SourceName      Name   // SOURCE_NAME
	DestinationName Name   // DESTINATION_NAME
	ErrorCode       uint8  // ERROR_CODE of a DATAGRAM ERROR
	UserData        []byte // USER_DATA; a sub-slice of the decoded buffer, not a copy
}

// EncodedLen returns the size of d on the wire.
func (d *Datagram) EncodedLen() int {
	switch {
	case d.Type.carriesData():
		return DatagramHeaderSize + d.SourceName.EncodedLen() + d.DestinationName.EncodedLen() + len(d.UserData)
	case d.Type == DatagramError:
		return datagramHeaderSizeWithoutLengthOffsets + 1
	default:
		return datagramHeaderSizeWithoutLengthOffsets + d.DestinationName.EncodedLen()
	}
}

// AppendDatagram appends the encoding of d to dst. It returns ErrTooLarge
// when the result would exceed MaxDatagramSize (576 bytes), ErrUnsupported
// for an unknown Type, and ErrMalformed, ErrInvalidName or ErrNameTooLong
// for a field that cannot be encoded. On error dst is returned unchanged.
func AppendDatagram(dst []byte, d *Datagram) ([]byte, error) {
	return appendDatagram(dst, d, MaxDatagramSize)
}

// AppendLargeDatagram is AppendDatagram with a limit of MaxUDPPayload
// instead of MaxDatagramSize: for peers of our own that accept them. Samba
// and Windows drop such datagrams.
func AppendLargeDatagram(dst []byte, d *Datagram) ([]byte, error) {
	return appendDatagram(dst, d, MaxUDPPayload)
}

func appendDatagram(dst []byte, d *Datagram, limit int) ([]byte, error) {
	if err := checkDatagramHeader(d); err != nil {
		return dst, err
	}
	switch {
	case d.Type.carriesData():
		if err := checkNames(d); err != nil {
			return dst, err
		}
	case d.Type == DatagramError:
	case d.Type.isQuery():
		if err := checkScope(d.DestinationName.scope); err != nil {
			return dst, err
		}
	default:
		return dst, fieldErr(ErrUnsupported, "nbdgm", "MSG_TYPE", -1, d.Type.String())
	}
	size := d.EncodedLen()
	if size > limit {
		return dst, tooLargeErr("nbdgm", "DGM_LENGTH", size, limit)
	}
	dst = appendDatagramHeader(dst, d)
	switch {
	case d.Type.carriesData():
		dst = binary.BigEndian.AppendUint16(dst, uint16(size-DatagramHeaderSize))
		dst = binary.BigEndian.AppendUint16(dst, d.PacketOffset)
		dst = appendName(dst, d.SourceName)
		dst = appendName(dst, d.DestinationName)
		dst = append(dst, d.UserData...)
	case d.Type == DatagramError:
		dst = append(dst, d.ErrorCode)
	default:
		dst = appendName(dst, d.DestinationName)
	}
	return dst, nil
}

func tooLargeErr(layer, field string, size, limit int) error {
	return fieldErr(ErrTooLarge, layer, field, -1,
		strconv.Itoa(size)+" bytes, the limit is "+strconv.Itoa(limit))
}

func checkDatagramHeader(d *Datagram) error {
	if d.Flags&flagsReserved != 0 {
		return fieldErr(ErrMalformed, "nbdgm", "FLAGS", -1, "reserved bits set")
	}
	if !d.SourceIP.Unmap().Is4() {
		return fieldErr(ErrMalformed, "nbdgm", "SOURCE_IP", -1, "not an IPv4 address: "+d.SourceIP.String())
	}
	return nil
}

func checkNames(d *Datagram) error {
	if err := checkScope(d.SourceName.scope); err != nil {
		return err
	}
	return checkScope(d.DestinationName.scope)
}

func appendDatagramHeader(dst []byte, d *Datagram) []byte {
	ip := d.SourceIP.Unmap().As4()
	dst = append(dst, byte(d.Type), byte(d.Flags))
	dst = binary.BigEndian.AppendUint16(dst, d.ID)
	dst = append(dst, ip[:]...)
	return binary.BigEndian.AppendUint16(dst, d.SourcePort)
}

// DecodeDatagram decodes one datagram service packet, the whole UDP payload
// b (up to MaxUDPPayload bytes or more; no 576-byte limit applies). Names
// are decoded at the offsets the packet gives, DGM_LENGTH must match the
// buffer exactly, and UserData is a sub-slice of b. Unknown MSG_TYPEs give
// ErrUnsupported.
func DecodeDatagram(b []byte) (Datagram, error) {
	var d Datagram
	if len(b) < datagramHeaderSizeWithoutLengthOffsets {
		return d, shortErr("nbdgm", "header", 0, datagramHeaderSizeWithoutLengthOffsets, len(b))
	}
	d.Type = DatagramType(b[0])
	d.Flags = DatagramFlags(b[1])
	d.ID = binary.BigEndian.Uint16(b[2:])
	d.SourceIP = netip.AddrFrom4([4]byte(b[4:8]))
	d.SourcePort = binary.BigEndian.Uint16(b[8:])
	var err error
	switch {
	case d.Type.carriesData():
		if len(b) < DatagramHeaderSize {
			return d, shortErr("nbdgm", "DGM_LENGTH", 10, 4, len(b))
		}
		dgmLen := int(binary.BigEndian.Uint16(b[10:]))
		d.PacketOffset = binary.BigEndian.Uint16(b[12:])
		have := len(b) - DatagramHeaderSize
		var e error
		if dgmLen > have {
			e = ErrShort
		} else if dgmLen < have {
			e = ErrMalformed
		}
		if e != nil {
			return d, fieldErr(e, "nbdgm", "DGM_LENGTH", 10,
				"says "+strconv.Itoa(dgmLen)+" bytes follow the header, the packet has "+strconv.Itoa(have))
		}
		p := DatagramHeaderSize
		if d.SourceName, p, err = decodeName(b, p, false, "nbdgm", "SOURCE_NAME"); err != nil {
			return d, err
		}
		if d.DestinationName, p, err = decodeName(b, p, false, "nbdgm", "DESTINATION_NAME"); err != nil {
			return d, err
		}
		d.UserData = b[p:len(b):len(b)]
	case d.Type == DatagramError:
		if len(b) < 11 {
			return d, shortErr("nbdgm", "ERROR_CODE", 10, 1, len(b))
		}
		d.ErrorCode = b[10]
		if len(b) != 11 {
			return d, fieldErr(ErrMalformed, "nbdgm", "ERROR_CODE", 11, strconv.Itoa(len(b)-11)+" bytes after the packet")
		}
	case d.Type.isQuery():
		var p int
		if d.DestinationName, p, err = decodeName(b, 10, false, "nbdgm", "DESTINATION_NAME"); err != nil {
			return d, err
		}
		if p != len(b) {
			return d, fieldErr(ErrMalformed, "nbdgm", "DESTINATION_NAME", p, strconv.Itoa(len(b)-p)+" bytes after the packet")
		}
	default:
		return d, fieldErr(ErrUnsupported, "nbdgm", "MSG_TYPE", 0, d.Type.String())
	}
	return d, nil
}
