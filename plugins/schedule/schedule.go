package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
)

//go:embed web
var web embed.FS

// Clock is where the module reads the time and waits: the real clock in
// the plugin binary, a clock the test moves in tests (no configuration
// key changes the time).
type Clock interface {
	Now() time.Time
	// At delivers once this clock has reached t.
	At(t time.Time) <-chan time.Time
}

// realClock is the machine's clock.
type realClock struct{}

func (realClock) Now() time.Time                  { return time.Now() }
func (realClock) At(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }

// Limits and defaults of the configuration.
const (
	defaultWarn    = 5 * time.Minute
	defaultRecheck = time.Minute
	maxWarn        = 24 * time.Hour
	minRecheck     = time.Second
	maxRecheck     = time.Hour
	defaultOpenMsg = "The room is open."
	maxMessage     = 1000 // characters of open_message
)

// The close policies.
const (
	onCloseMove     = "move"
	onCloseReadOnly = "read_only"
)

// duration is a time.Duration written as "5m" in the configuration.
type duration time.Duration

// UnmarshalJSON reads a duration string such as "5m".
func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"5m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 5m or 30s", s)
	}
	*d = duration(v)
	return nil
}

// roomPolicy is what the module does with one room; the config's
// top-level keys are the default, rooms.<id> changes it for a room.
type roomPolicy struct {
	// Warn is how long before a closing the room's members are warned;
	// 0 warns nobody.
	Warn *duration `json:"warn,omitempty"`
	// OnClose: "move" takes the members out when the room closes,
	// "read_only" keeps them in it, reading only.
	OnClose string `json:"on_close,omitempty"`
	// OpenMessage is the notice the room gets when it opens ("" for
	// none); the time it closes is added.
	OpenMessage *string `json:"open_message,omitempty"`
}

// config is the plugin's `config` block.
type config struct {
	roomPolicy
	// Recheck is how often every room is computed again, besides the
	// timer of the next change and after every edit.
	Recheck *duration             `json:"recheck,omitempty"`
	Rooms   map[string]roomPolicy `json:"rooms,omitempty"`
}

// policy is a room's policy with the defaults applied.
type policy struct {
	warn        time.Duration
	moveOut     bool
	openMessage string
}

// Module is the schedule module.
type Module struct {
	log   hclog.Logger
	clock Clock

	host    sdk.Host
	def     policy
	rooms   map[int64]policy
	recheck time.Duration
	// leases say which node tells a room's members (schedule.<room>):
	// every node applies the timetables, one sends the notices.
	leases *sdk.Leases

	wake chan struct{} // asks the loop to compute again; one waits at most
	stop context.CancelFunc
	done chan struct{}

	mu     sync.Mutex
	warned map[int64]time.Time // the closing each room was warned of
}

// New makes the module; clock is where it reads the time.
func New(log hclog.Logger, clock Clock) *Module {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	return &Module{log: log, clock: clock, wake: make(chan struct{}, 1), warned: map[int64]time.Time{}}
}

// Configure reads the configuration and starts the loop that applies the
// timetables.
func (m *Module) Configure(_ context.Context, cfg sdk.Config) error {
	var c config
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	def, err := c.roomPolicy.apply(policy{warn: defaultWarn, moveOut: true, openMessage: defaultOpenMsg}, "")
	if err != nil {
		return err
	}
	m.def, m.rooms, m.recheck = def, map[int64]policy{}, defaultRecheck
	if c.Recheck != nil {
		m.recheck = time.Duration(*c.Recheck)
		if m.recheck < minRecheck || m.recheck > maxRecheck {
			return fmt.Errorf("schedule config: recheck %s is outside %s..%s", m.recheck, minRecheck, maxRecheck)
		}
	}
	for key, rp := range c.Rooms {
		id, err := strconv.ParseInt(key, 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("schedule config: rooms: %q is not a room id (a positive number)", key)
		}
		p, err := rp.apply(def, fmt.Sprintf("rooms.%d.", id))
		if err != nil {
			return err
		}
		m.rooms[id] = p
	}
	if cfg.Host == nil {
		return errors.New("schedule config: the server offers no Host API")
	}
	m.host = cfg.Host
	m.leases = sdk.NewLeases(cfg.Host.Cluster(), nil)
	ctx, stop := context.WithCancel(context.Background())
	m.stop, m.done = stop, make(chan struct{})
	go m.loop(ctx)
	return nil
}

