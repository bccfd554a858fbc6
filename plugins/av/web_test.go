package main

// The web client's call in headless Chromium with fake camera and
// microphone: two pages join one call and each sees the other's video.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// mediaBrowser is Chromium with a fake camera and microphone that pages
// may use without asking.
func mediaBrowser(t *testing.T) context.Context {
	return testenv.Browser(t,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
}

// tab is one user's page.
type tab struct {
	t      *testing.T
	others []*tab // the test's other tabs, described when a step fails
	name   string
	ctx    context.Context
	close  context.CancelFunc
	watch  *testenv.PageWatch
}

func openTab(t *testing.T, browser context.Context, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	return &tab{t: t, name: name, ctx: ctx, close: cancel, watch: testenv.WatchPage(t, ctx)}
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
		b.t.Fatalf("%s: %s: %v\ncall: %s%s", b.name, what, err, b.eval(jsDescribe), b.describeOthers())
	}
}

const jsDescribe = `(() => {
  const d = document.querySelector(".av-dock");
  return {dock: d ? d.dataset.call : "none", tiles: [...document.querySelectorAll(".av-tile")].map(t => t.dataset.user + ":" + (t.avPeer ? t.avPeer.signalingState + "/" + t.avPeer.iceConnectionState + "/" + t.avPeer.getTransceivers().length + "/local " + (t.avPeer.localDescription ? t.avPeer.localDescription.type : "-") + "/remote " + (t.avPeer.remoteDescription ? t.avPeer.remoteDescription.type : "-") : "")),
    status: d ? d.querySelector(".av-status").textContent : "", log: [...document.querySelectorAll("#messages .msg")].map(m => m.textContent).slice(-4),
    notices: [...document.querySelectorAll(".ext-notice")].map(n => n.textContent), warnings: d ? d.avWarnings : [], counts: d ? d.avCounts : null};
})()`

func (b *tab) describeOthers() string {
	var out string
	for _, o := range b.others {
		out += "\n" + o.name + "'s call: " + o.eval(jsDescribe)
	}
	return out
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

// until evaluates the expression js (it may be a Promise) until it is
// true.
func (b *tab) until(what, js string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := b.eval(js)
		if v == "true" {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot("failed")
			b.t.Fatalf("%s: %s: last %s\ncall: %s%s", b.name, what, v, b.eval(jsDescribe), b.describeOthers())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func poll(fn string, args ...any) chromedp.Action[chromedp.Void] {
	return testenv.Poll(20*time.Second, fn, args...)
}

// screenshot keeps the page in PARLOR_SCREENSHOT_DIR, if set.
func (b *tab) screenshot(label string) {
	dir := os.Getenv("PARLOR_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, b.t.Name()+"-"+b.name+"-"+label+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Logf("%s: screenshot: %v", b.name, err)
	}
}

// enter logs in as a guest and joins room.
func (b *tab) enter(base string, room string) {
	b.t.Helper()
	b.do("log in and join room "+room,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		poll(`() => performance.getEntriesByType("resource").some(e => e.name.endsWith("/plugins/av/main.js"))`),
		chromedp.SendKeys(chromedp.ID("login-user"), b.name),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="`+room+`"] button`)),
	)
	b.room(room)
}

// room goes to another room.
func (b *tab) room(room string) {
	b.t.Helper()
	b.do("join room "+room,
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="`+room+`"] button`)),
		poll(`(id) => document.querySelector('#rooms [data-room-id="' + id + '"]').classList.contains("active") || document.querySelector('#rooms [data-room-id="' + id + '"] [aria-current]') !== null`, room),
		chromedp.WaitVisible(chromedp.CSS(`[data-button="av.call"]`)),
	)
}

func (b *tab) joinCall() {
	b.t.Helper()
	b.do("join the call",
		chromedp.Click(chromedp.CSS(`[data-button="av.call"]`)),
		poll(`() => { const d = document.querySelector(".av-dock"); return !d.hidden && d.dataset.call !== ""; }`),
	)
}

