package main

// These tests run the built module in a real server, loaded as
// config/whiteboard.yaml says: over the WebSocket protocol and in the web
// client (headless Chromium, real pointer events).

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	parlor "github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

const welcome = "Welcome to the Lobby"

// exampleFile is config/whiteboard.yaml.
func exampleFile(t testing.TB) *parlor.Config {
	t.Helper()
	c, err := parlor.Load(filepath.Join(testenv.ModuleRoot(t), "config", "whiteboard.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The example configuration holds the defaults, under keys the module
// knows, and a room with a whiteboard.
func TestExampleConfig(t *testing.T) {
	c := exampleFile(t)
	spec, ok := c.Plugins.Load["whiteboard"]
	if !ok {
		t.Fatalf("config/whiteboard.yaml loads %+v", c.Plugins.Load)
	}
	raw, _ := json.Marshal(spec.Config)
	got, err := parseConfig(sdk.Config{Raw: raw})
	if err != nil {
		t.Fatalf("config/whiteboard.yaml: %v", err)
	}
	if got != defaults() {
		t.Errorf("config/whiteboard.yaml says %+v, the defaults are %+v", got, defaults())
	}
	if len(c.Rooms) == 0 || !c.Rooms[0].Whiteboard {
		t.Errorf("rooms %+v: want a room with wb", c.Rooms)
	}
}

// serverConfig is a server with the built module loaded as the example
// says, a Lobby with a whiteboard for guests and a room without one.
func serverConfig(t testing.TB, bin string) *parlor.Config {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.Plugins.Load = exampleFile(t).Plugins.Load
	spec := cfg.Plugins.Load["whiteboard"]
	spec.Path = bin
	cfg.Plugins.Load["whiteboard"] = spec
	cfg.Rooms = []parlor.Room{
		{ID: 1, Name: "Lobby", Member: true, Open: true, Max: 50, Welcome: welcome, Whiteboard: true, Owner: "mia"},
		{ID: 2, Name: "Plain", Member: true, Open: true, Max: 50},
		{ID: 3, Name: "Stage", Member: true, Open: true, Max: 50, PassAllMessage: true, Whiteboard: true},
	}
	return cfg
}

func buildPlugin(t testing.TB) string {
	return testenv.GoBuild(t, "./plugins/whiteboard", "parlor-plugin-whiteboard")
}

// TestServerProtocol: over the WebSocket protocol, a batch is answered
// with its seq and reaches the room as wb.batch; a late joiner's sync
// holds it; a muted member still syncs but cannot draw; a room without a
// whiteboard refuses.
func TestServerProtocol(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, buildPlugin(t)))
	base := servertest.URL(srv)
	alice := servertest.DialURL(t, base, nil)
	if exts, _ := json.Marshal(alice.Hello()["extensions"]); !strings.Contains(string(exts), `"url":"/plugins/whiteboard/main.js"`) {
		t.Errorf("hello extensions %s", exts)
	}
	bob := servertest.DialURL(t, base, nil)
	alice.Login("alice", "")
	bob.Login("bob", "")
	alice.Join(1, "")
	bob.Join(1, "")
	alice.Send(map[string]any{"type": "wb.ops", "id": "7", "ops": []Op{rect("r1", 1, 3, 10, 10, 200, 100)}})
	res := alice.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "7" })
	if d, _ := res["data"].(map[string]any); d["seq"] != 1.0 {
		t.Fatalf("result %v", res)
	}
	ev := bob.Want("wb.batch")
	data, _ := json.Marshal(ev["data"])
	var be batchEvent
	if err := json.Unmarshal(data, &be); err != nil || len(be.Batches) != 1 || be.Batches[0].By != "alice" || be.Batches[0].Ops[0].El.ID != "r1" || ev["module"] != "whiteboard" {
		t.Fatalf("bob got %v", ev)
	}
	carol := servertest.DialURL(t, base, nil)
	carol.Login("carol", "")
	carol.Join(1, "")
	carol.Send(map[string]any{"type": "wb.sync", "id": "8"})
	res = carol.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "8" })
	data, _ = json.Marshal(res["data"])
	var sr syncReply
	if err := json.Unmarshal(data, &sr); err != nil || !sr.Snapshot || sr.Seq != 1 || len(sr.Elements) != 1 || sr.Epoch != be.Epoch {
		t.Fatalf("carol's sync %s", data)
	}
	// A mute in the room: the core refuses wb.ops, wb.sync is quiet.
	if _, err := srv.HostAPI("test").Sanctions().Add(context.Background(), sdk.Sanction{Kind: sdk.SanctionMute, User: "carol", Room: 1, Reason: "test", Source: "manual"}); err != nil {
		t.Fatal(err)
	}
	carol.Send(map[string]any{"type": "wb.ops", "id": "10", "ops": []Op{rect("c1", 1, 3, 10, 10, 20, 20)}})
	carol.WantError("muted")
	carol.Send(map[string]any{"type": "wb.sync", "id": "11"})
	carol.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "11" })
	carol.Join(2, "")
	carol.Send(map[string]any{"type": "wb.sync", "id": "9"})
	if msg := carol.WantError("no_whiteboard"); !strings.Contains(msg, "no whiteboard") {
		t.Errorf("no_whiteboard says %q", msg)
	}
}

