package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/sdktest"
)

// TestSanctionExpiry: a timed mute, a timed ban and a kick's cooldown end
// by themselves. The
// module runs in-process (sdktest) on the real server's Host API with its
// clock 58 seconds behind, so that a sanction of one minute ends two
// seconds from now; the server enforces it on a real client until then.
func TestSanctionExpiry(t *testing.T) {
	srv := startServer(t, nil)
	m := newModeration(nil)
	m.now = func() time.Time { return time.Now().Add(-58 * time.Second) }
	h := sdktest.Module(t, m, nil, srv.HostAPI("moderation"))
	ctx := context.Background()
	mia := sdk.Caller{Name: "mia", Role: sdk.RoleModerator, Room: lobby}
	give := func(typ, fields string) {
		t.Helper()
		if _, err := h.Command(ctx, sdk.Command{Type: typ, Caller: mia, Room: lobby, Data: json.RawMessage(fields)}); err != nil {
			t.Fatalf("%s %s: %v", typ, fields, err)
		}
	}
	guest(t, srv, "mia", lobby)
	bob := guest(t, srv, "bob", lobby)
	vic := guest(t, srv, "vic", lobby)

	give("mod.mute", `{"user":"bob","minutes":1,"reason":"cool down"}`)
	say(bob, "muted?")
	bob.WantError("muted")
	time.Sleep(2500 * time.Millisecond)
	say(bob, "free again")
	if from, text := nextMessage(t, vic); from != "bob" || text != "free again" {
		t.Fatalf("vic got %s: %q", from, text)
	}

	give("mod.ban", `{"user":"bob","minutes":1,"reason":"a minute out"}`)
	bob.Want("left")
	bob.Send(map[string]any{"type": "join", "room": lobby})
	bob.WantError("banned")
	time.Sleep(2500 * time.Millisecond)
	bob.Join(lobby, "")

	// A kick's cooldown ends by itself too. The server dates a cooldown
	// from its own clock, so this one is the kick sanction a cooldown
	// makes, added to end two seconds from now.
	host := srv.HostAPI("moderation")
	if err := host.Members().Kick(ctx, "bob", lobby, "take a break", "mia", 0); err != nil {
		t.Fatal(err)
	}
	bob.Want("left")
	if _, err := host.Sanctions().Add(ctx, sdk.Sanction{Kind: sdk.SanctionKick, User: "bob", Room: lobby,
		Reason: "take a break", Actor: "mia", Source: "manual", Expires: time.Now().Add(2 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	bob.Send(map[string]any{"type": "join", "room": lobby})
	bob.WantError("kicked")
	time.Sleep(2500 * time.Millisecond)
	bob.Join(lobby, "")
}
