package main

// These tests run the built module in a real server, as an operator would
// with config/module-example.yaml: over the WebSocket protocol and in the
// web client (headless Chromium). Only the tests use the server; the
// module itself imports nothing but sdk.

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	parlor "github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

const lobbyWelcome = "Welcome to the Lobby"

// exampleFile is config/module-example.yaml.
func exampleFile(t *testing.T) *parlor.Config {
	t.Helper()
	c, err := parlor.Load(filepath.Join(testenv.ModuleRoot(t), "config", "module-example.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The example configuration names only keys the module knows (its
// Decode is strict).
func TestExampleConfig(t *testing.T) {
	spec, ok := exampleFile(t).Plugins.Load["dice"]
	if !ok || spec.Path != "bin/plugins/parlor-plugin-dice" {
		t.Fatalf("config/module-example.yaml loads %+v", exampleFile(t).Plugins.Load)
	}
	raw, err := json.Marshal(spec.Config)
	if err != nil {
		t.Fatal(err)
	}
	d := &dice{}
	if err := d.Configure(context.Background(), sdk.Config{Raw: raw}); err != nil {
		t.Fatalf("config/module-example.yaml: %v", err)
	}
	if strings.Join(d.cfg.Words, ",") != "darn,heck" || d.cfg.MaxDice != 20 || d.cfg.MaxSides != 1000 {
		t.Fatalf("decoded %+v", d.cfg)
	}
}

// startServer runs a server with the built module loaded as
// config/module-example.yaml says, and a Lobby for guests.
func startServer(t *testing.T) string {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.Plugins.Load = exampleFile(t).Plugins.Load
	spec := cfg.Plugins.Load["dice"]
	spec.Path = testenv.GoBuild(t, "./examples/module", "parlor-plugin-dice")
	cfg.Plugins.Load["dice"] = spec
	cfg.Rooms = []parlor.Room{{ID: 1, Name: "Lobby", Member: true, Open: true, Max: 50, Welcome: lobbyWelcome}}
	return servertest.URL(servertest.Start(t, cfg))
}

// TestServerRoll: over the WebSocket protocol, a roll answers the caller
// and reaches the room as dice.rolled; bad dice are refused with their
// code; a listed word arrives masked.
func TestServerRoll(t *testing.T) {
	base := startServer(t)
	alice := servertest.DialURL(t, base, nil)
	if exts, _ := json.Marshal(alice.Hello()["extensions"]); !strings.Contains(string(exts), `"url":"/plugins/dice/main.js"`) {
		t.Errorf("hello extensions %s", exts)
	}
	bob := servertest.DialURL(t, base, nil)
	alice.Login("alice", "")
	bob.Login("bob", "")
	alice.Join(1, "")
	bob.Join(1, "")

	alice.Send(map[string]any{"type": "dice.roll", "id": "7", "dice": "3d6"})
	res := alice.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "7" })
	var got roll
	b, _ := json.Marshal(res["data"])
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("result %v: %v", res, err)
	}
	checkRoll(t, got, "3d6", 3, 6)
	ev := bob.Want("dice.rolled")
	b, _ = json.Marshal(ev["data"])
	var seen rolled
	if err := json.Unmarshal(b, &seen); err != nil || seen.User != "alice" || seen.Total != got.Total || ev["module"] != "dice" || ev["room"] != 1.0 {
		t.Errorf("bob got %v (%v), alice's roll was %+v", ev, err, got)
	}

	alice.Send(map[string]any{"type": "dice.roll", "id": "8", "dice": "100d6"})
	if msg := alice.WantError("bad_dice"); !strings.Contains(msg, "2d6") {
		t.Errorf("bad_dice says %q", msg)
	}

	alice.Send(map[string]any{"type": "say", "text": "what the heck"})
	if m := bob.Want("message"); m["text"] != "what the ****" {
		t.Errorf("bob got %v", m)
	}
}

// tab is one user's page.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
}

func openTab(t *testing.T, browser context.Context, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	b := &tab{t: t, name: name, ctx: ctx}
	t.Cleanup(b.screenshot) // before cancel: cleanups run last first
	return b
}

// do runs steps with a time limit; a failure shows the chat log.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %s: %v\nchat log:\n%s", b.name, what, err, strings.Join(b.lines(), "\n"))
	}
}

