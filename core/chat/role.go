package chat

import (
	"strings"

	"github.com/parlorchat/parlor/sdk"
)

// Role is what a member may do in a room; the sdk's type, so that
// clients, the core and modules speak of the same values.
type Role = sdk.Role

// inList reports whether name is in a comma-separated list of names
// (the seed's owner and speaker lists), compared by NameKey.
func inList(list, name string) bool {
	if list == "" {
		return false
	}
	key := NameKey(name)
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" && NameKey(n) == key {
			return true
		}
	}
	return false
}

// RoleIn returns the role m has in a room with the given definition:
// admin > moderator (owner list) > speaker > user > guest.
func RoleIn(m *Member, info RoomInfo) Role {
	switch {
	case m.Admin:
		return sdk.RoleAdmin
	case inList(info.Owner, m.Name):
		return sdk.RoleModerator
	case inList(info.Speaker, m.Name):
		return sdk.RoleSpeaker
	case m.Guest:
		return sdk.RoleGuest
	}
	return sdk.RoleUser
}