// TestServerStopKeepsTheLastStroke: a stroke drawn just before a
// graceful stop of the server, long before save_interval would store it,
// is on the board after the restart: the module stores its boards in
// Stop, while the Host API still works.
func TestServerStopKeepsTheLastStroke(t *testing.T) {
	cfg := serverConfig(t, buildPlugin(t))
	spec := cfg.Plugins.Load["whiteboard"]
	spec.Config = maps.Clone(spec.Config)
	spec.Config["save_interval"] = "1m"
	cfg.Plugins.Load["whiteboard"] = spec
	srv := servertest.Start(t, cfg)
	alice := servertest.DialURL(t, servertest.URL(srv), nil)
	alice.Login("alice", "")
	alice.Join(1, "")
	alice.Send(map[string]any{"type": "wb.ops", "id": "1", "ops": []Op{stroke("last", 1, 10, 10, 50, 60, 90, 20)}})
	res := alice.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "1" })
	if d, _ := res["data"].(map[string]any); d["seq"] != 1.0 {
		t.Fatalf("result %v", res)
	}
	servertest.Stop(t, srv)

	srv2 := servertest.Start(t, cfg)
	bob := servertest.DialURL(t, servertest.URL(srv2), nil)
	bob.Login("bob", "")
	bob.Join(1, "")
	bob.Send(map[string]any{"type": "wb.sync", "id": "2"})
	res = bob.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == "2" })
	data, _ := json.Marshal(res["data"])
	var sr syncReply
	if err := json.Unmarshal(data, &sr); err != nil || !sr.Snapshot || sr.Seq != 1 || sr.Saved != 1 || len(sr.Elements) != 1 || sr.Elements[0].ID != "last" {
		t.Fatalf("the board after a stop and a restart: %s", data)
	}
}

// tab is one user's page.
type tab struct {
	t     *testing.T
	name  string
	ctx   context.Context
	watch *testenv.PageWatch
}

func openTab(t *testing.T, browser context.Context, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	return &tab{t: t, name: name, ctx: ctx, watch: testenv.WatchPage(t, ctx)}
}

// clean fails the test if the page reported errors (console, uncaught
// exceptions, failed requests).
func (b *tab) clean() {
	b.t.Helper()
	if p := b.watch.Problems(); len(p) > 0 {
		b.t.Errorf("%s's page: %q", b.name, p)
	}
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.screenshot("failed")
		b.t.Fatalf("%s: %s: %v\nboard: %s", b.name, what, err, b.eval(`(() => { const o = document.querySelector(".wb-overlay"); return o ? [o.dataset.seq, o.dataset.elements, document.querySelector(".wb-status").textContent, [...document.querySelectorAll(".ext-notice")].map(n => n.textContent).join("; ")] : "no board"; })()`))
	}
}

