// Package stream is the framing of mailslotd's stream port: records too
// large for a datagram (up to 64 KiB) travel one-to-one over TCP, and the
// writer learns whether each reached the slot's queue. No Windows or Samba
// host speaks it; it is between mailslot hosts only.
//
// A connection carries any number of requests, one after another; each
// gets one response before the next is read. All integers are big-endian.
//
//	request:  "MSLQ" | u8 version (1) | u8 op (1 = write) | u16 name length |
//	          u16 source length | u32 data length | name | source | data
//	response: "MSLA" | u8 version (1) | u8 status | u16 message length | message
//
// name is the slot's path as in `\\HOST\mailslot\PATH` (e.g. `app\jobs`),
// source the sender's computer name, data the record. status is one of the
// Status constants; message explains a failure for people.
//
// Ops 2 (relay) and 3 (group) ask a mailslotd that is bridged to other
// sites (mailslotd --nats) to carry a record there; only a writer on the
// daemon's own computer may ask. Their name is `HOST\PATH`: the far
// computer (relay: the daemon asks it through the bridge and answers what
// became of the record there) or the workgroup (group: the daemon hands
// the record to every bridged mailslotd of that workgroup, and answers
// OK once the bridge has it).
package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the framing's version.
const Version = 1

// Ops.
const (
	OpWrite = 1 // write one record to a slot of the daemon's computer
	OpRelay = 2 // write one record to a computer that the daemon's bridge reaches
	OpGroup = 3 // write one record to a workgroup through the daemon's bridge
)

// Limits of a request.
const (
	MaxName   = 1024
	MaxSource = 255
	MaxData   = 64 << 10
	MaxReason = 1024
)

// ReqHeaderLen and RespHeaderLen are the fixed parts' sizes.
const (
	ReqHeaderLen  = 14
	RespHeaderLen = 8
)

// Status is the outcome of one request.
type Status uint8

// Statuses.
const (
	OK          Status = 0 // the record is in the slot's queue
	NotFound    Status = 1 // nothing serves the slot on that host
	TooLarge    Status = 2 // over the slot's maximum message size
	Busy        Status = 3 // the slot's queue stayed full
	Refused     Status = 4 // the slot refuses records from the network
	BadRequest  Status = 5 // the request was malformed
	Failed      Status = 6 // anything else
	Unreachable Status = 7 // relay, group: the bridge could not carry the record (no such computer, or the bridge is down)
)

