package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/sdk/proto"
)

// Host API errors. Calls return errors wrapping one of these when it
// applies; the message says more.
var (
	// ErrNotFound: no such user (or session).
	ErrNotFound = errors.New("not found")
	// ErrExists: the name or e-mail belongs to another account.
	ErrExists = errors.New("already exists")
	// ErrInvalid: the host refused a value (a name outside the name rule,
	// an empty e-mail, ...).
	ErrInvalid = errors.New("invalid")
)

// Host is the Host API a module receives in Config.Host: the chat's
// accounts, login sessions, rooms and their members, sanctions,
// messaging, held messages, the moderation log, a key-value and a document store private
// to the plugin, and the nodes sharing the chat. Plugins keep no state of their own; what must survive a
// restart goes through Host. It is safe for concurrent use.
type Host interface {
	// Users are the chat's own accounts.
	Users() Users
	// Sessions are login sessions a browser presents as the chat's cookie.
	Sessions() Sessions
	// KV is the plugin's key-value store.
	KV() KV
	// Rooms are the chat's rooms.
	Rooms() Rooms
	// Members are the users in rooms, with their roles.
	Members() Members
	// Sanctions are bans, mutes and kick cooldowns.
	Sanctions() Sanctions
	// Messages send notices, custom events and messages as a user.
	Messages() Messages
	// Held are messages held for a moderator.
	Held() Held
	// Docs is the plugin's document store.
	Docs() Docs
	// Audit is the moderation log.
	Audit() Audit
	// Cluster is the nodes sharing the chat: events to the plugin's
	// processes on the other nodes, and leases.
	Cluster() Cluster
}

// User is one of the chat's accounts.
type User struct {
	ID     int64
	Name   string // unique, compared without case
	Email  string // unique, compared without case; may be empty
	Avatar string
	// HasPassword is false for an account that can log in only through a
	// plugin-issued session (SSO) until a password is set.
	HasPassword bool
	Created     time.Time
}

// NewUser describes an account to create. Password may be empty.
type NewUser struct {
	Name     string
	Email    string
	Password string
	Avatar   string
}

// UserEdit changes the fields that are not nil.
type UserEdit struct {
	Name   *string
	Email  *string
	Avatar *string
}

// Users manages the chat's accounts. Names follow the chat's name rule.
type Users interface {
	// ByID, ByName and ByEmail find an account; ErrNotFound if none.
	ByID(ctx context.Context, id int64) (User, error)
	ByName(ctx context.Context, name string) (User, error)
	ByEmail(ctx context.Context, email string) (User, error)
	// Create makes an account; ErrExists if the name or e-mail is taken.
	Create(ctx context.Context, u NewUser) (User, error)
	// Edit changes an account; ErrExists if the new name or e-mail is taken.
	Edit(ctx context.Context, id int64, e UserEdit) (User, error)
	// Delete removes an account and its sessions.
	Delete(ctx context.Context, id int64) error
	// SetPassword sets the account's password; empty removes it.
	SetPassword(ctx context.Context, id int64, password string) error
}

// Session is an issued login session.
type Session struct {
	// Token is the secret the browser presents; the host stores its hash.
	Token   string
	Expires time.Time
	// SetCookie is the Set-Cookie header value handing the session to a
	// browser; the host chooses the cookie's name and attributes.
	SetCookie string
}

// Sessions issues and revokes login sessions.
type Sessions interface {
	// Issue starts a session for the user. ttl 0 (or above the host's
	// auth.session_ttl) takes auth.session_ttl; persistent asks for a
	// cookie that outlives the browser session.
	Issue(ctx context.Context, userID int64, ttl time.Duration, persistent bool) (Session, error)
	// Revoke ends one session; it returns how many ended (0 or 1) and the
	// Set-Cookie value that removes the cookie.
	Revoke(ctx context.Context, token string) (revoked int, clearCookie string, err error)
	// RevokeUser ends every session this plugin issued for the user, and
	// closes the chat connections logged in with them.
	RevokeUser(ctx context.Context, userID int64) (revoked int, clearCookie string, err error)
}

// KV is a key-value store private to one plugin.
type KV interface {
	// Get returns the value; found is false when absent or expired.
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// Set stores value; ttl 0 keeps it until deleted.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes the key (absent is fine).
	Delete(ctx context.Context, key string) error
}

