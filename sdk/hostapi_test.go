package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// fakeHost records what reaches the host side and answers with fixed
// values; the groups it does not implement are nil (calling them panics).
type fakeHost struct {
	sdk.Host
	room     sdk.Room
	edit     sdk.RoomEdit
	sanction sdk.Sanction
	sched    sdk.ScheduleState
	event    sdk.Event
	to       sdk.Audience
	doc      []byte
	expect   int64
}

func (f *fakeHost) Rooms() sdk.Rooms         { return fakeRooms{f} }
func (f *fakeHost) Sanctions() sdk.Sanctions { return fakeSanctions{f} }
func (f *fakeHost) Messages() sdk.Messages   { return fakeMessages{f} }
func (f *fakeHost) Docs() sdk.Docs           { return fakeDocs{f} }

type fakeRooms struct{ f *fakeHost }

func (r fakeRooms) List(context.Context) ([]sdk.Room, error) { return []sdk.Room{r.f.room}, nil }
func (r fakeRooms) Get(_ context.Context, id int64) (sdk.Room, error) {
	return sdk.Room{}, fmt.Errorf("there is no room %d: %w", id, sdk.ErrNotFound)
}
func (r fakeRooms) Create(_ context.Context, room sdk.Room) (sdk.Room, error) {
	r.f.room = room
	return room, nil
}
func (r fakeRooms) Edit(_ context.Context, id int64, e sdk.RoomEdit) (sdk.Room, error) {
	r.f.edit = e
	return r.f.room, nil
}
func (r fakeRooms) SetOpen(context.Context, int64, bool) (sdk.Room, error) { return sdk.Room{}, nil }
func (r fakeRooms) Delete(context.Context, int64) error                    { return nil }
func (r fakeRooms) SetSchedule(_ context.Context, _ int64, st sdk.ScheduleState) (sdk.Room, error) {
	r.f.sched = st
	return r.f.room, nil
}

type fakeSanctions struct{ f *fakeHost }

func (s fakeSanctions) Add(_ context.Context, sn sdk.Sanction) (sdk.Sanction, error) {
	s.f.sanction = sn
	return sn, nil
}
func (s fakeSanctions) Lift(context.Context, int64, string) (sdk.Sanction, error) {
	return sdk.Sanction{}, fmt.Errorf("sanction 3 was lifted before: %w", sdk.ErrInvalid)
}
func (s fakeSanctions) List(context.Context, sdk.SanctionFilter) ([]sdk.Sanction, error) {
	return []sdk.Sanction{s.f.sanction}, nil
}

type fakeMessages struct{ f *fakeHost }

func (m fakeMessages) Notice(context.Context, sdk.Audience, string) (int, error) { return 0, nil }
func (m fakeMessages) Event(_ context.Context, to sdk.Audience, ev sdk.Event) (int, error) {
	m.f.to, m.f.event = to, ev
	if ev.Type == "mod.kick" {
		return 0, fmt.Errorf("event type %q is not yours: %w", ev.Type, sdk.ErrDenied)
	}
	return 4, nil
}
func (m fakeMessages) SayAs(context.Context, sdk.Say) (sdk.Message, error) { return sdk.Message{}, nil }

type fakeDocs struct{ f *fakeHost }

func (d fakeDocs) Get(_ context.Context, key string) (sdk.Document, error) {
	return sdk.Document{Key: key, Value: d.f.doc, Size: len(d.f.doc), Version: 7, Updated: time.UnixMilli(1700000000000).UTC()}, nil
}
func (d fakeDocs) Put(_ context.Context, key string, value []byte, expect int64) (int64, error) {
	if expect == 1 {
		return 0, fmt.Errorf("document %q is at version 7: %w", key, sdk.ErrConflict)
	}
	d.f.doc, d.f.expect = value, expect
	return 8, nil
}
func (d fakeDocs) Delete(context.Context, string, int64) error          { return nil }
func (d fakeDocs) List(context.Context, string) ([]sdk.Document, error) { return nil, nil }

// grabHost keeps the Host API a module is configured with.
type grabHost struct{ host sdk.Host }

func (g *grabHost) Configure(_ context.Context, cfg sdk.Config) error {
	g.host = cfg.Host
	return nil
}

func (g *grabHost) ServeHTTP(context.Context, sdk.HTTPRequest) (sdk.HTTPResponse, error) {
	return sdk.HTTPResponse{}, nil
}

