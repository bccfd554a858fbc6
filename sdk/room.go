package sdk

import (
	"time"

	"github.com/parlorchat/parlor/sdk/schedule"
)

// Room is a room as the Host API and hooks give it.
type Room struct {
	ID      int64
	Name    string
	Desc    string
	Owner   string // moderators, comma separated (the seed's owner list)
	Speaker string // speakers, comma separated
	Max     int    // capacity; 0 means unlimited
	Guests  bool   // guests may enter (the seed's member flag)
	// Password is the entry password: set it when creating or editing;
	// the host never gives it back (Locked says whether there is one).
	Password   string
	Locked     bool
	Open       bool
	Moderated  bool // the seed's passallmessage: pre-moderated, fail-closed
	Welcome    string
	Audio      bool
	Video      bool
	Whiteboard bool
	Count      int // members now
	// Schedule is the room's opening times, as the server API's roomOpen
	// gives them (sdk/schedule parses them); empty for a room that is
	// always open.
	Schedule []schedule.Entry
	// Zone is the IANA zone the times are read in: OwnZone, else the
	// group's chat.time_zone. OwnZone is the room's own, empty when it
	// follows the group's.
	Zone, OwnZone string
	// Scheduled is true once a module applies the schedule
	// (Rooms.SetSchedule); ScheduleClosed and NextChange are its verdict:
	// closed by the timetable, and when that next changes (zero: never).
	Scheduled      bool
	ScheduleClosed bool
	NextChange     time.Time
}
