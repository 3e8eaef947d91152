package wire

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// NSOpcode is the OPCODE of a name service packet (RFC 1002 §4.2.1.1).
type NSOpcode uint8

// Name service opcodes. Microsoft and Samba also use 9 for refresh and 0xF
// for a multi-homed registration.
const (
	OpQuery                  NSOpcode = 0x0
	OpRegistration           NSOpcode = 0x5
	OpRelease                NSOpcode = 0x6
	OpWACK                   NSOpcode = 0x7
	OpRefresh                NSOpcode = 0x8
	OpRefreshAlt             NSOpcode = 0x9
	OpMultiHomedRegistration NSOpcode = 0xF
)

// String returns the opcode's RFC name.
func (o NSOpcode) String() string {
	switch o {
	case OpQuery:
		return "QUERY"
	case OpRegistration:
		return "REGISTRATION"
	case OpRelease:
		return "RELEASE"
	case OpWACK:
		return "WACK"
	case OpRefresh, OpRefreshAlt:
		return "REFRESH"
	case OpMultiHomedRegistration:
		return "MULTI-HOMED REGISTRATION"
	}
	return "OPCODE(" + strconv.Itoa(int(o)) + ")"
}

// NSFlags holds the seven NM_FLAGS bits of a name service packet.
type NSFlags uint8

// NM_FLAGS bits.
const (
	FlagAuthoritative      NSFlags = 0x40 // AA: authoritative answer
	FlagTruncated          NSFlags = 0x20 // TC: truncation
	FlagRecursionDesired   NSFlags = 0x10 // RD: recursion desired
	FlagRecursionAvailable NSFlags = 0x08 // RA: recursion available
	FlagBroadcast          NSFlags = 0x01 // B: broadcast packet
)

// RCode is the RCODE of a name service response.
type RCode uint8

// Name service result codes (RFC 1002 §4.2.6 and following).
const (
	RCodeOK       RCode = 0 // no error
	RCodeFormat   RCode = 1 // FMT_ERR: format error
	RCodeServer   RCode = 2 // SRV_ERR: server failure
	RCodeName     RCode = 3 // NAM_ERR: name does not exist
	RCodeImpl     RCode = 4 // IMP_ERR: unsupported request
	RCodeRefuse   RCode = 5 // RFS_ERR: refused
	RCodeActive   RCode = 6 // ACT_ERR: name owned by another node
	RCodeConflict RCode = 7 // CFT_ERR: name in conflict
)

// RRType is a QUESTION_TYPE or RR_TYPE.
type RRType uint16

// Resource record and question types.
const (
	TypeA      RRType = 0x0001 // IP address (redirect responses)
	TypeNS     RRType = 0x0002 // name server (redirect responses)
	TypeNULL   RRType = 0x000A // NULL (negative query responses, WACK)
	TypeNB     RRType = 0x0020 // NetBIOS general name service
	TypeNBSTAT RRType = 0x0021 // NetBIOS node status
)

// String returns "NB", "NBSTAT"... or the number.
func (t RRType) String() string {
	switch t {
	case TypeA:
		return "A"
	case TypeNS:
		return "NS"
	case TypeNULL:
		return "NULL"
	case TypeNB:
		return "NB"
	case TypeNBSTAT:
		return "NBSTAT"
	}
	return "TYPE(0x" + strconv.FormatUint(uint64(t), 16) + ")"
}

// RRClass is a QUESTION_CLASS or RR_CLASS.
type RRClass uint16

// ClassIN is the Internet class, the only one NetBIOS uses.
const ClassIN RRClass = 0x0001

// NSHeaderSize is the size of the name service header.
const NSHeaderSize = 12

// Question is an entry of the question section.
type Question struct {
	Name  Name    // QUESTION_NAME
	Type  RRType  // QUESTION_TYPE: TypeNB or TypeNBSTAT
	Class RRClass // QUESTION_CLASS: ClassIN
}

// ResourceRecord is an entry of the answer, authority or additional
// section.
type ResourceRecord struct {
	Name  Name    // RR_NAME
	Type  RRType  // RR_TYPE
	Class RRClass // RR_CLASS
	TTL   uint32  // TTL in seconds
	Data  []byte  // RDATA; a sub-slice of the decoded buffer (see DecodeNBAddresses, DecodeNodeStatus)
}

