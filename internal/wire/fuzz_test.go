package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// Every fuzz target checks that the decoder never panics, that every error
// wraps a sentinel inside a *FieldError, and, where it makes sense, that
// decode → encode → decode is stable. Seeds: the nmbd captures and packets
// of our own.

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FieldError", err)
	}
	for _, s := range []error{ErrShort, ErrMalformed, ErrNameTooLong, ErrInvalidName, ErrTooLarge, ErrUnsupported} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %v wraps no sentinel", err)
}

func seedDatagrams(f *testing.F) {
	for _, b := range readHexLines(f, "nmbd-dgm.hex") {
		f.Add(b)
	}
	d := Datagram{Type: DirectUnique, Flags: FlagFirst, ID: 1, SourceIP: testIP, SourcePort: 138,
		SourceName: mustScope(testSrc, "a.b"), DestinationName: testDst}
	b, _ := AppendMailslotDatagram(nil, &d, &MailslotWrite{Name: `\MAILSLOT\X`, Class: 2, Data: []byte("data")})
	f.Add(b)
	d.Type = BroadcastDatagram
	b, _ = AppendMailslotDatagram(nil, &d, &MailslotWrite{Name: `\MAILSLOT\BROWSE`, Class: 2})
	f.Add(b)
	for _, typ := range []DatagramType{DatagramError, DatagramQueryRequest, DatagramPositiveQueryResponse, DatagramNegativeQueryResponse} {
		b, _ := AppendDatagram(nil, &Datagram{Type: typ, SourceIP: testIP, DestinationName: testDst, ErrorCode: 0x82})
		f.Add(b)
	}
}

func FuzzDecodeDatagram(f *testing.F) {
	seedDatagrams(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDatagram(b)
		checkErr(t, err)
		if err == nil {
			// Re-encoding what was decoded gives the same bytes, unless the
			// packet holds something we refuse to send (reserved flags).
			again, err := AppendLargeDatagram(nil, &d)
			if err == nil {
				if !bytes.Equal(again, b) {
					t.Fatalf("re-encoded\n% x\nfrom\n% x", again, b)
				}
			} else if d.Flags&flagsReserved == 0 && len(b) <= MaxUDPPayload {
				t.Fatalf("cannot re-encode %+v: %v", d, err)
			}
		}
		// The combined decoder agrees with the two-step one.
		d2, w, err := DecodeMailslotDatagram(b)
		checkErr(t, err)
		if err == nil {
			w2, err := DecodeMailslotWrite(d2.UserData)
			if err != nil || !reflect.DeepEqual(w, w2) {
				t.Fatalf("DecodeMailslotDatagram and DecodeMailslotWrite disagree: %v", err)
			}
			if len(w.Data) > 0 && !overlaps(b, w.Data) {
				t.Fatal("data is not a sub-slice of the input")
			}
		}
	})
}

func overlaps(buf, sub []byte) bool {
	if len(sub) == 0 {
		return true
	}
	for i := range buf {
		if &buf[i] == &sub[0] {
			return i+len(sub) <= len(buf)
		}
	}
	return false
}