// jsReceives is true once the connection to user has received media of
// kind (bytes, and for video decoded frames, and a video element with a
// width).
const jsReceives = `(async (user, kind) => {
  const t = document.querySelector('.av-tile[data-user="' + user + '"]');
  if (!t || !t.avPeer) { return "no tile for " + user; }
  const s = await t.avPeer.getStats();
  let bytes = 0, frames = 0;
  s.forEach((r) => { if (r.type === "inbound-rtp" && r.kind === kind) { bytes += r.bytesReceived || 0; frames += r.framesDecoded || 0; } });
  const w = t.querySelector("video").videoWidth;
  if (kind === "video") { return bytes > 0 && frames > 0 && w > 0 ? true : "bytes " + bytes + " frames " + frames + " width " + w; }
  return bytes > 0 ? true : "bytes " + bytes;
})`

func (b *tab) receives(user, kind string) {
	b.t.Helper()
	arg, _ := json.Marshal([]string{user, kind})
	b.until(b.name+" receives "+kind+" from "+user, jsReceives+"(..."+string(arg)+")")
}

// TestWebClientCall: alice and bob join the Lobby's call (at once: both
// offer, perfect negotiation settles it) and each sees the other's
// camera; the user list marks who is in the call; mute and camera off
// act on the local tracks; bob leaves and alice's tile of him goes; in
// the audio-only Radio they hear each other without video; a page that
// closes leaves the call for the other.
func TestWebClientCall(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, nil))
	base := servertest.URL(srv)
	browser := mediaBrowser(t)
	alice, bob := openTab(t, browser, "alice"), openTab(t, browser, "bob")
	alice.others, bob.others = []*tab{bob}, []*tab{alice}
	alice.enter(base, "1")
	bob.enter(base, "1")
	done := make(chan struct{})
	go func() { defer close(done); alice.joinCall() }()
	bob.joinCall()
	<-done
	alice.receives("bob", "video")
	bob.receives("alice", "video")
	alice.receives("bob", "audio")
	for _, b := range []*tab{alice, bob} {
		b.do("see who is in the call",
			poll(`() => ["alice", "bob"].every((u) => { const b = document.querySelector('#users [data-user="' + u + '"] .badge-ext[data-module="av"]'); return b && b.textContent === "call"; })`),
			poll(`() => document.querySelector('[data-button="av.call"]').textContent === "Leave call"`))
	}
	alice.screenshot("call")
	bob.screenshot("call")

	alice.do("mute the microphone and turn the camera off",
		chromedp.Click(chromedp.CSS(`[data-av="mic"]`)),
		chromedp.Click(chromedp.CSS(`[data-av="camera"]`)),
		poll(`() => document.querySelector('[data-av="mic"]').textContent === "Unmute" && document.querySelector('[data-av="camera"]').textContent === "Camera on"`),
		poll(`() => document.querySelector(".av-self").classList.contains("av-novideo")`),
	)
	alice.screenshot("muted")
	alice.do("unmute", chromedp.Click(chromedp.CSS(`[data-av="mic"]`)), chromedp.Click(chromedp.CSS(`[data-av="camera"]`)),
		poll(`() => document.querySelector('[data-av="mic"]').textContent === "Mute" && !document.querySelector(".av-self").classList.contains("av-novideo")`))

	bob.do("leave", chromedp.Click(chromedp.CSS(`[data-av="leave"]`)), poll(`() => document.querySelector(".av-dock").hidden`))
	alice.do("see bob go",
		poll(`() => !document.querySelector('.av-tile[data-user="bob"]')`),
		poll(`() => !document.querySelector('#users [data-user="bob"] .badge-ext')`),
		poll(`() => document.querySelector('#users [data-user="alice"] .badge-ext') !== null`))
	alice.do("leave", chromedp.Click(chromedp.CSS(`[data-button="av.call"]`)), poll(`() => document.querySelector(".av-dock").hidden && document.querySelector('[data-button="av.call"]').textContent === "Call"`))

	// The audio-only Radio: tiles without video, sound both ways.
	alice.room("4")
	bob.room("4")
	alice.joinCall()
	bob.joinCall()
	alice.receives("bob", "audio")
	bob.receives("alice", "audio")
	bob.do("see no video", poll(`() => [...document.querySelectorAll(".av-tile")].length === 2 && [...document.querySelectorAll(".av-tile")].every((t) => t.classList.contains("av-novideo"))`))
	if v := bob.eval(`document.querySelector(".av-self video").srcObject.getVideoTracks().length`); v != "0" {
		t.Errorf("bob sends %s video tracks in an audio-only room", v)
	}
	if v := bob.eval(`document.querySelector('[data-av="camera"]').hidden`); v != "true" {
		t.Errorf("the camera button shows in an audio-only room")
	}
	bob.screenshot("audio-only")

	// bob's page goes away: alice sees him leave the call.
	bob.close()
	alice.do("see bob's page go", poll(`() => !document.querySelector('.av-tile[data-user="bob"]')`))
	alice.clean()
	if p := bob.watch.Problems(); len(p) > 0 && !strings.Contains(strings.Join(p, ""), "context canceled") {
		t.Errorf("bob's page: %q", p)
	}
}

