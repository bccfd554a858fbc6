// Package store keeps the state that must survive a restart: rooms and
// message history, accounts and sessions, the Host API's data and the
// moderation log. SQLite (modernc.org/sqlite, *SQLite) is the embedded
// default; core/store/postgres is the store of several nodes sharing one
// PostgreSQL database. Both pass the suite of core/store/storetest.
package store

import (
	"context"
	"errors"

	"github.com/parlorchat/parlor/core/chat"
)

// ErrNotFound is returned when a requested record does not exist.
var ErrNotFound = errors.New("not found")

// Store is the persistence the core needs. Implementations are safe for
// concurrent use.
type Store interface {
	// Rooms lists the rooms of a group ordered by ID.
	Rooms(ctx context.Context, group string) ([]chat.RoomInfo, error)
	// SaveRoom inserts or replaces a room. A room with ID 0 gets a new ID,
	// which is returned.
	SaveRoom(ctx context.Context, r chat.RoomInfo) (int64, error)
	// DeleteRoom removes a room and its history; ErrNotFound if absent.
	DeleteRoom(ctx context.Context, group string, id int64) error
	// AppendMessages stores messages said in rooms (in order), under their
	// IDs when set.
	AppendMessages(ctx context.Context, msgs []chat.Message) error
	// RecentMessages returns the last n messages of a room, oldest first.
	RecentMessages(ctx context.Context, group string, roomID int64, n int) ([]chat.Message, error)
	// LastMessageID is the highest message ID ever stored, 0 for none.
	LastMessageID(ctx context.Context) (int64, error)
	// Close releases the store.
	Close() error
}
