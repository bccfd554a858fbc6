package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// fakeHost is a Host API with rooms, members, sanctions and messaging
// that records custom events; the rest is nil.
type fakeHost struct {
	sdk.Host
	mu        sync.Mutex
	rooms     map[int64]sdk.Room
	members   map[int64][]string
	sanctions []sdk.Sanction
	offline   map[string]bool
	events    []sentEvent
}

type sentEvent struct {
	to sdk.Audience
	ev sdk.Event
}

func newFakeHost() *fakeHost {
	return &fakeHost{
		rooms: map[int64]sdk.Room{
			1: {ID: 1, Name: "Call", Audio: true, Video: true, Open: true},
			2: {ID: 2, Name: "Plain", Open: true},
			3: {ID: 3, Name: "Stage", Audio: true, Video: true, Moderated: true, Open: true},
			4: {ID: 4, Name: "Radio", Audio: true, Open: true},
		},
		members: map[int64][]string{},
		offline: map[string]bool{},
	}
}

func (h *fakeHost) Rooms() sdk.Rooms         { return fakeRooms{h: h} }
func (h *fakeHost) Members() sdk.Members     { return fakeMembers{h: h} }
func (h *fakeHost) Sanctions() sdk.Sanctions { return fakeSanctions{h: h} }
func (h *fakeHost) Messages() sdk.Messages   { return fakeMessages{h: h} }

// enter puts names into a room (as Members().List sees it).
func (h *fakeHost) enter(room int64, names ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.members[room] = append(h.members[room], names...)
}

// exit takes name out of every room.
func (h *fakeHost) exit(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for r, list := range h.members {
		var keep []string
		for _, n := range list {
			if n != name {
				keep = append(keep, n)
			}
		}
		h.members[r] = keep
	}
}

func (h *fakeHost) sanction(s sdk.Sanction) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sanctions = append(h.sanctions, s)
}

type fakeRooms struct {
	sdk.Rooms
	h *fakeHost
}

func (r fakeRooms) Get(_ context.Context, id int64) (sdk.Room, error) {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	room, ok := r.h.rooms[id]
	if !ok {
		return sdk.Room{}, sdk.ErrNotFound
	}
	room.Count = len(r.h.members[id])
	return room, nil
}

func (r fakeRooms) List(ctx context.Context) ([]sdk.Room, error) {
	var out []sdk.Room
	for id := int64(1); id <= 4; id++ {
		if room, err := r.Get(ctx, id); err == nil {
			out = append(out, room)
		}
	}
	return out, nil
}

type fakeMembers struct {
	sdk.Members
	h *fakeHost
}

func (m fakeMembers) List(_ context.Context, room int64) ([]sdk.Member, error) {
	m.h.mu.Lock()
	defer m.h.mu.Unlock()
	var out []sdk.Member
	for _, n := range m.h.members[room] {
		out = append(out, sdk.Member{Name: n})
	}
	return out, nil
}

type fakeSanctions struct {
	sdk.Sanctions
	h *fakeHost
}

func (s fakeSanctions) List(_ context.Context, f sdk.SanctionFilter) ([]sdk.Sanction, error) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	var out []sdk.Sanction
	for _, x := range s.h.sanctions {
		if (f.Room == 0 || x.Room == 0 || x.Room == f.Room) && (f.User == "" || strings.EqualFold(f.User, x.User)) {
			out = append(out, x)
		}
	}
	return out, nil
}

type fakeMessages struct {
	sdk.Messages
	h *fakeHost
}

func (m fakeMessages) Event(_ context.Context, to sdk.Audience, ev sdk.Event) (int, error) {
	m.h.mu.Lock()
	defer m.h.mu.Unlock()
	if to.Kind == "user" && m.h.offline[to.User] {
		return 0, sdk.ErrNotFound
	}
	m.h.events = append(m.h.events, sentEvent{to, ev})
	return 1, nil
}

// ofType are the events of typ sent so far.
func (h *fakeHost) ofType(typ string) []sentEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []sentEvent
	for _, e := range h.events {
		if e.ev.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// members decodes an av.joined or av.left event.
func members(t *testing.T, e sentEvent) memberEvent {
	t.Helper()
	var me memberEvent
	if err := json.Unmarshal(e.ev.Data, &me); err != nil {
		t.Fatalf("%s data %s: %v", e.ev.Type, e.ev.Data, err)
	}
	return me
}

func names(ps []participant) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

// av is a module served in-process over the plugin protocol.
type av struct {
	t    *testing.T
	m    *module
	h    *sdktest.ModuleHandle
	host *fakeHost
}

func start(t *testing.T, cfg map[string]any, host *fakeHost) *av {
	t.Helper()
	if host == nil {
		host = newFakeHost()
	}
	m := newModule(hclog.NewNullLogger())
	a := &av{t: t, m: m, h: sdktest.Module(t, m, cfg, host), host: host}
	t.Cleanup(m.Close)
	return a
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// who is a member in a room.
type who struct {
	name string
	role sdk.Role
	room int64
}

// call sends a command with fields; the answer is decoded into out (when
// not nil).
func (a *av) call(u who, typ string, fields map[string]any, out any) error {
	a.t.Helper()
	frame := map[string]any{"type": typ, "id": "1", "room": u.room}
	for k, v := range fields {
		frame[k] = v
	}
	data, _ := json.Marshal(frame)
	room := u.room
	if r, ok := fields["room"].(int); ok {
		room = int64(r)
	}
	reply, err := a.h.Command(testCtx(a.t), sdk.Command{Type: typ, Caller: sdk.Caller{Name: u.name, Role: u.role, Room: u.room}, Room: room, Data: data})
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(reply.Data, out); err != nil {
			a.t.Fatalf("%s answer %s: %v", typ, reply.Data, err)
		}
	}
	return nil
}

func (a *av) join(u who, fields map[string]any) joinReply {
	a.t.Helper()
	var r joinReply
	if err := a.call(u, cmdJoin, fields, &r); err != nil {
		a.t.Fatalf("%s: av.join: %v", u.name, err)
	}
	return r
}

// refused sends a command that must be refused with code; the answer is
// the refusal's sentence.
func (a *av) refused(u who, code, typ string, fields map[string]any) string {
	a.t.Helper()
	err := a.call(u, typ, fields, nil)
	var r *sdk.Refusal
	if !errors.As(err, &r) || r.Code != code {
		a.t.Fatalf("%s: %s: got %v, want a refusal %s", u.name, typ, err, code)
	}
	return r.Message
}

// eventually waits for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
