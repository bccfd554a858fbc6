package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// The web client tests drive the embedded client (core/web/static) in
// headless Chromium against a real server. Set PARLOR_SCREENSHOT_DIR to keep
// a screenshot of every tab at the end of a test.

const (
	webLobbyID         = 1
	webLobbyWelcome    = "Welcome to the Lobby"
	browserStepTimeout = 30 * time.Second
	browserPollTimeout = 20 * time.Second
)

// webConfig is servertest.Config with the given rooms (a guest-friendly
// Lobby when none are given).
func webConfig(t *testing.T, rooms ...config.Room) *config.Config {
	t.Helper()
	cfg := servertest.Config(t)
	if len(rooms) == 0 {
		rooms = []config.Room{webLobby()}
	}
	cfg.Rooms = rooms
	return cfg
}

func webLobby() config.Room {
	return config.Room{ID: webLobbyID, Name: "Lobby", Member: true, Open: true, Max: 50, Welcome: webLobbyWelcome}
}

// startWebServer runs a server with the rooms (see webConfig) and returns
// its base URL.
func startWebServer(t *testing.T, rooms ...config.Room) string {
	t.Helper()
	return servertest.URL(servertest.Start(t, webConfig(t, rooms...)))
}

// browserTab is one user's page in its own browser context.
type browserTab struct {
	t    *testing.T
	name string
	base string
	ctx  context.Context
}

func openBrowserTab(t *testing.T, browserCtx context.Context, base, name string) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	b := &browserTab{t: t, name: name, base: base, ctx: ctx}
	// Runs before cancel (cleanups run last-in first-out).
	t.Cleanup(b.finish)
	return b
}

// do runs steps with a time limit and fails the test on error.
func (b *browserTab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %s: %v\n%s", b.name, what, err, b.dump())
	}
}

// dump describes the page for a failure message.
func (b *browserTab) dump() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const t = id => { const e = document.getElementById(id); return e ? e.textContent.trim() : "(none)"; };
		const lines = [...document.querySelectorAll("#messages .msg")].map(e => "  [" + e.dataset.kind + "] " + e.textContent.trim());
		return "status: " + t("status") + "\nlogin error: " + t("login-error") + "\nroom error: " + t("room-error") +
			"\nusers: " + [...document.querySelectorAll("#users [data-user]")].map(e => e.dataset.user).join(", ") +
			"\nmessages:\n" + lines.join("\n");
	})()`))
	if err != nil {
		return "(page state unavailable: " + err.Error() + ")"
	}
	return "page of " + b.name + ":\n" + s
}

func (b *browserTab) finish() { b.screenshot("") }

// screenshot keeps a picture of the page in PARLOR_SCREENSHOT_DIR, if set,
// named for the test, the tab and what (may be empty).
func (b *browserTab) screenshot(what string) {
	name := b.name
	if what != "" {
		name += "-" + what
	}
	testenv.Screenshot(b.t, b.ctx, name)
}

// pollJS polls a JavaScript function of args until it returns true.
func pollJS(fn string, args ...any) chromedp.Action[chromedp.Void] {
	return testenv.Poll(browserPollTimeout, fn, args...)
}

// jsHasLine is true when #messages holds a line of the kind from the sender
// with the text.
const jsHasLine = `(kind, from, text) => [...document.querySelectorAll("#messages .msg")].some(li =>
	li.dataset.kind === kind && li.dataset.from === from &&
	li.querySelector(".msg-from") !== null && li.querySelector(".msg-from").textContent.includes(from) &&
	li.querySelector(".msg-text") !== null && li.querySelector(".msg-text").textContent === text)`

// submitLogin opens the client and submits the login form.
func (b *browserTab) submitLogin(name, password string) {
	b.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(b.base + "/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		chromedp.SendKeys(chromedp.ID("login-user"), name),
	}
	if password != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.ID("login-password"), password))
	}
	steps = append(steps, chromedp.Click(chromedp.ID("login-submit")))
	b.do("submit the login form", steps...)
}

// login signs in as a guest.
func (b *browserTab) login() {
	b.t.Helper()
	b.submitLogin(b.name, "")
	b.do("log in",
		chromedp.WaitVisible(chromedp.CSS("#rooms [data-room-id]")),
		pollJS(`(name) => document.getElementById("status").textContent.includes(name)`, b.name),
	)
}

// joinLobby enters the Lobby and checks the welcome message.
func (b *browserTab) joinLobby() {
	b.t.Helper()
	b.do("join the Lobby", chromedp.Click(chromedp.CSS(`#rooms [data-room-id="1"] button`)))
	b.waitRoom("Lobby", webLobbyWelcome)
}

