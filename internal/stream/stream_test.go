package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	reqs := []Request{
		{Name: `app\jobs`, Source: "HOSTA", Data: []byte("hello")},
		{Name: "x", Data: nil},
		{Name: "big", Source: "H", Data: bytes.Repeat([]byte{7}, MaxData)},
	}
	var b []byte
	for i := range reqs {
		var err error
		if b, err = AppendRequest(b, &reqs[i]); err != nil {
			t.Fatal(err)
		}
	}
	rd := bytes.NewReader(b)
	var buf []byte
	for _, want := range reqs {
		got, nb, err := ReadRequest(rd, buf)
		if err != nil {
			t.Fatal(err)
		}
		buf = nb
		if got.Name != want.Name || got.Source != want.Source || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("got %q %q %d bytes", got.Name, got.Source, len(got.Data))
		}
	}
	if _, _, err := ReadRequest(rd, buf); err != io.EOF {
		t.Fatalf("after the last request: %v", err)
	}
	resp := AppendResponse(nil, &Response{Status: NotFound, Message: `no slot \\B\mailslot\x`})
	r, err := ReadResponse(bytes.NewReader(resp))
	if err != nil || r.Status != NotFound || r.Message != `no slot \\B\mailslot\x` {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestRejects(t *testing.T) {
	good, _ := AppendRequest(nil, &Request{Name: "x", Data: []byte("d")})
	for name, b := range map[string][]byte{
		"magic":     append([]byte("XXXX"), good[4:]...),
		"version":   append(append([]byte{}, good[:4]...), append([]byte{9}, good[5:]...)...),
		"truncated": good[:len(good)-1],
		"short":     good[:5],
		"empty name": func() []byte {
			b := append([]byte{}, good...)
			b[6], b[7] = 0, 0
			return b
		}(),
		"huge data": func() []byte {
			b := append([]byte{}, good...)
			b[10], b[11] = 0x7f, 0xff
			return b
		}(),
		"op 0":       func() []byte { b := append([]byte{}, good...); b[5] = 0; return b }(),
		"unknown op": func() []byte { b := append([]byte{}, good...); b[5] = OpGroup + 1; return b }(),
	} {
		if _, _, err := ReadRequest(bytes.NewReader(b), nil); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := AppendRequest(nil, &Request{Name: "x", Data: make([]byte, MaxData+1)}); err == nil {
		t.Error("oversize data encoded")
	}
}

func FuzzReadRequest(f *testing.F) {
	good, _ := AppendRequest(nil, &Request{Name: `a\b`, Source: "S", Data: []byte("data")})
	f.Add(good)
	f.Add(AppendResponse(nil, &Response{Status: OK}))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The framing has one encoding: every request read must encode
		// back to exactly the bytes it was read from.
		rd := bytes.NewReader(b)
		var buf []byte
		for {
			at := len(b) - rd.Len()
			r, nb, err := ReadRequest(rd, buf)
			if err != nil {
				break
			}
			buf = nb
			again, err := AppendRequest(nil, &r)
			if err != nil {
				t.Fatalf("decoded request does not encode: %v", err)
			}
			if read := b[at : len(b)-rd.Len()]; !bytes.Equal(again, read) {
				t.Fatalf("request read from %x encodes as %x", read, again)
			}
		}
		// So has a response, when its message is within the limit.
		rd = bytes.NewReader(b)
		if resp, err := ReadResponse(rd); err == nil {
			read := b[:len(b)-rd.Len()]
			if again := AppendResponse(nil, &resp); !bytes.Equal(again, read) {
				t.Fatalf("response read from %x encodes as %x", read, again)
			}
		}
	})
}

// TestRequestHead checks that a head followed by the data is the request
// AppendRequest encodes, and that the head refuses what AppendRequest does.
func TestRequestHead(t *testing.T) {
	for _, r := range []Request{
		{Name: `app\jobs`, Source: "HOSTA", Data: []byte("hello")},
		{Name: "x"},
		{Name: "big", Source: "H", Data: bytes.Repeat([]byte{7}, MaxData)},
	} {
		want, err := AppendRequest(nil, &r)
		if err != nil {
			t.Fatal(err)
		}
		head, err := AppendRequestHead([]byte("keep"), r.Name, r.Source, len(r.Data))
		if err != nil {
			t.Fatal(err)
		}
		if got := append(head, r.Data...); !bytes.Equal(got[4:], want) || string(got[:4]) != "keep" {
			t.Fatalf("%s: head and data differ from the request", r.Name)
		}
	}
	for _, bad := range []struct {
		name, source string
		n            int
	}{{"", "S", 1}, {"x", "S", MaxData + 1}, {"x", "S", -1}, {string(make([]byte, MaxName+1)), "", 0}} {
		if _, err := AppendRequestHead(nil, bad.name, bad.source, bad.n); !errors.Is(err, ErrFormat) {
			t.Errorf("%q %d: %v", bad.name, bad.n, err)
		}
	}
}