// NameServicePacket is a NetBIOS name service packet (RFC 1002 §4.2): the
// header and the four sections. Each RFC 1002 packet has at most one entry
// per section, but decoding follows the counts.
type NameServicePacket struct {
	TransactionID uint16   // NAME_TRN_ID
	Response      bool     // R: a response
	Opcode        NSOpcode // OPCODE
	Flags         NSFlags  // NM_FLAGS
	RCode         RCode    // RCODE

	Questions  []Question       // QDCOUNT entries
	Answers    []ResourceRecord // ANCOUNT entries
	Authority  []ResourceRecord // NSCOUNT entries
	Additional []ResourceRecord // ARCOUNT entries
}

// AppendNameService appends the encoding of p. A resource record name
// equal to the first question's name is written as a compression pointer to
// it (0xC00C), as Windows and nmbd do in registrations; every other name is
// written in full. It returns ErrTooLarge beyond MaxUDPPayload or for an
// RDATA over 65535 bytes, ErrMalformed for an RCODE or opcode out of range.
func AppendNameService(dst []byte, p *NameServicePacket) ([]byte, error) {
	if p.Opcode > 0xF || p.RCode > 0xF || p.Flags > 0x7F {
		return dst, fieldErr(ErrMalformed, "nbns", "OPCODE/NM_FLAGS/RCODE", -1, "value out of range")
	}
	var qname Name
	haveQ := len(p.Questions) > 0
	size := NSHeaderSize
	for i := range p.Questions {
		if err := checkScope(p.Questions[i].Name.scope); err != nil {
			return dst, err
		}
		size += p.Questions[i].Name.EncodedLen() + 4
	}
	if haveQ {
		qname = p.Questions[0].Name
	}
	for _, sec := range [][]ResourceRecord{p.Answers, p.Authority, p.Additional} {
		for i := range sec {
			rr := &sec[i]
			if err := checkScope(rr.Name.scope); err != nil {
				return dst, err
			}
			if len(rr.Data) > 0xFFFF {
				return dst, tooLargeErr("nbns", "RDLENGTH", len(rr.Data), 0xFFFF)
			}
			if haveQ && rr.Name == qname {
				size += 2
			} else {
				size += rr.Name.EncodedLen()
			}
			size += 10 + len(rr.Data)
		}
	}
	// Every question and record takes more than one byte, so this also
	// keeps each 16-bit count in range.
	if size > MaxUDPPayload {
		return dst, tooLargeErr("nbns", "packet", size, MaxUDPPayload)
	}
	be := binary.BigEndian
	dst = be.AppendUint16(dst, p.TransactionID)
	var hdr uint16
	if p.Response {
		hdr = 0x8000
	}
	hdr |= uint16(p.Opcode)<<11 | uint16(p.Flags)<<4 | uint16(p.RCode)
	dst = be.AppendUint16(dst, hdr)
	dst = be.AppendUint16(dst, uint16(len(p.Questions)))
	dst = be.AppendUint16(dst, uint16(len(p.Answers)))
	dst = be.AppendUint16(dst, uint16(len(p.Authority)))
	dst = be.AppendUint16(dst, uint16(len(p.Additional)))
	for i := range p.Questions {
		q := &p.Questions[i]
		dst = appendName(dst, q.Name)
		dst = be.AppendUint16(dst, uint16(q.Type))
		dst = be.AppendUint16(dst, uint16(q.Class))
	}
	for _, sec := range [][]ResourceRecord{p.Answers, p.Authority, p.Additional} {
		for i := range sec {
			rr := &sec[i]
			if haveQ && rr.Name == qname {
				dst = append(dst, 0xC0, NSHeaderSize)
			} else {
				dst = appendName(dst, rr.Name)
			}
			dst = be.AppendUint16(dst, uint16(rr.Type))
			dst = be.AppendUint16(dst, uint16(rr.Class))
			dst = be.AppendUint32(dst, rr.TTL)
			dst = be.AppendUint16(dst, uint16(len(rr.Data)))
			dst = append(dst, rr.Data...)
		}
	}
	return dst, nil
}

