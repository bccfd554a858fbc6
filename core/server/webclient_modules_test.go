package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// TestWebClientModulesUnits runs the client's connection and protocol
// modules in the page on their own: the reconnect backoff stays in its
// window, and requests are answered by the event with their id.
func TestWebClientModulesUnits(t *testing.T) {
	base := startWebServer(t)
	browser := testenv.Browser(t)
	tab := openBrowserTab(t, browser, base, "units")
	tab.do("open the client", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("login-user")))

	backoff := evalAsync[[]float64](tab, `(async () => {
		const { backoffDelay } = await import("/js/connection.js");
		const lo = () => 0, hi = () => 0.999999;
		return [backoffDelay(1, 1000, 30000, lo), backoffDelay(1, 1000, 30000, hi),
			backoffDelay(3, 1000, 30000, hi), backoffDelay(20, 1000, 30000, hi), backoffDelay(20, 1000, 30000, lo)];
	})()`)
	if want := []float64{1000, 2000, 8000, 30000, 1000}; !equalFloats(backoff, want) {
		t.Errorf("backoff delays %v, want %v (1 s floor, ceiling doubling to 30 s)", backoff, want)
	}

	got := evalAsync[[]string](tab, `(async () => {
		const { Protocol, ProtocolError } = await import("/js/protocol.js");
		const sent = [];
		const p = new Protocol({ send: (m) => { sent.push(m); return true; } });
		const seen = [];
		p.on("joined", (ev, ctx) => seen.push("joined " + (ctx ? ctx.password : "-")));
		p.on("message", (ev, ctx) => seen.push("message " + (ctx ? "answer" : "event")));
		p.on("error", (ev) => seen.push("error event " + ev.code));
		const join = p.request({ type: "join", room: 1 }, { ctx: { password: "pw" } });
		const bad = p.request({ type: "dice.roll" });
		const out = [];
		// A message's numeric id is not a request id.
		p.receive(JSON.stringify({ type: "message", id: Number(sent[0].id), text: "hi" }));
		p.receive(JSON.stringify([{ type: "error", id: sent[1].id, code: "unknown_command", message: "nobody" },
			{ type: "joined", id: sent[0].id, room: { id: 1 } }]));
		p.receive(JSON.stringify({ type: "error", code: "not_saved", message: "later" }));
		out.push("join " + (await join).type);
		try { await bad; out.push("bad resolved"); } catch (e) { out.push("bad " + (e instanceof ProtocolError) + " " + e.code + " " + e.message); }
		const offline = new Protocol({ send: () => false });
		try { await offline.request({ type: "rooms" }); } catch (e) { out.push("offline " + e.code); }
		const lost = p.request({ type: "rooms" });
		p.failAll();
		try { await lost; } catch (e) { out.push("lost " + e.code); }
		return seen.concat(out, [String(sent[0].id !== sent[1].id && typeof sent[0].id === "string")]);
	})()`)
	want := []string{"message event", "joined pw", "error event not_saved", "join joined", "bad true unknown_command nobody", "offline not_connected", "lost disconnected", "true"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("protocol module:\n got %q\nwant %q", got, want)
	}
}

// evalAsync evaluates a JavaScript expression whose value is a Promise.
func evalAsync[T any](b *browserTab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: evaluate: %v\n%s", b.name, err, b.dump())
	}
	return v
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWebClientReconnectsAfterDrop: a guest whose connection the server
// drops sees it, waits the backoff, signs in again by name and is back in
// the room, where the others see the messages.
func TestWebClientReconnectsAfterDrop(t *testing.T) {
	srv := servertest.Start(t, webConfig(t))
	browser := testenv.Browser(t)
	base := servertest.URL(srv)
	gus := openBrowserTab(t, browser, base, "gus")
	hal := openBrowserTab(t, browser, base, "hal")
	watch := testenv.WatchPage(t, gus.ctx)
	gus.login()
	hal.login()
	gus.joinLobby()
	hal.joinLobby()
	hal.waitUser("gus")

	dropConnection(t, srv, "gus")
	gus.do("see the connection lost and the countdown",
		chromedp.WaitVisible(chromedp.ID("conn-lost")),
		pollJS(`() => document.getElementById("status").textContent.includes("retrying in")`),
	)
	gus.waitBackInLobby()
	gus.say("back by myself")
	hal.do("see gus's message", pollJS(jsHasLine, "message", "gus", "back by myself"))
	logins := framesWith(watch.SentFrames(), `"type":"login"`)
	if n := len(framesWith(logins, `"user":"gus"`)); n != 2 {
		t.Errorf("%d guest logins as gus, want 2 (the form, then the reconnect): %q", n, logins)
	}
	if n := len(framesWith(watch.SentFrames(), `"type":"join"`)); n != 2 {
		t.Errorf("%d joins, want 2 (the click, then the rejoin)", n)
	}
}