// waitRoom waits until the client shows the room with its welcome message
// and lets the user type.
func (b *browserTab) waitRoom(name, welcome string) {
	b.t.Helper()
	b.do("enter "+name,
		pollJS(`(name) => document.getElementById("room-title").textContent === name`, name),
		pollJS(`(text) => [...document.querySelectorAll("#messages .msg")].some(li => li.textContent.includes(text))`, welcome),
		chromedp.WaitVisible(chromedp.CSS("#messages .msg-welcome")),
		pollJS(`() => !document.getElementById("compose-text").disabled`),
	)
}

// evalJS evaluates a JavaScript expression in the page.
func evalJS[T any](b *browserTab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v\n%s", b.name, expr, err, b.dump())
	}
	return v
}

// say types text in the compose box and sends it.
func (b *browserTab) say(text string) {
	b.t.Helper()
	b.do("send "+text,
		chromedp.SendKeys(chromedp.ID("compose-text"), text),
		chromedp.Click(chromedp.ID("compose-send")),
		pollJS(`() => document.getElementById("compose-text").value === ""`),
	)
}

func (b *browserTab) waitUser(name string) {
	b.t.Helper()
	b.do("see "+name+" in the user list",
		pollJS(`(name) => [...document.querySelectorAll("#users [data-user]")].some(e => e.dataset.user === name)`, name),
	)
}