// TestParseRequestParts parses a request in its two parts, the body where
// the caller placed it, as mailslotd does.
func TestParseRequestParts(t *testing.T) {
	b, _ := AppendRequest(nil, &Request{Name: `a\b`, Source: "SRC", Data: []byte("payload")})
	nl, sl, dl, err := ParseRequestHeader(b)
	if err != nil || nl != 3 || sl != 3 || dl != 7 {
		t.Fatalf("header: %d %d %d %v", nl, sl, dl, err)
	}
	body := make([]byte, 100)[50 : 50+nl+sl+dl]
	copy(body, b[ReqHeaderLen:])
	r := ParseRequestBody(body, nl, sl)
	if r.Name != `a\b` || r.Source != "SRC" || string(r.Data) != "payload" || &r.Data[0] != &body[6] {
		t.Fatalf("body: %+v", r)
	}
	if _, _, err := ReadRequest(bytes.NewReader(b[:len(b)-1]), nil); !errors.Is(err, ErrFormat) {
		t.Fatalf("short body: %v", err)
	}
	if _, _, err := ReadRequest(bytes.NewReader(nil), nil); err != io.EOF {
		t.Fatalf("no request: %v", err)
	}
}

// Every limit is inclusive: a field at its limit goes through, one byte
// more is refused (a request) or cut (a response's message), both when
// encoding and when reading.
func TestLimits(t *testing.T) {
	at := func(n int) string { return strings.Repeat("n", n) }
	for _, tc := range []struct {
		what string
		r    Request
		ok   bool
	}{
		{"name at its limit", Request{Name: at(MaxName)}, true},
		{"name over", Request{Name: at(MaxName + 1)}, false},
		{"source at its limit", Request{Name: "x", Source: at(MaxSource)}, true},
		{"source over", Request{Name: "x", Source: at(MaxSource + 1)}, false},
		{"data at its limit", Request{Name: "x", Data: make([]byte, MaxData)}, true},
		{"data over", Request{Name: "x", Data: make([]byte, MaxData+1)}, false},
		{"no name", Request{}, false},
	} {
		b, err := AppendRequest(nil, &tc.r)
		if (err == nil) != tc.ok {
			t.Errorf("%s: encode error %v, want ok=%v", tc.what, err, tc.ok)
		}
		if !tc.ok {
			// The same request on the wire is refused by the reader.
			b = binary.BigEndian.AppendUint16([]byte("MSLQ\x01\x01"), uint16(len(tc.r.Name)))
			b = binary.BigEndian.AppendUint16(b, uint16(len(tc.r.Source)))
			b = binary.BigEndian.AppendUint32(b, uint32(len(tc.r.Data)))
			b = append(append(append(b, tc.r.Name...), tc.r.Source...), tc.r.Data...)
		}
		got, _, err := ReadRequest(bytes.NewReader(b), nil)
		if (err == nil) != tc.ok {
			t.Errorf("%s: read error %v, want ok=%v", tc.what, err, tc.ok)
		}
		if tc.ok && (got.Name != tc.r.Name || got.Source != tc.r.Source || len(got.Data) != len(tc.r.Data)) {
			t.Errorf("%s: read back %d/%d/%d bytes", tc.what, len(got.Name), len(got.Source), len(got.Data))
		}
	}
	// A buffer exactly the body's size is used as it is.
	buf := make([]byte, 1+4)
	b, _ := AppendRequest(nil, &Request{Name: "x", Data: []byte("data")})
	if _, nb, err := ReadRequest(bytes.NewReader(b), buf); err != nil || &nb[0] != &buf[0] {
		t.Errorf("a buffer of the body's size was not reused (err %v)", err)
	}
	for _, n := range []int{MaxReason, MaxReason + 1} {
		b := AppendResponse(nil, &Response{Status: OK, Message: at(n)})
		if want := RespHeaderLen + min(n, MaxReason); len(b) != want {
			t.Errorf("a message of %d bytes encodes in %d bytes, want %d", n, len(b), want)
		}
		r, err := ReadResponse(bytes.NewReader(b))
		if err != nil || len(r.Message) != MaxReason {
			t.Errorf("a message of %d bytes reads back as %d bytes, %v", n, len(r.Message), err)
		}
		// A peer that sends one byte more than the limit is refused.
		long := binary.BigEndian.AppendUint16([]byte("MSLA\x01\x00"), uint16(n))
		long = append(long, at(n)...)
		if _, err := ReadResponse(bytes.NewReader(long)); (err == nil) != (n <= MaxReason) {
			t.Errorf("reading a message of %d bytes: %v", n, err)
		}
	}
}

// Ops relay and group travel like writes, their op kept.
func TestOps(t *testing.T) {
	for _, op := range []uint8{OpWrite, OpRelay, OpGroup} {
		b, err := AppendRequest(nil, &Request{Op: op, Name: `HOSTA2\nats\x`, Source: "HOSTA1", Data: []byte("d")})
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := ReadRequest(bytes.NewReader(b), nil)
		if err != nil || r.Op != op || r.Name != `HOSTA2\nats\x` {
			t.Errorf("op %d: %+v %v", op, r, err)
		}
	}
	if _, err := AppendRequestHeadOp(nil, 4, "x", "", 0); !errors.Is(err, ErrFormat) {
		t.Errorf("op 4 encoded: %v", err)
	}
	if Unreachable.String() != "unreachable" {
		t.Error(Unreachable.String())
	}
}
