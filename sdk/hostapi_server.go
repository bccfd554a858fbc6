package sdk

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/sdk/proto"
)

// The host side of the rooms-and-messaging half of the Host API.

func (s *hostServer) ListRooms(ctx context.Context, _ *proto.Empty) (*proto.HostRoomList, error) {
	rooms, err := s.impl.Rooms().List(ctx)
	if err != nil {
		return nil, hostError(err)
	}
	out := &proto.HostRoomList{Rooms: make([]*proto.Room, 0, len(rooms))}
	for _, r := range rooms {
		out.Rooms = append(out.Rooms, roomToProto(r))
	}
	return out, nil
}

func (s *hostServer) GetRoom(ctx context.Context, req *proto.HostRoomID) (*proto.Room, error) {
	r, err := s.impl.Rooms().Get(ctx, req.GetId())
	if err != nil {
		return nil, hostError(err)
	}
	return roomToProto(r), nil
}

func (s *hostServer) CreateRoom(ctx context.Context, req *proto.Room) (*proto.Room, error) {
	r, err := s.impl.Rooms().Create(ctx, roomFromProto(req))
	if err != nil {
		return nil, hostError(err)
	}
	return roomToProto(r), nil
}

func (s *hostServer) EditRoom(ctx context.Context, req *proto.HostRoomEdit) (*proto.Room, error) {
	r, err := s.impl.Rooms().Edit(ctx, req.GetId(), roomEditFromProto(req))
	if err != nil {
		return nil, hostError(err)
	}
	return roomToProto(r), nil
}

func (s *hostServer) SetRoomSchedule(ctx context.Context, req *proto.HostRoomSchedule) (*proto.Room, error) {
	r, err := s.impl.Rooms().SetSchedule(ctx, req.GetId(), ScheduleState{
		Closed: req.GetClosed(), Next: fromUnixNano(req.GetNextChangeUnixNano()), MoveOut: req.GetMoveOut(),
	})
	if err != nil {
		return nil, hostError(err)
	}
	return roomToProto(r), nil
}