// apply is p over base; where names the keys in errors.
func (p roomPolicy) apply(base policy, where string) (policy, error) {
	out := base
	if p.Warn != nil {
		out.warn = time.Duration(*p.Warn)
		if out.warn < 0 || out.warn > maxWarn {
			return policy{}, fmt.Errorf("schedule config: %swarn %s is outside 0s..%s", where, out.warn, maxWarn)
		}
	}
	switch p.OnClose {
	case "":
	case onCloseMove:
		out.moveOut = true
	case onCloseReadOnly:
		out.moveOut = false
	default:
		return policy{}, fmt.Errorf("schedule config: %son_close %q is not %q or %q", where, p.OnClose, onCloseMove, onCloseReadOnly)
	}
	if p.OpenMessage != nil {
		out.openMessage = strings.TrimSpace(*p.OpenMessage)
		if n := len([]rune(out.openMessage)); n > maxMessage {
			return policy{}, fmt.Errorf("schedule config: %sopen_message is too long (%d characters, at most %d)", where, n, maxMessage)
		}
	}
	return out, nil
}

// Close stops the loop (tests; the plugin process just ends).
func (m *Module) Close() {
	if m.stop != nil {
		m.stop()
		<-m.done
	}
}

// Stop gives up the rooms' leases when the server stops the module, so
// that another node sends their notices from then on without waiting for
// the leases to lapse.
func (m *Module) Stop(ctx context.Context) error {
	if m.leases == nil {
		return nil
	}
	if err := m.leases.Close(ctx); err != nil {
		return fmt.Errorf("give up the rooms' leases: %w", err)
	}
	return nil
}

// tells reports whether this node sends room's notices: every node
// applies the timetables (each node's members are its own), but the Host
// API's messages reach the members on every node, so only the node that
// holds the lease "schedule.<room>" sends them; the first to need it
// takes it. When the lease cannot be read the node sends: the other
// nodes are then most likely out of reach, and so are their members.
func (m *Module) tells(ctx context.Context, room int64) bool {
	l, err := m.leases.Hold(ctx, "schedule."+strconv.FormatInt(room, 10))
	if err != nil {
		m.log.Warn("the room's lease cannot be read; sending its notice from this node", "room", room, "error", err)
		return true
	}
	return l.Mine
}

// Manifest declares the schedule. commands, the web client extension and
// the one notification kind OnNotify reads (room changes).
func (m *Module) Manifest() sdk.Manifest {
	return sdk.Manifest{Commands: []string{"schedule."}, Quiet: []string{"schedule.get"}, Assets: web, Client: "web/main.js",
		Notify: []sdk.NotificationKind{sdk.RoomChanged}}
}

// policyOf is the policy of room id: its own, else the default.
func (m *Module) policyOf(id int64) policy {
	if p, ok := m.rooms[id]; ok {
		return p
	}
	return m.def
}

// poke asks the loop to compute again now.
func (m *Module) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// loop applies the timetables: at start (a server started inside a
// window opens the room), at the next change or warning, after every
// room change and every recheck.
func (m *Module) loop(ctx context.Context) {
	defer close(m.done)
	for {
		next := m.apply(ctx)
		at := m.clock.Now().Add(m.recheck)
		if !next.IsZero() && next.Before(at) {
			at = next
		}
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-m.clock.At(at):
		}
	}
}

// verdict is what a timetable says at an instant.
type verdict struct {
	closed bool
	next   time.Time // the next change; zero for none
	opens  bool      // next is an opening
	loc    *time.Location
}

// judge computes room's verdict at now; ok is false for a room without
// opening times (or with times that cannot be read, logged).
func (m *Module) judge(room sdk.Room, now time.Time) (verdict, bool) {
	if len(room.Schedule) == 0 {
		return verdict{}, false
	}
	rules, err := schedule.ParseAll(room.Schedule)
	if err != nil {
		m.log.Warn("room's opening times cannot be read", "room", room.ID, "error", err)
		return verdict{}, false
	}
	loc, err := schedule.LoadZone(room.Zone)
	if err != nil {
		m.log.Warn("room's zone cannot be read; using UTC", "room", room.ID, "zone", room.Zone)
		loc = time.UTC
	}
	v := verdict{closed: !schedule.IsOpen(rules, loc, now), loc: loc}
	if next, opens, err := schedule.NextChange(rules, loc, now); err == nil {
		v.next, v.opens = next, opens
	}
	return v, true
}

