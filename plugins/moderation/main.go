// Command parlor-plugin-moderation is the moderation module: it holds the
// messages of users and guests in moderated rooms (the seed's
// passallmessage) for the room's moderators, gives moderators kick, ban
// and mute commands with daily quotas, runs the automod rules (minimum
// interval, repeats, capitals, links, a word list) and ships the web
// client's moderation panel. Sanctions, held messages and the audit log
// live in the server's store through the Host API; docs/moderation.md
// describes its configuration, commands and events.
package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
)

//go:embed web
var webFiles embed.FS

// moderation is the module.
type moderation struct {
	log hclog.Logger
	now func() time.Time

	cfg     config
	host    sdk.Host
	automod *automodState
	rooms   roomCache
	quotaMu sync.Mutex // one quota check and count at a time
}

// newModeration returns the module, unconfigured.
func newModeration(log hclog.Logger) *moderation {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &moderation{log: log, now: time.Now}
}

func (m *moderation) Configure(_ context.Context, cfg sdk.Config) error {
	c := defaults()
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return fmt.Errorf("moderation config: %w", err)
	}
	m.cfg, m.host = c, cfg.Host
	m.automod = newAutomod(c.Automod, m.now)
	m.rooms = roomCache{rooms: map[int64]roomEntry{}, gen: map[int64]uint64{}}
	return nil
}

func (m *moderation) Manifest() sdk.Manifest {
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded directory exists
	}
	return sdk.Manifest{
		Commands: []string{"mod."},
		// Reading the queue and the sanctions is allowed while muted: a
		// moderator muted elsewhere still sees the room.
		Quiet:  []string{"mod.queue", "mod.counts", "mod.sanctions", "mod.members"},
		Assets: web,
		Client: "main.js",
		// OnNotify reads room changes (its room cache) and the held
		// queue; joins, leaves and delivered messages are not sent.
		Notify: []sdk.NotificationKind{sdk.RoomChanged, sdk.MessageHeld, sdk.MessageReleased, sdk.MessageDeclined},
	}
}

// roomEntry is what the module remembers of a room.
type roomEntry struct {
	moderated bool
	owner     string
}

// roomCache keeps rooms between room_changed notifications, so that the
// message path asks the host about a room once, not per message.
type roomCache struct {
	mu    sync.RWMutex
	rooms map[int64]roomEntry
	gen   map[int64]uint64 // bumped by every change, so a stale answer is not kept
}

// room returns what the module knows of a room, asking the host when it
// knows nothing yet.
func (m *moderation) room(ctx context.Context, id int64) (roomEntry, error) {
	c := &m.rooms
	c.mu.RLock()
	e, ok := c.rooms[id]
	g := c.gen[id]
	c.mu.RUnlock()
	if ok {
		return e, nil
	}
	r, err := m.host.Rooms().Get(ctx, id)
	if err != nil {
		return roomEntry{}, fmt.Errorf("look up room %d: %w", id, err)
	}
	e = roomEntry{moderated: r.Moderated, owner: r.Owner}
	c.mu.Lock()
	if c.gen[id] == g {
		c.rooms[id] = e
	}
	c.mu.Unlock()
	return e, nil
}

// forget drops a changed room from the cache.
func (c *roomCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == nil {
		c.gen = map[int64]uint64{}
	}
	c.gen[id]++
	delete(c.rooms, id)
}

func main() {
	log := sdk.NewLogger("moderation")
	sdk.Serve(sdk.ServeOpts{Module: newModeration(log), Logger: log})
}
