package chat

// Sanctioned returns the refusal (a *Error with code banned, kicked or
// muted) of a sanction of kind ("ban", "mute", "kick") that applies to m
// in room (0: everywhere), or nil. This stand-in knows no sanctions; the
// sanctions of chat.Options replace it.
func (g *Group) Sanctioned(m *Member, kind string, room int64) error {
	return nil
}

// RoomOf returns the id of the room m is in, or 0.
func (g *Group) RoomOf(m *Member) int64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if m.room == nil {
		return 0
	}
	return m.room.info.ID
}
