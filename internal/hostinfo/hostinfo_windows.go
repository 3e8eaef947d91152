//go:build windows

// Package hostinfo tells clients on a computer who that computer is on
// the LAN: its NetBIOS name, workgroup and the ports mailslot hosts use.
//
// On Windows, where mailslotd does not run (the system's NetBT driver
// owns UDP 138), Windows itself says: the NetBIOS computer name
// (GetComputerNameExW) and the workgroup or domain the computer belongs
// to (NetGetJoinInformation).
package hostinfo

import (
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Lookup returns who this computer is, as Windows tells it, with the
// default ports.
func Lookup() Info {
	info, _ := LookupChecked()
	return info
}

// LookupChecked returns who this computer is, as Windows tells it. Where
// Windows does not answer, it returns the defaults (Default) for what it
// could not learn, and the first error.
func LookupChecked() (Info, error) {
	info := Default()
	var first error
	if name, err := netbiosName(); err == nil {
		info.Name = name
	} else {
		first = err
	}
	if wg, err := joinedGroup(); err == nil {
		if wg != "" {
			info.Workgroup = wg
		}
	} else if first == nil {
		first = err
	}
	return info, first
}

// HostName returns this computer's NetBIOS name, or LOCALHOST when
// Windows does not tell it.
func HostName() string {
	if n, err := netbiosName(); err == nil && n != "" {
		return n
	}
	return "LOCALHOST"
}

func netbiosName() (string, error) {
	buf := make([]uint16, windows.MAX_COMPUTERNAME_LENGTH+1)
	n := uint32(len(buf))
	if err := windows.GetComputerNameEx(windows.ComputerNameNetBIOS, &buf[0], &n); err != nil {
		return "", err
	}
	name := strings.ToUpper(windows.UTF16ToString(buf[:n]))
	if len(name) > 15 {
		name = name[:15]
	}
	return name, nil
}

// joinedGroup returns the workgroup or domain the computer is joined to,
// "" when it is joined to neither.
func joinedGroup() (string, error) {
	var name *uint16
	var status uint32
	if err := windows.NetGetJoinInformation(nil, &name, &status); err != nil {
		return "", err
	}
	defer windows.NetApiBufferFree((*byte)(unsafe.Pointer(name)))
	if status != windows.NetSetupWorkgroupName && status != windows.NetSetupDomainName {
		return "", nil
	}
	return strings.ToUpper(windows.UTF16PtrToString(name)), nil
}
