package wire

import (
	"bytes"
	"testing"
)

// The hot path of a mailslot host: one 100-byte record as a full datagram
// (NetBIOS header and names, SMB transaction, mailslot name, data).

func benchDatagram() (Datagram, MailslotWrite) {
	d := Datagram{Type: DirectUnique, Flags: NewDatagramFlags(BNode), ID: 7, SourceIP: testIP, SourcePort: 138,
		SourceName: testSrc, DestinationName: testDst}
	w := MailslotWrite{Name: `\MAILSLOT\BENCH`, Class: ClassUnreliable, Data: bytes.Repeat([]byte{0x42}, 100)}
	return d, w
}

func BenchmarkEncodeMailslotDatagram100(b *testing.B) {
	d, w := benchDatagram()
	buf := make([]byte, 0, MaxDatagramSize)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = AppendMailslotDatagram(buf[:0], &d, &w)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeMailslotDatagram100(b *testing.B) {
	d, w := benchDatagram()
	pkt, err := AppendMailslotDatagram(nil, &d, &w)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		_, w, err := DecodeMailslotDatagram(pkt)
		if err != nil || len(w.Data) != 100 {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeNameQuery(b *testing.B) {
	q := NewNameQuery(1, testDst, true)
	pkt, _ := AppendNameService(nil, &q)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeNameService(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeHostAnnouncement(b *testing.B) {
	pkts := readHexLines(b, "nmbd-dgm.hex")
	_, w, err := DecodeMailslotDatagram(pkts[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAnnouncement(w.Data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAllocations pins the allocation counts the benchmarks report, so a
// regression fails the tests (allocation counts, unlike timings, are
// deterministic).
func TestAllocations(t *testing.T) {
	d, w := benchDatagram()
	buf := make([]byte, 0, MaxDatagramSize)
	if n := testing.AllocsPerRun(100, func() { buf, _ = AppendMailslotDatagram(buf[:0], &d, &w) }); n != 0 {
		t.Errorf("encode: %v allocations, want 0", n)
	}
	pkt, _ := AppendMailslotDatagram(nil, &d, &w)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = DecodeMailslotDatagram(pkt) }); n > 1 {
		t.Errorf("decode: %v allocations, want at most 1 (the mailslot name)", n)
	}
	var name [64]byte
	enc, _ := AppendName(name[:0], testSrc)
	if n := testing.AllocsPerRun(100, func() { _, _, _ = DecodeName(enc) }); n != 0 {
		t.Errorf("DecodeName: %v allocations, want 0", n)
	}
}