func (s Status) String() string {
	switch s {
	case OK:
		return "queued"
	case NotFound:
		return "no such slot"
	case TooLarge:
		return "record too large"
	case Busy:
		return "slot busy"
	case Refused:
		return "refused"
	case BadRequest:
		return "bad request"
	case Failed:
		return "failed"
	case Unreachable:
		return "unreachable"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// Request is one write.
type Request struct {
	Op     uint8 // OpWrite, OpRelay or OpGroup (0 is OpWrite)
	Name   string
	Source string
	Data   []byte
}

// Response answers a request.
type Response struct {
	Status  Status
	Message string
}

// ErrFormat reports bytes that are not this framing.
var ErrFormat = errors.New("stream: malformed frame")

// AppendRequest encodes r after dst.
func AppendRequest(dst []byte, r *Request) ([]byte, error) {
	op := r.Op
	if op == 0 {
		op = OpWrite
	}
	dst, err := AppendRequestHeadOp(dst, op, r.Name, r.Source, len(r.Data))
	if err != nil {
		return dst, err
	}
	return append(dst, r.Data...), nil
}

// AppendRequestHead encodes a request for dataLen bytes of data after
// dst, all but the data, which go on the wire right after it: a writer
// can send a large record from where it lies (writev) instead of copying
// it behind the head.
func AppendRequestHead(dst []byte, name, source string, dataLen int) ([]byte, error) {
	return AppendRequestHeadOp(dst, OpWrite, name, source, dataLen)
}

// AppendRequestHeadOp is AppendRequestHead for any op.
func AppendRequestHeadOp(dst []byte, op uint8, name, source string, dataLen int) ([]byte, error) {
	if len(name) == 0 || len(name) > MaxName || len(source) > MaxSource || dataLen < 0 || dataLen > MaxData || !validOp(op) {
		return dst, fmt.Errorf("%w: field over its limit", ErrFormat)
	}
	dst = append(dst, 'M', 'S', 'L', 'Q', Version, op)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(name)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(source)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(dataLen))
	dst = append(dst, name...)
	return append(dst, source...), nil
}

// ReadRequest reads one request; buf is reused for the data when large
// enough. io.EOF means the peer closed cleanly between requests.
func ReadRequest(rd io.Reader, buf []byte) (Request, []byte, error) {
	var h [ReqHeaderLen]byte
	if _, err := io.ReadFull(rd, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Request{}, buf, fmt.Errorf("%w: short header", ErrFormat)
		}
		return Request{}, buf, err
	}
	nl, sl, dl, err := ParseRequestHeader(h[:])
	if err != nil {
		return Request{}, buf, err
	}
	need := nl + sl + dl
	if cap(buf) < need {
		buf = make([]byte, need)
	}
	body := buf[:need]
	if _, err := io.ReadFull(rd, body); err != nil {
		return Request{}, buf, fmt.Errorf("%w: short body: %v", ErrFormat, err)
	}
	r := ParseRequestBody(body, nl, sl)
	r.Op = h[5]
	return r, buf, nil
}

func validOp(op uint8) bool { return op >= OpWrite && op <= OpGroup }

// ParseRequestBody splits the part of a request after its fixed part,
// whose name and source lengths the fixed part gave; Data is the tail of
// body.
func ParseRequestBody(body []byte, name, source int) Request {
	return Request{Name: string(body[:name]), Source: string(body[name : name+source]), Data: body[name+source:]}
}

// ParseRequestHeader checks a request's fixed part and returns the
// lengths of its name, source and data; its op is h[5].
func ParseRequestHeader(h []byte) (name, source, data int, err error) {
	if len(h) < ReqHeaderLen || string(h[:4]) != "MSLQ" {
		return 0, 0, 0, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	if h[4] != Version || !validOp(h[5]) {
		return 0, 0, 0, fmt.Errorf("%w: version %d op %d", ErrFormat, h[4], h[5])
	}
	name = int(binary.BigEndian.Uint16(h[6:]))
	source = int(binary.BigEndian.Uint16(h[8:]))
	data = int(binary.BigEndian.Uint32(h[10:]))
	if name == 0 || name > MaxName || source > MaxSource || data > MaxData {
		return 0, 0, 0, fmt.Errorf("%w: field over its limit", ErrFormat)
	}
	return name, source, data, nil
}

// AppendResponse encodes r after dst; a long message is cut.
func AppendResponse(dst []byte, r *Response) []byte {
	msg := r.Message
	if len(msg) > MaxReason {
		msg = msg[:MaxReason]
	}
	dst = append(dst, 'M', 'S', 'L', 'A', Version, byte(r.Status))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(msg)))
	return append(dst, msg...)
}

// ReadResponse reads one response.
func ReadResponse(rd io.Reader) (Response, error) {
	var h [RespHeaderLen]byte
	if _, err := io.ReadFull(rd, h[:]); err != nil {
		return Response{}, err
	}
	if string(h[:4]) != "MSLA" || h[4] != Version {
		return Response{}, fmt.Errorf("%w: bad response header %q", ErrFormat, h[:])
	}
	n := int(binary.BigEndian.Uint16(h[6:]))
	if n > MaxReason {
		return Response{}, fmt.Errorf("%w: message too long", ErrFormat)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(rd, msg); err != nil {
		return Response{}, fmt.Errorf("%w: short message", ErrFormat)
	}
	return Response{Status: Status(h[5]), Message: string(msg)}, nil
}