// hostError maps a Host API error to a gRPC status; the sentinel's own
// text is left out of the message.
func hostError(err error) error {
	msg := func(sentinel error) string {
		return strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, msg(ErrNotFound))
	case errors.Is(err, ErrExists):
		return status.Error(codes.AlreadyExists, msg(ErrExists))
	case errors.Is(err, ErrInvalid):
		return status.Error(codes.InvalidArgument, msg(ErrInvalid))
	case errors.Is(err, ErrDenied):
		return status.Error(codes.PermissionDenied, msg(ErrDenied))
	case errors.Is(err, ErrConflict):
		return status.Error(codes.Aborted, msg(ErrConflict))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}

// refusal is a Host API error with the host's reason.
type refusal struct {
	op, reason string
	kind       error // ErrNotFound, ErrExists, ErrInvalid, ErrDenied or ErrConflict
}

func (r *refusal) Error() string { return r.op + ": " + r.reason + ": " + r.kind.Error() }
func (r *refusal) Unwrap() error { return r.kind }

// Reason returns the host's explanation of a Host API refusal (such as
// `"x!" is not a valid name: ...`), fit to show to a user; for any other
// error it returns err.Error().
func Reason(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return err.Error()
}

// clientError maps a gRPC status from the host back to the sentinels.
func clientError(op string, err error) error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.NotFound:
		return &refusal{op: op, reason: st.Message(), kind: ErrNotFound}
	case codes.AlreadyExists:
		return &refusal{op: op, reason: st.Message(), kind: ErrExists}
	case codes.InvalidArgument:
		return &refusal{op: op, reason: st.Message(), kind: ErrInvalid}
	case codes.PermissionDenied:
		return &refusal{op: op, reason: st.Message(), kind: ErrDenied}
	case codes.Aborted:
		return &refusal{op: op, reason: st.Message(), kind: ErrConflict}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func userFromProto(u *proto.User) User {
	return User{
		ID: u.GetId(), Name: u.GetName(), Email: u.GetEmail(), Avatar: u.GetAvatar(),
		HasPassword: u.GetHasPassword(), Created: time.UnixMilli(u.GetCreatedUnixMs()).UTC(),
	}
}

func userToProto(u User) *proto.User {
	return &proto.User{
		Id: u.ID, Name: u.Name, Email: u.Email, Avatar: u.Avatar,
		HasPassword: u.HasPassword, CreatedUnixMs: u.Created.UnixMilli(),
	}
}

// hostClient is the plugin side of the Host API.
type hostClient struct {
	rpc proto.HostAPIClient
	nodeCache
}

func newHostClient(conn *grpc.ClientConn) *hostClient {
	return &hostClient{rpc: proto.NewHostAPIClient(conn)}
}

func (h *hostClient) Users() Users       { return hostUsers{h} }
func (h *hostClient) Sessions() Sessions { return hostSessions{h} }
func (h *hostClient) KV() KV             { return hostKV{h} }
func (h *hostClient) Rooms() Rooms       { return hostRooms{h} }
func (h *hostClient) Members() Members   { return hostMembers{h} }
func (h *hostClient) Sanctions() Sanctions {
	return hostSanctions{h}
}
func (h *hostClient) Messages() Messages { return hostMessages{h} }
func (h *hostClient) Held() Held         { return hostHeld{h} }
func (h *hostClient) Docs() Docs         { return hostDocs{h} }
func (h *hostClient) Audit() Audit       { return hostAudit{h} }

type hostUsers struct{ h *hostClient }

func (u hostUsers) find(ctx context.Context, op string, req *proto.FindUserRequest) (User, error) {
	resp, err := u.h.rpc.FindUser(ctx, req)
	if err != nil {
		return User{}, clientError(op, err)
	}
	return userFromProto(resp), nil
}

func (u hostUsers) ByID(ctx context.Context, id int64) (User, error) {
	return u.find(ctx, fmt.Sprintf("find user %d", id), &proto.FindUserRequest{By: &proto.FindUserRequest_Id{Id: id}})
}