// DecodeNameService decodes a name service packet, the whole UDP payload
// b. Names may use compression pointers (which must point backwards).
// Every count is followed; bytes after the last record are rejected. The
// header fields are filled in even when a later section fails to decode,
// so that a caller can still tell what kind of packet it got. RDATA is a
// sub-slice of b.
func DecodeNameService(b []byte) (NameServicePacket, error) {
	var p NameServicePacket
	be := binary.BigEndian
	if len(b) < NSHeaderSize {
		return p, shortErr("nbns", "header", 0, NSHeaderSize, len(b))
	}
	p.TransactionID = be.Uint16(b)
	hdr := be.Uint16(b[2:])
	p.Response = hdr&0x8000 != 0
	p.Opcode = NSOpcode(hdr >> 11 & 0xF)
	p.Flags = NSFlags(hdr >> 4 & 0x7F)
	p.RCode = RCode(hdr & 0xF)
	qd, an, ns, ar := int(be.Uint16(b[4:])), int(be.Uint16(b[6:])), int(be.Uint16(b[8:])), int(be.Uint16(b[10:]))
	// A question takes at least 6 bytes (a pointer, type, class), a record
	// 12: refuse counts the buffer cannot hold before allocating for them.
	if min := NSHeaderSize + 6*qd + 12*(an+ns+ar); min > len(b) {
		return p, fieldErr(ErrShort, "nbns", "QDCOUNT..ARCOUNT", 4,
			"the counts need at least "+strconv.Itoa(min)+" bytes, the packet has "+strconv.Itoa(len(b)))
	}
	off := NSHeaderSize
	var err error
	if qd > 0 {
		p.Questions = make([]Question, qd)
		for i := range p.Questions {
			q := &p.Questions[i]
			if q.Name, off, err = decodeName(b, off, true, "nbns", "QUESTION_NAME"); err != nil {
				return p, err
			}
			if off+4 > len(b) {
				return p, shortErr("nbns", "QUESTION_TYPE", off, 4, len(b))
			}
			q.Type = RRType(be.Uint16(b[off:]))
			q.Class = RRClass(be.Uint16(b[off+2:]))
			off += 4
		}
	}
	if p.Answers, off, err = decodeRRs(b, off, an); err != nil {
		return p, err
	}
	if p.Authority, off, err = decodeRRs(b, off, ns); err != nil {
		return p, err
	}
	if p.Additional, off, err = decodeRRs(b, off, ar); err != nil {
		return p, err
	}
	if off != len(b) {
		return p, fieldErr(ErrMalformed, "nbns", "packet", off, strconv.Itoa(len(b)-off)+" bytes after the last record")
	}
	return p, nil
}

func decodeRRs(b []byte, off, n int) ([]ResourceRecord, int, error) {
	if n == 0 {
		return nil, off, nil
	}
	be := binary.BigEndian
	rrs := make([]ResourceRecord, n)
	var err error
	for i := range rrs {
		rr := &rrs[i]
		if rr.Name, off, err = decodeName(b, off, true, "nbns", "RR_NAME"); err != nil {
			return nil, off, err
		}
		if off+10 > len(b) {
			return nil, off, shortErr("nbns", "RR_TYPE", off, 10, len(b))
		}
		rr.Type = RRType(be.Uint16(b[off:]))
		rr.Class = RRClass(be.Uint16(b[off+2:]))
		rr.TTL = be.Uint32(b[off+4:])
		rdlen := int(be.Uint16(b[off+8:]))
		off += 10
		if off+rdlen > len(b) {
			return nil, off, shortErr("nbns", "RDATA", off, rdlen, len(b))
		}
		rr.Data = b[off : off+rdlen : off+rdlen]
		off += rdlen
	}
	return rrs, off, nil
}

// NBFlags is the NB_FLAGS word of an NB address entry: G (group name) and
// ONT (owner node type); the other 13 bits are reserved.
type NBFlags uint16

const (
	nbFlagGroup    = 0x8000
	nbFlagONTShift = 13
)

// NewNBFlags returns the NB_FLAGS for a group or unique name owned by a
// node of type ont.
func NewNBFlags(group bool, ont NodeType) NBFlags {
	f := NBFlags(ont&3) << nbFlagONTShift
	if group {
		f |= nbFlagGroup
	}
	return f
}

// Group reports the G bit: the name is a group name.
func (f NBFlags) Group() bool { return f&nbFlagGroup != 0 }

// NodeType returns the ONT bits.
func (f NBFlags) NodeType() NodeType { return NodeType(f>>nbFlagONTShift) & 3 }

// NBAddress is one NB_FLAGS + NB_ADDRESS entry of the RDATA of an NB
// record (query responses, registrations, releases).
type NBAddress struct {
	Flags NBFlags    // NB_FLAGS
	IP    netip.Addr // NB_ADDRESS (IPv4)
}

