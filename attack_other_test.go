//go:build !linux && !windows

package mailslot_test

// attackHelper knows no role here: the attackers of attack_test.go make
// Linux memfds, and the second user they run as needs Linux's asuser
// setup. The portable transport's attacker tests are internal/local's.
func attackHelper(role, arg string) (code int, ok bool) { return 0, false }