func TestWebClientChat(t *testing.T) {
	base := startWebServer(t)
	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, base, "alice")
	bob := openBrowserTab(t, browser, base, "bob")

	alice.login()
	bob.login()
	alice.joinLobby()
	// A list update keeps the buttons of its rooms and users, so a click
	// that lands while a count changes is not lost: mark two of them.
	const jsLobby = `document.querySelector('#rooms [data-room-id="1"] button')`
	const jsSelf = `document.querySelector('#users [data-user="alice"] button')`
	alice.do("mark the Lobby and own user buttons", chromedp.Evaluate[chromedp.Void](`window.marked = [`+jsLobby+`, `+jsSelf+`]`))
	bob.joinLobby()
	alice.waitUser("bob")
	alice.do("see the Lobby count change",
		pollJS(`() => document.querySelector('#rooms [data-room-id="1"] .room-count-badge').textContent.split("/")[0] === "2"`))
	if !evalJS[bool](alice, `window.marked[0] === `+jsLobby+` && window.marked[1] === `+jsSelf) {
		t.Errorf("the room and user lists replaced their buttons on an update\n%s", alice.dump())
	}

	alice.say("hello from alice")
	bob.do("see alice's message",
		pollJS(jsHasLine, "message", "alice", "hello from alice"),
		chromedp.WaitVisible(chromedp.CSS(`#messages .msg[data-from="alice"]`)),
	)
	bob.waitUser("alice")
	bob.waitUser("bob")
	alice.waitUser("bob")
	// The sender sees its own message come back from the server.
	alice.do("see own message", pollJS(jsHasLine, "message", "alice", "hello from alice"))

	// Bold, underline and a color travel with the message and are applied.
	alice.do("choose a style",
		chromedp.Click(chromedp.ID("style-b")),
		chromedp.Click(chromedp.ID("style-u")),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const c = document.getElementById("style-color");
			c.value = "#cc0000";
			c.dispatchEvent(new Event("input", {bubbles: true}));
		})()`),
	)
	alice.say("styled text")
	bob.do("see the styled message", pollJS(jsHasLine, "message", "alice", "styled text"))
	style := evalJS[map[string]string](bob, `(() => {
		const li = [...document.querySelectorAll("#messages .msg")].find(li => li.textContent.includes("styled text"));
		const cs = getComputedStyle(li.querySelector(".msg-text"));
		return {weight: cs.fontWeight, style: cs.fontStyle, deco: cs.textDecorationLine, color: cs.color};
	})()`)
	if style["weight"] != "700" || style["style"] != "normal" || !strings.Contains(style["deco"], "underline") || style["color"] != "rgb(204, 0, 0)" {
		t.Errorf("styled message rendered with %v, want bold, not italic, underlined, rgb(204, 0, 0)", style)
	}

	// Markup in a message is shown as text, never parsed.
	markup := `<img src=x onerror="document.title='pwned'"><b>bold?</b>`
	alice.say(markup)
	bob.do("see the markup as text", pollJS(jsHasLine, "message", "alice", markup))
	if n := evalJS[int](bob, `document.querySelectorAll("#messages .msg-text img, #messages .msg-text b").length`); n != 0 {
		t.Errorf("message markup became %d elements", n)
	}

	// Two visitors who enter later both find what was said in the room's
	// history (the second gets the history the first one's join encoded),
	// and the second also what was said in between.
	enter := func(name string) *browserTab {
		tab := openBrowserTab(t, browser, base, name)
		tab.login()
		tab.joinLobby()
		return tab
	}
	carol := enter("carol")
	carol.do("see the history", pollJS(jsHasLine, "message", "alice", "hello from alice"),
		pollJS(jsHasLine, "message", "alice", "styled text"))
	bob.say("said before dave came")
	dave := enter("dave")
	dave.do("see the history with the newest message", pollJS(jsHasLine, "message", "alice", "hello from alice"),
		pollJS(jsHasLine, "message", "bob", "said before dave came"))
	dave.screenshot("history")
}

func TestWebClientPrivateMessage(t *testing.T) {
	base := startWebServer(t)
	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, base, "alice")
	bob := openBrowserTab(t, browser, base, "bob")
	carol := openBrowserTab(t, browser, base, "carol")

	for _, b := range []*browserTab{alice, bob, carol} {
		b.login()
		b.joinLobby()
	}
	bob.waitUser("alice")
	bob.waitUser("carol")

	// bob picks alice in the user list as the private message target.
	bob.do("choose alice",
		chromedp.Click(chromedp.CSS(`#users [data-user="alice"] button`)),
		chromedp.WaitVisible(chromedp.ID("pm-to")),
		pollJS(`() => document.getElementById("pm-to").textContent === "alice"`),
	)
	bob.say("psst from bob")
	alice.do("receive the private message", pollJS(jsHasLine, "private", "bob", "psst from bob"))
	bob.do("see the echo", pollJS(`(text) => [...document.querySelectorAll("#messages .msg-private")].some(li =>
		li.dataset.from === "bob" && li.dataset.to === "alice" && li.querySelector(".msg-text").textContent === text)`, "psst from bob"))

	// Back to the room: the server handles bob's requests in order, so once
	// carol has the public message she would have had the private one.
	bob.do("talk to the room",
		chromedp.Click(chromedp.ID("pm-clear")),
		pollJS(`() => document.getElementById("pm-bar").hidden`),
	)
	bob.say("public from bob")
	carol.do("see the public message", pollJS(jsHasLine, "message", "bob", "public from bob"))
	leaked, err := chromedp.Run(carol.ctx, chromedp.Evaluate[bool](`document.getElementById("messages").textContent.includes("psst from bob")`))
	if err != nil {
		t.Fatal(err)
	}
	if leaked {
		t.Fatalf("carol sees bob's private message to alice\n%s", carol.dump())
	}
	// alice got it as a private message, not as a room message.
	public, err := chromedp.Run(alice.ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll('#messages .msg[data-kind="message"]')].some(li => li.textContent.includes("psst from bob"))`))
	if err != nil {
		t.Fatal(err)
	}
	if public {
		t.Fatalf("alice sees the private message as a room message\n%s", alice.dump())
	}
}

func TestWebClientErrors(t *testing.T) {
	const secretWelcome = "Psst, welcome"
	base := startWebServer(t,
		webLobby(),
		config.Room{ID: 2, Name: "Secret", Member: true, Open: true, Password: "sesame", Welcome: secretWelcome},
		config.Room{ID: 3, Name: "Closed", Member: true, Open: false},
		config.Room{ID: 4, Name: "Staff", Member: false, Open: true},
	)
	browser := testenv.Browser(t)
	dave := openBrowserTab(t, browser, base, "dave")

	// The server refuses an invalid name; the client shows its message.
	dave.submitLogin("bad!name", "")
	dave.do("see the login error",
		chromedp.WaitVisible(chromedp.ID("login-error")),
		pollJS(`() => document.getElementById("login-error").textContent.trim() !== ""`),
	)
	if !evalJS[bool](dave, `document.getElementById("chat-view").hidden`) {
		t.Fatal("the chat is shown after a refused login")
	}

	dave.login()
	dave.do("see the room flags",
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="2"][data-locked="true"] .icon-lock`)),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="3"][data-open="false"] .badge-closed`)),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="4"][data-guests="false"] .badge-members`)),
	)

	// A locked room asks for its password; a wrong one is refused visibly.
	dave.do("try a wrong room password",
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="2"] button`)),
		chromedp.WaitVisible(chromedp.ID("room-password")),
		chromedp.SendKeys(chromedp.ID("room-password"), "wrong"),
		chromedp.Click(chromedp.ID("room-password-submit")),
		chromedp.WaitVisible(chromedp.ID("room-password-error")),
		pollJS(`() => document.getElementById("room-password-error").textContent.trim() !== ""`),
	)
	dave.do("give the right room password",
		chromedp.SendKeys(chromedp.ID("room-password"), "sesame"),
		chromedp.Click(chromedp.ID("room-password-submit")),
	)
	dave.waitRoom("Secret", secretWelcome)
	if evalJS[bool](dave, `document.getElementById("room-password-dialog").open`) {
		t.Error("the password dialog stays open after joining")
	}

	// Closed and members-only rooms are refused with the server's message;
	// the user stays where they were.
	for _, id := range []string{"3", "4"} {
		dave.do("try room "+id,
			chromedp.Evaluate[chromedp.Void](`document.getElementById("room-error").hidden = true`),
			chromedp.Click(chromedp.CSS(`#rooms [data-room-id="`+id+`"] button`)),
			chromedp.WaitVisible(chromedp.ID("room-error")),
			pollJS(`() => document.getElementById("room-error").textContent.trim() !== ""`),
		)
	}
	if title := evalJS[string](dave, `document.getElementById("room-title").textContent`); title != "Secret" {
		t.Errorf("room title %q after refused joins, want Secret", title)
	}
}