// NBAddressLen is the size of one NB address entry.
const NBAddressLen = 6

// DecodeNBAddresses decodes the RDATA of an NB record: entries of 6 bytes.
// Empty RDATA gives no entries and no error.
func DecodeNBAddresses(rdata []byte) ([]NBAddress, error) {
	if len(rdata)%NBAddressLen != 0 {
		return nil, fieldErr(ErrMalformed, "nbns", "RDLENGTH", -1,
			strconv.Itoa(len(rdata))+" is not a multiple of 6 (NB_FLAGS + NB_ADDRESS)")
	}
	if len(rdata) == 0 {
		return nil, nil
	}
	out := make([]NBAddress, len(rdata)/NBAddressLen)
	for i := range out {
		e := rdata[i*NBAddressLen:]
		out[i] = NBAddress{Flags: NBFlags(binary.BigEndian.Uint16(e)), IP: netip.AddrFrom4([4]byte(e[2:6]))}
	}
	return out, nil
}

// AppendNBAddresses appends NB address entries (RDATA of an NB record).
// Every address must be IPv4.
func AppendNBAddresses(dst []byte, addrs []NBAddress) ([]byte, error) {
	for _, a := range addrs {
		if !a.IP.Unmap().Is4() {
			return dst, fieldErr(ErrMalformed, "nbns", "NB_ADDRESS", -1, "not an IPv4 address: "+a.IP.String())
		}
	}
	for _, a := range addrs {
		ip := a.IP.Unmap().As4()
		dst = binary.BigEndian.AppendUint16(dst, uint16(a.Flags))
		dst = append(dst, ip[:]...)
	}
	return dst, nil
}

// NameFlags is the NAME_FLAGS word of a node status entry.
type NameFlags uint16

// NAME_FLAGS bits besides G and ONT (which NBFlags shares).
const (
	NameFlagGroup       NameFlags = 0x8000 // G: group name
	NameFlagDeregister  NameFlags = 0x1000 // DRG: being deregistered
	NameFlagConflict    NameFlags = 0x0800 // CNF: in conflict
	NameFlagActive      NameFlags = 0x0400 // ACT: active (always set)
	NameFlagPermanent   NameFlags = 0x0200 // PRM: the node's permanent name
	nameFlagsONTShift             = 13
	nodeStatusEntrySize           = 18
	// NodeStatisticsLen is the size of the STATISTICS field of a node
	// status response (UNIT_ID and the counters).
	NodeStatisticsLen = 46
)

// NewNameFlags returns NAME_FLAGS for an active name: ACT set, with G and
// ONT as given.
func NewNameFlags(group bool, ont NodeType) NameFlags {
	f := NameFlagActive | NameFlags(ont&3)<<nameFlagsONTShift
	if group {
		f |= NameFlagGroup
	}
	return f
}

// Group reports the G bit.
func (f NameFlags) Group() bool { return f&NameFlagGroup != 0 }

// NodeType returns the ONT bits.
func (f NameFlags) NodeType() NodeType { return NodeType(f>>nameFlagsONTShift) & 3 }

// NodeStatusName is one entry of a node status response's NODE_NAME
// array: a 16-byte name (no scope) and its NAME_FLAGS.
type NodeStatusName struct {
	Name  Name
	Flags NameFlags
}

// NodeStatus is the RDATA of a node status response (RFC 1002 §4.2.18).
type NodeStatus struct {
	Names []NodeStatusName // NUM_NAMES entries of NODE_NAME
	// UnitID is UNIT_ID, the first 6 bytes of STATISTICS: the MAC address
	// (nmbd sends zeros).
	UnitID [6]byte
	// Statistics is the rest of STATISTICS after UNIT_ID (40 bytes of
	// counters from RFC peers); encoding writes 40 zero bytes when it is
	// empty. When decoded, it is a sub-slice of the buffer.
	Statistics []byte
}

