package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// clientProxy stands in front of a real server for the browser: it
// passes pages and the WebSocket through, and plays the parts of the
// module platform a test needs before the server has them: it serves
// extension files under /plugins/, adds `extensions` to the hello frame,
// answers module commands of the prefix "test." and may add fields to the
// server's events (rewrite). Test-only: the product serves none of this.
type clientProxy struct {
	t          *testing.T
	upstream   string            // the server's base URL
	base       string            // the proxy's base URL, once started
	files      map[string]string // path -> JavaScript served by the proxy
	extensions []map[string]string
	// rewrite, when set, changes each server event (in place) before
	// the browser gets it.
	rewrite func(ev map[string]any)
	// echoEmotion adds to message and private events the emotion the
	// browser sent with their text (the echo core/chat adds).
	echoEmotion bool

	mu      sync.Mutex
	emotion map[string]string // message text -> emotion the browser sent with it
}

// start serves the proxy and returns its base URL.
func (p *clientProxy) start() string {
	target, err := url.Parse(p.upstream)
	if err != nil {
		p.t.Fatal(err)
	}
	p.emotion = map[string]string{}
	pages := httputil.NewSingleHostReverseProxy(target)
	mux := http.NewServeMux()
	mux.Handle("/", pages)
	mux.HandleFunc("GET /ws", p.serveWS)
	mux.HandleFunc("GET /avatar.png", func(w http.ResponseWriter, _ *http.Request) {
		// Four colored squares: easy to tell apart from a fallback.
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		for x := range 8 {
			for y := range 8 {
				img.Set(x, y, color.RGBA{R: uint8(40 + 200*(x/4)), G: 120, B: uint8(40 + 200*(y/4)), A: 255})
			}
		}
		w.Header().Set("Content-Type", "image/png")
		_ = png.Encode(w, img)
	})
	mux.HandleFunc("GET /plugins/", func(w http.ResponseWriter, r *http.Request) {
		src, ok := p.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write([]byte(src))
	})
	ts := httptest.NewUnstartedServer(mux)
	p.base = "http://" + ts.Listener.Addr().String()
	ts.Start()
	p.t.Cleanup(ts.Close)
	return p.base
}

func (p *clientProxy) serveWS(w http.ResponseWriter, r *http.Request) {
	browser, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer browser.CloseNow()
	browser.SetReadLimit(1 << 20)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	h := http.Header{}
	if c := r.Header.Get("Cookie"); c != "" {
		h.Set("Cookie", c)
	}
	server, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.upstream, "http")+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		_ = browser.Close(websocket.StatusTryAgainLater, "upstream down")
		return
	}
	defer server.CloseNow()
	server.SetReadLimit(1 << 20)
	var wmu sync.Mutex // the browser gets frames from both directions' goroutines
	toBrowser := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		wmu.Lock()
		defer wmu.Unlock()
		return browser.Write(ctx, websocket.MessageText, b)
	}
	// server -> browser
	go func() {
		defer cancel()
		for {
			_, data, err := server.Read(ctx)
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					_ = browser.Close(ce.Code, ce.Reason)
				}
				return
			}
			if toBrowser(p.fromServer(data)) != nil {
				return
			}
		}
	}()
	// browser -> server (module commands answered here)
	for {
		_, data, err := browser.Read(ctx)
		if err != nil {
			return
		}
		var req map[string]any
		if json.Unmarshal(data, &req) == nil {
			typ, _ := req["type"].(string)
			if e, ok := req["emotion"].(string); ok {
				if text, ok := req["text"].(string); ok {
					p.mu.Lock()
					p.emotion[text] = e
					p.mu.Unlock()
				}
			}
			if strings.HasPrefix(typ, "test.") {
				for _, ev := range testModule(req) {
					if toBrowser(ev) != nil {
						return
					}
				}
				continue
			}
		}
		if server.Write(ctx, websocket.MessageText, data) != nil {
			return
		}
	}
}

// fromServer applies the proxy's changes to a server frame (one event or
// an array of them).
func (p *clientProxy) fromServer(data []byte) any {
	var one map[string]any
	if json.Unmarshal(data, &one) == nil {
		p.change(one)
		return one
	}
	var many []map[string]any
	if json.Unmarshal(data, &many) == nil {
		for _, ev := range many {
			p.change(ev)
		}
		return many
	}
	return json.RawMessage(data)
}