// TestWebClientEmotionReachesOthers: an emoticon picked in one browser
// travels with the message (core/chat echoes `emotion`) and shows in the
// other browser, for room and private messages.
func TestWebClientEmotionReachesOthers(t *testing.T) {
	base := startWebServer(t)
	browser := testenv.Browser(t)
	ida := openBrowserTab(t, browser, base, "ida")
	jon := openBrowserTab(t, browser, base, "jon")
	for _, b := range []*browserTab{ida, jon} {
		b.login()
		b.joinLobby()
	}
	ida.waitUser("jon")
	ida.pickEmotion("e12")
	ida.say("a kiss for the room")
	jon.do("see the emoticon", pollJS(jsHasEmotion, "message", "ida", "a kiss for the room", "e12"))

	ida.do("choose jon", chromedp.Click(chromedp.CSS(`#users [data-user="jon"] button`)), pollJS(`() => !document.getElementById("pm-bar").hidden`))
	ida.pickEmotion("e3")
	ida.say("just for you")
	jon.do("see the emoticon on the private message", pollJS(jsHasEmotion, "private", "ida", "just for you", "e3"))
	ida.do("see it on the echo", pollJS(jsHasEmotion, "private", "ida", "just for you", "e3"))
	jon.screenshot("emotion")
}

// jsHasEmotion is true when #messages holds a line of the kind from the
// sender with the text and the emoticon drawn.
const jsHasEmotion = `(kind, from, text, code) => [...document.querySelectorAll("#messages .msg")].some(li =>
	li.dataset.kind === kind && li.dataset.from === from && li.querySelector(".msg-text")?.textContent === text &&
	li.querySelector('.msg-emotion[data-emotion="' + code + '"] svg.emoticon') !== null)`

// pickEmotion chooses an emoticon for the next message in the picker.
func (b *browserTab) pickEmotion(code string) {
	b.t.Helper()
	b.do("pick emoticon "+code,
		chromedp.Click(chromedp.ID("emotion-button")),
		chromedp.WaitVisible(chromedp.CSS(`#emotion-picker [data-emotion="`+code+`"]`)),
		chromedp.Click(chromedp.CSS(`#emotion-picker [data-emotion="`+code+`"]`)),
		pollJS(`(code) => document.getElementById("emotion-button").dataset.emotion === code`, code),
	)
}

// TestWebClientRoleBadges: the user list shows the roles core/chat sends
// with the members: the server administrator, the room's owner as
// moderator, and guests.
func TestWebClientRoleBadges(t *testing.T) {
	cfg := passwordWebConfig(t)
	lobby := webLobby()
	lobby.Owner = "someone, alice"
	cfg.Rooms[0] = lobby
	srv := servertest.Start(t, cfg)
	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, servertest.URL(srv), "alice")
	root := openBrowserTab(t, browser, servertest.URL(srv), "root")
	kim := openBrowserTab(t, browser, servertest.URL(srv), "kim")
	alice.loginWithPassword("alice", "alice-pw")
	root.loginWithPassword("root", "root-pw")
	kim.login()
	for _, b := range []*browserTab{alice, root, kim} {
		b.joinLobby()
	}
	kim.waitUser("alice")
	kim.waitUser("root")
	kim.do("see the role badges",
		pollJS(jsRole, "alice", "moderator"),
		pollJS(jsRole, "root", "admin"),
		pollJS(jsRole, "kim", "guest"),
	)
	// A join after ours brings the role with the presence event.
	alice.do("leave", chromedp.Click(chromedp.ID("leave-room")), pollJS(`() => document.getElementById("room-title").textContent === "No room"`))
	kim.do("see alice go", pollJS(`() => !document.querySelector('#users [data-user="alice"]')`))
	alice.joinLobby()
	kim.do("see alice's badge again, from the presence event", pollJS(jsRole, "alice", "moderator"))
	kim.screenshot("roles")
}

// jsRole is true when the user list shows the user with the role's badge.
const jsRole = `(user, role) => document.querySelector('#users [data-user="' + user + '"][data-role="' + role + '"] .badge-role-' + role) !== null`
