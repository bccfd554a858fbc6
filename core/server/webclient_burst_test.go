package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

// jsRoomCount is the head count a room's entry in the room list shows.
const jsRoomCount = `(id) => { const b = document.querySelector('#rooms [data-room-id="' + id + '"] .room-count-badge'); return b ? b.textContent.split("/")[0] : ""; }`

// A burst of clients joining over the protocol at once while two pages
// watch: one in the Lobby (its user list follows presence, its room list
// presence and the room list deltas), one in no room (its room list has
// only the deltas). Both end with the server's counts, and the Lobby page
// with exactly the Lobby's users.
func TestWebClientRoomListAndUsersAfterABurstOfJoins(t *testing.T) {
	srv := servertest.Start(t, webConfig(t,
		config.Room{ID: webLobbyID, Name: "Lobby", Member: true, Open: true, Max: 60, Welcome: webLobbyWelcome},
		config.Room{ID: 2, Name: "Garden", Member: true, Open: true},
		config.Room{ID: 3, Name: "Hall", Member: true, Open: true},
	))
	base := servertest.URL(srv)
	browser := testenv.Browser(t)
	watcher := openBrowserTab(t, browser, base, "watcher")
	viewer := openBrowserTab(t, browser, base, "viewer")
	watcher.login()
	watcher.joinLobby()
	viewer.login()
	// A protocol client in the Lobby, reading the frames as they come:
	// the burst's presence reaches it in presence_batch frames.
	raw := rawLobbyMember(t, base)

	// 40 clients log in and join at once: 30 into the Lobby, 10 into the
	// Garden.
	const burst, inLobby = 40, 30
	clients := make([]*servertest.Client, burst)
	for i := range clients {
		clients[i] = servertest.Dial(t, srv)
	}
	room := func(i int) int {
		if i < inLobby {
			return webLobbyID
		}
		return 2
	}
	for i, c := range clients {
		c.Send(map[string]string{"type": "login", "user": fmt.Sprintf("p%02d", i)})
		c.Send(map[string]any{"type": "join", "room": room(i)})
	}
	for _, c := range clients {
		c.Want("joined")
	}
	if heard := raw.batchUsers(t); len(heard) < 2 {
		t.Fatalf("the Lobby's protocol client got a presence_batch of %v", heard)
	}
	// Then 5 of the Lobby's leave the chat, 3 move to the Hall, and a room
	// is added.
	for _, c := range clients[:5] {
		_ = c.Conn().CloseNow()
	}
	for _, c := range clients[5:8] {
		c.Join(3, "")
	}
	if _, err := srv.HostAPI("test").Rooms().Create(context.Background(), sdk.Room{Name: "Annex", Open: true, Guests: true}); err != nil {
		t.Fatal(err)
	}

	want := []string{"raw", "watcher"}
	for i := 8; i < inLobby; i++ {
		want = append(want, fmt.Sprintf("p%02d", i))
	}
	slices.Sort(want)
	counts := map[string]string{"1": fmt.Sprint(len(want)), "2": "10", "3": "3"}
	for _, b := range []*browserTab{watcher, viewer} {
		for id, n := range counts {
			b.do("see room "+id+" count "+n, pollJS(`(id, n) => (`+jsRoomCount+`)(id) === n`, id, n))
		}
		b.do("see the added room", pollJS(`() => [...document.querySelectorAll("#rooms .room-name")].some(e => e.textContent === "Annex")`))
	}
	watcher.do("see the Lobby's users",
		pollJS(`(n) => document.querySelectorAll("#users [data-user]").length === n`, len(want)))
	got := evalJS[[]string](watcher, `[...document.querySelectorAll("#users [data-user]")].map(e => e.dataset.user).sort()`)
	if !slices.Equal(got, want) {
		t.Errorf("the Lobby's user list shows %v, want %v", got, want)
	}
	if head := evalJS[string](watcher, `document.getElementById("room-count").textContent`); head != fmt.Sprintf("%d/60", len(want)) {
		t.Errorf("the room head shows %q people, want %d/60", head, len(want))
	}
	if n := evalJS[string](watcher, `document.getElementById("users-count").textContent`); !strings.Contains(n, fmt.Sprint(len(want))) {
		t.Errorf("the user list's count shows %q, want %d", n, len(want))
	}
	// The server agrees.
	users, err := srv.Group().Users(webLobbyID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(users)
	if !slices.Equal(users, want) {
		t.Errorf("the server's Lobby holds %v, want %v", users, want)
	}
	watcher.screenshot("after-burst")
	viewer.screenshot("after-burst")
}

// rawMember is a protocol client whose frames a test reads itself.
type rawMember struct {
	ws *websocket.Conn
}

// rawLobbyMember logs a guest in and enters the Lobby over a bare
// WebSocket.
func rawLobbyMember(t *testing.T, base string) *rawMember {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	m := &rawMember{ws: ws}
	for _, req := range []string{`{"type":"login","user":"raw"}`, fmt.Sprintf(`{"type":"join","room":%d}`, webLobbyID)} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	m.until(t, `"type":"joined"`)
	return m
}

// until reads frames until one holds s, and returns it.
func (m *rawMember) until(t *testing.T, s string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Timeout)
	defer cancel()
	for {
		_, b, err := m.ws.Read(ctx)
		if err != nil {
			t.Fatalf("no frame with %s: %v", s, err)
		}
		if strings.Contains(string(b), s) {
			return b
		}
	}
}

// batchUsers reads frames until a presence_batch and returns who its
// events name.
func (m *rawMember) batchUsers(t *testing.T) []string {
	t.Helper()
	b := m.until(t, `"type":"presence_batch"`)
	var frames []json.RawMessage
	if b[0] != '[' {
		frames = []json.RawMessage{b}
	} else if err := json.Unmarshal(b, &frames); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		var ev struct {
			Type   string `json:"type"`
			Events []struct {
				User string `json:"user"`
			} `json:"events"`
		}
		if err := json.Unmarshal(f, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == "presence_batch" {
			var users []string
			for _, e := range ev.Events {
				users = append(users, e.User)
			}
			return users
		}
	}
	return nil
}