func (u hostUsers) ByName(ctx context.Context, name string) (User, error) {
	return u.find(ctx, fmt.Sprintf("find user %q", name), &proto.FindUserRequest{By: &proto.FindUserRequest_Name{Name: name}})
}

func (u hostUsers) ByEmail(ctx context.Context, email string) (User, error) {
	return u.find(ctx, fmt.Sprintf("find user by e-mail %q", email), &proto.FindUserRequest{By: &proto.FindUserRequest_Email{Email: email}})
}

func (u hostUsers) Create(ctx context.Context, nu NewUser) (User, error) {
	resp, err := u.h.rpc.CreateUser(ctx, &proto.CreateUserRequest{Name: nu.Name, Email: nu.Email, Password: nu.Password, Avatar: nu.Avatar})
	if err != nil {
		return User{}, clientError(fmt.Sprintf("create user %q", nu.Name), err)
	}
	return userFromProto(resp), nil
}

func (u hostUsers) Edit(ctx context.Context, id int64, e UserEdit) (User, error) {
	resp, err := u.h.rpc.EditUser(ctx, &proto.EditUserRequest{Id: id, Name: e.Name, Email: e.Email, Avatar: e.Avatar})
	if err != nil {
		return User{}, clientError(fmt.Sprintf("edit user %d", id), err)
	}
	return userFromProto(resp), nil
}

func (u hostUsers) Delete(ctx context.Context, id int64) error {
	if _, err := u.h.rpc.DeleteUser(ctx, &proto.UserID{Id: id}); err != nil {
		return clientError(fmt.Sprintf("delete user %d", id), err)
	}
	return nil
}

func (u hostUsers) SetPassword(ctx context.Context, id int64, password string) error {
	if _, err := u.h.rpc.SetPassword(ctx, &proto.SetPasswordRequest{Id: id, Password: password}); err != nil {
		return clientError(fmt.Sprintf("set password of user %d", id), err)
	}
	return nil
}

type hostSessions struct{ h *hostClient }

func (s hostSessions) Issue(ctx context.Context, userID int64, ttl time.Duration, persistent bool) (Session, error) {
	resp, err := s.h.rpc.IssueSession(ctx, &proto.IssueSessionRequest{UserId: userID, TtlMs: ttl.Milliseconds(), Persistent: persistent})
	if err != nil {
		return Session{}, clientError(fmt.Sprintf("issue session for user %d", userID), err)
	}
	return Session{Token: resp.GetToken(), Expires: time.UnixMilli(resp.GetExpiresUnixMs()).UTC(), SetCookie: resp.GetSetCookie()}, nil
}

func (s hostSessions) Revoke(ctx context.Context, token string) (int, string, error) {
	resp, err := s.h.rpc.RevokeSession(ctx, &proto.RevokeSessionRequest{Token: token})
	if err != nil {
		return 0, "", clientError("revoke session", err)
	}
	return int(resp.GetRevoked()), resp.GetClearCookie(), nil
}

func (s hostSessions) RevokeUser(ctx context.Context, userID int64) (int, string, error) {
	resp, err := s.h.rpc.RevokeUserSessions(ctx, &proto.UserID{Id: userID})
	if err != nil {
		return 0, "", clientError(fmt.Sprintf("revoke sessions of user %d", userID), err)
	}
	return int(resp.GetRevoked()), resp.GetClearCookie(), nil
}

type hostKV struct{ h *hostClient }

func (k hostKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	resp, err := k.h.rpc.KVGet(ctx, &proto.KVKey{Key: key})
	if err != nil {
		return nil, false, clientError(fmt.Sprintf("kv get %q", key), err)
	}
	return resp.GetValue(), resp.GetFound(), nil
}

func (k hostKV) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if _, err := k.h.rpc.KVSet(ctx, &proto.KVSetRequest{Key: key, Value: value, TtlMs: ttl.Milliseconds()}); err != nil {
		return clientError(fmt.Sprintf("kv set %q", key), err)
	}
	return nil
}

func (k hostKV) Delete(ctx context.Context, key string) error {
	if _, err := k.h.rpc.KVDelete(ctx, &proto.KVKey{Key: key}); err != nil {
		return clientError(fmt.Sprintf("kv delete %q", key), err)
	}
	return nil
}

