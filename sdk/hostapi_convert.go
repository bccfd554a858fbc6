package sdk

import (
	"time"

	"github.com/parlorchat/parlor/sdk/proto"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// docChunk is the size of the pieces a document travels in, well under
// gRPC's default 4 MiB message limit.
const docChunk = 1 << 20

// unixMs is t in Unix milliseconds, 0 for the zero time.
func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromUnixMs is the time of Unix milliseconds ms, the zero time for 0.
func fromUnixMs(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func optInt32(v *int) *int32 {
	if v == nil {
		return nil
	}
	n := int32(*v)
	return &n
}

func optInt(v *int32) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
}

func roomEditToProto(id int64, e RoomEdit) *proto.HostRoomEdit {
	p := &proto.HostRoomEdit{
		Id: id, Name: e.Name, Desc: e.Desc, Owner: e.Owner, Speaker: e.Speaker, Max: optInt32(e.Max),
		Guests: e.Guests, Password: e.Password, Open: e.Open, Moderated: e.Moderated, Welcome: e.Welcome,
		Audio: e.Audio, Video: e.Video, Whiteboard: e.Whiteboard, Zone: e.Zone,
	}
	if e.Schedule != nil {
		p.Schedule = &proto.HostOpenTimes{Times: openTimesToProto(*e.Schedule)}
	}
	return p
}

func roomEditFromProto(e *proto.HostRoomEdit) RoomEdit {
	r := RoomEdit{
		Name: e.Name, Desc: e.Desc, Owner: e.Owner, Speaker: e.Speaker, Max: optInt(e.Max),
		Guests: e.Guests, Password: e.Password, Open: e.Open, Moderated: e.Moderated, Welcome: e.Welcome,
		Audio: e.Audio, Video: e.Video, Whiteboard: e.Whiteboard, Zone: e.Zone,
	}
	if e.Schedule != nil {
		times := openTimesFromProto(e.Schedule.GetTimes())
		if times == nil {
			times = []schedule.Entry{}
		}
		r.Schedule = &times
	}
	return r
}

func sanctionToProto(s Sanction) *proto.HostSanction {
	return &proto.HostSanction{
		Id: s.ID, Kind: s.Kind, User: s.User, Ip: s.IP, Room: s.Room, Reason: s.Reason, Actor: s.Actor,
		Source: s.Source, CreatedUnixMs: unixMs(s.Created), ExpiresUnixMs: unixMs(s.Expires),
		LiftedUnixMs: unixMs(s.Lifted), LiftedBy: s.LiftedBy,
	}
}

func sanctionFromProto(s *proto.HostSanction) Sanction {
	return Sanction{
		ID: s.GetId(), Kind: s.GetKind(), User: s.GetUser(), IP: s.GetIp(), Room: s.GetRoom(),
		Reason: s.GetReason(), Actor: s.GetActor(), Source: s.GetSource(),
		Created: fromUnixMs(s.GetCreatedUnixMs()), Expires: fromUnixMs(s.GetExpiresUnixMs()),
		Lifted: fromUnixMs(s.GetLiftedUnixMs()), LiftedBy: s.GetLiftedBy(),
	}
}

func docInfoToProto(d Document) *proto.HostDocInfo {
	return &proto.HostDocInfo{Key: d.Key, Version: d.Version, Size: int64(d.Size), UpdatedUnixMs: unixMs(d.Updated)}
}

func docInfoFromProto(d *proto.HostDocInfo) Document {
	return Document{Key: d.GetKey(), Version: d.GetVersion(), Size: int(d.GetSize()), Updated: fromUnixMs(d.GetUpdatedUnixMs())}
}

func audienceToProto(a Audience) *proto.HostAudience {
	return &proto.HostAudience{Kind: a.Kind, User: a.User, Room: a.Room}
}

func audienceFromProto(a *proto.HostAudience) Audience {
	return Audience{Kind: a.GetKind(), User: a.GetUser(), Room: a.GetRoom()}
}

func resolutionToProto(r Resolution) *proto.HostResolution {
	return &proto.HostResolution{Actor: r.Actor, Reason: r.Reason, Text: r.Text}
}

func resolutionFromProto(r *proto.HostResolution) Resolution {
	return Resolution{Actor: r.GetActor(), Reason: r.GetReason(), Text: r.GetText()}
}

func heldToProto(h HeldMessage) *proto.HostHeld {
	return &proto.HostHeld{Id: h.ID, Message: messageToProto(h.Message), Note: h.Note, Plugin: h.Plugin}
}

func heldFromProto(h *proto.HostHeld) HeldMessage {
	return HeldMessage{ID: h.GetId(), Message: messageFromProto(h.GetMessage()), Note: h.GetNote(), Plugin: h.GetPlugin()}
}

func auditToProto(e AuditEntry) *proto.HostAuditEntry {
	return &proto.HostAuditEntry{
		Id: e.ID, TimeUnixMs: unixMs(e.Time), Action: e.Action, Actor: e.Actor, Source: e.Source,
		Target: e.Target, Room: e.Room, Reason: e.Reason, Detail: e.Detail, Plugin: e.Plugin,
	}
}

func auditFromProto(e *proto.HostAuditEntry) AuditEntry {
	return AuditEntry{
		ID: e.GetId(), Time: fromUnixMs(e.GetTimeUnixMs()), Action: e.GetAction(), Actor: e.GetActor(),
		Source: e.GetSource(), Target: e.GetTarget(), Room: e.GetRoom(), Reason: e.GetReason(),
		Detail: e.GetDetail(), Plugin: e.GetPlugin(),
	}
}