func FuzzDecodeMailslotWrite(f *testing.F) {
	for _, b := range readHexLines(f, "nmbd-dgm.hex") {
		d, err := DecodeDatagram(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(d.UserData)
	}
	f.Add(buildSMB(`\MAILSLOT\NET\NETLOGON`, 3, []byte{1, 2}, []byte("data"), 2))
	f.Add(buildSMB(`\MAILSLOT\A`, 0, nil, nil, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := DecodeMailslotWrite(b)
		checkErr(t, err)
		// A decoder given a name table decodes the same.
		interned := map[string]string{}
		wn, errn := DecodeMailslotWriteNames(b, func(nb []byte) string {
			s, ok := interned[string(nb)]
			if !ok {
				s = string(nb)
				interned[s] = s
			}
			return s
		})
		if !reflect.DeepEqual(w, wn) || fmt.Sprint(err) != fmt.Sprint(errn) {
			t.Fatalf("with a name table: %+v, %v; without: %+v, %v", wn, errn, w, err)
		}
		if err != nil {
			return
		}
		// Anything decoded can be encoded (canonically: no padding) and
		// decodes back to the same write.
		enc, err := AppendMailslotWrite(nil, &w)
		if err != nil {
			t.Fatalf("cannot re-encode %+v: %v", w, err)
		}
		w2, err := DecodeMailslotWrite(enc)
		if err != nil || !reflect.DeepEqual(w, w2) {
			t.Fatalf("unstable: %+v → %+v (%v)", w, w2, err)
		}
		if len(enc) > len(b) {
			t.Fatalf("canonical encoding (%d bytes) longer than the input (%d)", len(enc), len(b))
		}
	})
}

func FuzzDecodeNameService(f *testing.F) {
	for _, b := range readHexLines(f, "nmbd-ns.hex") {
		f.Add(b)
	}
	st := &NodeStatus{Names: []NodeStatusName{{Name: testSrc, Flags: NewNameFlags(false, BNode)}}}
	for _, p := range []NameServicePacket{
		NewNameQuery(1, mustScope(testDst, "x.y"), true),
		mustNS(NewPositiveNameQueryResponse(1, testDst, 5, []NBAddress{{IP: testIP}})),
		NewNegativeNameQueryResponse(2, testDst, RCodeName),
		mustNS(NewNodeStatusResponse(3, WildcardName(), st)),
		mustNS(NewNameRegistration(4, mustScope(testSrc, "s"), 0, NBAddress{IP: testIP})),
	} {
		b, _ := AppendNameService(nil, &p)
		f.Add(b)
	}
	seedNameServer(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeNameService(b)
		checkErr(t, err)
		if err != nil {
			return
		}
		for _, sec := range [][]ResourceRecord{p.Answers, p.Authority, p.Additional} {
			for _, rr := range sec {
				_, err := DecodeNBAddresses(rr.Data)
				checkErr(t, err)
				st, err := DecodeNodeStatus(rr.Data)
				checkErr(t, err)
				if err == nil {
					enc, err := AppendNodeStatus(nil, &st)
					if err != nil || (len(st.Statistics) > 0 && !bytes.Equal(enc, rr.Data)) {
						t.Fatalf("node status re-encodes to % x (%v) from % x", enc, err, rr.Data)
					}
				}
			}
		}
		enc, err := AppendNameService(nil, &p)
		if err != nil {
			if len(b) <= MaxUDPPayload {
				t.Fatalf("cannot re-encode: %v", err)
			}
			return
		}
		p2, err := DecodeNameService(enc)
		if err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		normalizeRR(&p)
		normalizeRR(&p2)
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("unstable:\n%+v\n%+v", p, p2)
		}
	})
}

func FuzzDecodeBrowser(f *testing.F) {
	for _, b := range readHexLines(f, "nmbd-dgm.hex") {
		_, w, err := DecodeMailslotDatagram(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w.Data)
	}
	b, _ := AppendAnnouncementRequest(nil, &AnnouncementRequest{ResponseName: "X"})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeBrowser(b)
		checkErr(t, err)
		if err != nil {
			return
		}
		var enc []byte
		switch fr := fr.(type) {
		case *Announcement:
			enc, err = AppendAnnouncement(nil, fr)
		case *AnnouncementRequest:
			enc, err = AppendAnnouncementRequest(nil, fr)
		case *RequestElection:
			enc, err = AppendRequestElection(nil, fr)
		default:
			t.Fatalf("unexpected frame %T", fr)
		}
		if err != nil {
			checkErr(t, err) // names or comments we refuse to send
			return
		}
		fr2, err := DecodeBrowser(enc)
		if err != nil || !reflect.DeepEqual(fr, fr2) {
			t.Fatalf("unstable: %+v → %+v (%v)", fr, fr2, err)
		}
	})
}

func FuzzDecodeName(f *testing.F) {
	for _, n := range []Name{testSrc, BrowseMasterName(), WildcardName(), mustScope(testDst, "corp.example")} {
		b, _ := AppendName(nil, n)
		f.Add(b)
	}
	f.Add([]byte{0xC0, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, used, err := DecodeName(b)
		checkErr(t, err)
		if err == nil {
			enc, err := AppendName(nil, n)
			if err != nil || !bytes.Equal(enc, b[:used]) {
				t.Fatalf("re-encoded % x (%v) from % x", enc, err, b[:used])
			}
			// String and ParseName are inverse.
			p, err := ParseName(n.String())
			if err != nil || p != n {
				t.Fatalf("ParseName(%q) = %v, %v; want %v", n.String(), p, err, n)
			}
		}
		// With compression allowed, anywhere in the buffer.
		for off := 0; off < len(b) && off < 64; off++ {
			_, next, err := decodeName(b, off, true, "nbns", "RR_NAME")
			checkErr(t, err)
			if err == nil && (next <= off || next > len(b)) {
				t.Fatalf("name at %d ends at %d of %d", off, next, len(b))
			}
		}
	})
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"SAMBAHOST<20>", "labgroup#1d", "<01><02>__MSBROWSE__<02><01>", "*<00>", "A<20>.x.y", "<2a><00>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		checkErr(t, err)
		if err != nil {
			return
		}
		n2, err := ParseName(n.String())
		if err != nil || n2 != n {
			t.Fatalf("ParseName(%q) = %v; its String %q parses to %v, %v", s, n, n.String(), n2, err)
		}
		if _, err := AppendName(nil, n); err != nil {
			t.Fatal(err)
		}
	})
}