func (p *clientProxy) change(ev map[string]any) {
	if ev["type"] == "hello" && p.extensions != nil {
		ev["extensions"] = p.extensions
	}
	if t := ev["type"]; (t == "message" || t == "private") && ev["emotion"] == nil {
		p.mu.Lock()
		e, ok := p.emotion[ev["text"].(string)]
		p.mu.Unlock()
		if ok && p.echoEmotion {
			ev["emotion"] = e
		}
	}
	if p.rewrite != nil {
		p.rewrite(ev)
	}
}

// testModule answers the commands of a pretend module owning "test.":
// test.echo answers with its fields and sends the custom event
// test.pinged; test.poke is refused; anything else is unknown.
func testModule(req map[string]any) []any {
	id, _ := req["id"].(string)
	switch req["type"] {
	case "test.echo":
		return []any{
			map[string]any{"type": "result", "id": id, "data": map[string]any{"text": req["text"], "room": req["room"]}},
			map[string]any{"type": "test.pinged", "module": "test", "data": map[string]any{"by": "the test module"}},
		}
	case "test.poke":
		return []any{map[string]any{"type": "error", "id": id, "code": "refused", "message": "No poking in this room."}}
	}
	return []any{map[string]any{"type": "error", "id": id, "code": "unknown_command", "message": "Nobody answers " + req["type"].(string) + "."}}
}

// testExtension uses every part of the extension API.
const testExtension = `
export default function (api) {
  const panel = api.addPanel({id: "log", title: "Test panel", render(el) { el.textContent = "panel ready"; }});
  api.addToolbarButton({id: "echo", label: "Echo", onClick() {
    api.send("test.echo", {text: "ping"})
      .then((d) => api.showSystem("echo answered " + d.text + " in room " + d.room))
      .catch((e) => api.showSystem("echo failed: " + e.code));
  }});
  api.addRoomBadge((room) => room.id === 1 ? "tested" : null);
  let userBadge = "pokeable";
  const ub = api.addUserBadge((user) => user.name === "bob" ? userBadge : null);
  api.addUserAction({label: "Poke", onClick(user) {
    api.send("test.poke", {user: user.name})
      .then(() => api.showSystem("poked " + user.name))
      .catch((e) => { userBadge = "unpoked"; ub.refresh(); api.showSystem("poke refused: " + e.code + ": " + e.message); });
  }});
  api.addCommand("/roll", (args, room) => {
    api.showSystem("rolled " + args + " in " + (room ? room.name : "no room") + " by " + api.user().name);
  });
  api.on("test.pinged", (ev) => { panel.el.textContent = "pinged by " + ev.data.by; });
  api.on("joined", () => { api.addRoomBadge(() => { throw new Error("badge broke"); }); });
}
`

