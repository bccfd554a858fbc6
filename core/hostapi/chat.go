package hostapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/sdk"
)

// Chat is what the Host API needs of the chat group; *chat.Group
// implements it.
type Chat interface {
	// Name is the group's name.
	Name() string
	// Rooms lists the rooms with head counts, by ID.
	Rooms() []chat.RoomView
	// RoomInfo returns a room's definition.
	RoomInfo(id int64) (chat.RoomInfo, bool)
	// Room returns a room as plugins see it, with its head count.
	Room(id int64) (sdk.Room, bool)
	// Members lists a room's members with their roles, in join order.
	Members(roomID int64) ([]chat.MemberView, error)
	// Kick takes a user out of a room, telling them reason.
	Kick(name string, roomID int64, reason string) error
	// Move puts an online user into another room.
	Move(name string, to int64) error
	// SendUser sends f to an online user; false when not online.
	SendUser(name string, f *chat.Frame) bool
	// SendRoom sends f to a room's members and returns how many.
	SendRoom(roomID int64, f *chat.Frame) (int, error)
	// SendModerators sends f to a room's moderators online.
	SendModerators(roomID int64, f *chat.Frame) int
	// SendAll sends f to every logged-in user.
	SendAll(f *chat.Frame) int
	// SayAs says a public message in a room as from.
	SayAs(from string, roomID int64, text string, style chat.Style, emotion string) (chat.Message, error)
	// TellSanction tells the user a sanction names that it was imposed
	// or lifted.
	TellSanction(s chat.Sanction, lifted bool, by string) bool
	// SanctionFrame is the sanctioned event of s, for a member it covers
	// by address.
	SanctionFrame(s chat.Sanction) *chat.Frame
	// SayAt is SayAs dated at (a released held message keeps its time).
	SayAt(from string, roomID int64, text string, style chat.Style, emotion string, at time.Time) (chat.Message, error)
	// SetSchedule sets the verdict of a room's timetable, taking the
	// members out on a closing with moveOut.
	SetSchedule(id int64, s chat.ScheduleState, moveOut bool) (chat.RoomInfo, error)
}

// RoomChanger stores room changes and puts them in the chat group
// (*serverapi.Dispatcher). Errors wrap store.ErrNotFound for a missing
// room and store.ErrInvalid for a refused value.
type RoomChanger interface {
	CreateRoom(ctx context.Context, info chat.RoomInfo) (chat.RoomInfo, error)
	EditRoom(ctx context.Context, group string, id int64, edit func(*chat.RoomInfo) error) (chat.RoomInfo, error)
	DeleteRoom(ctx context.Context, group string, id int64) (chat.RoomInfo, error)
}

// errNoChat answers the calls that need the chat group before it is set.
var errNoChat = errors.New("host api: the chat is not running")

func (h *host) chat() (Chat, error) {
	c := h.api.chat()
	if c == nil {
		return nil, errNoChat
	}
	return c, nil
}

// chatErr maps a refusal of the chat group to the SDK's sentinels.
func chatErr(err error) error {
	if err == nil {
		return nil
	}
	var ce *chat.Error
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code {
	case chat.CodeNoSuchRoom, chat.CodeNotOnline, chat.CodeNotInRoom, chat.CodeNoSuchUser:
		return fmt.Errorf("%s: %w", ce.Message, sdk.ErrNotFound)
	case chat.CodeTooLong, chat.CodeEmpty, chat.CodeBadRequest:
		return fmt.Errorf("%s: %w", ce.Message, sdk.ErrInvalid)
	}
	return fmt.Errorf("%s: %w", ce.Message, sdk.ErrDenied)
}

func notFound(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), sdk.ErrNotFound)
}

func denied(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), sdk.ErrDenied)
}