func (b *tab) eval(js string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return string(v)
}

func poll(fn string, args ...any) chromedp.Action[chromedp.Void] {
	return testenv.Poll(20*time.Second, fn, args...)
}

// screenshot keeps the page in PARLOR_SCREENSHOT_DIR, if set.
func (b *tab) screenshot(label string) { testenv.Screenshot(b.t, b.ctx, b.name+"-"+label) }

// enter logs in as a guest, joins the Lobby and opens the whiteboard.
func (b *tab) enter(base string) {
	b.t.Helper()
	b.do("log in, join the Lobby and open the board",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		poll(`() => performance.getEntriesByType("resource").some(e => e.name.endsWith("/plugins/whiteboard/main.js"))`),
		chromedp.SendKeys(chromedp.ID("login-user"), b.name),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="1"] button`)),
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="1"] button`)),
		poll(`(text) => [...document.querySelectorAll("#messages .msg")].some(li => li.textContent.includes(text))`, welcome),
		chromedp.WaitVisible(chromedp.CSS(`[data-button="whiteboard.open"]`)),
		chromedp.Click(chromedp.CSS(`[data-button="whiteboard.open"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.wb-canvas`)),
		poll(`() => document.querySelector(".wb-overlay").dataset.epoch !== ""`),
	)
}

// canvasRect is the board's canvas on the page, in CSS pixels.
func (b *tab) canvasRect() (left, top, width, height float64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector(".wb-canvas").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`))
	if err != nil || len(r) != 4 || r[2] < 100 {
		b.t.Fatalf("%s: canvas %v %v", b.name, r, err)
	}
	return r[0], r[1], r[2], r[3]
}

// drag presses the mouse at the first board point, moves through the
// others and releases at the last: real input events, which the page
// sees as pointer events.
func (b *tab) drag(pts ...[2]float64) {
	b.t.Helper()
	l, tp, w, h := b.canvasRect()
	at := func(p [2]float64) (float64, float64) { return l + p[0]/1600*w, tp + p[1]/900*h }
	held := func(p *input.DispatchMouseEventParams) { p.Button = input.MouseButtonLeft; p.Buttons = 1 }
	x, y := at(pts[0])
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.MouseEvent(chromedp.MouseMoved, x, y),
		chromedp.MouseEvent(chromedp.MousePressed, x, y, held, chromedp.ClickCount(1)),
	}
	for _, p := range pts[1:] {
		x, y = at(p)
		steps = append(steps, chromedp.MouseEvent(chromedp.MouseMoved, x, y, held), chromedp.Sleep(16*time.Millisecond))
	}
	released := func(p *input.DispatchMouseEventParams) { p.Button = input.MouseButtonLeft; p.Buttons = 0 }
	steps = append(steps, chromedp.MouseEvent(chromedp.MouseReleased, x, y, released, chromedp.ClickCount(1)))
	b.do("drag on the board", steps...)
}

// touch draws with a finger: CDP touch events, which the page sees as
// Pointer Events of pointerType "touch".
func (b *tab) touch(pts ...[2]float64) {
	b.t.Helper()
	l, tp, w, h := b.canvasRect()
	touch := func(typ input.DispatchTouchEventType, p *[2]float64) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			params := input.DispatchTouchEventParams{Type: typ, TouchPoints: []*input.TouchPoint{}}
			if p != nil {
				params.TouchPoints = []*input.TouchPoint{{X: l + p[0]/1600*w, Y: tp + p[1]/900*h}}
			}
			_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, params)
			return err
		})
	}
	steps := []chromedp.Action[chromedp.Void]{touch(input.DispatchTouchEventTypeTouchStart, &pts[0])}
	for i := range pts[1:] {
		steps = append(steps, touch(input.DispatchTouchEventTypeTouchMove, &pts[i+1]), chromedp.Sleep(16*time.Millisecond))
	}
	steps = append(steps, touch(input.DispatchTouchEventTypeTouchEnd, nil))
	b.do("draw with a finger", steps...)
}

func (b *tab) tool(name string) {
	b.t.Helper()
	b.do("pick "+name, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-tool=%q]`, name))))
}