// TestWebClientExtensions: the client imports the extensions the hello
// frame lists, under the strict policy, and gives them the API of
// docs/plugins.md ("Web client extensions"); extensions that fail are reported without
// breaking the client.
func TestWebClientExtensions(t *testing.T) {
	srv := servertest.Start(t, webConfig(t))
	p := &clientProxy{t: t, upstream: servertest.URL(srv),
		files: map[string]string{
			"/plugins/test/main.js":   testExtension,
			"/plugins/broken/main.js": `export default function () { throw new Error("broken on purpose"); }`,
			"/plugins/none/main.js":   `export const nothing = 1;`,
		},
		extensions: []map[string]string{
			{"module": "test", "url": "/plugins/test/main.js"},
			{"module": "broken", "url": "/plugins/broken/main.js"},
			{"module": "none", "url": "/plugins/none/main.js"},
			{"module": "gone", "url": "/plugins/gone/main.js"},
			{"module": "far", "url": "https://example.invalid/x.js"},
		}}
	base := p.start()
	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, base, "alice")
	bob := openBrowserTab(t, browser, base, "bob")
	watch := testenv.WatchPage(t, alice.ctx)
	alice.login()
	bob.login()
	alice.joinLobby()
	bob.joinLobby()
	alice.waitUser("bob")

	// The failures are reported, one notice each, and the chat goes on.
	alice.do("see the failing extensions reported",
		pollJS(`() => ["broken", "none", "gone", "far"].every(m => document.querySelector('#ext-notices [data-module="' + m + '"]'))`),
		chromedp.WaitVisible(chromedp.ID("ext-notices")),
	)
	notices := evalJS[string](alice, `document.getElementById("ext-notices").textContent`)
	for _, want := range []string{"broken on purpose", "no default or init function", "not under /plugins/"} {
		if !strings.Contains(notices, want) {
			t.Errorf("the notices %q do not say %q", notices, want)
		}
	}

	alice.do("see the panel, the button and the badge",
		pollJS(`() => document.querySelector('#ext-panels [data-panel="test.log"] .ext-panel-body')?.textContent === "panel ready"`),
		chromedp.WaitVisible(chromedp.CSS(`#toolbar [data-button="test.echo"]`)),
		pollJS(`() => document.querySelector('#rooms [data-room-id="1"] .badge-ext')?.textContent === "tested"`),
		pollJS(`() => document.querySelector('#users [data-user="bob"] .badge-ext[data-module="test"]')?.textContent === "pokeable" && !document.querySelector('#users [data-user="alice"] .badge-ext')`),
	)
	// A room badge that throws is reported, and the other badge stays.
	alice.do("see the failing badge reported", pollJS(`() => document.getElementById("ext-notices").textContent.includes("badge broke")`))

	// A command and its answer; the custom event the module sends after.
	alice.do("press the extension's button",
		chromedp.Click(chromedp.CSS(`#toolbar [data-button="test.echo"]`)),
		pollJS(jsHasSystem, "echo answered ping in room 1"),
		pollJS(`() => document.querySelector('#ext-panels [data-panel="test.log"] .ext-panel-body').textContent === "pinged by the test module"`),
	)
	// A refused command rejects with the server's code and message.
	alice.do("poke bob",
		chromedp.Click(chromedp.CSS(`#users [data-user="bob"] .user-action`)),
		pollJS(jsHasSystem, "poke refused: refused: No poking in this room."),
		pollJS(`() => document.querySelector('#users [data-user="bob"] .badge-ext[data-module="test"]')?.textContent === "unpoked"`),
	)
	// A slash command stays in the client; other text goes out as before.
	alice.say("/roll 2d6")
	alice.do("see the command's line", pollJS(jsHasSystem, "rolled 2d6 in Lobby by alice"))
	alice.say("/shrug not a command")
	bob.do("see the message", pollJS(jsHasLine, "message", "alice", "/shrug not a command"))
	if n := len(framesWith(watch.SentFrames(), "/roll")); n != 0 {
		t.Errorf("%d frames carry the slash command, want none", n)
	}
	if n := len(framesWith(watch.SentFrames(), `"type":"test.echo"`)); n != 1 {
		t.Errorf("%d test.echo frames, want 1", n)
	} else if f := framesWith(watch.SentFrames(), `"type":"test.echo"`)[0]; !strings.Contains(f, `"room":1`) || !strings.Contains(f, `"id":"`) {
		t.Errorf("test.echo frame %s lacks the room or the id", f)
	}
	alice.screenshot("extensions")
}

// jsHasSystem is true when #messages holds an extension's line with the text.
const jsHasSystem = `(text) => [...document.querySelectorAll('#messages .msg[data-kind="system"]')].some(li => li.textContent === text)`

// memberFields is a rewrite that sets the members' roles and avatars of
// joined, users and presence events, replacing what the server sent: the
// client must draw what it is given, even avatars the server would never
// send (javascript: URLs).
func memberFields(roles, avatars map[string]string) func(ev map[string]any) {
	view := func(name string) map[string]any {
		m := map[string]any{"name": name, "role": roles[name]}
		if a := avatars[name]; a != "" {
			m["avatar"] = a
		}
		return m
	}
	return func(ev map[string]any) {
		switch ev["type"] {
		case "joined", "users":
			var ms []any
			for _, u := range ev["users"].([]any) {
				ms = append(ms, view(u.(string)))
			}
			ev["members"] = ms
		case "presence":
			if ev["event"] == "join" {
				for k, v := range view(ev["user"].(string)) {
					if k != "name" {
						ev[k] = v
					}
				}
			}
		}
	}
}