func TestWebClientReconnect(t *testing.T) {
	cfg := webConfig(t)
	srv := servertest.Start(t, cfg)
	addr := srv.HTTPAddr()
	browser := testenv.Browser(t)
	erin := openBrowserTab(t, browser, "http://"+addr, "erin")
	erin.login()
	erin.joinLobby()

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	erin.do("see the connection lost",
		chromedp.WaitVisible(chromedp.ID("conn-lost")),
		chromedp.WaitVisible(chromedp.ID("reconnect")),
		pollJS(`() => document.getElementById("compose-text").disabled`),
	)

	// A new server on the same address; the reconnect button signs in
	// again and returns to the room.
	cfg2 := *cfg
	cfg2.HTTP.Addr = addr
	servertest.Start(t, &cfg2)
	erin.do("reconnect", chromedp.Click(chromedp.ID("reconnect")))
	erin.waitBackInLobby()
	erin.say("back again")
	erin.do("see own message", pollJS(jsHasLine, "message", "erin", "back again"))
}

// jsHasText is true when #messages holds a line whose whole text is text.
const jsHasText = `(text) => [...document.querySelectorAll("#messages .msg")].some(li => li.textContent === text)`

// waitBackInLobby waits until the page has signed in again after a lost
// connection and is back in the Lobby.
func (b *browserTab) waitBackInLobby() {
	b.t.Helper()
	b.waitRoom("Lobby", webLobbyWelcome)
	b.do("see the connection back",
		pollJS(`() => document.getElementById("conn-lost").hidden`),
		pollJS(`(name) => document.getElementById("status").textContent.includes(name)`, b.name),
	)
}

