package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

// moduleServer runs the server with the test module of core/pluginhost,
// which implements every hook and owns the mod. commands: OnLogin shows
// names upper-cased and refuses mallory, OnMessage upper-cases messages
// and refuses "refuse" with code flood.
func moduleServer(t *testing.T) *server.Server {
	t.Helper()
	bin := testenv.GoBuild(t, "./core/pluginhost/testdata/parlor-plugin-mod", "parlor-plugin-mod")
	cfg := testConfig(t)
	cfg.Plugins.Load = map[string]config.PluginSpec{"mod": {Path: bin}}
	return servertest.Start(t, cfg)
}

func TestModuleHooksCommandsAndAssets(t *testing.T) {
	srv := moduleServer(t)
	alice, bob := servertest.Dial(t, srv), servertest.Dial(t, srv)

	hello := alice.Hello()
	if got, _ := json.Marshal([]any{hello["modules"], hello["extensions"], hello["commands"]}); string(got) != `[["mod"],[{"module":"mod","url":"/plugins/mod/main.js"}],["mod."]]` {
		t.Fatalf("hello announces %s", got)
	}
	resp, err := http.Get(servertest.URL(srv) + "/plugins/mod/main.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(string(body), "export default") {
		t.Fatalf("GET /plugins/mod/main.js: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// OnLogin: a display name changed, a login refused with the reason.
	if u := alice.Login("alice", "")["user"].(map[string]any); u["display"] != "ALICE" {
		t.Fatalf("login_ok user = %v", u)
	}
	bob.Login("bob", "")
	mallory := servertest.Dial(t, srv)
	mallory.Send(map[string]string{"type": "login", "user": "mallory"})
	if msg := mallory.WantError("refused"); msg != "not you, mallory" {
		t.Fatalf("mallory refused with %q", msg)
	}

	// OnMessage: the other member gets the text as the module changed it.
	alice.Join(1, "")
	bob.Join(1, "")
	alice.Send(map[string]any{"type": "say", "text": "hello"})
	if m := bob.Want("message"); m["text"] != "HELLO" || m["from"] != "alice" {
		t.Fatalf("bob got %v", m)
	}
	alice.Send(map[string]any{"type": "say", "id": "r", "text": "refuse"})
	if msg := alice.WantError("flood"); msg != "Slow down." {
		t.Fatalf("refusal %q", msg)
	}

	// Commands: the owner answers with the caller and room; an unknown
	// prefix is refused.
	alice.Send(map[string]any{"type": "mod.echo", "id": "e1", "x": 7})
	res := alice.Want("result")
	data := res["data"].(map[string]any)
	if res["id"] != "e1" || data["caller"] != "alice" || data["role"] != "guest" || data["room"] != float64(1) ||
		data["frame"].(map[string]any)["x"] != float64(7) {
		t.Fatalf("result = %v", res)
	}
	alice.Send(map[string]any{"type": "nope.x", "id": "n"})
	if msg := alice.WantError("unknown_command"); !strings.Contains(msg, "nope.x") {
		t.Fatalf("unknown command: %q", msg)
	}

	// Notifications reach the module on its stream.
	deadline := time.Now().Add(servertest.Timeout)
	for {
		alice.Send(map[string]any{"type": "mod.seen", "id": "s"})
		if n := alice.Want("result")["data"].(float64); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the module saw no notification")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestModuleHostAPISanctionsAndEvents(t *testing.T) {
	srv := moduleServer(t)
	ctx := context.Background()
	host := srv.HostAPI("mod")
	alice, bob, carol := servertest.Dial(t, srv), servertest.Dial(t, srv), servertest.Dial(t, srv)
	alice.Login("alice", "")
	bob.Login("bob", "")
	carol.Login("carol", "")
	alice.Join(1, "")
	bob.Join(1, "")

	// A custom event of the module reaches the room; a type outside its
	// prefixes is refused.
	n, err := host.Messages().Event(ctx, sdk.ToRoom(1), sdk.Event{Type: "mod.ping", Data: json.RawMessage(`{"n":1}`)})
	if err != nil || n != 2 {
		t.Fatalf("event reached %d: %v", n, err)
	}
	if ev := bob.Want("mod.ping"); ev["module"] != "mod" || ev["data"].(map[string]any)["n"] != float64(1) {
		t.Fatalf("bob got %v", ev)
	}
	if _, err := host.Messages().Event(ctx, sdk.ToRoom(1), sdk.Event{Type: "wb.ops"}); !errors.Is(err, sdk.ErrDenied) {
		t.Fatalf("event outside the prefixes: %v", err)
	}

	// A mute in the room: say and commands are refused, a quiet command
	// passes.
	if _, err := host.Sanctions().Add(ctx, sdk.Sanction{Kind: sdk.SanctionMute, User: "bob", Room: 1, Reason: "flooding", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	bob.Send(map[string]any{"type": "say", "text": "hi"})
	if msg := bob.WantError("muted"); !strings.Contains(msg, "flooding") {
		t.Fatalf("mute: %q", msg)
	}
	bob.Send(map[string]any{"type": "mod.echo", "id": "m"})
	bob.WantError("muted")
	bob.Send(map[string]any{"type": "mod.seen", "id": "q"})
	bob.Want("result")

	// A ban of the chat ends carol's login and keeps her out.
	if _, err := host.Sanctions().Add(ctx, sdk.Sanction{Kind: sdk.SanctionBan, User: "carol", Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	if ev := carol.Want("logged_out"); !strings.Contains(ev["reason"].(string), "spam") {
		t.Fatalf("logged_out = %v", ev)
	}
	carol.WaitClosed()
	again := servertest.Dial(t, srv)
	again.Send(map[string]string{"type": "login", "user": "carol"})
	if msg := again.WantError("banned"); !strings.Contains(msg, "spam") {
		t.Fatalf("banned login: %q", msg)
	}

	// Rooms made through the Host API reach the clients' room list, and
	// members carry their roles.
	room, err := host.Rooms().Create(ctx, sdk.Room{Name: "Studio", Owner: "alice", Open: true, Guests: true})
	if err != nil {
		t.Fatal(err)
	}
	alice.WantMatch("rooms_delta", func(ev map[string]any) bool {
		changed, _ := ev["changed"].([]any)
		for _, r := range changed {
			if r.(map[string]any)["name"] == "Studio" {
				return true
			}
		}
		return false
	})
	if err := host.Members().Move(ctx, "alice", room.ID); err != nil {
		t.Fatal(err)
	}
	joined := alice.WantMatch("joined", func(ev map[string]any) bool { return ev["room"].(map[string]any)["name"] == "Studio" })
	if m := joined["members"].([]any)[0].(map[string]any); m["name"] != "alice" || m["role"] != "moderator" {
		t.Fatalf("members = %v", joined["members"])
	}
}

// A module that names the notification kinds it wants gets those only:
// with notify [joined, left], a delivered message never reaches it.
func TestModuleGetsOnlyTheNotificationKindsItWants(t *testing.T) {
	bin := testenv.GoBuild(t, "./core/pluginhost/testdata/parlor-plugin-mod", "parlor-plugin-mod")
	cfg := testConfig(t)
	cfg.Plugins.Load = map[string]config.PluginSpec{"mod": {Path: bin, Config: map[string]any{"notify": []string{"joined", "left"}}}}
	srv := servertest.Start(t, cfg)
	alice, bob := servertest.Dial(t, srv), servertest.Dial(t, srv)
	alice.Login("alice", "")
	bob.Login("bob", "")
	alice.Join(1, "")
	bob.Join(1, "")
	alice.Send(map[string]any{"type": "say", "text": "hello"})
	if m := bob.Want("message"); m["text"] != "HELLO" {
		t.Fatalf("bob got %v", m)
	}
	alice.Join(4, "") // leaves the Lobby after her message was delivered
	deadline := time.Now().Add(servertest.Timeout)
	for i := 0; ; i++ {
		id := fmt.Sprint("k", i)
		alice.Send(map[string]any{"type": "mod.kinds", "id": id})
		res := alice.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == id })
		got, _ := json.Marshal(res["data"])
		if strings.Contains(string(got), "left") {
			if string(got) != `["joined","left"]` {
				t.Fatalf("the module got the kinds %s, want only joined and left", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the module got no left notification; kinds %s", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
