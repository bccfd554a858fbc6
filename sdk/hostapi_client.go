package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/parlorchat/parlor/sdk/proto"
)

// The plugin side of the rooms-and-messaging half of the Host API.

type hostRooms struct{ h *hostClient }

func (r hostRooms) List(ctx context.Context) ([]Room, error) {
	resp, err := r.h.rpc.ListRooms(ctx, &proto.Empty{})
	if err != nil {
		return nil, clientError("list rooms", err)
	}
	out := make([]Room, 0, len(resp.GetRooms()))
	for _, p := range resp.GetRooms() {
		out = append(out, roomFromProto(p))
	}
	return out, nil
}

func (r hostRooms) Get(ctx context.Context, id int64) (Room, error) {
	resp, err := r.h.rpc.GetRoom(ctx, &proto.HostRoomID{Id: id})
	if err != nil {
		return Room{}, clientError(fmt.Sprintf("get room %d", id), err)
	}
	return roomFromProto(resp), nil
}

func (r hostRooms) Create(ctx context.Context, room Room) (Room, error) {
	resp, err := r.h.rpc.CreateRoom(ctx, roomToProto(room))
	if err != nil {
		return Room{}, clientError(fmt.Sprintf("create room %q", room.Name), err)
	}
	return roomFromProto(resp), nil
}

func (r hostRooms) Edit(ctx context.Context, id int64, e RoomEdit) (Room, error) {
	resp, err := r.h.rpc.EditRoom(ctx, roomEditToProto(id, e))
	if err != nil {
		return Room{}, clientError(fmt.Sprintf("edit room %d", id), err)
	}
	return roomFromProto(resp), nil
}

func (r hostRooms) SetOpen(ctx context.Context, id int64, open bool) (Room, error) {
	return r.Edit(ctx, id, RoomEdit{Open: &open})
}

func (r hostRooms) SetSchedule(ctx context.Context, id int64, s ScheduleState) (Room, error) {
	resp, err := r.h.rpc.SetRoomSchedule(ctx, &proto.HostRoomSchedule{Id: id, Closed: s.Closed, NextChangeUnixNano: unixNano(s.Next), MoveOut: s.MoveOut})
	if err != nil {
		return Room{}, clientError(fmt.Sprintf("set schedule of room %d", id), err)
	}
	return roomFromProto(resp), nil
}

func (r hostRooms) Delete(ctx context.Context, id int64) error {
	if _, err := r.h.rpc.DeleteRoom(ctx, &proto.HostRoomID{Id: id}); err != nil {
		return clientError(fmt.Sprintf("delete room %d", id), err)
	}
	return nil
}

type hostMembers struct{ h *hostClient }

func (m hostMembers) List(ctx context.Context, room int64) ([]Member, error) {
	resp, err := m.h.rpc.ListMembers(ctx, &proto.HostRoomID{Id: room})
	if err != nil {
		return nil, clientError(fmt.Sprintf("list members of room %d", room), err)
	}
	out := make([]Member, 0, len(resp.GetMembers()))
	for _, p := range resp.GetMembers() {
		out = append(out, Member{Name: p.GetName(), Display: p.GetDisplay(), Role: Role(p.GetRole()), Avatar: p.GetAvatar(), IP: p.GetIp()})
	}
	return out, nil
}

func (m hostMembers) Kick(ctx context.Context, name string, room int64, reason, actor string, cooldown time.Duration) error {
	if _, err := m.h.rpc.KickMember(ctx, &proto.HostKickRequest{Name: name, Room: room, Reason: reason, Actor: actor, CooldownMs: cooldown.Milliseconds()}); err != nil {
		return clientError(fmt.Sprintf("kick %q from room %d", name, room), err)
	}
	return nil
}

func (m hostMembers) Move(ctx context.Context, name string, to int64) error {
	if _, err := m.h.rpc.MoveMember(ctx, &proto.HostMoveRequest{Name: name, To: to}); err != nil {
		return clientError(fmt.Sprintf("move %q to room %d", name, to), err)
	}
	return nil
}

