package server_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parlorchat/parlor/core/limit"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// TestWebClientShowsRateLimit: a visitor who types faster than limits.say
// allows sees why the message did not go out and when to try again, and
// keeps the text in the compose box to send later.
func TestWebClientShowsRateLimit(t *testing.T) {
	cfg := webConfig(t)
	cfg.Limits.Say = limit.Rate{Every: time.Minute, Burst: 2}
	base := servertest.URL(servertest.Start(t, cfg))
	browser := testenv.Browser(t)
	hank := openBrowserTab(t, browser, base, "hank")
	hank.login()
	hank.joinLobby()
	hank.say("first")
	hank.say("second")
	hank.do("send a third message over the limit",
		pollJS(`() => [...document.querySelectorAll("#messages .msg")].filter(li => /first|second/.test(li.textContent)).length === 2`),
		chromedp.SendKeys(chromedp.ID("compose-text"), "third"),
		chromedp.Click(chromedp.ID("compose-send")),
		pollJS(`() => [...document.querySelectorAll('#messages [data-kind="error"]')].some(li =>
			li.textContent.includes("Too many messages") && li.textContent.includes("try again in"))`),
		pollJS(`() => document.getElementById("compose-text").value === "third"`),
	)
	hank.screenshot("limited")
	said := evalJS[string](hank, `[...document.querySelectorAll('#messages [data-kind="message"] .msg-text')].map(e => e.textContent).join(",")`)
	if said != "first,second" {
		t.Fatalf("messages shown as said: %q, want first,second (the third was over the limit)", said)
	}
}
