// Package wire encodes and decodes the packets that carry mailslots between
// computers, as Windows and Samba put them on the wire. It is pure: byte
// slices in, byte slices out, no sockets, no goroutines, no state.
//
// A mailslot record sent to another computer is layered like this:
//
//	UDP port 138
//	└─ NetBIOS datagram (RFC 1002 §4.4)       Datagram, DecodeDatagram
//	   MSG_TYPE DIRECT_UNIQUE 0x10 / DIRECT_GROUP 0x11 / BROADCAST 0x12,
//	   FLAGS, DGM_ID, SOURCE_IP, SOURCE_PORT, DGM_LENGTH, PACKET_OFFSET,
//	   SOURCE_NAME and DESTINATION_NAME (first-level encoded Names)
//	   └─ USER_DATA: SMB_COM_TRANSACTION (0x25) request, [MS-CIFS] 2.2.4.33
//	      32-byte SMB header, WordCount 17, transaction words, SetupCount 3:
//	      opcode 1 (write), priority, class 2 (unreliable)  MailslotWrite
//	      └─ bytes: MailslotName `\MAILSLOT\...` NUL, then the record at
//	         DataOffset, DataCount bytes ([MS-MAIL] 2.2.1)
//	         └─ for \MAILSLOT\BROWSE: a browser frame ([MS-BRWS] 2.2)
//	            Announcement, AnnouncementRequest, RequestElection
//
// AppendMailslotDatagram and DecodeMailslotDatagram handle the first three
// layers at once. Computers find each other with the NetBIOS name service
// on UDP port 137 (RFC 1002 §4.2): NameServicePacket, with helpers for name
// queries, their positive and negative responses, node status and name
// registration; and for what a node exchanges with its NetBIOS name server
// (WINS): registration, overwrite, refresh and release requests, the
// server's answers (positive, negative, end-node challenge, WACK), and
// DecodeNSReply, which says what an answer means.
//
// Encoders append to a caller's slice (AppendXxx(dst, ...)) so buffers can
// be reused; with enough capacity they do not allocate. Decoders check every
// length, count and offset against the buffer, follow the offsets the
// packet gives rather than a fixed layout (Windows and nmbd differ in
// header details such as the datagram node-type bits), accept datagrams of
// any size up to a UDP payload, and return payload data as sub-slices of
// the input, not copies. Datagram encoders refuse to exceed the 576-byte
// NetBIOS datagram limit (MaxDatagramSize) unless the caller uses a Large
// variant; MaxMailslotData gives the largest record that fits.
//
// Every error wraps one of the sentinels ErrShort, ErrMalformed,
// ErrNameTooLong, ErrInvalidName, ErrTooLarge and ErrUnsupported in a
// *FieldError that names the layer, the field (as the specification names
// it) and its offset.
package wire