// apply computes every room once and returns the next instant something
// is due (a change or a warning); zero for nothing.
func (m *Module) apply(ctx context.Context) time.Time {
	rooms, err := m.host.Rooms().List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("list rooms", "error", err)
		}
		return time.Time{}
	}
	now := m.clock.Now()
	var due time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && t.After(now) && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	for _, room := range rooms {
		v, ok := m.judge(room, now)
		if !ok {
			continue
		}
		p := m.policyOf(room.ID)
		soonest(v.next)
		if room.Scheduled && room.ScheduleClosed == v.closed && room.NextChange.Equal(v.next) {
			m.warn(ctx, room, v, p, now, soonest)
			continue
		}
		if _, err := m.host.Rooms().SetSchedule(ctx, room.ID, sdk.ScheduleState{Closed: v.closed, Next: v.next, MoveOut: p.moveOut}); err != nil {
			m.log.Warn("set room's schedule", "room", room.ID, "error", err)
			continue
		}
		m.log.Info("room's timetable applied", "room", room.ID, "closed", v.closed, "next", v.next)
		closing := room.Scheduled && !room.ScheduleClosed && v.closed && !p.moveOut
		opening := room.Scheduled && room.ScheduleClosed && !v.closed && p.openMessage != ""
		if (closing || opening) && !m.tells(ctx, room.ID) {
			closing, opening = false, false
		}
		if closing {
			m.notice(ctx, room.ID, fmt.Sprintf("The room %s has closed%s: you can read, not write.", room.Name, until(v)))
		}
		if opening {
			text := p.openMessage
			if !v.next.IsZero() {
				text += " It closes at " + schedule.When(v.next, v.loc) + "."
			}
			m.notice(ctx, room.ID, text)
		}
		m.warn(ctx, room, v, p, now, soonest)
	}
	return due
}

// warn tells an open room's members that it closes soon, once per
// closing, and notes when the warning is due.
func (m *Module) warn(ctx context.Context, room sdk.Room, v verdict, p policy, now time.Time, due func(time.Time)) {
	if v.closed || v.next.IsZero() || v.opens || p.warn <= 0 {
		return
	}
	at := v.next.Add(-p.warn)
	if now.Before(at) {
		due(at)
		return
	}
	if !m.tells(ctx, room.ID) {
		return
	}
	m.mu.Lock()
	done := m.warned[room.ID].Equal(v.next)
	m.warned[room.ID] = v.next
	m.mu.Unlock()
	if done {
		return
	}
	// The mark is also kept in the host's KV store, so that a restarted
	// module does not warn of the same closing again.
	key := fmt.Sprintf("warned/%d/%d", room.ID, v.next.Unix())
	if _, found, err := m.host.KV().Get(ctx, key); err == nil && found {
		return
	}
	if err := m.host.KV().Set(ctx, key, []byte("1"), p.warn+time.Hour); err != nil {
		m.log.Warn("keep the warning's mark", "room", room.ID, "error", err)
	}
	mins := int(math.Ceil(v.next.Sub(now).Minutes()))
	in := fmt.Sprintf("%d minutes", mins)
	if mins == 1 {
		in = "1 minute"
	}
	m.notice(ctx, room.ID, fmt.Sprintf("The room %s closes in %s, at %s.", room.Name, in, schedule.When(v.next, v.loc)))
}

// notice sends text to the members of room.
func (m *Module) notice(ctx context.Context, room int64, text string) {
	if _, err := m.host.Messages().Notice(ctx, sdk.ToRoom(room), text); err != nil {
		m.log.Warn("room notice", "room", room, "error", err)
	}
}

// OnNotify computes again after every room change (an edit of the times,
// a room created or deleted).
func (m *Module) OnNotify(_ context.Context, ns []sdk.Notification) {
	for _, n := range ns {
		if n.Kind == sdk.RoomChanged {
			m.poke()
			return
		}
	}
}

// OnJoin refuses entry to a room its timetable closes now, saying when it
// opens; administrators may enter. (The core refuses too, from the state
// the loop set; this answers from the rules at the instant of the join.)
func (m *Module) OnJoin(_ context.Context, ev sdk.JoinEvent) (sdk.JoinVerdict, error) {
	if ev.User.Role == sdk.RoleAdmin {
		return sdk.JoinVerdict{}, nil
	}
	v, ok := m.judge(ev.Room, m.clock.Now())
	if !ok || !v.closed {
		return sdk.JoinVerdict{}, nil
	}
	// A refusal with the core's own code: the user sees the same error
	// as when the core refuses from the state.
	return sdk.JoinVerdict{}, &sdk.Refusal{Code: "room_closed", Message: closedReason(ev.Room.Name, v)}
}

