//go:build windows

package mailslot

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// wine reports whether this process runs under Wine, whose ntdll exports
// wine_get_version.
var wine = windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil

// lackOpenAccessCheck is what Wine (8) lacks that TestOpenRefusedByTheDACL
// needs.
const lackOpenAccessCheck = "the access check of a client's open: Wine 8's CreateFileW opens a mailslot for writing whatever its DACL says"

// The DACL a slot gets: all rights for SYSTEM, Administrators and the
// creating user, write rights for those the options name.
func TestSlotSDDL(t *testing.T) {
	const me = "S-1-5-21-1-2-3-1001"
	for _, tc := range []struct {
		opts []Option
		want string
	}{
		{nil, "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;" + me + ")"},
		{[]Option{WithAnyUser()}, "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;" + me + ")(A;;FW;;;WD)"},
		{[]Option{WithAllowSIDs("S-1-5-32-545", "S-1-5-21-9-9-9-1234")},
			"D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;" + me + ")(A;;FW;;;S-1-5-32-545)(A;;FW;;;S-1-5-21-9-9-9-1234)"},
	} {
		got, err := slotSDDL(me, buildOptions(tc.opts))
		if err != nil || got != tc.want {
			t.Errorf("slotSDDL = %q, %v; want %q", got, err, tc.want)
		}
	}
	if _, err := slotSDDL(me, buildOptions([]Option{WithAllowSIDs("not a sid")})); !errors.Is(err, ErrInvalidName) {
		t.Errorf("a bad SID: %v, want ErrInvalidName", err)
	}
}

// WithAllowUsers and WithAllowGroups name accounts of this computer's
// account domain by relative ID.
func TestAllowUsersAreAccountDomainRIDs(t *testing.T) {
	dom, err := accountDomain()
	if err != nil {
		t.Fatal(err)
	}
	got, err := slotSDDL("S-1-5-18", buildOptions([]Option{WithAllowUsers(1001), WithAllowGroups(513)}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(A;;FW;;;" + dom + "-1001)", "(A;;FW;;;" + dom + "-513)"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q has no %q", got, want)
		}
	}
}

// The slot Windows made carries that DACL, as GetSecurityInfo reads it
// back from the handle.
func TestSlotHasTheDACL(t *testing.T) {
	s, err := Create(`\\.\mailslot\test\dacl`, WithAllowSIDs("S-1-5-32-545"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err := s.sys.acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer s.sys.release()
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatalf("GetSecurityInfo: %v", err)
	}
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	// Windows maps the generic rights of the ACEs to a file's own at
	// creation (GA becomes FA), Wine keeps them as given: either holds.
	got := sd.String()
	for _, who := range []string{"SY", "BA", tu.User.Sid.String()} {
		if !strings.Contains(got, "(A;;GA;;;"+who+")") && !strings.Contains(got, "(A;;FA;;;"+who+")") {
			t.Errorf("the slot's security descriptor %s gives %s no full access", got, who)
		}
	}
	if !strings.Contains(got, "(A;;FW;;;BU)") {
		t.Errorf("the slot's security descriptor %s does not let BUILTIN\\Users write", got)
	}
	if strings.Contains(got, ";;;WD)") {
		t.Errorf("the slot's security descriptor %s lets everyone in", got)
	}
}

// A writer the DACL does not name is refused at Open with ErrPermission,
// and the Windows error stays in the chain.
func TestOpenRefusedByTheDACL(t *testing.T) {
	const name = `\\.\mailslot\test\refused`
	// This user may read (and, as the owner, change the DACL), only
	// SYSTEM may write: this test does not run as SYSTEM.
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	sd, err := windows.SecurityDescriptorFromString("D:P(A;;GA;;;SY)(A;;GR;;;" + tu.User.Sid.String() + ")")
	if err != nil {
		t.Fatal(err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	h, err := createMailslot(name, 0, 0, sa)
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(h)
	c, err := Open(name)
	if err == nil {
		c.Close()
		if wine {
			t.Logf("WINE LACKS %s", lackOpenAccessCheck)
			return
		}
		t.Fatal("Open for writing of a slot whose DACL lets only SYSTEM write succeeded")
	}
	if !errors.Is(err, ErrPermission) || !errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		t.Fatalf("Open = %v, want ErrPermission with ERROR_ACCESS_DENIED", err)
	}
}