// dropConnection closes the connection of the user online as name from
// the server's side.
func dropConnection(t *testing.T, srv *server.Server, name string) {
	t.Helper()
	m, ok := srv.Group().Online(name)
	if !ok {
		t.Fatalf("%s is not online", name)
	}
	m.Conn.Close("dropped by the test")
}

func TestWebClientPrivatePartnerLeaves(t *testing.T) {
	base := startWebServer(t, webLobby(), config.Room{ID: 2, Name: "Garden", Member: true, Open: true, Welcome: "Welcome to the Garden"})
	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, base, "alice")
	bob := openBrowserTab(t, browser, base, "bob")
	for _, b := range []*browserTab{alice, bob} {
		b.login()
		b.joinLobby()
	}
	alice.waitUser("bob")
	alice.do("choose bob",
		chromedp.Click(chromedp.CSS(`#users [data-user="bob"] button`)),
		pollJS(`() => document.getElementById("compose-text").placeholder === "Private message to bob"`),
	)

	// Leaving the room is not leaving the chat: the private message stays.
	bob.do("go to the Garden", chromedp.Click(chromedp.CSS(`#rooms [data-room-id="2"] button`)))
	bob.waitRoom("Garden", "Welcome to the Garden")
	alice.do("see bob leave the room", pollJS(jsHasText, "bob left."))
	if !evalJS[bool](alice, `!document.getElementById("pm-bar").hidden && document.getElementById("pm-to").textContent === "bob"`) {
		t.Fatalf("the private message to bob ended when bob changed rooms\n%s", alice.dump())
	}
	alice.say("still private")
	bob.do("receive the private message", pollJS(jsHasLine, "private", "alice", "still private"))
	bob.joinLobby()
	alice.waitUser("bob")

	// bob logs out: alice's compose bar goes back to the room and says why.
	bob.do("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login-view")))
	alice.do("see bob leave the chat",
		pollJS(jsHasText, "bob left the chat; your messages go to the room again."),
		pollJS(`() => document.getElementById("pm-bar").hidden`),
		pollJS(`() => document.getElementById("compose-text").placeholder === "Message Lobby"`),
	)
	alice.say("to the room again")
	alice.do("see the message in the room", pollJS(jsHasLine, "message", "alice", "to the room again"))
	if n := evalJS[int](alice, `document.querySelectorAll("#messages .msg-error").length`); n != 0 {
		t.Errorf("alice sees %d errors\n%s", n, alice.dump())
	}
}

