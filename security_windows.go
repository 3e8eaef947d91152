//go:build windows

package mailslot

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/mailslot-go/mailslot/internal/errs"
	"golang.org/x/sys/windows"
)

// Access rights in a slot's DACL, as SDDL writes them: the creating
// user, SYSTEM and Administrators get all rights (GA); writers get the
// rights a client's CreateFileW(GENERIC_WRITE) asks for (FW, that is
// FILE_GENERIC_WRITE).
const (
	sddlAll   = "GA"
	sddlWrite = "FW"
)

// slotSDDL returns the security descriptor, in SDDL, of a slot created
// with o by the user owner (a SID string). The DACL is protected: it
// inherits nothing.
func slotSDDL(owner string, o options) (string, error) {
	var b strings.Builder
	b.WriteString("D:P")
	ace := func(rights, sid string) { fmt.Fprintf(&b, "(A;;%s;;;%s)", rights, sid) }
	ace(sddlAll, "SY")
	ace(sddlAll, "BA")
	ace(sddlAll, owner)
	if o.anyUser {
		ace(sddlWrite, "WD")
	}
	if len(o.uids)+len(o.gids) > 0 {
		dom, err := accountDomain()
		if err != nil {
			return "", err
		}
		for _, id := range append(append([]uint32{}, o.uids...), o.gids...) {
			ace(sddlWrite, fmt.Sprintf("%s-%d", dom, id))
		}
	}
	for _, s := range o.sids {
		sid, err := windows.StringToSid(s)
		if err != nil {
			return "", fmt.Errorf("%w: %q is not a SID: %v", errs.InvalidName, s, err)
		}
		ace(sddlWrite, sid.String())
	}
	return b.String(), nil
}

// securityAttributes returns the security attributes CreateMailslotW gets
// for a slot created with o.
func securityAttributes(o options) (*windows.SecurityAttributes, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("this process's user: %w", err)
	}
	sddl, err := slotSDDL(tu.User.Sid.String(), o)
	if err != nil {
		return nil, err
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return nil, fmt.Errorf("security descriptor %s: %w", sddl, err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return sa, nil
}

// accountDomain returns the SID of this computer's account domain, whose
// accounts WithAllowUsers and WithAllowGroups name by relative ID.
func accountDomain() (string, error) {
	buf := make([]uint16, windows.MAX_COMPUTERNAME_LENGTH+1)
	n := uint32(len(buf))
	if err := windows.GetComputerName(&buf[0], &n); err != nil {
		return "", fmt.Errorf("this computer's name: %w", err)
	}
	name := windows.UTF16ToString(buf[:n])
	sid, _, typ, err := windows.LookupSID("", name)
	if err != nil {
		return "", fmt.Errorf("the account domain of %s: %w", name, err)
	}
	if typ != windows.SidTypeDomain {
		return "", fmt.Errorf("the account domain of %s: %s is a SID of type %d, not a domain", name, sid, typ)
	}
	return sid.String(), nil
}