// lines is the text of the chat log, one entry a line.
func (b *tab) lines() []string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	l, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#messages .msg")].map(li => "[" + li.dataset.kind + "] " + li.textContent.trim())`))
	return l
}

func poll(fn string, args ...any) chromedp.Action[chromedp.Void] {
	return testenv.Poll(20*time.Second, fn, args...)
}

// screenshot keeps the page in PARLOR_SCREENSHOT_DIR, if set.
func (b *tab) screenshot() { testenv.Screenshot(b.t, b.ctx, b.name) }

// enter logs in as a guest and joins the Lobby, once the dice extension
// has been fetched.
func (b *tab) enter(base string) {
	b.t.Helper()
	b.do("log in and join the Lobby",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		poll(`() => performance.getEntriesByType("resource").some(e => e.name.endsWith("/plugins/dice/main.js"))`),
		chromedp.SendKeys(chromedp.ID("login-user"), b.name),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="1"] button`)),
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="1"] button`)),
		poll(`(text) => [...document.querySelectorAll("#messages .msg")].some(li => li.textContent.includes(text))`, lobbyWelcome),
		poll(`() => !document.getElementById("compose-text").disabled`),
	)
}

func (b *tab) say(text string) {
	b.t.Helper()
	b.do("send "+text,
		chromedp.SendKeys(chromedp.ID("compose-text"), text),
		chromedp.Click(chromedp.ID("compose-send")),
		poll(`() => document.getElementById("compose-text").value === ""`),
	)
}

// systemLines are the dice extension's lines in the chat log.
func (b *tab) systemLines() []string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	l, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#messages .msg[data-kind="system"][data-module="dice"]')].map(li => li.textContent)`))
	if err != nil {
		b.t.Fatalf("%s: read the chat log: %v", b.name, err)
	}
	return l
}

const jsHasSystem = `(text) => [...document.querySelectorAll('#messages .msg[data-kind="system"][data-module="dice"]')].some(li => li.textContent.includes(text))`

var rolledLine = regexp.MustCompile(`^(\w+) rolled 2d6: ([1-6]) \+ ([1-6]) = ([0-9]+)$`)

// TestWebClientRoll: in the web client, "/roll 2d6" shows the roll to the
// roller and to the others in the room, and a listed word arrives masked.
func TestWebClientRoll(t *testing.T) {
	base := startServer(t)
	browser := testenv.Browser(t)
	alice := openTab(t, browser, "alice")
	bob := openTab(t, browser, "bob")
	alice.enter(base)
	bob.enter(base)
	alice.do("see bob", poll(`() => !!document.querySelector('#users [data-user="bob"]')`))

	alice.say("/roll 2d6")
	alice.do("see the answer", poll(jsHasSystem, "alice rolled 2d6"))
	bob.do("see alice's roll", poll(jsHasSystem, "alice rolled 2d6"))
	a, b := alice.systemLines(), bob.systemLines()
	if len(a) != 1 || len(b) != 1 || a[0] != b[0] {
		t.Fatalf("alice sees %q, bob sees %q: want the same one line", a, b)
	}
	m := rolledLine.FindStringSubmatch(a[0])
	if m == nil {
		t.Fatalf("line %q", a[0])
	}
	d1, _ := strconv.Atoi(m[2])
	d2, _ := strconv.Atoi(m[3])
	if total, _ := strconv.Atoi(m[4]); m[1] != "alice" || total != d1+d2 {
		t.Errorf("line %q does not add up", a[0])
	}

	// Bob rolls after alice: once alice sees his roll, the dice.rolled
	// event of her own came before it, and did not print a second line.
	bob.say("/roll 1d20")
	alice.do("see bob's roll", poll(jsHasSystem, "bob rolled 1d20: "))
	if n := len(alice.systemLines()); n != 2 {
		t.Errorf("alice has %d dice lines, want 2: %q", n, alice.systemLines())
	}
	bob.say("/roll 0d6")
	bob.do("see the refusal", poll(jsHasSystem, "No roll: Roll NdM dice, such as 2d6"))

	alice.say("what the heck")
	bob.do("see alice's message masked", poll(`(text) => [...document.querySelectorAll('#messages .msg[data-from="alice"] .msg-text')].some(e => e.textContent === text)`, "what the ****"))
	alice.do("see her own message masked too", poll(`(text) => [...document.querySelectorAll('#messages .msg[data-from="alice"] .msg-text')].some(e => e.textContent === text)`, "what the ****"))
}