// hostServer serves a Host implementation (the host side) over gRPC.
type hostServer struct {
	proto.UnimplementedHostAPIServer
	impl Host
}

func (s *hostServer) FindUser(ctx context.Context, req *proto.FindUserRequest) (*proto.User, error) {
	var (
		u   User
		err error
	)
	switch by := req.GetBy().(type) {
	case *proto.FindUserRequest_Id:
		u, err = s.impl.Users().ByID(ctx, by.Id)
	case *proto.FindUserRequest_Name:
		u, err = s.impl.Users().ByName(ctx, by.Name)
	case *proto.FindUserRequest_Email:
		u, err = s.impl.Users().ByEmail(ctx, by.Email)
	default:
		return nil, status.Error(codes.InvalidArgument, "find user: give an id, a name or an e-mail")
	}
	if err != nil {
		return nil, hostError(err)
	}
	return userToProto(u), nil
}

func (s *hostServer) CreateUser(ctx context.Context, req *proto.CreateUserRequest) (*proto.User, error) {
	u, err := s.impl.Users().Create(ctx, NewUser{Name: req.GetName(), Email: req.GetEmail(), Password: req.GetPassword(), Avatar: req.GetAvatar()})
	if err != nil {
		return nil, hostError(err)
	}
	return userToProto(u), nil
}

func (s *hostServer) EditUser(ctx context.Context, req *proto.EditUserRequest) (*proto.User, error) {
	u, err := s.impl.Users().Edit(ctx, req.GetId(), UserEdit{Name: req.Name, Email: req.Email, Avatar: req.Avatar})
	if err != nil {
		return nil, hostError(err)
	}
	return userToProto(u), nil
}

func (s *hostServer) DeleteUser(ctx context.Context, req *proto.UserID) (*proto.Empty, error) {
	if err := s.impl.Users().Delete(ctx, req.GetId()); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

func (s *hostServer) SetPassword(ctx context.Context, req *proto.SetPasswordRequest) (*proto.Empty, error) {
	if err := s.impl.Users().SetPassword(ctx, req.GetId(), req.GetPassword()); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

func (s *hostServer) IssueSession(ctx context.Context, req *proto.IssueSessionRequest) (*proto.Session, error) {
	sess, err := s.impl.Sessions().Issue(ctx, req.GetUserId(), time.Duration(req.GetTtlMs())*time.Millisecond, req.GetPersistent())
	if err != nil {
		return nil, hostError(err)
	}
	return &proto.Session{Token: sess.Token, ExpiresUnixMs: sess.Expires.UnixMilli(), SetCookie: sess.SetCookie}, nil
}

func (s *hostServer) RevokeSession(ctx context.Context, req *proto.RevokeSessionRequest) (*proto.RevokeSessionResponse, error) {
	n, clear, err := s.impl.Sessions().Revoke(ctx, req.GetToken())
	if err != nil {
		return nil, hostError(err)
	}
	return &proto.RevokeSessionResponse{Revoked: int32(n), ClearCookie: clear}, nil
}

func (s *hostServer) RevokeUserSessions(ctx context.Context, req *proto.UserID) (*proto.RevokeSessionResponse, error) {
	n, clear, err := s.impl.Sessions().RevokeUser(ctx, req.GetId())
	if err != nil {
		return nil, hostError(err)
	}
	return &proto.RevokeSessionResponse{Revoked: int32(n), ClearCookie: clear}, nil
}

func (s *hostServer) KVGet(ctx context.Context, req *proto.KVKey) (*proto.KVValue, error) {
	v, found, err := s.impl.KV().Get(ctx, req.GetKey())
	if err != nil {
		return nil, hostError(err)
	}
	return &proto.KVValue{Found: found, Value: v}, nil
}

func (s *hostServer) KVSet(ctx context.Context, req *proto.KVSetRequest) (*proto.Empty, error) {
	if err := s.impl.KV().Set(ctx, req.GetKey(), req.GetValue(), time.Duration(req.GetTtlMs())*time.Millisecond); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}

func (s *hostServer) KVDelete(ctx context.Context, req *proto.KVKey) (*proto.Empty, error) {
	if err := s.impl.KV().Delete(ctx, req.GetKey()); err != nil {
		return nil, hostError(err)
	}
	return &proto.Empty{}, nil
}
