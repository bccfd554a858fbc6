package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/parlorchat/parlor/sdk"
)

// participant is a member of a call, as events and answers show it.
type participant struct {
	Name    string `json:"name"`
	Display string `json:"display,omitempty"`
	// Publish: the participant sends audio (and video where the room
	// has it); false for a listener in a moderated room.
	Publish bool `json:"publish"`
	// Video: the participant may send video.
	Video bool `json:"video"`

	joined  time.Time
	limiter *rate.Limiter
}

// call is the call of one room.
type call struct {
	id      string
	room    int64
	order   []string // keys in join order
	members map[string]*participant
}

// key is a name as the module compares names.
func key(name string) string { return strings.ToLower(name) }

func (c *call) list() []participant {
	out := make([]participant, 0, len(c.order))
	for _, k := range c.order {
		out = append(out, *c.members[k])
	}
	return out
}

func (c *call) remove(k string) {
	delete(c.members, k)
	for i, o := range c.order {
		if o == k {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

// newCallID is a fresh random call id.
func newCallID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// limits are the limits a client adapts to.
type limits struct {
	MaxParticipants  int     `json:"max_participants"`
	MaxSignalBytes   int     `json:"max_signal_bytes"`
	SignalsPerSecond float64 `json:"signals_per_second"`
	SignalsBurst     int     `json:"signals_burst"`
}

func limitsOf(c *config) limits {
	return limits{MaxParticipants: c.MaxParticipants, MaxSignalBytes: c.MaxSignalBytes,
		SignalsPerSecond: c.SignalsPerSecond, SignalsBurst: c.SignalsBurst}
}

// stateReply answers av.state: the room's call as it is.
type stateReply struct {
	Call         string        `json:"call,omitempty"` // empty: no call now
	Version      int64         `json:"version"`        // of the participants: a later change has a higher one
	Participants []participant `json:"participants"`
	Video        bool          `json:"video"`   // the room has video
	Publish      bool          `json:"publish"` // the caller would publish
	Limits       limits        `json:"limits"`
}

// joinReply answers av.join.
type joinReply struct {
	Call         string        `json:"call"`
	Mode         string        `json:"mode"` // mesh, or sfu: the module makes the offers (from "")
	Version      int64         `json:"version"`
	Publish      bool          `json:"publish"`
	Video        bool          `json:"video"`
	Participants []participant `json:"participants"` // the caller included
	ICEServers   []iceServer   `json:"ice_servers"`
	Limits       limits        `json:"limits"`
}

// leaveReply answers av.leave.
type leaveReply struct {
	Left bool `json:"left"` // false: the caller was in no call
}

// signalReply answers av.signal.
type signalReply struct {
	Relayed bool `json:"relayed"`
}

// memberEvent is the data of av.joined and av.left: who came or went,
// and everyone in the call after the change.
type memberEvent struct {
	Call         string        `json:"call"`
	Version      int64         `json:"version"`
	User         string        `json:"user"`
	Reason       string        `json:"reason,omitempty"` // av.left: left, disconnected, rejoined, muted, banned
	Participants []participant `json:"participants"`
}

// endedEvent is the data of av.ended: the room's call is over.
type endedEvent struct {
	Call    string `json:"call,omitempty"` // empty: whatever call the room had (a restart)
	Version int64  `json:"version,omitempty"`
	Reason  string `json:"reason"` // restarted, no_audio, room_gone
}

// signalEvent is the data of av.signal as the recipient gets it.
type signalEvent struct {
	Call        string          `json:"call"`
	From        string          `json:"from"`
	Description *description    `json:"description,omitempty"`
	Candidate   json.RawMessage `json:"candidate,omitempty"`
}

// outEvent is an event to send to a room once the state is changed.
type outEvent struct {
	room int64
	typ  string
	data any
}

// publishes says whether a member of this role sends media in room: in a
// moderated room only speakers, moderators and administrators do.
func publishes(role sdk.Role, room sdk.Room) bool {
	if !room.Moderated {
		return true
	}
	return role.Rank() >= sdk.RoleSpeaker.Rank()
}

// room reads a room with audio; a refusal when it has none.
func roomWithAudio(ctx context.Context, host sdk.Host, id int64) (sdk.Room, error) {
	room, err := host.Rooms().Get(ctx, id)
	if errors.Is(err, sdk.ErrNotFound) || (err == nil && !room.Audio) {
		return sdk.Room{}, refuse("no_call", "This room has no audio calls.")
	}
	if err != nil {
		return sdk.Room{}, fmt.Errorf("read room %d: %w", id, err)
	}
	return room, nil
}

func (m *module) state(ctx context.Context, host sdk.Host, cmd sdk.Command) (stateReply, error) {
	room, err := roomWithAudio(ctx, host, cmd.Room)
	if err != nil {
		return stateReply{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := stateReply{Participants: []participant{}, Video: room.Video, Publish: publishes(cmd.Caller.Role, room), Limits: limitsOf(&m.cfg)}
	if c := m.calls[cmd.Room]; c != nil {
		r.Call, r.Participants = c.id, c.list()
	}
	r.Version = m.version
	return r, nil
}

// sanctioned refuses a member banned from or muted in the room. (The core
// refuses the commands of muted members already; a ban takes them out
// of the room. This covers a sanction added a moment ago.)
func sanctioned(ctx context.Context, host sdk.Host, name string, room int64) error {
	list, err := host.Sanctions().List(ctx, sdk.SanctionFilter{Active: true, Room: room, User: name})
	if err != nil {
		return fmt.Errorf("read the sanctions of %s: %w", name, err)
	}
	for _, s := range list {
		switch s.Kind {
		case sdk.SanctionBan:
			return refuse("banned", "You are banned from this room; you cannot join its call.")
		case sdk.SanctionMute:
			return refuse("muted", "You are muted in this room; you cannot join its call.")
		}
	}
	return nil
}

func (m *module) join(ctx context.Context, cfg *config, host sdk.Host, cmd sdk.Command, req request) (joinReply, error) {
	room, err := roomWithAudio(ctx, host, cmd.Room)
	if err != nil {
		return joinReply{}, err
	}
	if err := sanctioned(ctx, host, cmd.Caller.Name, cmd.Room); err != nil {
		return joinReply{}, err
	}
	pub := publishes(cmd.Caller.Role, room) && (req.Publish == nil || *req.Publish)
	p := &participant{
		Name: cmd.Caller.Name, Display: cmd.Caller.Display, Publish: pub, Video: pub && room.Video,
		joined: time.Now(), limiter: rate.NewLimiter(rate.Limit(cfg.SignalsPerSecond), cfg.SignalsBurst),
	}
	k := key(p.Name)
	var out []outEvent
	m.mu.Lock()
	c := m.calls[cmd.Room]
	if c != nil {
		if _, ok := c.members[k]; ok {
			// The same user again (another tab, a reload): the others
			// drop their connection to the old one and make a new one.
			c.remove(k)
			m.version++
			out = append(out, outEvent{cmd.Room, evLeft, memberEvent{Call: c.id, Version: m.version, User: p.Name, Reason: "rejoined", Participants: c.list()}})
		}
		if len(c.members) >= cfg.MaxParticipants {
			m.mu.Unlock()
			m.emit(out)
			return joinReply{}, refuse("call_full", "The call is full: it has %d participants, the most this server allows (max_participants).", cfg.MaxParticipants)
		}
	} else {
		c = &call{id: newCallID(), room: cmd.Room, members: map[string]*participant{}}
		m.calls[cmd.Room] = c
	}
	c.members[k] = p
	c.order = append(c.order, k)
	m.version++
	r := joinReply{Call: c.id, Mode: cfg.Mode, Version: m.version, Publish: p.Publish, Video: p.Video, Participants: c.list(),
		ICEServers: iceServers(cfg, p.Name, time.Now()), Limits: limitsOf(cfg)}
	out = append(out, outEvent{cmd.Room, evJoined, memberEvent{Call: c.id, Version: m.version, User: p.Name, Participants: r.Participants}})
	s := m.sfu
	m.emitLocked(out)
	if s != nil {
		if err := s.join(cmd.Room, c.id, *p); err != nil {
			m.leave(cmd.Room, p.Name, "left")
			return joinReply{}, err
		}
	}
	return r, nil
}

// leave takes name out of the room's call; false when not in it.
func (m *module) leave(room int64, name, reason string) bool {
	return m.leaveIf(room, name, reason, time.Time{})
}

// leaveIf takes name out of the room's call if they joined before
// (zero: in any case).
func (m *module) leaveIf(room int64, name, reason string, before time.Time) bool {
	m.mu.Lock()
	c := m.calls[room]
	if c == nil {
		m.mu.Unlock()
		return false
	}
	p := c.members[key(name)]
	if p == nil || (!before.IsZero() && p.joined.After(before)) {
		m.mu.Unlock()
		return false
	}
	m.emitLocked(m.removeLocked(c, []string{key(name)}, reason))
	return true
}

// leaveAll takes name out of every call.
func (m *module) leaveAll(name, reason string) {
	m.mu.Lock()
	rooms := make([]int64, 0, len(m.calls))
	for id := range m.calls {
		rooms = append(rooms, id)
	}
	m.mu.Unlock()
	for _, id := range rooms {
		m.leave(id, name, reason)
	}
}

// removeLocked takes the keys out of c (m.mu held) and returns the events
// that say so; a call left empty is over.
func (m *module) removeLocked(c *call, keys []string, reason string) []outEvent {
	var out []outEvent
	for _, k := range keys {
		p := c.members[k]
		if p == nil {
			continue
		}
		c.remove(k)
		m.version++
		out = append(out, outEvent{c.room, evLeft, memberEvent{Call: c.id, Version: m.version, User: p.Name, Reason: reason, Participants: c.list()}})
	}
	if len(c.members) == 0 && m.calls[c.room] == c {
		delete(m.calls, c.room)
	}
	return out
}

// emitLocked sends out in order, releasing m.mu (held by the caller)
// once the events' turn is secured.
func (m *module) emitLocked(out []outEvent) {
	host, s := m.host, m.sfu
	m.emitMu.Lock()
	m.mu.Unlock()
	defer m.emitMu.Unlock()
	m.send(host, s, out)
}

// emit sends out in order.
func (m *module) emit(out []outEvent) {
	if len(out) == 0 {
		return
	}
	m.mu.Lock()
	m.emitLocked(out)
}

// send sends out (emitMu held, never mu: emitLocked takes emitMu with mu
// held).
func (m *module) send(host sdk.Host, s *sfu, out []outEvent) {
	for _, e := range out {
		if s != nil {
			switch d := e.data.(type) {
			case memberEvent:
				if e.typ == evLeft {
					s.leave(e.room, d.User)
				}
			case endedEvent:
				s.end(e.room)
			}
		}
		data, err := json.Marshal(e.data)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), hostTimeout)
			_, err = host.Messages().Event(ctx, sdk.ToRoom(e.room), sdk.Event{Type: e.typ, Room: e.room, Data: data})
			cancel()
		}
		if err != nil {
			m.log.Warn("send a call event", "type", e.typ, "room", e.room, "err", err)
		}
	}
}

func (m *module) signal(ctx context.Context, host sdk.Host, cmd sdk.Command, req request) (signalReply, error) {
	hasCand := len(req.Candidate) > 0 && string(req.Candidate) != "null"
	if (req.Description == nil) == !hasCand {
		return signalReply{}, refuse("bad_signal", "A signal carries a description (an offer or an answer) or an ICE candidate, and names its recipient (to).")
	}
	if req.Description != nil && req.Description.Type != "offer" && req.Description.Type != "answer" {
		return signalReply{}, refuse("bad_signal", "A description is an offer or an answer, not %q.", req.Description.Type)
	}
	if hasCand && (len(req.Candidate) == 0 || req.Candidate[0] != '{') {
		return signalReply{}, refuse("bad_signal", "An ICE candidate is an object (RTCIceCandidateInit).")
	}
	m.mu.Lock()
	c := m.calls[cmd.Room]
	var from, to *participant
	if c != nil {
		from, to = c.members[key(cmd.Caller.Name)], c.members[key(req.To)]
	}
	if from == nil {
		m.mu.Unlock()
		return signalReply{}, refuse("not_in_call", "You are not in this room's call; join it first.")
	}
	if s := m.sfu; s != nil {
		// The module is the other end of every connection.
		if req.To != "" {
			m.mu.Unlock()
			return signalReply{}, refuse("bad_signal", "In this call signals go to the server: leave out to.")
		}
		if !from.limiter.Allow() {
			m.mu.Unlock()
			return signalReply{}, refuse("rate_limited", "Too many signals: at most %g a second (signals_per_second).", m.cfg.SignalsPerSecond)
		}
		publish, video := from.Publish, from.Video
		m.mu.Unlock()
		if req.Description != nil {
			if err := checkSDP(req.Description.SDP, publish, video); err != nil {
				return signalReply{}, err
			}
		}
		if err := s.signal(cmd.Room, cmd.Caller.Name, req); err != nil {
			return signalReply{}, err
		}
		return signalReply{Relayed: true}, nil
	}
	if to == nil || to == from {
		m.mu.Unlock()
		return signalReply{}, refuse("not_in_call", "%q is not in this room's call.", req.To)
	}
	if !from.limiter.Allow() {
		m.mu.Unlock()
		return signalReply{}, refuse("rate_limited", "Too many signals: at most %g a second (signals_per_second).", m.cfg.SignalsPerSecond)
	}
	callID, publish, video, target := c.id, from.Publish, from.Video, to.Name
	m.mu.Unlock()
	if req.Description != nil {
		if err := checkSDP(req.Description.SDP, publish, video); err != nil {
			return signalReply{}, err
		}
	}
	ev := signalEvent{Call: callID, From: cmd.Caller.Name, Description: req.Description}
	if hasCand {
		ev.Candidate = req.Candidate
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return signalReply{}, fmt.Errorf("av: encode the signal: %w", err)
	}
	_, err = host.Messages().Event(ctx, sdk.ToUser(target), sdk.Event{Type: evSignal, Room: cmd.Room, Data: data})
	if errors.Is(err, sdk.ErrNotFound) {
		m.leave(cmd.Room, target, "disconnected")
		return signalReply{}, refuse("not_in_call", "%s is no longer in the call.", target)
	}
	if err != nil {
		return signalReply{}, fmt.Errorf("relay a signal to %s: %w", target, err)
	}
	return signalReply{Relayed: true}, nil
}

// run ends the calls a module that ran before left behind (their
// participants' clients are told, and join again), then sweeps the calls
// until ctx ends.
func (m *module) run(ctx context.Context) {
	defer close(m.done)
	m.endStale(ctx)
	for {
		m.mu.Lock()
		every := m.cfg.SweepInterval
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		m.sweep(ctx)
	}
}

// endStale tells every room with audio and members that its call, if it
// had one, is over: this process knows no call, so a call of a module
// that ran before (a restart, a crash) is gone.
func (m *module) endStale(ctx context.Context) {
	m.mu.Lock()
	host := m.host
	m.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, hostTimeout)
	rooms, err := host.Rooms().List(cctx)
	cancel()
	if err != nil {
		m.log.Warn("list the rooms to end the calls of before", "err", err)
		return
	}
	data, _ := json.Marshal(endedEvent{Reason: "restarted"})
	for _, r := range rooms {
		if !r.Audio || r.Count == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, hostTimeout)
		if _, err := host.Messages().Event(cctx, sdk.ToRoom(r.ID), sdk.Event{Type: evEnded, Room: r.ID, Data: data}); err != nil {
			m.log.Warn("end the call of before", "room", r.ID, "err", err)
		}
		cancel()
	}
}

