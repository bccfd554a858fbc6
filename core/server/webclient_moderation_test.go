package server_test

import (
	"strings"
	"testing"

	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// TestWebClientSanctions: a user muted through the server API sees why
// and until when as a system line, and a muted message box; lifted, the
// box comes back. With chat.moderators_see_ip the room's moderator sees
// the members' addresses in the user list; the muted user never does.
func TestWebClientSanctions(t *testing.T) {
	lobby := webLobby()
	lobby.Owner = "mia"
	cfg := webConfig(t, lobby)
	cfg.Chat.ModeratorsSeeIP = true
	servertest.EnableAPI(cfg)
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)
	browser := testenv.Browser(t)
	mia := openBrowserTab(t, browser, base, "mia")
	bob := openBrowserTab(t, browser, base, "bob")
	mia.login()
	mia.joinLobby()
	bob.login()
	bob.joinLobby()

	// The moderator sees bob's address (he joined after her) and her own.
	mia.do("see the addresses",
		pollJS(`() => { const e = document.querySelector('#users [data-user="bob"] .user-ip'); return e && e.textContent === "127.0.0.1"; }`),
		pollJS(`() => { const e = document.querySelector('#users [data-user="mia"] .user-ip'); return e && e.textContent === "127.0.0.1"; }`),
	)

	servertest.APIOK(t, base, "mute", map[string]any{"user": "bob", "room_id": 1, "minutes": 30, "reason": "shouting", "actor": "mia"})
	bob.do("see the mute",
		pollJS(`() => [...document.querySelectorAll("#messages .msg-sanction")].some(li => li.textContent.includes("You are muted in Lobby by mia until") && li.textContent.includes("shouting"))`),
		pollJS(`() => document.getElementById("compose-text").disabled && document.getElementById("compose").classList.contains("compose-muted")`),
		pollJS(`() => document.getElementById("compose-text").placeholder.startsWith("You are muted in this room until")`),
	)
	bob.screenshot("muted")
	if n := evalJS[int](bob, `document.querySelectorAll("#users .user-ip").length`); n != 0 {
		t.Errorf("a plain user sees %d addresses", n)
	}
	if html := evalJS[string](bob, `document.getElementById("users").innerHTML`); strings.Contains(html, "127.0.0.1") {
		t.Errorf("a plain user's user list holds an address: %s", html)
	}

	out := servertest.APIOK(t, base, "unmute", map[string]any{"user": "bob"})
	if out["count"] != 1.0 {
		t.Fatalf("unmute %v", out)
	}
	bob.do("see the mute lifted",
		pollJS(`() => [...document.querySelectorAll("#messages .msg-sanction-lifted")].some(li => li.textContent.includes("You may speak again"))`),
		pollJS(`() => !document.getElementById("compose-text").disabled && !document.getElementById("compose").classList.contains("compose-muted")`),
	)
	bob.say("sorry")
	mia.do("see bob again", pollJS(jsHasLine, "message", "bob", "sorry"))
	mia.screenshot("moderator")
}