// jsInk reports whether the canvas has ink (a pixel far from white)
// within 3 board units of each board point; jsBlank the opposite.
const jsInk = `(pts, want) => {
  const c = document.querySelector(".wb-canvas");
  const g = c.getContext("2d");
  return pts.every(([x, y]) => {
    const px = Math.round(x / 1600 * c.width), py = Math.round(y / 900 * c.height), r = Math.max(3, Math.round(4 / 1600 * c.width));
    const d = g.getImageData(px - r, py - r, 2 * r + 1, 2 * r + 1).data;
    let ink = false;
    for (let i = 0; i < d.length; i += 4) { if (d[i] + d[i + 1] + d[i + 2] < 400) { ink = true; } }
    return ink === want;
  });
}`

// The strokes and the rectangle of the test, in board units.
var (
	strokeA = [][2]float64{{200, 200}, {260, 230}, {320, 260}, {380, 300}, {440, 320}, {500, 330}}
	strokeB = [][2]float64{{200, 600}, {300, 560}, {400, 600}, {500, 640}}
	rectA   = [][2]float64{{800, 200}, {900, 300}, {1000, 400}, {1100, 500}}
	// inkAt are points on what was drawn (a stroke passes through its
	// ends and the midpoints of its samples); blankAt are points that must
	// stay white (inside the rectangle, between the strokes).
	inkAt   = [][2]float64{{200, 200}, {290, 245}, {500, 330}, {200, 600}, {350, 580}, {500, 640}, {800, 200}, {1100, 500}, {950, 200}, {800, 350}, {1100, 300}}
	blankAt = [][2]float64{{950, 350}, {1300, 700}, {350, 450}}
)

// jsCanvasHash is a hash of the canvas's pixels.
const jsCanvasHash = `(() => {
  const c = document.querySelector(".wb-canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let h = 2166136261;
  for (let i = 0; i < d.length; i++) { h = Math.imul(h ^ d[i], 16777619) >>> 0; }
  return c.width + "x" + c.height + ":" + h;
})()`

// seesSameAs waits until the canvas holds the same pixels as other's
// (same window size, same elements at rest): the same points, not only
// ink in the same places.
func (b *tab) seesSameAs(other *tab) {
	b.t.Helper()
	time.Sleep(400 * time.Millisecond) // what changed last comes to rest
	want := other.eval(jsCanvasHash)
	b.do("see the same pixels as "+other.name, poll(`(want) => `+jsCanvasHash+` === want`, json.RawMessage(want)))
}

func (b *tab) seesDrawing(what string, elements int) {
	b.t.Helper()
	b.do(what,
		poll(`(n) => document.querySelector(".wb-overlay").dataset.elements === String(n)`, elements),
		poll(jsInk, inkAt, true),
		poll(jsInk, blankAt, false),
	)
}