// sweep takes out of each call the participants no longer in its room
// (a lost notification, a dropped connection), muted or banned there, and
// ends the calls of rooms that lost their audio.
func (m *module) sweep(ctx context.Context) {
	m.mu.Lock()
	host := m.host
	rooms := make([]int64, 0, len(m.calls))
	for id := range m.calls {
		rooms = append(rooms, id)
	}
	m.mu.Unlock()
	for _, id := range rooms {
		if ctx.Err() != nil {
			return
		}
		m.sweepRoom(ctx, host, id)
	}
}

func (m *module) sweepRoom(ctx context.Context, host sdk.Host, id int64) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, hostTimeout)
	defer cancel()
	room, err := host.Rooms().Get(ctx, id)
	gone := errors.Is(err, sdk.ErrNotFound)
	if err != nil && !gone {
		m.log.Warn("sweep: read the room", "room", id, "err", err)
		return
	}
	if gone || !room.Audio {
		reason := "no_audio"
		if gone {
			reason = "room_gone"
		}
		m.mu.Lock()
		c := m.calls[id]
		if c == nil {
			m.mu.Unlock()
			return
		}
		delete(m.calls, id)
		m.version++
		m.emitLocked([]outEvent{{id, evEnded, endedEvent{Call: c.id, Version: m.version, Reason: reason}}})
		return
	}
	members, err := host.Members().List(ctx, id)
	if err != nil {
		m.log.Warn("sweep: list the members", "room", id, "err", err)
		return
	}
	sanctions, err := host.Sanctions().List(ctx, sdk.SanctionFilter{Active: true, Room: id})
	if err != nil {
		m.log.Warn("sweep: list the sanctions", "room", id, "err", err)
		return
	}
	in := map[string]bool{}
	for _, mb := range members {
		in[key(mb.Name)] = true
	}
	why := map[string]string{}
	for _, s := range sanctions {
		if s.User == "" {
			continue
		}
		switch s.Kind {
		case sdk.SanctionBan:
			why[key(s.User)] = "banned"
		case sdk.SanctionMute:
			if why[key(s.User)] == "" {
				why[key(s.User)] = "muted"
			}
		}
	}
	m.mu.Lock()
	c := m.calls[id]
	if c == nil {
		m.mu.Unlock()
		return
	}
	var out []outEvent
	for _, k := range append([]string(nil), c.order...) {
		p := c.members[k]
		switch {
		case why[k] != "":
			out = append(out, m.removeLocked(c, []string{k}, why[k])...)
		case !in[k] && p.joined.Before(start):
			out = append(out, m.removeLocked(c, []string{k}, "disconnected")...)
		}
	}
	m.emitLocked(out)
}
