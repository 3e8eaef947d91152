package local

import (
	"os/user"
	"slices"
	"strconv"
	"sync"
)

// Policy says which local users may write to a slot. By default, as on
// Windows, only the server's own user and root may.
type Policy struct {
	Owner   uint32   // the server's user; always allowed
	AnyUser bool     // every local user may write
	UIDs    []uint32 // further users allowed
	GIDs    []uint32 // members of these groups allowed (primary or supplementary)
}

// checker applies a Policy, caching group look-ups per user.
type checker struct {
	p     Policy
	mu    sync.Mutex
	cache map[uint32]bool
}

func newChecker(p Policy) *checker { return &checker{p: p} }

// allows reports whether a writer with this user and (effective) group may
// write. It is called for every record, so the common answers come first.
func (c *checker) allows(uid, gid uint32) bool {
	p := &c.p
	if uid == p.Owner || uid == 0 || p.AnyUser {
		return true
	}
	if slices.Contains(p.UIDs, uid) {
		return true
	}
	if len(p.GIDs) == 0 {
		return false
	}
	if slices.Contains(p.GIDs, gid) {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok, seen := c.cache[uid]; seen {
		return ok
	}
	ok := false
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		if groups, err := u.GroupIds(); err == nil {
			for _, g := range groups {
				if n, err := strconv.ParseUint(g, 10, 32); err == nil && slices.Contains(p.GIDs, uint32(n)) {
					ok = true
					break
				}
			}
		}
	}
	if c.cache == nil {
		c.cache = make(map[uint32]bool)
	}
	if len(c.cache) > 4096 {
		clear(c.cache)
	}
	c.cache[uid] = ok
	return ok
}