// DecodeNodeStatus decodes the RDATA of an NBSTAT record. At least the
// UNIT_ID must follow the names; the rest of STATISTICS is kept as is.
func DecodeNodeStatus(rdata []byte) (NodeStatus, error) {
	var st NodeStatus
	if len(rdata) < 1 {
		return st, shortErr("nbns", "NUM_NAMES", 0, 1, len(rdata))
	}
	n := int(rdata[0])
	end := 1 + n*nodeStatusEntrySize
	if end+6 > len(rdata) {
		return st, shortErr("nbns", "NODE_NAME", 1, n*nodeStatusEntrySize+6, len(rdata))
	}
	if n > 0 {
		st.Names = make([]NodeStatusName, n)
		for i := range st.Names {
			e := rdata[1+i*nodeStatusEntrySize:]
			st.Names[i] = NodeStatusName{
				Name:  NameFromBytes([16]byte(e[:16])),
				Flags: NameFlags(binary.BigEndian.Uint16(e[16:])),
			}
		}
	}
	st.UnitID = [6]byte(rdata[end : end+6])
	st.Statistics = rdata[end+6 : len(rdata) : len(rdata)]
	return st, nil
}

// AppendNodeStatus appends the RDATA of an NBSTAT record for st. Names'
// scopes are not sent (a node status lists bare 16-byte names). It returns
// ErrTooLarge for more than 255 names.
func AppendNodeStatus(dst []byte, st *NodeStatus) ([]byte, error) {
	if len(st.Names) > 255 {
		return dst, fieldErr(ErrTooLarge, "nbns", "NUM_NAMES", -1, strconv.Itoa(len(st.Names))+" names, at most 255")
	}
	if len(st.Statistics) > 0xFFFF-1-6-255*nodeStatusEntrySize {
		return dst, fieldErr(ErrTooLarge, "nbns", "STATISTICS", -1, "too long")
	}
	dst = append(dst, byte(len(st.Names)))
	for _, e := range st.Names {
		dst = append(dst, e.Name.b[:]...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(e.Flags))
	}
	dst = append(dst, st.UnitID[:]...)
	if len(st.Statistics) == 0 {
		return append(dst, make([]byte, NodeStatisticsLen-6)...), nil
	}
	return append(dst, st.Statistics...), nil
}

// NewNameQuery returns a name query request (RFC 1002 §4.2.12) for name:
// RD set, and B set when it is to be broadcast.
func NewNameQuery(id uint16, name Name, broadcast bool) NameServicePacket {
	f := FlagRecursionDesired
	if broadcast {
		f |= FlagBroadcast
	}
	return NameServicePacket{
		TransactionID: id, Opcode: OpQuery, Flags: f,
		Questions: []Question{{Name: name, Type: TypeNB, Class: ClassIN}},
	}
}

// NewPositiveNameQueryResponse returns the positive response (RFC 1002
// §4.2.13) to the query with transaction id, for name, with the given TTL
// in seconds and addresses: R, AA and RD set, one NB answer.
func NewPositiveNameQueryResponse(id uint16, name Name, ttl uint32, addrs []NBAddress) (NameServicePacket, error) {
	rdata, err := AppendNBAddresses(make([]byte, 0, len(addrs)*NBAddressLen), addrs)
	if err != nil {
		return NameServicePacket{}, err
	}
	return NameServicePacket{
		TransactionID: id, Response: true, Opcode: OpQuery,
		Flags:   FlagAuthoritative | FlagRecursionDesired,
		Answers: []ResourceRecord{{Name: name, Type: TypeNB, Class: ClassIN, TTL: ttl, Data: rdata}},
	}, nil
}

// NewNegativeNameQueryResponse returns the negative response (RFC 1002
// §4.2.14) to the query with transaction id for name: R, AA and RD set,
// RCODE rcode (usually RCodeName), one NULL record with no data, as nmbd
// sends it.
func NewNegativeNameQueryResponse(id uint16, name Name, rcode RCode) NameServicePacket {
	return NameServicePacket{
		TransactionID: id, Response: true, Opcode: OpQuery,
		Flags: FlagAuthoritative | FlagRecursionDesired, RCode: rcode,
		Answers: []ResourceRecord{{Name: name, Type: TypeNULL, Class: ClassIN}},
	}
}

// NewNodeStatusQuery returns a node status request (RFC 1002 §4.2.17) for
// name, usually WildcardName(); nmblookup -S asks for the name it found.
func NewNodeStatusQuery(id uint16, name Name) NameServicePacket {
	return NameServicePacket{
		TransactionID: id, Opcode: OpQuery,
		Questions: []Question{{Name: name, Type: TypeNBSTAT, Class: ClassIN}},
	}
}