// TestWebClientBoard: alice draws two strokes and a rectangle with real
// pointer events; bob's canvas shows them; carol, who comes later, sees
// the same board; after a restart of the server the board is still
// there. Set PARLOR_SCREENSHOT_DIR to keep screenshots.
func TestWebClientBoard(t *testing.T) {
	bin := buildPlugin(t)
	cfg := serverConfig(t, bin)
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)
	browser := testenv.Browser(t)
	alice := openTab(t, browser, "alice")
	bob := openTab(t, browser, "bob")
	alice.enter(base)
	bob.enter(base)

	alice.tool("pen")
	alice.drag(strokeA...)
	alice.drag(strokeB...)
	alice.tool("rect")
	alice.drag(rectA...)
	alice.seesDrawing("see her own drawing", 3)
	bob.seesDrawing("see alice's drawing", 3)
	bob.seesSameAs(alice)
	bob.do("see alice's pointer", poll(`() => !!document.querySelector('.wb-cursor[data-user="alice"]')`))
	alice.screenshot("drawn")
	bob.screenshot("drawn")

	// Undo takes the rectangle away for everyone, redo brings it back.
	alice.do("undo", chromedp.Click(chromedp.CSS(`[data-wb="undo"]`)))
	bob.do("see the undo", poll(`() => document.querySelector(".wb-overlay").dataset.elements === "2"`), poll(jsInk, [][2]float64{{800, 200}}, false))
	alice.do("redo", chromedp.Click(chromedp.CSS(`[data-wb="redo"]`)))
	bob.seesDrawing("see the redo", 3)

	carol := openTab(t, browser, "carol")
	carol.enter(base)
	carol.seesDrawing("see the board as a late joiner", 3)
	carol.seesSameAs(alice)
	carol.screenshot("late")
	bob.clean()
	carol.clean()
	if a, c := alice.eval(`document.querySelector(".wb-overlay").dataset.seq`), carol.eval(`document.querySelector(".wb-overlay").dataset.seq`); a != c {
		t.Errorf("alice is at seq %s, carol at %s", a, c)
	}

	// Wait until the board is stored, then restart the server.
	probe := servertest.DialURL(t, base, nil)
	probe.Login("probe", "")
	probe.Join(1, "")
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		id := fmt.Sprint("s", i)
		probe.Send(map[string]any{"type": "wb.sync", "id": id})
		res := probe.WantMatch("result", func(ev map[string]any) bool { return ev["id"] == id })
		d, _ := res["data"].(map[string]any)
		if d["saved"] == d["seq"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the board was not saved: %v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	servertest.Stop(t, srv)
	srv2 := servertest.Start(t, cfg)
	base2 := servertest.URL(srv2)
	alice.enter(base2)
	alice.seesDrawing("see the board after a restart", 3)
	alice.screenshot("restarted")
	alice.clean()
}