func TestWebClientNoErrorsOnDefaultSetup(t *testing.T) {
	srv := servertest.Start(t, webConfig(t))
	// The hello frame says which plugins serve HTTP: none here.
	if m, ok := servertest.Dial(t, srv).Hello()["modules"].([]any); !ok || len(m) != 0 {
		t.Fatalf("hello modules = %v, want []", servertest.Dial(t, srv).Hello()["modules"])
	}
	browser := testenv.Browser(t)
	frank := openBrowserTab(t, browser, servertest.URL(srv), "frank")
	watch := testenv.WatchPage(t, frank.ctx)
	frank.login()
	frank.joinLobby()
	frank.say("all quiet")
	frank.do("see own message", pollJS(jsHasLine, "message", "frank", "all quiet"))
	// Once more from a fresh load of the page.
	frank.do("reload", chromedp.Navigate(servertest.URL(srv)+"/"), chromedp.WaitVisible(chromedp.ID("login-user")))
	frank.login()
	if p := watch.Problems(); len(p) != 0 {
		t.Errorf("the page reported problems on the default set-up:\n%s", strings.Join(p, "\n"))
	}
	for _, u := range watch.Requests() {
		if strings.Contains(u, "/sso/") {
			t.Errorf("the page asked for %s although the server has no sso module", u)
		}
	}
}

// passwordWebConfig is usersPluginConfig (alice:alice-pw through an
// authenticator plugin, no local account) with the web client's Lobby.
func passwordWebConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := usersPluginConfig(t)
	cfg.Rooms = []config.Room{webLobby()}
	return cfg
}

// loginWithPassword signs in with the form and waits for the room list.
func (b *browserTab) loginWithPassword(name, password string) {
	b.t.Helper()
	b.submitLogin(name, password)
	b.do("log in",
		chromedp.WaitVisible(chromedp.CSS("#rooms [data-room-id]")),
		pollJS(`(name) => document.getElementById("status").textContent.includes(name)`, name),
	)
}

// framesWith returns the frames that contain s.
func framesWith(frames []string, s string) []string {
	var out []string
	for _, f := range frames {
		if strings.Contains(f, s) {
			out = append(out, f)
		}
	}
	return out
}

func TestWebClientReconnectWithoutPassword(t *testing.T) {
	const password = "alice-pw"
	srv := servertest.Start(t, passwordWebConfig(t))
	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, servertest.URL(srv), "alice")
	watch := testenv.WatchPage(t, alice.ctx)
	alice.loginWithPassword("alice", password)
	alice.joinLobby()

	// The server drops the connection; the client comes back by itself.
	dropConnection(t, srv, "alice")
	alice.do("see the connection lost", chromedp.WaitVisible(chromedp.ID("conn-lost")))
	alice.waitBackInLobby()
	alice.say("back without a password")
	alice.do("see own message", pollJS(jsHasLine, "message", "alice", "back without a password"))

	frames := watch.SentFrames()
	if got := framesWith(frames, password); len(got) != 1 {
		t.Errorf("%d frames carry the password, want only the first login:\n%s", len(got), strings.Join(got, "\n"))
	}
	// The page first tries the login cookie (it has none), then the form's
	// password, then the reconnect token.
	logins := framesWith(frames, `"type":"login"`)
	if n := len(logins); n < 2 || !strings.Contains(logins[n-2], password) || !strings.Contains(logins[n-1], `"token":"`) {
		t.Errorf("login frames = %q, want the password login and then one with the token", logins)
	}
}