// NewNodeStatusResponse returns the node status response (RFC 1002
// §4.2.18) to the request with transaction id for name: R and AA set, one
// NBSTAT answer with TTL 0 holding st.
func NewNodeStatusResponse(id uint16, name Name, st *NodeStatus) (NameServicePacket, error) {
	rdata, err := AppendNodeStatus(nil, st)
	if err != nil {
		return NameServicePacket{}, err
	}
	return NameServicePacket{
		TransactionID: id, Response: true, Opcode: OpQuery, Flags: FlagAuthoritative,
		Answers: []ResourceRecord{{Name: name, Type: TypeNBSTAT, Class: ClassIN, Data: rdata}},
	}, nil
}

// NewNameRegistration returns a name registration request (RFC 1002
// §4.2.2) as a B node broadcasts it: RD and B set, the name as question and
// an additional NB record (TTL ttl) with the owner's address.
func NewNameRegistration(id uint16, name Name, ttl uint32, addr NBAddress) (NameServicePacket, error) {
	rdata, err := AppendNBAddresses(make([]byte, 0, NBAddressLen), []NBAddress{addr})
	if err != nil {
		return NameServicePacket{}, err
	}
	return NameServicePacket{
		TransactionID: id, Opcode: OpRegistration, Flags: FlagRecursionDesired | FlagBroadcast,
		Questions:  []Question{{Name: name, Type: TypeNB, Class: ClassIN}},
		Additional: []ResourceRecord{{Name: name, Type: TypeNB, Class: ClassIN, TTL: ttl, Data: rdata}},
	}, nil
}

// A NetBIOS name server (NBNS; Microsoft calls it WINS) keeps the names of
// P, M and H nodes (RFC 1001 §15, RFC 1002 §4.2.2 to §4.2.16): a node
// registers each name with it, refreshes it before its TTL runs out and
// releases it when it stops; other nodes ask it, by a unicast name query,
// where a name is. The requests below are those a node sends its name
// server; the responses those a name server sends back (a node meets them
// when it decodes, and tests when they play the server).

// nbRecordPacket is a request of one question and one additional NB
// record for addr: registration, overwrite, refresh and release.
func nbRecordPacket(id uint16, op NSOpcode, flags NSFlags, name Name, ttl uint32, addr NBAddress) (NameServicePacket, error) {
	rdata, err := AppendNBAddresses(make([]byte, 0, NBAddressLen), []NBAddress{addr})
	if err != nil {
		return NameServicePacket{}, err
	}
	return NameServicePacket{
		TransactionID: id, Opcode: op, Flags: flags,
		Questions:  []Question{{Name: name, Type: TypeNB, Class: ClassIN}},
		Additional: []ResourceRecord{{Name: name, Type: TypeNB, Class: ClassIN, TTL: ttl, Data: rdata}},
	}, nil
}

// NewNameServerRegistration returns a name registration request (RFC 1002
// §4.2.2) as a P, M or H node sends it to its name server: unicast (B
// clear), RD set, the name as question and an additional NB record with
// the TTL asked for and the owner's address; addr.Flags says whether the
// name is a group (NewNBFlags).
func NewNameServerRegistration(id uint16, name Name, ttl uint32, addr NBAddress) (NameServicePacket, error) {
	return nbRecordPacket(id, OpRegistration, FlagRecursionDesired, name, ttl, addr)
}

// NewNameOverwrite returns a name overwrite request and demand (RFC 1002
// §4.2.3): a registration with RD clear, which a node sends its name
// server after an end-node challenge found the old owner gone, or
// broadcasts (B set) to claim a name no node defended.
func NewNameOverwrite(id uint16, name Name, ttl uint32, addr NBAddress, broadcast bool) (NameServicePacket, error) {
	var f NSFlags
	if broadcast {
		f = FlagBroadcast
	}
	return nbRecordPacket(id, OpRegistration, f, name, ttl, addr)
}

// NewNameRefresh returns a name refresh request (RFC 1002 §4.2.4) to a
// name server: OPCODE 8 and no NM_FLAGS (as Windows and nmbd send it; some
// send OPCODE 9, OpRefreshAlt), the name as question and an additional NB
// record with the TTL asked for and the owner's address.
func NewNameRefresh(id uint16, name Name, ttl uint32, addr NBAddress) (NameServicePacket, error) {
	return nbRecordPacket(id, OpRefresh, 0, name, ttl, addr)
}

// NewNameRelease returns a name release request (RFC 1002 §4.2.9), sent
// to the name server, or with broadcast a name release demand (§4.2.10):
// OPCODE 6, the name as question and an additional NB record with TTL 0
// and the owner's address.
func NewNameRelease(id uint16, name Name, addr NBAddress, broadcast bool) (NameServicePacket, error) {
	var f NSFlags
	if broadcast {
		f = FlagBroadcast
	}
	return nbRecordPacket(id, OpRelease, f, name, 0, addr)
}

