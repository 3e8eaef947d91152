// Package messenger reads and writes the records of NET SEND and WinPopup:
// the pop-up messages that Windows' Messenger service (Windows NT to
// Server 2003) and WinPopup (Windows for Workgroups, 95, 98) receive on
// the mailslot `\\DEST\mailslot\messngr` (on the wire `\MAILSLOT\MESSNGR`),
// where DEST is a computer, a user's messaging name, a workgroup or `*`.
// It is pure: byte slices and strings in and out, no sockets, no clock.
// Send and receive the records with package mailslot.
//
// # The record
//
// A record is three strings, each ended by a NUL byte:
//
//	From NUL To NUL Text NUL
//
// From is the sender (a user or computer name), To the recipient (the
// NetBIOS name the message is for; receivers show it only when it is one
// of theirs), Text the message, with CR LF line breaks. All three are in
// the sender's OEM code page, the one a console window uses (CP437 on US
// Windows, CP850 in Western Europe), and nothing in the record says which.
// There is no header, length or type byte. Windows and WinPopup end the
// text with a NUL too; programs that write the mailslot themselves often
// leave it out, and receivers accept both.
//
// The message From "ALICE" To "BOB", Text "Grüße\nbis 5€", encoded in
// CP850 (which has no '€', so it becomes '?'), is these 24 bytes:
//
//	41 4C 49 43 45 00                 "ALICE" NUL
//	42 4F 42 00                       "BOB" NUL
//	47 72 81 E1 65 0D 0A              "Grüße" CR LF   (ü 0x81, ß 0xE1)
//	62 69 73 20 35 3F 00              "bis 5?" NUL
//
// # Limits
//
// A record travels in one NetBIOS datagram of at most 576 bytes, which
// leaves MaxDatagramRecord (407) bytes for From, To, Text and their NULs:
// Windows documents 424 bytes for a mailslot message between computers,
// a figure that leaves the mailslot name out, and `\MAILSLOT\MESSNGR`
// (17 bytes) shares the same datagram (Samba's nmbd drops datagrams over
// 576 bytes). Windows' NET SEND broadcasts at most MaxBroadcastText (128)
// characters of text; [MS-MSRP] caps the text at MaxText (652) bytes.
// Encode refuses what is over a limit with a *TooLongError (ErrTooLong)
// that says the limit, the size and how many characters to cut; Check
// reports the same without failing, and Fit cuts on request. Nothing is
// ever cut silently.
//
// # Characters
//
// Message fields are UTF-8. Encode converts them to a code page (CP850
// unless EncodeOptions.CodePage says otherwise; see there why) and turns
// characters the code page lacks into '?' (or fails, with Strict). Decode
// takes records that are valid UTF-8 as UTF-8 (Linux senders write it,
// and ASCII is UTF-8) and anything else as CP850 unless
// DecodeOptions.CodePage forces one. What Decode returns is safe to show
// on a terminal: it never holds NUL, ESC or any other control character
// but tab and newline.
//
// # Showing messages
//
// A broadcast often arrives more than once (once per protocol or
// interface of the sender); a Deduper shows it once. A Filter lets a user
// allow or deny senders, recipients and texts.
//
// # Sources
//
//   - [MS-MSRP] Messenger Service Remote Protocol, 3.2.4.4 "Sending
//     Mailslot Messages or SMB Messages": From, To, Text in the OEM
//     character set, Text of at most 652 bytes, sent to the mailslot
//     \\recipient\MAILSLOT\MESSNGR.
//   - [MS-MAIL] and "About Mailslots" (Win32 documentation): 424 bytes
//     for a mailslot message between computers.
//   - NET SEND's documentation (Windows XP command reference): broadcast
//     messages can contain up to 128 characters.
//   - Descriptions by authors of WinPopup-compatible programs ("three
//     NULL terminated strings": sender, receiver, message), sample code
//     that writes the mailslot without the final NUL, and a Windows 98
//     NET SEND to a workgroup as another implementation reports it from a
//     capture: "WIN98USER\0WORKGROUP\0HELLO WORLD\0" (32 bytes, no type
//     byte, final NUL).
package messenger
