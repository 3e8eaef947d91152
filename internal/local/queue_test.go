//go:build !windows

package local

import (
	"bytes"
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"testing"
)

// The queue gives back every record, with its metadata, in order, across
// chunk boundaries and for records larger than a chunk; its byte count is
// exact and returns to zero.
func TestQueueRoundTrip(t *testing.T) {
	var q queue
	sizes := []int{0, 1, 100, 4096, chunkSize - recHeader - 7, chunkSize + 10, 3, 65536}
	var want [][]byte
	total := 0
	for i := 0; i < 40; i++ {
		n := sizes[i%len(sizes)]
		data := bytes.Repeat([]byte{byte(i)}, n)
		origin := ""
		if i%3 == 0 {
			origin = fmt.Sprintf(`\\HOST%d (10.0.0.%d:138)`, i, i)
		}
		q.Push(data, Meta{PID: int32(i), UID: uint32(1000 + i), Time: int64(i) * 7, Origin: origin})
		want = append(want, data)
		total += Cost(n, origin)
		if q.Len() != i+1 || q.Bytes() != total {
			t.Fatalf("after %d pushes: Len %d Bytes %d, want %d %d", i+1, q.Len(), q.Bytes(), i+1, total)
		}
	}
	var seen int
	q.Each(func(payload []byte, m Meta) {
		if !bytes.Equal(payload, want[seen]) || m.PID != int32(seen) {
			t.Fatalf("Each: record %d differs", seen)
		}
		seen++
	})
	if seen != len(want) {
		t.Fatalf("Each saw %d records, want %d", seen, len(want))
	}
	for i, w := range want {
		if q.NextSize() != len(w) {
			t.Fatalf("record %d: NextSize %d, want %d", i, q.NextSize(), len(w))
		}
		if len(w) > 0 {
			// Too small a buffer leaves the record queued.
			if _, n, _, fit := q.Pop(make([]byte, len(w)-1), false); fit || n != len(w) || q.Len() != len(want)-i {
				t.Fatalf("record %d: Pop into a short buffer: fit %v n %d Len %d", i, fit, n, q.Len())
			}
		}
		alloc := i%2 == 0
		buf := make([]byte, len(w)+5)
		out, n, m, fit := q.Pop(buf, alloc)
		if !fit || n != len(w) || !bytes.Equal(out, w) {
			t.Fatalf("record %d: Pop = %d bytes, fit %v", i, n, fit)
		}
		if m.PID != int32(i) || m.UID != uint32(1000+i) || m.Time != int64(i)*7 {
			t.Fatalf("record %d: meta %+v", i, m)
		}
		wantOrigin := ""
		if alloc && i%3 == 0 {
			wantOrigin = fmt.Sprintf(`\\HOST%d (10.0.0.%d:138)`, i, i)
		}
		if m.Origin != wantOrigin {
			t.Fatalf("record %d: origin %q, want %q", i, m.Origin, wantOrigin)
		}
		total -= Cost(len(w), func() string {
			if i%3 == 0 {
				return fmt.Sprintf(`\\HOST%d (10.0.0.%d:138)`, i, i)
			}
			return ""
		}())
		if q.Bytes() != total {
			t.Fatalf("record %d: Bytes %d, want %d", i, q.Bytes(), total)
		}
	}
	if q.Len() != 0 || q.Bytes() != 0 || q.NextSize() != -1 {
		t.Fatalf("empty queue: Len %d Bytes %d NextSize %d", q.Len(), q.Bytes(), q.NextSize())
	}
	if _, _, _, fit := q.Pop(nil, true); fit {
		t.Fatal("Pop of an empty queue succeeded")
	}
	q.Push([]byte("x"), Meta{})
	q.Reset()
	if q.Len() != 0 || q.Bytes() != 0 {
		t.Fatal("Reset left records")
	}
}