// nbAnswer is a response of one NB answer record for addr.
func nbAnswer(id uint16, op NSOpcode, flags NSFlags, rcode RCode, name Name, ttl uint32, addr NBAddress) (NameServicePacket, error) {
	rdata, err := AppendNBAddresses(make([]byte, 0, NBAddressLen), []NBAddress{addr})
	if err != nil {
		return NameServicePacket{}, err
	}
	return NameServicePacket{
		TransactionID: id, Response: true, Opcode: op, Flags: flags, RCode: rcode,
		Answers: []ResourceRecord{{Name: name, Type: TypeNB, Class: ClassIN, TTL: ttl, Data: rdata}},
	}, nil
}

// NewNameRegistrationResponse returns a name server's answer to a
// registration or a refresh: positive (RFC 1002 §4.2.5) with RCodeOK and
// the TTL the server grants, negative (§4.2.6) with another rcode
// (RCodeActive: another node owns the name) and TTL 0, or a name conflict
// demand (§4.2.8) with RCodeConflict. R, OPCODE 5 (nmbd answers refreshes
// with it too), AA, RD and RA set, one NB answer with the registered
// address.
func NewNameRegistrationResponse(id uint16, name Name, rcode RCode, ttl uint32, addr NBAddress) (NameServicePacket, error) {
	return nbAnswer(id, OpRegistration, FlagAuthoritative|FlagRecursionDesired|FlagRecursionAvailable, rcode, name, ttl, addr)
}

// NewEndNodeChallengeResponse returns an end-node challenge registration
// response (RFC 1002 §4.2.7): a name server that leaves the challenge of
// the current owner to the registering node answers with RCODE 0 and RA
// clear, and the owner's address. The node then queries the owner, and
// sends a name overwrite if no positive answer comes.
func NewEndNodeChallengeResponse(id uint16, name Name, ttl uint32, owner NBAddress) (NameServicePacket, error) {
	return nbAnswer(id, OpRegistration, FlagAuthoritative|FlagRecursionDesired, RCodeOK, name, ttl, owner)
}

// NewNameReleaseResponse returns a name server's answer to a release
// (RFC 1002 §4.2.11): R, OPCODE 6, AA, rcode (RCodeOK, or RCodeName for a
// name it does not hold for that address), one NB answer with TTL 0 and
// the address.
func NewNameReleaseResponse(id uint16, name Name, rcode RCode, addr NBAddress) (NameServicePacket, error) {
	return nbAnswer(id, OpRelease, FlagAuthoritative, rcode, name, 0, addr)
}

// WACKDataLen is the size of a WACK's RDATA: the request's header word.
const WACKDataLen = 2

// NewWACK returns a wait for acknowledgement response (RFC 1002 §4.2.16)
// to the request req: the name server has the request in hand (it is
// challenging the name's owner) and will answer within ttl seconds. R,
// OPCODE 7, AA; one record for the request's name whose two bytes of
// RDATA are the request's OPCODE and NM_FLAGS. The record's type is NULL,
// as nmbd and Windows send it (the RFC's figure says NB).
func NewWACK(req *NameServicePacket, ttl uint32) NameServicePacket {
	var name Name
	if len(req.Questions) > 0 {
		name = req.Questions[0].Name
	}
	word := uint16(req.Opcode&0xF)<<11 | uint16(req.Flags&0x7F)<<4
	return NameServicePacket{
		TransactionID: req.TransactionID, Response: true, Opcode: OpWACK, Flags: FlagAuthoritative,
		Answers: []ResourceRecord{{Name: name, Type: TypeNULL, Class: ClassIN, TTL: ttl,
			Data: binary.BigEndian.AppendUint16(make([]byte, 0, WACKDataLen), word)}},
	}
}

// ReplyKind is what a name server's response says about a request.
type ReplyKind uint8

// Kinds of replies.
const (
	// ReplyPositive: the registration, refresh, release or query
	// succeeded (RCODE 0).
	ReplyPositive ReplyKind = iota
	// ReplyNegative: it failed; RCode says why (RCodeActive: another node
	// owns the name; RCodeConflict: a name conflict demand).
	ReplyNegative
	// ReplyWACK: wait up to TTL seconds for the real answer, which comes
	// with the same transaction id.
	ReplyWACK
	// ReplyChallenge: an end-node challenge registration response; Addrs
	// holds the owner to challenge.
	ReplyChallenge
)

