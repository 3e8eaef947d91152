//go:build !windows

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
	p      Policy
	groups func(uid uint32) ([]uint32, error) // a user's groups, primary and supplementary
	mu     sync.Mutex
	cache  map[uint32]bool
}

// maxCachedUsers bounds the group look-ups a checker remembers.
const maxCachedUsers = 4096

func newChecker(p Policy) *checker { return &checker{p: p, groups: userGroups} }

// userGroups returns the groups of a user in the user database.
func userGroups(uid uint32) ([]uint32, error) {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	gids := make([]uint32, 0, len(ids))
	for _, g := range ids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			gids = append(gids, uint32(n))
		}
	}
	return gids, nil
}

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
	// A user the database does not know is in no group beyond gid.
	if gids, err := c.groups(uid); err == nil {
		ok = slices.ContainsFunc(gids, func(g uint32) bool { return slices.Contains(p.GIDs, g) })
	}
	if c.cache == nil {
		c.cache = make(map[uint32]bool)
	}
	if len(c.cache) >= maxCachedUsers {
		clear(c.cache)
	}
	c.cache[uid] = ok
	return ok
}
