package sdk

import (
	"time"

	"github.com/parlorchat/parlor/sdk/proto"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// Conversions between the sdk's hook types and their wire form.

func capabilitiesToProto(c Capabilities) *proto.Capabilities {
	return &proto.Capabilities{
		Hooks: c.Hooks, Commands: c.Commands, Quiet: c.Quiet, HttpPrefix: c.HTTPPrefix,
		Assets: c.Assets, Client: c.Client, FailClosed: c.FailClosed, Notify: kindsToProto(c.Notify),
	}
}

func kindsToProto(kinds []NotificationKind) []string {
	if len(kinds) == 0 {
		return nil
	}
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

func kindsFromProto(kinds []string) []NotificationKind {
	if len(kinds) == 0 {
		return nil
	}
	out := make([]NotificationKind, len(kinds))
	for i, k := range kinds {
		out[i] = NotificationKind(k)
	}
	return out
}

func capabilitiesFromProto(c *proto.Capabilities) Capabilities {
	if c == nil {
		return Capabilities{}
	}
	return Capabilities{
		Hooks: c.GetHooks(), Commands: c.GetCommands(), Quiet: c.GetQuiet(), HTTPPrefix: c.GetHttpPrefix(),
		Assets: c.GetAssets(), Client: c.GetClient(), FailClosed: c.GetFailClosed(), Notify: kindsFromProto(c.GetNotify()),
	}
}

func callerToProto(c Caller) *proto.ModuleCaller {
	return &proto.ModuleCaller{Name: c.Name, Display: c.Display, Role: string(c.Role), Ip: c.IP, Room: c.Room}
}

func callerFromProto(c *proto.ModuleCaller) Caller {
	return Caller{Name: c.GetName(), Display: c.GetDisplay(), Role: Role(c.GetRole()), IP: c.GetIp(), Room: c.GetRoom()}
}

func styleToProto(s Style) *proto.Style {
	if s == (Style{}) {
		return nil
	}
	return &proto.Style{Bold: s.Bold, Italic: s.Italic, Underline: s.Underline, Color: s.Color}
}

func styleFromProto(s *proto.Style) Style {
	return Style{Bold: s.GetBold(), Italic: s.GetItalic(), Underline: s.GetUnderline(), Color: s.GetColor()}
}

// roomToProto carries the password, which only a plugin sets (creating
// or editing a room); the host's rooms never hold it (chat.RoomView).
func roomToProto(r Room) *proto.Room {
	return &proto.Room{
		Id: r.ID, Name: r.Name, Desc: r.Desc, Owner: r.Owner, Speaker: r.Speaker, Max: int32(r.Max),
		Guests: r.Guests, Password: r.Password, Locked: r.Locked || r.Password != "", Open: r.Open,
		Moderated: r.Moderated, Welcome: r.Welcome, Audio: r.Audio, Video: r.Video, Whiteboard: r.Whiteboard,
		Count: int32(r.Count), Schedule: openTimesToProto(r.Schedule), Zone: r.Zone, OwnZone: r.OwnZone,
		Scheduled: r.Scheduled, ScheduleClosed: r.ScheduleClosed, NextChangeUnixNano: unixNano(r.NextChange),
	}
}

func openTimesToProto(es []schedule.Entry) []*proto.OpenTime {
	if len(es) == 0 {
		return nil
	}
	out := make([]*proto.OpenTime, len(es))
	for i, e := range es {
		out[i] = &proto.OpenTime{O: e.O, S: e.S, E: e.E}
	}
	return out
}

func openTimesFromProto(ps []*proto.OpenTime) []schedule.Entry {
	if len(ps) == 0 {
		return nil
	}
	out := make([]schedule.Entry, len(ps))
	for i, p := range ps {
		out[i] = schedule.Entry{O: p.GetO(), S: p.GetS(), E: p.GetE()}
	}
	return out
}

func roomFromProto(r *proto.Room) Room {
	return Room{
		ID: r.GetId(), Name: r.GetName(), Desc: r.GetDesc(), Owner: r.GetOwner(), Speaker: r.GetSpeaker(),
		Max: int(r.GetMax()), Guests: r.GetGuests(), Password: r.GetPassword(), Locked: r.GetLocked(),
		Open: r.GetOpen(), Moderated: r.GetModerated(), Welcome: r.GetWelcome(), Audio: r.GetAudio(),
		Video: r.GetVideo(), Whiteboard: r.GetWhiteboard(), Count: int(r.GetCount()),
		Schedule: openTimesFromProto(r.GetSchedule()), Zone: r.GetZone(), OwnZone: r.GetOwnZone(),
		Scheduled: r.GetScheduled(), ScheduleClosed: r.GetScheduleClosed(),
		NextChange: fromUnixNano(r.GetNextChangeUnixNano()),
	}
}

func messageToProto(m Message) *proto.Message {
	return &proto.Message{
		Id: m.ID, Room: m.Room, From: m.From, Text: m.Text, Style: styleToProto(m.Style),
		TimeUnixNano: unixNano(m.Time), Emotion: m.Emotion,
	}
}

func messageFromProto(m *proto.Message) Message {
	return Message{
		ID: m.GetId(), Room: m.GetRoom(), From: m.GetFrom(), Text: m.GetText(),
		Style: styleFromProto(m.GetStyle()), Time: fromUnixNano(m.GetTimeUnixNano()).UTC(), Emotion: m.GetEmotion(),
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func loginEventToProto(e LoginEvent) *proto.LoginEvent {
	return &proto.LoginEvent{
		Name: e.Name, Display: e.Display, Email: e.Email, Avatar: e.Avatar,
		Admin: e.Admin, Guest: e.Guest, Ip: e.IP, By: e.By,
	}
}

func loginEventFromProto(e *proto.LoginEvent) LoginEvent {
	return LoginEvent{
		Name: e.GetName(), Display: e.GetDisplay(), Email: e.GetEmail(), Avatar: e.GetAvatar(),
		Admin: e.GetAdmin(), Guest: e.GetGuest(), IP: e.GetIp(), By: e.GetBy(),
	}
}

func loginVerdictToProto(v LoginVerdict) *proto.LoginVerdict {
	return &proto.LoginVerdict{Deny: v.Deny, Reason: v.Reason, Display: v.Display, Role: string(v.Role)}
}

func loginVerdictFromProto(v *proto.LoginVerdict) LoginVerdict {
	return LoginVerdict{Deny: v.GetDeny(), Reason: v.GetReason(), Display: v.GetDisplay(), Role: Role(v.GetRole())}
}

func joinEventToProto(e JoinEvent) *proto.JoinEvent {
	return &proto.JoinEvent{User: callerToProto(e.User), Room: roomToProto(e.Room)}
}

func joinEventFromProto(e *proto.JoinEvent) JoinEvent {
	return JoinEvent{User: callerFromProto(e.GetUser()), Room: roomFromProto(e.GetRoom())}
}

func messageEventToProto(e MessageEvent) *proto.MessageEvent {
	return &proto.MessageEvent{From: callerToProto(e.From), Room: e.Room, To: e.To, Text: e.Text, Style: styleToProto(e.Style)}
}

func messageEventFromProto(e *proto.MessageEvent) MessageEvent {
	return MessageEvent{From: callerFromProto(e.GetFrom()), Room: e.GetRoom(), To: e.GetTo(), Text: e.GetText(), Style: styleFromProto(e.GetStyle())}
}

func messageVerdictToProto(v MessageVerdict) *proto.MessageVerdict {
	return &proto.MessageVerdict{Action: int32(v.Action), Text: v.Text, Style: styleToProto(v.Style), Note: v.Note, Reason: v.Reason}
}

func messageVerdictFromProto(v *proto.MessageVerdict) MessageVerdict {
	a := Action(v.GetAction())
	if a < Pass || a > Drop {
		// A verdict this host does not know refuses rather than passes.
		return MessageVerdict{Action: Reject, Reason: "The message was refused."}
	}
	return MessageVerdict{Action: a, Text: v.GetText(), Style: styleFromProto(v.GetStyle()), Note: v.GetNote(), Reason: v.GetReason()}
}

func commandToProto(c Command) *proto.CommandRequest {
	return &proto.CommandRequest{Type: c.Type, Caller: callerToProto(c.Caller), Room: c.Room, Data: c.Data}
}

func commandFromProto(c *proto.CommandRequest) Command {
	return Command{Type: c.GetType(), Caller: callerFromProto(c.GetCaller()), Room: c.GetRoom(), Data: c.GetData()}
}

func notificationsToProto(batch []Notification) []*proto.Notification {
	out := make([]*proto.Notification, len(batch))
	for i, n := range batch {
		p := &proto.Notification{Kind: string(n.Kind), User: n.User, Room: n.Room, TimeUnixNano: unixNano(n.Time)}
		if m := n.Message; m != nil {
			p.Message = messageToProto(*m)
		}
		if n.Held.ID != 0 {
			p.Held = heldToProto(n.Held)
		}
		if n.Resolution != (Resolution{}) {
			p.Resolution = resolutionToProto(n.Resolution)
		}
		out[i] = p
	}
	return out
}

func notificationsFromProto(batch []*proto.Notification) []Notification {
	out := make([]Notification, len(batch))
	for i, p := range batch {
		n := Notification{Kind: NotificationKind(p.GetKind()), User: p.GetUser(), Room: p.GetRoom(), Time: fromUnixNano(p.GetTimeUnixNano())}
		if m := p.GetMessage(); m != nil {
			msg := messageFromProto(m)
			n.Message = &msg
		}
		if h := p.GetHeld(); h != nil {
			n.Held = heldFromProto(h)
		}
		if r := p.GetResolution(); r != nil {
			n.Resolution = resolutionFromProto(r)
		}
		out[i] = n
	}
	return out
}