// seedNameServer adds what a node and its name server (WINS) exchange.
func seedNameServer(f *testing.F) {
	addr := NBAddress{Flags: NewNBFlags(false, HNode), IP: testIP}
	reg := mustNS(NewNameServerRegistration(5, testSrc, 300000, addr))
	for _, p := range []NameServicePacket{
		reg,
		mustNS(NewNameServerRegistration(6, mustScope(testGroup, "a.b"), 300000, NBAddress{Flags: NewNBFlags(true, HNode), IP: testIP})),
		mustNS(NewNameOverwrite(7, testSrc, 1, addr, true)),
		mustNS(NewNameRefresh(8, testSrc, 300000, addr)),
		mustNS(NewNameRelease(9, testSrc, addr, false)),
		mustNS(NewNameRegistrationResponse(5, testSrc, RCodeOK, 21600, addr)),
		mustNS(NewNameRegistrationResponse(5, testSrc, RCodeActive, 0, addr)),
		mustNS(NewEndNodeChallengeResponse(5, testSrc, 300000, addr)),
		mustNS(NewNameReleaseResponse(9, testSrc, RCodeName, addr)),
		NewWACK(&reg, 60),
		NewNegativeNameQueryResponse(10, testDst, RCodeName),
		mustNS(NewPositiveNameQueryResponse(10, testDst, 5, []NBAddress{addr, addr})),
	} {
		b, _ := AppendNameService(nil, &p)
		f.Add(b)
	}
}

// FuzzDecodeNSReply checks the reading of a name server's answers: it
// agrees with DecodeNameService, and what it says follows from the header.
func FuzzDecodeNSReply(f *testing.F) {
	for _, b := range readHexLines(f, "nmbd-ns.hex") {
		f.Add(b)
	}
	seedNameServer(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeNSReply(b)
		checkErr(t, err)
		p, perr := DecodeNameService(b)
		if perr != nil {
			if err == nil || err.Error() != perr.Error() {
				t.Fatalf("DecodeNameService fails (%v), DecodeNSReply says %v", perr, err)
			}
			return
		}
		if err != nil {
			return
		}
		if !p.Response || len(p.Answers) == 0 || r.TransactionID != p.TransactionID || r.RCode != p.RCode ||
			r.Opcode != p.Opcode || r.Name != p.Answers[0].Name || r.TTL != p.Answers[0].TTL {
			t.Fatalf("reply %+v from packet %+v", r, p)
		}
		switch r.Kind {
		case ReplyWACK:
			if p.Opcode != OpWACK || len(p.Answers[0].Data) != WACKDataLen {
				t.Fatalf("WACK from %+v", p)
			}
		case ReplyNegative:
			if p.RCode == RCodeOK {
				t.Fatalf("negative with RCODE 0: %+v", p)
			}
		case ReplyPositive, ReplyChallenge:
			if p.RCode != RCodeOK || (r.Kind == ReplyChallenge) != (p.Opcode == OpRegistration && p.Flags&FlagRecursionAvailable == 0) {
				t.Fatalf("%v from %+v", r.Kind, p)
			}
			if (r.Kind == ReplyChallenge || p.Opcode == OpQuery) && len(r.Addrs) == 0 {
				t.Fatalf("%v names no address: %+v", r.Kind, p)
			}
		default:
			t.Fatalf("kind %v", r.Kind)
		}
		if p.Answers[0].Type == TypeNB && r.Kind != ReplyWACK && len(r.Addrs) != len(p.Answers[0].Data)/NBAddressLen {
			t.Fatalf("%d addresses from %d bytes", len(r.Addrs), len(p.Answers[0].Data))
		}
	})
}
