package chat

import (
	"strings"
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// ReasonRoomClosed is the reason of the LeftEvent of a member moved out of
// a room its timetable closed.
const ReasonRoomClosed = "room closed"

// ScheduleState is a module's verdict on a room with opening times: the
// schedule module computes it from the rules, on every node alike, and
// sets it with Group.SetSchedule. The zero value is "not applied": the
// rules are stored and shown, and the room is as open as en says.
type ScheduleState struct {
	// Applied is true once a module set the state.
	Applied bool
	// Closed: the timetable closes the room now. It refuses joins (but
	// of administrators and moderators' moves) and messages of the
	// members still in it (but of administrators).
	Closed bool
	// Next is when that next changes; zero for never.
	Next time.Time
}

// Word is the state as get_rooms and the room list say it: "open",
// "closed" or "off" (not applied).
func (s ScheduleState) Word() string {
	switch {
	case !s.Applied:
		return "off"
	case s.Closed:
		return "closed"
	}
	return "open"
}

// until is prefix and the next change written in loc, or "" when there is
// none.
func (s ScheduleState) until(loc *time.Location, prefix string) string {
	if s.Next.IsZero() {
		return ""
	}
	return prefix + schedule.When(s.Next, loc)
}

// zoneOf is the zone of info's times: its own, else the group's.
func (g *Group) zoneOf(info RoomInfo) *time.Location {
	if info.Zone != "" {
		if loc, err := schedule.LoadZone(info.Zone); err == nil {
			return loc
		}
	}
	return g.zone
}

// Zone is the group's zone for opening times (Options.TimeZone).
func (g *Group) Zone() *time.Location { return g.zone }

// closedToWriters is the error of a message said in a room its timetable
// closed.
func (g *Group) closedToWriters(r *Room) error {
	g.mu.RLock()
	name, s, loc := r.info.Name, r.info.Sched, r.loc
	g.mu.RUnlock()
	return Errorf(CodeRoomClosed, "The room %q is closed%s: you can read, not write.", name, s.until(loc, " until "))
}

// SetSchedule sets the verdict of a room's timetable (see ScheduleState;
// Applied is set). With moveOut, a closing takes the members out of the
// room, administrators excepted, each told when it opens again. A room
// without opening times refuses it (code bad_request), as does a room that
// does not exist (no_such_room). Nothing is sent when the state is the
// same; otherwise the room list changes, and modules hear room_changed.
func (g *Group) SetSchedule(id int64, s ScheduleState, moveOut bool) (RoomInfo, error) {
	s.Applied = true
	if !s.Next.IsZero() {
		s.Next = s.Next.UTC()
	}
	g.mu.Lock()
	r, ok := g.rooms[id]
	if !ok {
		g.mu.Unlock()
		return RoomInfo{}, Errorf(CodeNoSuchRoom, "There is no room %d.", id)
	}
	if len(r.info.Schedule) == 0 {
		g.mu.Unlock()
		return RoomInfo{}, Errorf(CodeBadRequest, "The room %d has no opening times.", id)
	}
	old := r.info.Sched
	changed := old.Applied != s.Applied || old.Closed != s.Closed || !old.Next.Equal(s.Next)
	r.info.Sched = s
	r.closed.Store(s.Closed)
	info, loc := r.info, r.loc
	g.mu.Unlock()
	if changed {
		g.observe(sdk.RoomChanged, "", id, nil)
		g.roomChanged(id)
		g.changed()
	}
	if s.Closed && moveOut {
		text := "The room " + info.Name + " has closed" + s.until(loc, "; it opens again at ") + "."
		for _, m := range r.list() {
			// A remote member's own node moves it out (every node
			// computes the schedules).
			if m.Admin || m.IsRemote() {
				continue
			}
			g.takeOut(m, id, func(*Room) []*Frame {
				return []*Frame{
					NewFrame(NoticeEvent{Type: "notice", Text: text}),
					NewFrame(LeftEvent{Type: "left", Room: id, Reason: ReasonRoomClosed}),
				}
			})
		}
	}
	return info, nil
}

// CheckZone reports whether name is an IANA zone opening times can be read
// in ("" passes: the group's).
func CheckZone(name string) error {
	if strings.TrimSpace(name) == "" {
		return nil
	}
	_, err := schedule.LoadZone(name)
	return err
}