// The plain Go values survive the gRPC encoding both ways, and the
// host's errors come back as the same sentinels with their reasons.
func TestHostAPIRoundTrip(t *testing.T) {
	f := &fakeHost{}
	g := &grabHost{}
	sdktest.Module(t, g, nil, f)
	h, ctx := g.host, context.Background()

	room := sdk.Room{ID: 3, Name: "Lobby", Desc: "d", Owner: "ann,bo", Speaker: "cy", Max: 9, Guests: true, Password: "pw",
		Locked: true, Open: true, Moderated: true, Welcome: "hi", Audio: true, Video: true, Whiteboard: true, Count: 2,
		Schedule: []schedule.Entry{{O: "day2", S: "00:00:00", E: "10:00:00"}, {O: "hourly", S: "00", E: "15"}},
		Zone:     "Europe/Berlin", OwnZone: "Europe/Berlin", Scheduled: true, ScheduleClosed: true, NextChange: time.Unix(1700000000, 0)}
	got, err := h.Rooms().Create(ctx, room)
	if err != nil || !reflect.DeepEqual(got, room) || !reflect.DeepEqual(f.room, room) {
		t.Fatalf("create room: sent %+v, host got %+v, answer %+v, %v", room, f.room, got, err)
	}
	if list, err := h.Rooms().List(ctx); err != nil || len(list) != 1 || !reflect.DeepEqual(list[0], room) {
		t.Fatalf("list rooms: %+v %v", list, err)
	}
	name, max, no := "x", 0, false
	if _, err := h.Rooms().Edit(ctx, 3, sdk.RoomEdit{Name: &name, Max: &max, Open: &no}); err != nil {
		t.Fatal(err)
	}
	if e := f.edit; e.Name == nil || *e.Name != "x" || e.Max == nil || *e.Max != 0 || e.Open == nil || *e.Open || e.Desc != nil || e.Guests != nil ||
		e.Schedule != nil || e.Zone != nil {
		t.Fatalf("edit arrived as %+v", e)
	}
	none, zone := []schedule.Entry{}, ""
	if _, err := h.Rooms().Edit(ctx, 3, sdk.RoomEdit{Schedule: &none, Zone: &zone}); err != nil {
		t.Fatal(err)
	}
	if e := f.edit; e.Schedule == nil || len(*e.Schedule) != 0 || e.Zone == nil || *e.Zone != "" || e.Name != nil {
		t.Fatalf("clearing edit arrived as %+v", e)
	}
	times := room.Schedule[:1]
	if _, err := h.Rooms().Edit(ctx, 3, sdk.RoomEdit{Schedule: &times}); err != nil || f.edit.Schedule == nil || !reflect.DeepEqual(*f.edit.Schedule, times) {
		t.Fatalf("schedule edit arrived as %+v, %v", f.edit, err)
	}
	st := sdk.ScheduleState{Closed: true, Next: time.Unix(1700000600, 0), MoveOut: true}
	if _, err := h.Rooms().SetSchedule(ctx, 3, st); err != nil || !reflect.DeepEqual(f.sched, st) {
		t.Fatalf("set schedule arrived as %+v, %v", f.sched, err)
	}
	if _, err := h.Rooms().Get(ctx, 5); !errors.Is(err, sdk.ErrNotFound) || sdk.Reason(err) != "there is no room 5" {
		t.Fatalf("get room: %v (reason %q)", err, sdk.Reason(err))
	}

	sn := sdk.Sanction{ID: 4, Kind: sdk.SanctionBan, User: "bob", IP: "10.0.0.0/8", Room: 2, Reason: "r", Actor: "ann",
		Source: "manual", Created: time.UnixMilli(1700000000123).UTC(), Expires: time.UnixMilli(1700000999000).UTC()}
	if got, err := h.Sanctions().Add(ctx, sn); err != nil || !reflect.DeepEqual(got, sn) || !reflect.DeepEqual(f.sanction, sn) {
		t.Fatalf("add sanction: host got %+v, answer %+v, %v", f.sanction, got, err)
	}
	if _, err := h.Sanctions().Lift(ctx, 3, ""); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("lift: %v", err)
	}

	n, err := h.Messages().Event(ctx, sdk.ToModerators(2), sdk.Event{Type: "dice.rolled", Room: 2, Data: json.RawMessage(`{"n":1}`)})
	if err != nil || n != 4 || f.to != sdk.ToModerators(2) || string(f.event.Data) != `{"n":1}` || f.event.Type != "dice.rolled" {
		t.Fatalf("event: %d %v, host got %+v %+v", n, err, f.to, f.event)
	}
	if _, err := h.Messages().Event(ctx, sdk.ToEveryone(), sdk.Event{Type: "mod.kick"}); !errors.Is(err, sdk.ErrDenied) || sdk.Reason(err) != `event type "mod.kick" is not yours` {
		t.Fatalf("denied event: %v", err)
	}

	// A document past both the KV limit and gRPC's 4 MiB message.
	big := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, (6<<20)/7)
	if v, err := h.Docs().Put(ctx, "board", big, sdk.AnyVersion); err != nil || v != 8 || !bytes.Equal(f.doc, big) || f.expect != sdk.AnyVersion {
		t.Fatalf("put: %d %v (host got %d bytes)", v, err, len(f.doc))
	}
	d, err := h.Docs().Get(ctx, "board")
	if err != nil || !bytes.Equal(d.Value, big) || d.Version != 7 || d.Size != len(big) || d.Updated.UnixMilli() != 1700000000000 {
		t.Fatalf("get: %d bytes, version %d, %v", len(d.Value), d.Version, err)
	}
	if _, err := h.Docs().Put(ctx, "board", []byte("x"), 1); !errors.Is(err, sdk.ErrConflict) {
		t.Fatalf("conflict: %v", err)
	}
	if _, err := h.Docs().Put(ctx, "board", make([]byte, sdk.DefaultMaxDocBytes+1), 0); !errors.Is(err, sdk.ErrInvalid) {
		t.Fatalf("over the default limit: %v", err)
	}
	f.doc = nil
	if d, err := h.Docs().Get(ctx, "empty"); err != nil || len(d.Value) != 0 {
		t.Fatalf("empty document: %+v %v", d, err)
	}
}