// String names the kind.
func (k ReplyKind) String() string {
	switch k {
	case ReplyPositive:
		return "positive"
	case ReplyNegative:
		return "negative"
	case ReplyWACK:
		return "wait for acknowledgement"
	case ReplyChallenge:
		return "end-node challenge"
	}
	return "ReplyKind(" + strconv.Itoa(int(k)) + ")"
}

// String returns the RFC's name of the rcode ("NAM_ERR") or its number.
func (r RCode) String() string {
	names := [...]string{"OK", "FMT_ERR", "SRV_ERR", "NAM_ERR", "IMP_ERR", "RFS_ERR", "ACT_ERR", "CFT_ERR"}
	if int(r) < len(names) {
		return names[r]
	}
	return "RCODE(" + strconv.Itoa(int(r)) + ")"
}

// NSReply is a name server's response to a registration, overwrite,
// refresh, release or name query, as a node reads it.
type NSReply struct {
	TransactionID uint16
	Opcode        NSOpcode // of the response (OpWACK for a WACK)
	Kind          ReplyKind
	RCode         RCode
	Name          Name        // the answer's RR_NAME
	TTL           uint32      // granted TTL; for a WACK, the seconds to wait
	Addrs         []NBAddress // the NB answer's entries (nil for NULL records)
	// WaitingFor is, for a WACK, the OPCODE of the request it holds, from
	// its RDATA.
	WaitingFor NSOpcode
}

// DecodeNSReply decodes b as a name server's response and says what it
// means: the first answer record carries the name, TTL and addresses (for
// an NB record) or the request's header word (for a WACK). It returns
// ErrUnsupported for a request, or for a response that is neither to a
// query, registration, refresh or release nor a WACK (a node status
// response, a multi-homed registration), and ErrMalformed for one without
// an answer or whose RDATA does not fit its type. The caller matches
// TransactionID and Name with its request.
func DecodeNSReply(b []byte) (NSReply, error) {
	p, err := DecodeNameService(b)
	if err != nil {
		return NSReply{}, err
	}
	r := NSReply{TransactionID: p.TransactionID, Opcode: p.Opcode, RCode: p.RCode}
	if !p.Response {
		return r, fieldErr(ErrUnsupported, "nbns", "R", 2, "a request, not a response")
	}
	switch p.Opcode {
	case OpQuery, OpRegistration, OpRefresh, OpRefreshAlt, OpRelease, OpWACK:
	default:
		return r, fieldErr(ErrUnsupported, "nbns", "OPCODE", 2, "a "+p.Opcode.String()+" response")
	}
	if len(p.Answers) == 0 {
		return r, fieldErr(ErrMalformed, "nbns", "ANCOUNT", 6, "a response with no answer")
	}
	a := &p.Answers[0]
	r.Name, r.TTL = a.Name, a.TTL
	if p.Opcode == OpWACK {
		if len(a.Data) != WACKDataLen {
			return r, fieldErr(ErrMalformed, "nbns", "RDLENGTH", -1,
				"a WACK's RDATA is 2 bytes, not "+strconv.Itoa(len(a.Data)))
		}
		r.Kind = ReplyWACK
		r.WaitingFor = NSOpcode(a.Data[0] >> 3 & 0xF)
		return r, nil
	}
	if p.Opcode == OpQuery && a.Type == TypeNBSTAT {
		return r, fieldErr(ErrUnsupported, "nbns", "RR_TYPE", -1, "a node status response")
	}
	if a.Type == TypeNB {
		if r.Addrs, err = DecodeNBAddresses(a.Data); err != nil {
			return r, err
		}
	}
	switch {
	case p.RCode != RCodeOK:
		r.Kind = ReplyNegative
	case p.Opcode == OpRegistration && p.Flags&FlagRecursionAvailable == 0:
		r.Kind = ReplyChallenge
		if len(r.Addrs) == 0 {
			return r, fieldErr(ErrMalformed, "nbns", "RDATA", -1, "an end-node challenge that names no owner")
		}
	case p.Opcode == OpQuery && len(r.Addrs) == 0:
		return r, fieldErr(ErrMalformed, "nbns", "RDATA", -1, "a positive query response with no address")
	}
	return r, nil
}