func (s *hostServer) DeleteRoom(ctx context.Context, req *proto.HostRoomID) (*proto.Empty, error) {
	if err := s.impl.Rooms().Delete(ctx, req.GetId()); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

func (s *hostServer) ListMembers(ctx context.Context, req *proto.HostRoomID) (*proto.HostMemberList, error) {
	ms, err := s.impl.Members().List(ctx, req.GetId())
	if err != nil {
		return nil, hostError(err)
	}
	out := &proto.HostMemberList{Members: make([]*proto.HostMember, 0, len(ms))}
	for _, m := range ms {
		out.Members = append(out.Members, &proto.HostMember{Name: m.Name, Display: m.Display, Role: string(m.Role), Avatar: m.Avatar, Ip: m.IP})
	}
	return out, nil
}

func (s *hostServer) KickMember(ctx context.Context, req *proto.HostKickRequest) (*proto.Empty, error) {
	cooldown := time.Duration(req.GetCooldownMs()) * time.Millisecond
	if err := s.impl.Members().Kick(ctx, req.GetName(), req.GetRoom(), req.GetReason(), req.GetActor(), cooldown); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

func (s *hostServer) MoveMember(ctx context.Context, req *proto.HostMoveRequest) (*proto.Empty, error) {
	if err := s.impl.Members().Move(ctx, req.GetName(), req.GetTo()); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

func (s *hostServer) AddSanction(ctx context.Context, req *proto.HostSanction) (*proto.HostSanction, error) {
	sn, err := s.impl.Sanctions().Add(ctx, sanctionFromProto(req))
	if err != nil {
		return nil, hostError(err)
	}
	return sanctionToProto(sn), nil
}

func (s *hostServer) LiftSanction(ctx context.Context, req *proto.HostLiftRequest) (*proto.HostSanction, error) {
	sn, err := s.impl.Sanctions().Lift(ctx, req.GetId(), req.GetBy())
	if err != nil {
		return nil, hostError(err)
	}
	return sanctionToProto(sn), nil
}

func (s *hostServer) ListSanctions(ctx context.Context, req *proto.HostSanctionFilter) (*proto.HostSanctionList, error) {
	list, err := s.impl.Sanctions().List(ctx, SanctionFilter{Kind: req.GetKind(), User: req.GetUser(), Room: req.GetRoom(), Active: req.GetActive()})
	if err != nil {
		return nil, hostError(err)
	}
	out := &proto.HostSanctionList{Sanctions: make([]*proto.HostSanction, 0, len(list))}
	for _, sn := range list {
		out.Sanctions = append(out.Sanctions, sanctionToProto(sn))
	}
	return out, nil
}

func (s *hostServer) SendNotice(ctx context.Context, req *proto.HostSendRequest) (*proto.HostSendResponse, error) {
	n, err := s.impl.Messages().Notice(ctx, audienceFromProto(req.GetTo()), req.GetText())
	if err != nil {
		return nil, hostError(err)
	}
	return &proto.HostSendResponse{Delivered: int32(n)}, nil
}

func (s *hostServer) SendEvent(ctx context.Context, req *proto.HostSendRequest) (*proto.HostSendResponse, error) {
	n, err := s.impl.Messages().Event(ctx, audienceFromProto(req.GetTo()), Event{Type: req.GetType(), Room: req.GetRoom(), Data: req.GetDataJson()})
	if err != nil {
		return nil, hostError(err)
	}
	return &proto.HostSendResponse{Delivered: int32(n)}, nil
}

func (s *hostServer) SayAs(ctx context.Context, req *proto.HostSayRequest) (*proto.Message, error) {
	m, err := s.impl.Messages().SayAs(ctx, Say{From: req.GetFrom(), Room: req.GetRoom(), Text: req.GetText(),
		Style: styleFromProto(req.GetStyle()), Emotion: req.GetEmotion()})
	if err != nil {
		return nil, hostError(err)
	}
	return messageToProto(m), nil
}

func (s *hostServer) ListHeld(ctx context.Context, req *proto.HostRoomID) (*proto.HostHeldList, error) {
	list, err := s.impl.Held().List(ctx, req.GetId())
	if err != nil {
		return nil, hostError(err)
	}
	out := &proto.HostHeldList{Held: make([]*proto.HostHeld, 0, len(list))}
	for _, h := range list {
		out.Held = append(out.Held, heldToProto(h))
	}
	return out, nil
}

func (s *hostServer) ReleaseHeld(ctx context.Context, req *proto.HostResolveRequest) (*proto.Message, error) {
	m, err := s.impl.Held().Release(ctx, req.GetId(), resolutionFromProto(req.GetResolution()))
	if err != nil {
		return nil, hostError(err)
	}
	return messageToProto(m), nil
}

func (s *hostServer) DeclineHeld(ctx context.Context, req *proto.HostResolveRequest) (*proto.Empty, error) {
	if err := s.impl.Held().Decline(ctx, req.GetId(), resolutionFromProto(req.GetResolution())); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

func (s *hostServer) AuditAppend(ctx context.Context, req *proto.HostAuditEntry) (*proto.HostAuditEntry, error) {
	e, err := s.impl.Audit().Append(ctx, auditFromProto(req))
	if err != nil {
		return nil, hostError(err)
	}
	return auditToProto(e), nil
}

func (s *hostServer) AuditList(ctx context.Context, req *proto.HostAuditFilter) (*proto.HostAuditList, error) {
	list, err := s.impl.Audit().List(ctx, AuditFilter{Room: req.GetRoom(), Target: req.GetTarget(), Action: req.GetAction(),
		Since: fromUnixMs(req.GetSinceUnixMs()), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, hostError(err)
	}
	out := &proto.HostAuditList{Entries: make([]*proto.HostAuditEntry, 0, len(list))}
	for _, e := range list {
		out.Entries = append(out.Entries, auditToProto(e))
	}
	return out, nil
}

func (s *hostServer) DocGet(req *proto.HostDocKey, stream grpc.ServerStreamingServer[proto.HostDocChunk]) error {
	d, err := s.impl.Docs().Get(stream.Context(), req.GetKey())
	if err != nil {
		return hostError(err)
	}
	for off := 0; off == 0 || off < len(d.Value); off += docChunk {
		c := &proto.HostDocChunk{Data: d.Value[off:min(off+docChunk, len(d.Value))]}
		if off == 0 {
			c.Key, c.Version, c.Size, c.UpdatedUnixMs = d.Key, d.Version, int64(len(d.Value)), unixMs(d.Updated)
		}
		if err := stream.Send(c); err != nil {
			return err
		}
	}
	return nil
}

// DefaultMaxDocBytes is the size limit of a document when the host
// states none (see DocLimiter).
const DefaultMaxDocBytes = 16 << 20

// DocLimiter is implemented by a Docs whose values have a size limit, so
// that the gRPC side refuses a larger document before receiving it all.
type DocLimiter interface {
	// MaxDocBytes is the largest value Put accepts.
	MaxDocBytes() int
}

func (s *hostServer) DocPut(stream grpc.ClientStreamingServer[proto.HostDocChunk, proto.HostDocInfo]) error {
	docs := s.impl.Docs()
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return status.Error(codes.InvalidArgument, "put document: no chunk")
		}
		return err
	}
	size, limit := first.GetSize(), DefaultMaxDocBytes
	if l, ok := docs.(DocLimiter); ok {
		limit = l.MaxDocBytes()
	}
	if size < 0 || size > int64(limit) {
		return status.Errorf(codes.InvalidArgument, "a document must be at most %d bytes, not %d", limit, size)
	}
	value := make([]byte, 0, size)
	value = append(value, first.GetData()...)
	for int64(len(value)) < size {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		value = append(value, c.GetData()...)
	}
	if int64(len(value)) != size {
		return status.Errorf(codes.InvalidArgument, "put document: got %d bytes of the %d announced", len(value), size)
	}
	version, err := docs.Put(stream.Context(), first.GetKey(), value, first.GetExpectVersion())
	if err != nil {
		return hostError(err)
	}
	return stream.SendAndClose(&proto.HostDocInfo{Key: first.GetKey(), Version: version, Size: size})
}

func (s *hostServer) DocDelete(ctx context.Context, req *proto.HostDocDeleteRequest) (*proto.Empty, error) {
	if err := s.impl.Docs().Delete(ctx, req.GetKey(), req.GetExpectVersion()); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

func (s *hostServer) DocList(ctx context.Context, req *proto.HostDocListRequest) (*proto.HostDocList, error) {
	list, err := s.impl.Docs().List(ctx, req.GetPrefix())
	if err != nil {
		return nil, hostError(err)
	}
	out := &proto.HostDocList{Docs: make([]*proto.HostDocInfo, 0, len(list))}
	for _, d := range list {
		out.Docs = append(out.Docs, docInfoToProto(d))
	}
	return out, nil
}