// TestWebClientSFU: in mode sfu, alice and bob each have one connection
// with the module, which offers; each sees the other's camera through it.
// bob leaves: alice's tile of him goes.
func TestWebClientSFU(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, map[string]any{"mode": "sfu", "udp": ":0"}))
	base := servertest.URL(srv)
	browser := mediaBrowser(t)
	alice, bob := openTab(t, browser, "alice"), openTab(t, browser, "bob")
	alice.others, bob.others = []*tab{bob}, []*tab{alice}
	alice.enter(base, "1")
	bob.enter(base, "1")
	alice.joinCall()
	bob.joinCall()
	alice.receives("bob", "video")
	bob.receives("alice", "video")
	alice.receives("bob", "audio")
	if v := alice.eval(`document.querySelector('.av-tile[data-user="bob"]').avPeer === document.querySelector('.av-tile[data-user="bob"]').avPeer && [...document.querySelectorAll(".av-tile")].length`); v != "2" {
		t.Errorf("alice's tiles: %s", v)
	}
	alice.screenshot("sfu")
	bob.do("leave", chromedp.Click(chromedp.CSS(`[data-av="leave"]`)), poll(`() => document.querySelector(".av-dock").hidden`))
	alice.do("see bob go", poll(`() => !document.querySelector('.av-tile[data-user="bob"]')`))
	alice.clean()
	bob.clean()
}

// TestWebClientListenerAndRestart: in the moderated Stage, the speaker
// sam publishes and the user lou listens (no camera asked, sam's picture
// received, lou's tile without video on sam's page). Then the module is
// killed: both pages say the call ended, and a new Call works.
func TestWebClientListenerAndRestart(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, nil))
	base := servertest.URL(srv)
	browser := mediaBrowser(t)
	sam, lou := openTab(t, browser, "sam"), openTab(t, browser, "lou")
	sam.others, lou.others = []*tab{lou}, []*tab{sam}
	sam.enter(base, "3")
	lou.enter(base, "3")
	sam.joinCall()
	lou.joinCall()
	lou.receives("sam", "video")
	lou.do("be told to listen", poll(`() => document.querySelector(".av-status").textContent === "You are listening." && document.querySelector('[data-av="mic"]').hidden && document.querySelector('[data-av="camera"]').hidden`))
	sam.do("see lou without video", poll(`() => { const t = document.querySelector('.av-tile[data-user="lou"]'); return t && t.classList.contains("av-novideo") && t.avPeer.connectionState === "connected"; }`))
	if v := lou.eval(`document.querySelector(".av-self video").srcObject === null`); v != "true" {
		t.Errorf("the listener has a local stream: %s", v)
	}
	lou.screenshot("listening")

	pid := modulePID(srv)
	if pid == 0 {
		t.Fatal("the module is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*tab{sam, lou} {
		b.do("see the call end", poll(jsHasSystemLine, "The call ended; press Call to join again."),
			poll(`() => document.querySelector(".av-dock").hidden && document.querySelector('[data-button="av.call"]').textContent === "Call"`))
	}
	sam.joinCall()
	lou.joinCall()
	lou.receives("sam", "video")
	sam.clean()
	lou.clean()
}

// jsHasSystemLine is true when the chat log has an extension's line with
// the text.
const jsHasSystemLine = `(text) => [...document.querySelectorAll('#messages .msg[data-kind="system"]')].some((li) => li.textContent === text)`