func TestWebClientReconnectTokenRefused(t *testing.T) {
	const password = "alice-pw"
	cfg := passwordWebConfig(t)
	// The token expires as soon as its connection ends, so the server
	// refuses it after the restart (the store keeps it otherwise).
	cfg.Auth.ReconnectTTL = time.Millisecond
	srv := servertest.Start(t, cfg)
	addr := srv.HTTPAddr()
	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, "http://"+addr, "alice")
	watch := testenv.WatchPage(t, alice.ctx)
	alice.loginWithPassword("alice", password)
	alice.joinLobby()

	servertest.Stop(t, srv)
	alice.do("see the connection lost", chromedp.WaitVisible(chromedp.ID("conn-lost")))
	cfg2 := *cfg
	cfg2.HTTP.Addr = addr
	servertest.Start(t, &cfg2)
	alice.do("reconnect", chromedp.Click(chromedp.ID("reconnect")))
	alice.do("see the login form",
		chromedp.WaitVisible(chromedp.ID("login-view")),
		pollJS(`() => document.getElementById("chat-view").hidden`),
		pollJS(`() => document.getElementById("login-error").textContent.includes("sign in again")`),
		pollJS(`() => document.getElementById("login-user").value === "alice"`),
		pollJS(`() => document.getElementById("conn-lost").hidden`),
	)
	alice.screenshot("signed-out")
	if got := framesWith(watch.SentFrames(), password); len(got) != 1 {
		t.Errorf("%d frames carry the password, want only the first login:\n%s", len(got), strings.Join(got, "\n"))
	}

	// Signing in again with the password works.
	alice.do("sign in again",
		chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")),
		pollJS(`() => document.getElementById("status").textContent.includes("alice")`),
		chromedp.WaitVisible(chromedp.CSS("#rooms [data-room-id]")),
	)
}

// jsRect returns the bounding box of the element that the CSS selector
// picks.
func jsRect(sel string) string {
	return `(() => { const r = document.querySelector("` + sel + `").getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; })()`
}

type rect struct{ X, Y, W, H float64 }

