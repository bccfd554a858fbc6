package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

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

	want := []string{"watcher"}
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