// TestWebClientShowsMemberFields: with the fields core/chat sends
// (members with roles and avatars, a message's emotion), the client shows
// role badges, avatars (an http image and a built-in emoticon) and the
// emoticon picked for a message.
func TestWebClientShowsMemberFields(t *testing.T) {
	srv := servertest.Start(t, webConfig(t))
	p := &clientProxy{t: t, upstream: servertest.URL(srv), echoEmotion: true}
	roles := map[string]string{"alice": "moderator", "bob": "guest", "carol": "admin"}
	p.rewrite = func(ev map[string]any) {
		// The proxy serves alice's picture; its address is known once it runs.
		memberFields(roles, map[string]string{"alice": p.base + "/avatar.png", "bob": "e7", "carol": "javascript:alert(1)"})(ev)
	}
	base := p.start()
	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, base, "alice")
	bob := openBrowserTab(t, browser, base, "bob")
	carol := openBrowserTab(t, browser, base, "carol")
	watch := testenv.WatchPage(t, alice.ctx)
	for _, b := range []*browserTab{alice, bob, carol} {
		b.login()
		b.joinLobby()
	}
	bob.waitUser("alice")
	bob.waitUser("carol")
	bob.do("see the role badges and avatars",
		pollJS(`() => document.querySelector('#users [data-user="alice"][data-role="moderator"] .badge-role-moderator')?.textContent === "mod"`),
		pollJS(`() => document.querySelector('#users [data-user="carol"][data-role="admin"] .badge-role-admin')?.textContent === "admin"`),
		pollJS(`() => document.querySelector('#users [data-user="bob"] .badge-role-guest') !== null`),
		pollJS(`() => { const i = document.querySelector('#users [data-user="alice"] img.avatar'); return i && i.complete && i.naturalWidth === 8; }`),
		pollJS(`() => document.querySelector('#users [data-user="bob"] .avatar-emoticon svg[data-emoticon="e7"]') !== null`),
	)
	// An avatar that is not http(s) or e1..e32 is not shown.
	if evalJS[bool](bob, `document.querySelector('#users [data-user="carol"] img') !== null`) {
		t.Error("carol's javascript: avatar became an image")
	}

	// alice picks an emoticon; it goes with the next message only.
	alice.do("pick an emoticon",
		chromedp.Click(chromedp.ID("emotion-button")),
		chromedp.WaitVisible(chromedp.CSS(`#emotion-picker [data-emotion="e5"]`)),
	)
	alice.screenshot("emoticon-picker")
	alice.do("choose e5",
		chromedp.Click(chromedp.CSS(`#emotion-picker [data-emotion="e5"]`)),
		pollJS(`() => document.getElementById("emotion-picker").hidden && document.getElementById("emotion-button").dataset.emotion === "e5"`),
	)
	alice.screenshot("emoticon-picked")
	alice.say("feeling it")
	alice.say("plain again")
	bob.do("see the emoticon on the message",
		pollJS(jsHasLine, "message", "alice", "plain again"),
		pollJS(`() => { const li = [...document.querySelectorAll('#messages .msg[data-kind="message"]')].find(li => li.querySelector(".msg-text").textContent === "feeling it");
			return li && li.querySelector('.msg-emotion[data-emotion="e5"] svg') !== null && li.querySelector(".msg-avatar") !== null; }`),
	)
	if evalJS[bool](bob, `[...document.querySelectorAll('#messages .msg')].find(li => li.textContent.includes("plain again")).querySelector(".msg-emotion") !== null`) {
		t.Error("the emoticon stayed for the next message")
	}
	if got := framesWith(watch.SentFrames(), `"emotion":"e5"`); len(got) != 1 || !strings.Contains(got[0], "feeling it") {
		t.Errorf("frames with the emoticon: %q, want the one say of \"feeling it\"", got)
	}
	bob.screenshot("members")
	if p := watch.Problems(); len(p) != 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
}
