package main

import (
	"context"
	"sync"
	"time"

	"github.com/parlorchat/parlor/sdk"
)

// roomTTL is how long the module trusts what it read of a room. (The
// module takes no notifications: they would bring it every message of
// the chat, to learn of the rare change of a room.)
const roomTTL = 2 * time.Second

// roomCache keeps the rooms the module read, so that a batch does not
// cost a Host API call.
type roomCache struct {
	rooms sdk.Rooms
	mu    sync.Mutex
	known map[int64]cachedRoom
}

type cachedRoom struct {
	room sdk.Room
	at   time.Time
}

func newRoomCache(r sdk.Rooms) *roomCache {
	return &roomCache{rooms: r, known: map[int64]cachedRoom{}}
}

func (c *roomCache) get(ctx context.Context, id int64) (sdk.Room, error) {
	c.mu.Lock()
	k, ok := c.known[id]
	c.mu.Unlock()
	if ok && time.Since(k.at) < roomTTL {
		return k.room, nil
	}
	r, err := c.rooms.Get(ctx, id)
	if err != nil {
		return sdk.Room{}, err
	}
	c.mu.Lock()
	c.known[id] = cachedRoom{room: r, at: time.Now()}
	c.mu.Unlock()
	return r, nil
}

// perms is what a member may do on a room's board.
type perms struct {
	Draw     bool   `json:"draw"`
	Moderate bool   `json:"moderate"`
	why      string // why Draw is false
}

// permissions decides from the caller's role in the room and the room's
// settings: moderators and administrators draw and moderate; in a
// moderated room only speakers draw besides them; guests draw only where
// the room admits guests (and the operator lets them); everyone else who
// is in the room draws. A muted member never gets here for wb.ops: the
// core refuses the command.
func permissions(c *config, who sdk.Caller, room sdk.Room) perms {
	switch who.Role {
	case sdk.RoleAdmin, sdk.RoleModerator:
		return perms{Draw: true, Moderate: true}
	case sdk.RoleSpeaker:
		return perms{Draw: true}
	}
	if room.Moderated {
		return perms{why: "In a moderated room only speakers and moderators draw on the whiteboard."}
	}
	if who.Role == sdk.RoleGuest {
		if !c.Guests || !room.Guests {
			return perms{why: "Guests may not draw on this whiteboard; log in with an account."}
		}
		return perms{Draw: true}
	}
	if who.Role == sdk.RoleUser {
		return perms{Draw: true}
	}
	return perms{why: "You may not draw on this whiteboard."}
}