// The policy: the owner and root always, any user when open to all, the
// users and groups named (primary or supplementary), nobody else.
func TestPolicy(t *testing.T) {
	const owner, other, stranger = 1000, 1001, 1002
	for _, tc := range []struct {
		p        Policy
		uid, gid uint32
		want     bool
	}{
		{Policy{Owner: owner}, owner, 5000, true},
		{Policy{Owner: owner}, 0, 0, true},
		{Policy{Owner: owner}, other, 5000, false},
		{Policy{Owner: owner, AnyUser: true}, stranger, 5000, true},
		{Policy{Owner: owner, UIDs: []uint32{other}}, other, 5000, true},
		{Policy{Owner: owner, UIDs: []uint32{other}}, stranger, 5000, false},
		{Policy{Owner: owner, GIDs: []uint32{5000}}, stranger, 5000, true},
		{Policy{Owner: owner, GIDs: []uint32{5000}}, stranger, 5001, false},
	} {
		if got := newChecker(tc.p).allows(tc.uid, tc.gid); got != tc.want {
			t.Errorf("%+v allows uid %d gid %d = %v, want %v", tc.p, tc.uid, tc.gid, got, tc.want)
		}
	}
	// Supplementary groups, from a user database the test makes: users
	// 1001 and 1002 are members of 7000 besides their own group; 1003 is
	// unknown to it.
	db := map[uint32][]uint32{other: {other, 7000}, stranger: {stranger, 7000, 7001}}
	lookups := 0
	groups := func(uid uint32) ([]uint32, error) {
		lookups++
		g, ok := db[uid]
		if !ok {
			return nil, errors.New("unknown user")
		}
		return g, nil
	}
	for _, tc := range []struct {
		gids     []uint32
		uid, gid uint32
		want     bool
	}{
		{[]uint32{7000}, other, 9999, true},    // supplementary
		{[]uint32{7001}, stranger, 9999, true}, // the last of several
		{[]uint32{7001}, other, 9999, false},   // not a member
		{[]uint32{7000}, 1003, 9999, false},    // unknown user
		{[]uint32{7000}, 1003, 7000, true},     // unknown user, primary group named
		{[]uint32{other}, other, 9999, true},   // a user's own group, from the database
		{nil, other, 7000, false},              // no groups named: nobody by group
	} {
		c := newChecker(Policy{Owner: owner, GIDs: tc.gids})
		c.groups = groups
		if got := c.allows(tc.uid, tc.gid); got != tc.want {
			t.Errorf("groups %v allow uid %d gid %d = %v, want %v", tc.gids, tc.uid, tc.gid, got, tc.want)
		}
	}
	// Look-ups are cached, boundedly.
	c := newChecker(Policy{Owner: owner, GIDs: []uint32{7000}})
	c.groups = groups
	lookups = 0
	for range 3 {
		if !c.allows(other, 9999) {
			t.Fatal("a member refused")
		}
	}
	if lookups != 1 {
		t.Errorf("%d look-ups of one user, want 1 (cached)", lookups)
	}
	for uid := uint32(20000); uid < 20000+maxCachedUsers+10; uid++ {
		c.allows(uid, 9999)
	}
	if len(c.cache) > maxCachedUsers {
		t.Errorf("cache of %d users, want at most %d", len(c.cache), maxCachedUsers)
	}
	// Exactly: a full cache holds maxCachedUsers users, and the next one
	// starts it afresh.
	c = newChecker(Policy{Owner: owner, GIDs: []uint32{7000}})
	c.groups = groups
	for uid := uint32(30000); uid < 30000+maxCachedUsers; uid++ {
		c.allows(uid, 9999)
	}
	if len(c.cache) != maxCachedUsers {
		t.Errorf("after %d users: cache of %d", maxCachedUsers, len(c.cache))
	}
	lookups = 0
	c.allows(other, 9999)
	c.allows(30000, 9999)
	if len(c.cache) != 2 || lookups != 2 {
		t.Errorf("past a full cache: cache of %d users, %d look-ups; want 2 and 2", len(c.cache), lookups)
	}

	// A writer's other groups come from the user database: user daemon
	// (on every Debian system) writing with an effective gid that is not
	// its group is still a member of its group.
	u, err := user.Lookup("daemon")
	if err != nil {
		t.Fatalf("this test needs the user daemon: %v", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	member := newChecker(Policy{Owner: owner, GIDs: []uint32{uint32(gid)}})
	for range 2 { // the second answer comes from the cache
		if !member.allows(uint32(uid), 99999) {
			t.Errorf("user daemon, a member of group %d, is refused by a policy naming it", gid)
		}
	}
	outsider := newChecker(Policy{Owner: owner, GIDs: []uint32{4242424}})
	if outsider.allows(uint32(uid), 99999) {
		t.Error("user daemon is allowed by a policy naming a group it is not in")
	}
}
