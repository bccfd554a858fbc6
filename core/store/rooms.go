package store

import (
	"encoding/json"
	"fmt"

	"github.com/parlorchat/parlor/core/chat"
)

// RoomColumns lists the columns of the rooms table in the order ScanRoom
// reads them; every store's rooms table has them.
const RoomColumns = `id, grp, name, owner, description, max_members, speaker, member, password,
	pass_all_message, open, st, welcome, audio, video, whiteboard, origin, open_times, tz`

// Row is one row of a query: database/sql's and pgx's rows both are.
type Row interface {
	Scan(dest ...any) error
}

// ScanRoom reads a room selected as RoomColumns.
func ScanRoom(row Row) (chat.RoomInfo, error) {
	var r chat.RoomInfo
	var origin, times string
	if err := row.Scan(&r.ID, &r.Group, &r.Name, &r.Owner, &r.Desc, &r.Max, &r.Speaker, &r.Member,
		&r.Password, &r.PassAllMessage, &r.Open, &r.ST, &r.Welcome, &r.Audio, &r.Video,
		&r.Whiteboard, &origin, &times, &r.Zone); err != nil {
		return chat.RoomInfo{}, fmt.Errorf("scan: %w", err)
	}
	r.Origin = chat.Origin(origin)
	if times != "" {
		if err := json.Unmarshal([]byte(times), &r.Schedule); err != nil {
			return chat.RoomInfo{}, fmt.Errorf("room %d: opening times: %w", r.ID, err)
		}
	}
	return r, nil
}

// RoomValues are the values of r for the columns of RoomColumns after id,
// in that order.
func RoomValues(r chat.RoomInfo) ([]any, error) {
	times := ""
	if len(r.Schedule) > 0 {
		b, err := json.Marshal(r.Schedule)
		if err != nil {
			return nil, fmt.Errorf("room %d: opening times: %w", r.ID, err)
		}
		times = string(b)
	}
	return []any{r.Group, r.Name, r.Owner, r.Desc, r.Max, r.Speaker, r.Member, r.Password,
		r.PassAllMessage, r.Open, r.ST, r.Welcome, r.Audio, r.Video, r.Whiteboard, string(r.Origin), times, r.Zone}, nil
}