type hostSanctions struct{ h *hostClient }

func (s hostSanctions) Add(ctx context.Context, sn Sanction) (Sanction, error) {
	resp, err := s.h.rpc.AddSanction(ctx, sanctionToProto(sn))
	if err != nil {
		return Sanction{}, clientError(fmt.Sprintf("add %s sanction", sn.Kind), err)
	}
	return sanctionFromProto(resp), nil
}

func (s hostSanctions) Lift(ctx context.Context, id int64, by string) (Sanction, error) {
	resp, err := s.h.rpc.LiftSanction(ctx, &proto.HostLiftRequest{Id: id, By: by})
	if err != nil {
		return Sanction{}, clientError(fmt.Sprintf("lift sanction %d", id), err)
	}
	return sanctionFromProto(resp), nil
}

func (s hostSanctions) List(ctx context.Context, f SanctionFilter) ([]Sanction, error) {
	resp, err := s.h.rpc.ListSanctions(ctx, &proto.HostSanctionFilter{Kind: f.Kind, User: f.User, Room: f.Room, Active: f.Active})
	if err != nil {
		return nil, clientError("list sanctions", err)
	}
	out := make([]Sanction, 0, len(resp.GetSanctions()))
	for _, p := range resp.GetSanctions() {
		out = append(out, sanctionFromProto(p))
	}
	return out, nil
}

type hostMessages struct{ h *hostClient }

func (m hostMessages) Notice(ctx context.Context, to Audience, text string) (int, error) {
	resp, err := m.h.rpc.SendNotice(ctx, &proto.HostSendRequest{To: audienceToProto(to), Text: text})
	if err != nil {
		return 0, clientError(fmt.Sprintf("send notice to %s", to.Kind), err)
	}
	return int(resp.GetDelivered()), nil
}

func (m hostMessages) Event(ctx context.Context, to Audience, ev Event) (int, error) {
	resp, err := m.h.rpc.SendEvent(ctx, &proto.HostSendRequest{To: audienceToProto(to), Type: ev.Type, Room: ev.Room, DataJson: ev.Data})
	if err != nil {
		return 0, clientError(fmt.Sprintf("send event %q to %s", ev.Type, to.Kind), err)
	}
	return int(resp.GetDelivered()), nil
}

func (m hostMessages) SayAs(ctx context.Context, s Say) (Message, error) {
	resp, err := m.h.rpc.SayAs(ctx, &proto.HostSayRequest{From: s.From, Room: s.Room, Text: s.Text, Style: styleToProto(s.Style), Emotion: s.Emotion})
	if err != nil {
		return Message{}, clientError(fmt.Sprintf("say as %q in room %d", s.From, s.Room), err)
	}
	return messageFromProto(resp), nil
}

type hostHeld struct{ h *hostClient }

func (h hostHeld) List(ctx context.Context, room int64) ([]HeldMessage, error) {
	resp, err := h.h.rpc.ListHeld(ctx, &proto.HostRoomID{Id: room})
	if err != nil {
		return nil, clientError(fmt.Sprintf("list held messages of room %d", room), err)
	}
	out := make([]HeldMessage, 0, len(resp.GetHeld()))
	for _, p := range resp.GetHeld() {
		out = append(out, heldFromProto(p))
	}
	return out, nil
}

func (h hostHeld) Release(ctx context.Context, id int64, r Resolution) (Message, error) {
	resp, err := h.h.rpc.ReleaseHeld(ctx, &proto.HostResolveRequest{Id: id, Resolution: resolutionToProto(r)})
	if err != nil {
		return Message{}, clientError(fmt.Sprintf("release held message %d", id), err)
	}
	return messageFromProto(resp), nil
}

