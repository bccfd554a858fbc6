package chat

import (
	"context"
	"strings"
	"time"
)

// The operations below are what the Host API (core/hostapi) does for
// modules: messaging, moderation and publishing on a user's behalf.

// SendUser sends f to the user logged in as name and reports whether it
// was queued; a user that cannot keep up is dropped.
func (g *Group) SendUser(name string, f *Frame) bool {
	m, ok := g.Online(name)
	if !ok {
		return false
	}
	return g.sendMembers(f, []*Member{m}) == 1
}

// SendRoom sends f to every member of a room, in order with the room's
// messages and presence, and returns how many it reached.
//
// With a Link the room's members on the other nodes get it too; the
// count is of this node's.
func (g *Group) SendRoom(roomID int64, f *Frame) (int, error) {
	n, err := g.sendRoom(roomID, f)
	if err == nil && g.opts.Link != nil {
		g.opts.Link.SendRoom(roomID, f)
	}
	return n, err
}

// sendRoom is SendRoom on this node only.
func (g *Group) sendRoom(roomID int64, f *Frame) (int, error) {
	r, _, err := g.room(roomID)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	n := r.count()
	slow := r.send(f, nil)
	r.mu.Unlock()
	g.drop(slow)
	return n - len(slow), nil
}

// SendModerators sends f to the online users who moderate a room
// (administrators and the room's owner list), wherever they are, and
// returns how many it reached. For a room that does not exist it reaches
// the administrators.
func (g *Group) SendModerators(roomID int64, f *Frame) int {
	info, _ := g.RoomInfo(roomID)
	return g.sendMembers(f, g.onlineUsers(func(m *Member) bool {
		return m.Admin || inList(info.Owner, m.Name)
	}))
}

// SendAll sends f to every logged-in user and returns how many it
// reached.
func (g *Group) SendAll(f *Frame) int {
	return g.sendMembers(f, g.onlineUsers(nil))
}

// Kick takes the user logged in as name out of a room: they get a notice
// and a left event with the reason, the others a presence leave. The
// cooldown before they may come back is a kick sanction
// (Options.Sanctions), which the caller records.
func (g *Group) Kick(name string, roomID int64, reason string) error {
	m, ok := g.Online(name)
	if !ok {
		return Errorf(CodeNotOnline, "%s is not online.", name)
	}
	reason = strings.TrimSpace(reason)
	if m.IsRemote() && g.opts.Link != nil {
		ctx, cancel := context.WithTimeout(context.Background(), g.opts.SaveTimeout)
		defer cancel()
		return g.opts.Link.Kick(ctx, m, roomID, reason)
	}
	r, _ := g.takeOut(m, roomID, func(r *Room) []*Frame {
		g.mu.RLock()
		room := r.info.Name
		g.mu.RUnlock()
		text := "You were kicked out of the room " + room + "."
		why := ReasonKicked
		if reason != "" {
			text = "You were kicked out of the room " + room + ": " + reason + "."
			why = reason
		}
		return []*Frame{
			NewFrame(NoticeEvent{Type: "notice", Text: text}),
			NewFrame(LeftEvent{Type: "left", Room: r.id, Reason: why}),
		}
	})
	if r == nil {
		return Errorf(CodeNotInRoom, "%s is not in the room %d.", m.Name, roomID)
	}
	return nil
}

// Move puts the user logged in as name into another room, as a
// moderator does: the room's capacity, password and closed state do not
// apply, its registered-users rule and its sanctions do (a user banned
// from the room, or kicked out of it and in the cooldown, is refused
// with banned or kicked: lift the sanction first). The user gets a
// left event for the room they were in (reason "moved") and a joined
// event for the new one; both rooms get presence.
func (g *Group) Move(name string, to int64) error {
	m, ok := g.Online(name)
	if !ok {
		return Errorf(CodeNotOnline, "%s is not online.", name)
	}
	if m.IsRemote() && g.opts.Link != nil {
		ctx, cancel := context.WithTimeout(context.Background(), g.opts.SaveTimeout)
		defer cancel()
		return g.opts.Link.Move(ctx, m, to)
	}
	if g.RoomOf(m) != to {
		if err := g.joinSanctions(m, to); err != nil {
			return err
		}
	}
	_, err := g.join(m, to, "", joinHow{force: true})
	return err
}

// SayAs publishes a public message from the user called from, who need
// not be online or in the room, through the group commit as Say does. It
// returns once the message is delivered, or with the not_saved error.
func (g *Group) SayAs(from string, roomID int64, text string, style Style, emotion string) (Message, error) {
	return g.SayAt(from, roomID, text, style, emotion, time.Time{})
}

// SayAt is SayAs dated at (the time a held message was written, when a
// moderator releases it): the room and history get the message with that
// time, under a new id. A zero at dates it now.
func (g *Group) SayAt(from string, roomID int64, text string, style Style, emotion string, at time.Time) (Message, error) {
	text, err := g.CleanText(text)
	if err != nil {
		return Message{}, err
	}
	r, _, err := g.room(roomID)
	if err != nil {
		return Message{}, err
	}
	author := &Member{Name: from, Conn: nopConn{}}
	return g.publish(r, author, Message{
		Group: g.opts.Name, RoomID: r.id, From: from, Time: at.UTC(),
		Text: text, Style: CleanStyle(style), Emotion: CleanEmotion(emotion),
	}, waitAlways)
}

// nopConn takes and forgets every frame: the connection of an author
// that is not online.
type nopConn struct{}

func (nopConn) Send(*Frame) bool { return true }
func (nopConn) Close(string)     {}
