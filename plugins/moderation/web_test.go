package main

// The web client with the module's extension, in headless Chromium.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

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
	b := &tab{t: t, name: name, ctx: ctx, watch: testenv.WatchPage(t, ctx)}
	t.Cleanup(b.screenshot) // before cancel: cleanups run last first
	return b
}

// do runs steps with a time limit; a failure shows the chat log.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %s: %v\nchat log:\n%s\npage problems: %q", b.name, what, err, strings.Join(b.lines(), "\n"), b.watch.Problems())
	}
}

// lines is the text of the chat log, one entry a line.
func (b *tab) lines() []string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	l, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#messages .msg")].map(li => "[" + li.dataset.kind + "] " + li.textContent.trim())`))
	return l
}

// texts are the texts of the public messages in the chat log.
func (b *tab) texts() []string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	l, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#messages .msg[data-from] .msg-text")].map(e => e.closest(".msg").dataset.from + ": " + e.textContent)`))
	if err != nil {
		b.t.Fatalf("%s: read the chat log: %v", b.name, err)
	}
	return l
}

func poll(fn string, args ...any) chromedp.Action[chromedp.Void] {
	return testenv.Poll(20*time.Second, fn, args...)
}

// shot keeps the page as <dir>/<test>-<name>-<what>.png, when
// PARLOR_SCREENSHOT_DIR is set.
func (b *tab) shot(what string) { testenv.Screenshot(b.t, b.ctx, b.name+"-"+what) }

func (b *tab) screenshot() { b.shot("end") }

// enter logs in as a guest and joins room, once the moderation extension
// has been fetched.
func (b *tab) enter(base string, room string) {
	b.t.Helper()
	b.do("log in and join room "+room,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		poll(`() => performance.getEntriesByType("resource").some(e => e.name.endsWith("/plugins/moderation/main.js"))`),
		chromedp.SendKeys(chromedp.ID("login-user"), b.name),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="`+room+`"] button`)),
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="`+room+`"] button`)),
		poll(`(id) => document.querySelector('#rooms [data-room-id="' + id + '"]')?.classList.contains("active") || document.querySelector('#rooms [data-room-id="' + id + '"] [aria-current]') !== null`, room),
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

const (
	jsQueueItem = `(text) => [...document.querySelectorAll('[data-panel="moderation.queue"] .mod-held .mod-held-text')].some(e => e.textContent === text)`
	jsQueueLen  = `(n) => document.querySelectorAll('[data-panel="moderation.queue"] .mod-held').length === n`
	jsHasText   = `(text) => [...document.querySelectorAll("#messages .msg")].some(li => li.textContent.includes(text))`
)

// clickHeld clicks the button of class cls of the held message with text.
func clickHeld(text, cls string) chromedp.Action[chromedp.Void] {
	return poll(`(text, cls) => {
		const li = [...document.querySelectorAll('[data-panel="moderation.queue"] .mod-held')].find(li => li.querySelector(".mod-held-text").textContent === text);
		const b = li && li.querySelector("." + cls);
		if (b) { b.click(); }
		return !!b;
	}`, text, cls)
}