// TestWebClientTools: line, arrow, ellipse and text reach the other
// member; the eraser takes one's own element away for everyone; the PNG
// and SVG exports make files of the board.
func TestWebClientTools(t *testing.T) {
	base := servertest.URL(servertest.Start(t, serverConfig(t, buildPlugin(t))))
	browser := testenv.Browser(t)
	alice := openTab(t, browser, "alice")
	bob := openTab(t, browser, "bob")
	alice.enter(base)
	bob.enter(base)

	alice.tool("line")
	alice.drag([2]float64{100, 100}, [2]float64{300, 100})
	alice.tool("arrow")
	alice.drag([2]float64{100, 300}, [2]float64{200, 350}, [2]float64{300, 400})
	alice.tool("ellipse")
	alice.drag([2]float64{600, 300}, [2]float64{800, 450}, [2]float64{1000, 600})
	alice.tool("text")
	alice.drag([2]float64{1200, 100}, [2]float64{1200, 100})
	alice.do("type a text",
		chromedp.WaitVisible(chromedp.CSS(".wb-text-input")),
		chromedp.SendKeys(chromedp.CSS(".wb-text-input"), "Hello board\r"),
		poll(`() => !document.querySelector(".wb-text-input")`),
	)
	bob.do("see line, arrow, ellipse and text",
		poll(`() => document.querySelector(".wb-overlay").dataset.elements === "4"`),
		// the line, the arrow's tip, the ellipse's left and right ends,
		// the text; the ellipse's centre stays white.
		poll(jsInk, [][2]float64{{200, 100}, {300, 400}, {600, 450}, {1000, 450}, {800, 300}}, true),
		poll(jsInk, [][2]float64{{800, 450}, {200, 200}}, false),
		poll(`() => { const c = document.querySelector(".wb-canvas"), g = c.getContext("2d");
			const d = g.getImageData(Math.round(1200 / 1600 * c.width), Math.round(100 / 900 * c.height), Math.round(120 / 1600 * c.width), Math.round(30 / 900 * c.height)).data;
			for (let i = 0; i < d.length; i += 4) { if (d[i] < 100) { return true; } } return false; }`),
	)
	bob.seesSameAs(alice)
	bob.screenshot("tools")

	alice.tool("eraser")
	alice.drag([2]float64{200, 100}, [2]float64{200, 101})
	bob.do("see the line erased",
		poll(`() => document.querySelector(".wb-overlay").dataset.elements === "3"`),
		poll(jsInk, [][2]float64{{200, 100}}, false),
	)
	// Bob's eraser does not take alice's ellipse away.
	bob.tool("eraser")
	bob.drag([2]float64{600, 450}, [2]float64{600, 451})
	time.Sleep(300 * time.Millisecond)
	alice.do("still see the ellipse", poll(jsInk, [][2]float64{{600, 450}}, true), poll(`() => document.querySelector(".wb-overlay").dataset.elements === "3"`))

	// Exports: the page hands a PNG and an SVG to the browser.
	alice.do("export",
		chromedp.Evaluate[chromedp.Void](`(() => { window.__blobs = []; const o = URL.createObjectURL; URL.createObjectURL = (b) => { window.__blobs.push(b); return o(b); }; })()`),
		chromedp.Click(chromedp.CSS(`[data-wb="png"]`)),
		chromedp.Click(chromedp.CSS(`[data-wb="svg"]`)),
		poll(`() => window.__blobs.length === 2`),
	)
	got := alice.eval(`(async () => {
		// toBlob is asynchronous: the PNG may come after the SVG.
		const png = window.__blobs.find((b) => b.type === "image/png"), svg = window.__blobs.find((b) => b.type === "image/svg+xml");
		if (!png || !svg) { return window.__blobs.map((b) => b.type); }
		const head = new Uint8Array(await png.slice(0, 4).arrayBuffer());
		return [png.type, String.fromCharCode(...head.slice(1)), svg.type, await svg.text()];
	})()`)
	var exp []string
	if err := json.Unmarshal([]byte(got), &exp); err != nil || len(exp) != 4 {
		t.Fatalf("exports %s", got)
	}
	if exp[0] != "image/png" || exp[1] != "PNG" || exp[2] != "image/svg+xml" ||
		!strings.Contains(exp[3], "<ellipse") || !strings.Contains(exp[3], ">Hello board</text>") || strings.Contains(exp[3], "<line") {
		t.Errorf("exports: %q", exp)
	}
	// A finger draws like the mouse.
	alice.tool("pen")
	alice.touch([2]float64{900, 750}, [2]float64{1000, 780}, [2]float64{1100, 760}, [2]float64{1200, 800})
	bob.do("see the finger's stroke",
		poll(`() => document.querySelector(".wb-overlay").dataset.elements === "4"`),
		poll(jsInk, [][2]float64{{900, 750}, {1200, 800}}, true),
	)
	alice.screenshot("tools")

	// Clear is for the room's moderators (mia is in its owner list); two
	// clicks, and the board is empty for everyone.
	mia := openTab(t, browser, "mia")
	mia.enter(base)
	mia.seesElements(4)
	mia.screenshot("moderator")
	if h := bob.eval(`document.querySelector('[data-wb="clear"]').hidden`); h != "true" {
		t.Errorf("bob sees Clear: hidden %s", h)
	}
	mia.do("clear the board",
		chromedp.WaitVisible(chromedp.CSS(`[data-wb="clear"]`)),
		chromedp.Click(chromedp.CSS(`[data-wb="clear"]`)),
		poll(`() => document.querySelector('[data-wb="clear"]').dataset.armed === "true"`),
		chromedp.Click(chromedp.CSS(`[data-wb="clear"]`)),
	)
	for _, u := range []*tab{alice, bob, mia} {
		u.seesElements(0)
		u.do("see an empty board", poll(jsInk, [][2]float64{{600, 450}, {300, 400}}, false))
	}
	bob.do("be told", poll(`() => document.querySelector(".wb-status").textContent === "The board was cleared by mia."`))

	// In a moderated room a guest only looks: the tools are off and a
	// drag draws nothing.
	bob.do("enter the Stage",
		chromedp.Click(chromedp.CSS(`[data-wb="close"]`)),
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="3"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-button="whiteboard.open"]`)),
		chromedp.Click(chromedp.CSS(`[data-button="whiteboard.open"]`)),
		poll(`() => document.querySelector(".wb-overlay").classList.contains("wb-readonly")`),
		poll(`() => document.querySelector(".wb-status").textContent === "You may look at this board but not draw on it."`),
	)
	bob.drag(strokeA...)
	time.Sleep(300 * time.Millisecond)
	bob.seesElements(0)
	if n := bob.eval(`document.querySelectorAll(".wb-cursor").length`); n != "0" {
		t.Errorf("bob sees %s pointers of the Lobby on the Stage", n)
	}
	bob.screenshot("readonly")
	alice.clean()
	bob.clean()
	mia.clean()
}

func (b *tab) seesElements(n int) {
	b.t.Helper()
	b.do(fmt.Sprintf("see %d elements", n), poll(`(n) => document.querySelector(".wb-overlay").dataset.elements === String(n)`, n))
}

// jsKeepSockets runs before the page's own scripts and keeps its
// WebSockets, so that a test can drop the connection as a network would;
// while window.__hold is true, new connections fail.
const jsKeepSockets = `(() => {
  const W = window.WebSocket;
  window.__sockets = [];
  window.__hold = false;
  window.WebSocket = function (url, ...rest) {
    const s = new W(window.__hold ? "ws://127.0.0.1:9/" : url, ...rest);
    window.__sockets.push(s);
    return s;
  };
  window.WebSocket.prototype = W.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})()`

// TestWebClientReconnect: bob's connection drops while alice draws; the
// client reconnects, enters the room again and asks only for the batches
// it missed (wb.sync with since), and bob's canvas shows them.
func TestWebClientReconnect(t *testing.T) {
	base := servertest.URL(servertest.Start(t, serverConfig(t, buildPlugin(t))))
	browser := testenv.Browser(t)
	alice := openTab(t, browser, "alice")
	bob := openTab(t, browser, "bob")
	watch := bob.watch
	bob.do("keep the sockets", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: jsKeepSockets})
		return err
	}))
	alice.enter(base)
	bob.enter(base)
	alice.tool("pen")
	alice.drag(strokeA...)
	bob.do("see the first stroke", poll(`() => document.querySelector(".wb-overlay").dataset.elements === "1"`))

	bob.do("lose the connection",
		chromedp.Evaluate[chromedp.Void](`window.__hold = true; window.__sockets.forEach(s => s.close())`),
		chromedp.WaitVisible(chromedp.ID("conn-lost")),
	)
	seq := bob.eval(`document.querySelector(".wb-overlay").dataset.seq`)
	alice.drag(strokeB...)
	alice.tool("rect")
	alice.drag(rectA...)
	alice.seesDrawing("see her drawing", 3)
	if n := bob.eval(`document.querySelector(".wb-overlay").dataset.elements`); n != `"1"` {
		t.Fatalf("bob, offline, has %s elements", n)
	}
	bob.do("reconnect",
		// "Reconnect now" (under the board, so clicked from script) until
		// the connection is back.
		chromedp.Evaluate[chromedp.Void](`window.__hold = false`),
		poll(`() => { const lost = document.getElementById("conn-lost"); if (!lost.hidden) { document.getElementById("reconnect").click(); } return lost.hidden; }`),
	)
	bob.seesDrawing("see what was drawn while he was away", 3)
	bob.seesSameAs(alice)
	var asked bool
	for _, f := range watch.SentFrames() {
		var m map[string]any
		if json.Unmarshal([]byte(f), &m) == nil && m["type"] == "wb.sync" && m["since"] != nil && fmt.Sprint(m["since"]) == strings.Trim(seq, `"`) {
			asked = true
		}
	}
	if !asked {
		t.Errorf("bob did not ask for the batches since %s: %q", seq, watch.SentFrames())
	}
	bob.screenshot("reconnected")
	alice.clean()
	bob.clean()
}