func (h hostHeld) Decline(ctx context.Context, id int64, r Resolution) error {
	if _, err := h.h.rpc.DeclineHeld(ctx, &proto.HostResolveRequest{Id: id, Resolution: resolutionToProto(r)}); err != nil {
		return clientError(fmt.Sprintf("decline held message %d", id), err)
	}
	return nil
}

type hostAudit struct{ h *hostClient }

func (a hostAudit) Append(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	resp, err := a.h.rpc.AuditAppend(ctx, auditToProto(e))
	if err != nil {
		return AuditEntry{}, clientError(fmt.Sprintf("append %q to the audit log", e.Action), err)
	}
	return auditFromProto(resp), nil
}

func (a hostAudit) List(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	resp, err := a.h.rpc.AuditList(ctx, &proto.HostAuditFilter{Room: f.Room, Target: f.Target, Action: f.Action,
		SinceUnixMs: unixMs(f.Since), Limit: int32(min(max(f.Limit, -1), MaxAuditList+1))})
	if err != nil {
		return nil, clientError("list the audit log", err)
	}
	out := make([]AuditEntry, 0, len(resp.GetEntries()))
	for _, p := range resp.GetEntries() {
		out = append(out, auditFromProto(p))
	}
	return out, nil
}

type hostDocs struct{ h *hostClient }

func (d hostDocs) Get(ctx context.Context, key string) (Document, error) {
	op := fmt.Sprintf("get document %q", key)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := d.h.rpc.DocGet(ctx, &proto.HostDocKey{Key: key})
	if err != nil {
		return Document{}, clientError(op, err)
	}
	var doc Document
	for first := true; ; first = false {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if first {
				return Document{}, fmt.Errorf("%s: the host sent nothing", op)
			}
			break
		}
		if err != nil {
			return Document{}, clientError(op, err)
		}
		if first {
			doc = Document{Key: key, Version: c.GetVersion(), Size: int(c.GetSize()), Updated: fromUnixMs(c.GetUpdatedUnixMs())}
			doc.Value = make([]byte, 0, doc.Size)
		}
		doc.Value = append(doc.Value, c.GetData()...)
	}
	if len(doc.Value) != doc.Size {
		return Document{}, fmt.Errorf("%s: got %d bytes of %d", op, len(doc.Value), doc.Size)
	}
	return doc, nil
}

func (d hostDocs) Put(ctx context.Context, key string, value []byte, expect int64) (int64, error) {
	op := fmt.Sprintf("put document %q", key)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := d.h.rpc.DocPut(ctx)
	if err != nil {
		return 0, clientError(op, err)
	}
	for off := 0; off == 0 || off < len(value); off += docChunk {
		c := &proto.HostDocChunk{Data: value[off:min(off+docChunk, len(value))]}
		if off == 0 {
			c.Key, c.ExpectVersion, c.Size = key, expect, int64(len(value))
		}
		if err := stream.Send(c); err != nil {
			if errors.Is(err, io.EOF) {
				break // the host answered early; CloseAndRecv has its answer
			}
			return 0, clientError(op, err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return 0, clientError(op, err)
	}
	return resp.GetVersion(), nil
}

func (d hostDocs) Delete(ctx context.Context, key string, expect int64) error {
	if _, err := d.h.rpc.DocDelete(ctx, &proto.HostDocDeleteRequest{Key: key, ExpectVersion: expect}); err != nil {
		return clientError(fmt.Sprintf("delete document %q", key), err)
	}
	return nil
}

func (d hostDocs) List(ctx context.Context, prefix string) ([]Document, error) {
	resp, err := d.h.rpc.DocList(ctx, &proto.HostDocListRequest{Prefix: prefix})
	if err != nil {
		return nil, clientError(fmt.Sprintf("list documents %q", prefix), err)
	}
	out := make([]Document, 0, len(resp.GetDocs()))
	for _, p := range resp.GetDocs() {
		out = append(out, docInfoFromProto(p))
	}
	return out, nil
}
