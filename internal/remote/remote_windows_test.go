//go:build windows

package remote

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mailslot-go/mailslot/internal/hostinfo"
	"github.com/mailslot-go/mailslot/internal/wire"
	"golang.org/x/sys/windows"
)

// wine reports whether this process runs under Wine, whose ntdll exports
// wine_get_version.
var wine = windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil

// lackUDPConnReset is what Wine (8) lacks that TestDatagramFromWindows
// needs.
const lackUDPConnReset = "SIO_UDP_CONNRESET: Wine 8's WSAIoctl refuses it (WSAEOPNOTSUPP), and Go's net package sets it on every UDP socket, so no Go program opens one there"

// wineLacksUDP reports, under Wine, that no UDP socket can be opened
// (lackUDPConnReset), and logs it for the test; elsewhere it is false.
func wineLacksUDP(t *testing.T) bool {
	t.Helper()
	if !wine {
		return false
	}
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if errors.Is(err, windows.WSAEOPNOTSUPP) {
		t.Logf("WINE LACKS %s", lackUDPConnReset)
		return true
	}
	if err == nil {
		pc.Close()
	}
	return false
}

// On Windows, a record to a computer goes as this package's own NetBIOS
// datagram ([MS-MAIL] mailslot write), from this computer's NetBIOS name
// as Windows tells it, never through the system's mailslot client. Here
// the computer is 127.0.0.1 and its datagram port a socket of the test's.
func TestDatagramFromWindows(t *testing.T) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if wine && errors.Is(err, windows.WSAEOPNOTSUPP) {
		t.Logf("WINE LACKS %s", lackUDPConnReset)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	w, err := Open("127.0.0.1", `test\win`)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer w.Close()
	if w.Resolution().Addr != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("127.0.0.1 resolved to %v", w.Resolution())
	}
	w.self.DgramPort = pc.LocalAddr().(*net.UDPAddr).Port
	w.DatagramsOnly = true // no stream port to probe here
	if err := w.Write([]byte("hello from Windows"), 0); err != nil {
		t.Fatalf("Write: %v", err)
	}
	buf := make([]byte, 1024)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	d, err := wire.DecodeDatagram(buf[:n])
	if err != nil {
		t.Fatalf("the datagram does not decode: %v", err)
	}
	if d.Type != wire.DirectUnique {
		t.Errorf("datagram type %v, want DIRECT_UNIQUE", d.Type)
	}
	me := hostinfo.Lookup()
	if d.SourceName.Name() != me.Name {
		t.Errorf("source name %q, want this computer's %q", d.SourceName.Name(), me.Name)
	}
	mw, err := wire.DecodeMailslotWrite(d.UserData)
	if err != nil {
		t.Fatalf("the mailslot write does not decode: %v", err)
	}
	if mw.Name != `\MAILSLOT\TEST\WIN` || string(mw.Data) != "hello from Windows" {
		t.Fatalf("wrote %q to %s", mw.Data, mw.Name)
	}
}

// Windows tells this computer's NetBIOS name and workgroup.
func TestHostInfoFromWindows(t *testing.T) {
	info, err := hostinfo.LookupChecked()
	if err != nil {
		t.Fatalf("LookupChecked: %v", err)
	}
	if info.Name == "" || len(info.Name) > 15 || info.Workgroup == "" {
		t.Fatalf("hostinfo = %+v", info)
	}
	if info.DgramPort != 138 || info.NamePort != 137 {
		t.Fatalf("ports %+v", info)
	}
}