// TestWebClientQueue: a guest posts three messages in the moderated
// Stage; the moderator sees them in the queue panel (and the queue's
// length on the room), approves one, edits and approves another and
// declines the third with a reason; a third member sees only the
// approved ones, and the author is told of the decline. The moderator
// then mutes the guest from the user list, and the guest shows as muted.
func TestWebClientQueue(t *testing.T) {
	srv := startServer(t, nil)
	base := servertest.URL(srv)
	browser := testenv.Browser(t)
	mia := openTab(t, browser, "mia")
	gus := openTab(t, browser, "gus")
	vic := openTab(t, browser, "vic")
	mia.enter(base, "2")
	vic.enter(base, "2")
	gus.enter(base, "2")
	mia.do("see the empty queue of a moderated room", chromedp.WaitVisible(chromedp.CSS(`[data-panel="moderation.queue"] .mod-empty`)),
		poll(`() => document.querySelector('[data-panel="moderation.queue"] .mod-moderated').checked`))
	vic.do("have no queue panel", poll(`() => !document.querySelector('[data-panel="moderation.queue"]')`))

	gus.say("hello from gus")
	gus.say("buy cheap watches")
	gus.say("helo with a typo")
	gus.do("see that his messages wait", poll(`(t) => [...document.querySelectorAll("#messages .msg")].filter(li => li.textContent.includes(t)).length === 3`, "waiting for a moderator"))
	mia.do("see the queue", poll(jsQueueLen, 3), poll(jsQueueItem, "buy cheap watches"),
		poll(`() => [...document.querySelectorAll('#rooms [data-room-id="2"]')].some(li => li.textContent.includes("3 held"))`))
	mia.shot("queue")

	mia.do("approve the first", clickHeld("hello from gus", "mod-approve"), poll(jsQueueLen, 2))
	mia.do("edit and approve the third",
		clickHeld("helo with a typo", "mod-edit"),
		chromedp.WaitVisible(chromedp.CSS(".mod-edit-text")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(".mod-edit-text").value = ""`),
		chromedp.SendKeys(chromedp.CSS(".mod-edit-text"), "hello with the typo fixed"),
	)
	mia.shot("edit")
	mia.do("approve the edit", chromedp.Click(chromedp.CSS(".mod-edit-approve")), poll(jsQueueLen, 1))
	mia.do("decline the second",
		clickHeld("buy cheap watches", "mod-decline"),
		chromedp.WaitVisible(chromedp.CSS(".mod-decline-reason")),
		chromedp.SendKeys(chromedp.CSS(".mod-decline-reason"), "no advertising"),
	)
	mia.shot("decline")
	mia.do("confirm the decline", chromedp.Click(chromedp.CSS(".mod-decline-confirm")), poll(jsQueueLen, 0),
		chromedp.WaitVisible(chromedp.CSS(`[data-panel="moderation.queue"] .mod-empty`)),
		poll(`() => ![...document.querySelectorAll('#rooms [data-room-id="2"]')].some(li => li.textContent.includes("held"))`))

	gus.do("hear of the decline", poll(jsHasText, "no advertising"))
	vic.do("see the approved messages", poll(jsHasText, "hello with the typo fixed"))
	if got, want := strings.Join(vic.texts(), "|"), "gus: hello from gus|gus: hello with the typo fixed"; got != want {
		t.Fatalf("vic sees %q, want %q", got, want)
	}

	// Mute from the user list, with the form (not offered on her own entry).
	mia.do("have no action on her own entry", poll(`() => document.querySelector('#users [data-user="mia"] .user-action')?.hidden === true`))
	mia.do("open the form",
		chromedp.Click(chromedp.CSS(`#users [data-user="gus"] .user-action`)),
		chromedp.WaitVisible(chromedp.CSS(".mod-dialog .mod-kind")),
		chromedp.SetValue(chromedp.CSS(".mod-dialog .mod-kind"), "mute"),
		chromedp.SetValue(chromedp.CSS(".mod-dialog .mod-minutes"), "15"),
		chromedp.SendKeys(chromedp.CSS(".mod-dialog .mod-reason"), "flooding the stage"),
	)
	mia.shot("mute-form")
	mia.do("mute gus", chromedp.Click(chromedp.CSS(".mod-dialog .mod-submit")),
		poll(`() => !document.querySelector(".mod-dialog").open`),
		poll(`() => !!document.querySelector('#users [data-user="gus"] .mod-muted')`))
	gus.do("be told of the mute (by the core web client)", poll(`(text) => [...document.querySelectorAll('#messages .msg')].filter(li => li.textContent.includes(text)).length === 1`, "You are muted in Stage by mia"))
	gus.do("have the message box closed while muted", poll(`() => document.getElementById("compose-text").disabled`))
	mia.shot("muted")
	gus.shot("muted")
	if got := vic.texts(); len(got) != 2 {
		t.Fatalf("vic sees %q after the mute", got)
	}
	for _, b := range []*tab{mia, gus, vic} {
		if p := b.watch.Problems(); len(p) > 0 {
			t.Errorf("%s: page problems %q", b.name, p)
		}
	}
}