func TestWebClientMobileLayout(t *testing.T) {
	base := startWebServer(t, webLobby(), config.Room{ID: 2, Name: "Garden", Member: true, Open: true, Desc: "Flowers and sun"})
	browser := testenv.Browser(t)
	gina := openBrowserTab(t, browser, base, "gina_with_a_long_name")
	gina.do("use a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	gina.submitLogin(gina.name, "")
	gina.do("log in", pollJS(`(name) => document.getElementById("status").textContent.includes(name)`, gina.name))
	gina.screenshot("390-no-room")
	gina.do("join the Lobby from the drawer",
		chromedp.Click(chromedp.ID("toggle-rooms")),
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="1"] button`)),
	)
	gina.waitRoom("Lobby", webLobbyWelcome)
	gina.say("hello from a phone")
	gina.screenshot("390-chat")

	gina.checkHeaderOneRow(390)
	if w := evalJS[float64](gina, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the page is %.0f px wide at 390 px, it scrolls sideways", w)
	}

	// The drawers open over a backdrop; tapping the backdrop (beside the
	// drawer) closes them.
	gina.checkDrawer("rooms", 375, "390-rooms-drawer")
	if drawer := evalJS[rect](gina, jsRect("#rooms-panel")); drawer.X+drawer.W > 360 {
		t.Errorf("the rooms drawer covers the screen up to x=%.0f", drawer.X+drawer.W)
	}
	gina.checkDrawer("users", 15, "390-people-drawer")

	// A tablet: the rooms stay, the people are a drawer.
	gina.do("use a tablet's screen", chromedp.EmulateViewport(768, 1024, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	gina.checkHeaderOneRow(768)
	gina.do("see the rooms", chromedp.WaitVisible(chromedp.ID("rooms-panel")))
	gina.checkDrawer("users", 400, "768-people-drawer")

	// The same page on a desktop screen: three columns, no backdrop.
	gina.do("use a desktop screen", chromedp.EmulateViewport(1280, 800))
	gina.screenshot("1280-chat")
	gina.checkHeaderOneRow(1280)
	if !evalJS[bool](gina, `[...["rooms-panel", "users-panel"]].every(id => getComputedStyle(document.getElementById(id)).display !== "none") &&
		getComputedStyle(document.getElementById("panel-backdrop")).display === "none"`) {
		t.Errorf("the desktop layout hides a panel or shows the backdrop\n%s", gina.dump())
	}
}

// checkHeaderOneRow fails the test unless the header is one row high.
func (b *browserTab) checkHeaderOneRow(width int) {
	b.t.Helper()
	if h := evalJS[rect](b, jsRect("header.topbar")); h.H >= 64 {
		b.t.Errorf("the header is %.0f px high at %d px wide, want one row (< 64 px)", h.H, width)
	}
}

// checkDrawer opens the drawer of the panel (rooms or users) with its
// toggle, keeps a screenshot, taps the backdrop at x and checks that the
// drawer closed.
func (b *browserTab) checkDrawer(panel string, x float64, shot string) {
	b.t.Helper()
	b.do("open the "+panel+" drawer",
		chromedp.Click(chromedp.ID("toggle-"+panel)),
		chromedp.WaitVisible(chromedp.ID(panel+"-panel")),
		chromedp.WaitVisible(chromedp.ID("panel-backdrop")),
	)
	b.screenshot(shot)
	b.do("tap the backdrop beside the "+panel+" drawer",
		chromedp.TapXY(x, 600),
		pollJS(`(id) => !document.getElementById(id).classList.contains("open")`, panel+"-panel"),
		pollJS(`() => getComputedStyle(document.getElementById("panel-backdrop")).display === "none"`),
		pollJS(`(id) => document.getElementById(id).getAttribute("aria-expanded") === "false"`, "toggle-"+panel),
	)
}

func TestWebClientHidesAvatarOnlyRooms(t *testing.T) {
	srv := servertest.Start(t, webConfig(t,
		webLobby(),
		config.Room{ID: 2, Name: "Avatar Park", Member: true, Open: true, ST: 2},
		config.Room{ID: 3, Name: "Garden", Member: true, Open: true},
	))
	// The protocol lists the avatar room; other clients may want it.
	c := servertest.Dial(t, srv)
	c.Login("hank", "")
	listed := false
	for _, r := range c.Want("rooms")["rooms"].([]any) {
		if r.(map[string]any)["st"] == 2.0 {
			listed = true
		}
	}
	if !listed {
		t.Fatal("the rooms event does not list the st=2 room")
	}

	browser := testenv.Browser(t)
	ivy := openBrowserTab(t, browser, servertest.URL(srv), "ivy")
	ivy.login()
	ivy.do("see the text rooms", chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="3"]`)))
	if ids := evalJS[[]string](ivy, `[...document.querySelectorAll("#rooms [data-room-id]")].map(e => e.dataset.roomId)`); strings.Join(ids, ",") != "1,3" {
		t.Errorf("the room list shows rooms %v, want 1,3 (not the avatar room 2)", ids)
	}
	if strings.Contains(evalJS[string](ivy, `document.getElementById("rooms").textContent`), "Avatar Park") {
		t.Error("the room list shows the avatar room")
	}
}

func TestWebClientReconnectWaitsForTheName(t *testing.T) {
	// After a network failure the server may still hold the old
	// connection for a while; the page keeps its token and tries again.
	srv := servertest.Start(t, passwordWebConfig(t))
	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, servertest.URL(srv), "alice")
	alice.loginWithPassword("alice", "alice-pw")
	alice.joinLobby()

	dropConnection(t, srv, "alice")
	// Someone holds the name when the page comes back (the page waits a
	// second before it reconnects).
	other := servertest.Dial(t, srv)
	for {
		other.Send(map[string]any{"type": "login", "user": "alice", "password": "alice-pw"})
		if ev := other.Next(); ev["type"] == "login_ok" {
			break
		} else if ev["code"] != "name_taken" {
			t.Fatalf("login: %v", ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
	alice.do("see the page wait",
		pollJS(`() => document.getElementById("conn-lost-text").textContent.includes("old connection")`),
	)
	alice.screenshot("waiting")
	if evalJS[bool](alice, `!document.getElementById("login-view").hidden`) {
		t.Fatalf("the page asks for the password while the name is taken\n%s", alice.dump())
	}
	_ = other.Conn().CloseNow()
	alice.waitBackInLobby()
}