// until is "; it opens again at <time>" for a closed verdict with an
// opening ahead.
func until(v verdict) string {
	if v.next.IsZero() {
		return ""
	}
	return "; it opens again at " + schedule.When(v.next, v.loc)
}

// closedReason is what a user who cannot enter is told.
func closedReason(name string, v verdict) string {
	if v.next.IsZero() {
		return fmt.Sprintf("The room %q is closed.", name)
	}
	return fmt.Sprintf("The room %q is closed; it opens at %s.", name, schedule.When(v.next, v.loc))
}

// times is the data of schedule.get's answer and of schedule.set.
type times struct {
	Room  int64            `json:"room"`
	Times []schedule.Entry `json:"times"`
	Zone  *string          `json:"tz,omitempty"`
}

// getAnswer is schedule.get's answer.
type getAnswer struct {
	Room    int64            `json:"room"`
	Times   []schedule.Entry `json:"times"`
	Zone    string           `json:"tz"`
	OwnZone string           `json:"own_tz"`
	Open    bool             `json:"open"`
	Next    string           `json:"next,omitempty"` // RFC 3339 in the zone
	Opens   bool             `json:"opens,omitempty"`
	Text    []string         `json:"text"` // each rule in words
}

// Command answers schedule.get (anyone: a room's times and state) and
// schedule.set (administrators: replace a room's times and zone).
func (m *Module) Command(ctx context.Context, cmd sdk.Command) (sdk.Reply, error) {
	var req times
	if len(cmd.Data) > 0 {
		if err := json.Unmarshal(cmd.Data, &req); err != nil {
			return sdk.Reply{}, &sdk.Refusal{Code: "bad_request", Message: "The request is not a schedule command: " + err.Error()}
		}
	}
	if req.Room == 0 {
		req.Room = cmd.Room
	}
	if req.Room <= 0 {
		return sdk.Reply{}, &sdk.Refusal{Code: "bad_request", Message: "Give the room."}
	}
	switch cmd.Type {
	case "schedule.get":
		room, err := m.host.Rooms().Get(ctx, req.Room)
		if err != nil {
			return sdk.Reply{}, hostRefusal(err)
		}
		return m.answer(room)
	case "schedule.set":
		if cmd.Caller.Role != sdk.RoleAdmin {
			return sdk.Reply{}, &sdk.Refusal{Code: "denied", Message: "Only administrators change opening times."}
		}
		if req.Times == nil {
			req.Times = []schedule.Entry{}
		}
		if _, err := schedule.ParseAll(req.Times); err != nil {
			return sdk.Reply{}, &sdk.Refusal{Code: "bad_times", Message: err.Error() + "."}
		}
		room, err := m.host.Rooms().Edit(ctx, req.Room, sdk.RoomEdit{Schedule: &req.Times, Zone: req.Zone})
		if err != nil {
			return sdk.Reply{}, hostRefusal(err)
		}
		m.log.Info("opening times changed", "room", room.ID, "by", cmd.Caller.Name, "times", len(req.Times))
		m.poke()
		return m.answer(room)
	}
	return sdk.Reply{}, &sdk.Refusal{Code: "unknown_command", Message: "Try schedule.get or schedule.set."}
}

// answer is the reply of schedule.get and schedule.set: room's times,
// zone and state now.
func (m *Module) answer(room sdk.Room) (sdk.Reply, error) {
	a := getAnswer{Room: room.ID, Times: room.Schedule, Zone: room.Zone, OwnZone: room.OwnZone, Open: true, Text: []string{}}
	if a.Times == nil {
		a.Times = []schedule.Entry{}
	}
	if rules, err := schedule.ParseAll(room.Schedule); err == nil {
		for _, r := range rules {
			a.Text = append(a.Text, r.String())
		}
	}
	if v, ok := m.judge(room, m.clock.Now()); ok {
		a.Open, a.Opens = !v.closed, v.opens
		if !v.next.IsZero() {
			a.Next = v.next.In(v.loc).Format(time.RFC3339)
		}
	}
	b, err := json.Marshal(a)
	if err != nil {
		return sdk.Reply{}, fmt.Errorf("schedule answer: %w", err)
	}
	return sdk.Reply{Data: b}, nil
}

// hostRefusal turns a Host API error into what the caller is told.
func hostRefusal(err error) error {
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return &sdk.Refusal{Code: "not_found", Message: sdk.Reason(err) + "."}
	case errors.Is(err, sdk.ErrInvalid):
		return &sdk.Refusal{Code: "bad_times", Message: sdk.Reason(err) + "."}
	}
	return err
}
