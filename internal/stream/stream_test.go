package stream

import (
	"bytes"
	"errors"
	"io"
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
