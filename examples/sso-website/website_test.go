package ssowebsite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

const (
	apiKey      = "example-site-key-0123456789"
	stepTimeout = 30 * time.Second
	pollTimeout = 20 * time.Second
)

// serveSite runs the example site with php -S and returns its base URL.
func serveSite(t *testing.T, chatURL string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return testenv.PHPServer(t, dir, []string{"PARLOR_CHAT_URL=" + chatURL, "PARLOR_SSO_API_KEY=" + apiKey})
}

// startChat runs a chat with the SSO plugin on addr whose login, logout and
// registration pages are on the site.
func startChat(t *testing.T, addr, site string) string {
	t.Helper()
	bin := testenv.GoBuild(t, "./plugins/sso", "parlor-plugin-sso")
	cfg := servertest.Config(t)
	cfg.HTTP.Addr = addr
	cfg.ServerAPI.Addr = ""
	cfg.Status.Enabled = false
	cfg.Plugins.CallTimeout = 5 * time.Second
	cfg.Plugins.Load = map[string]config.PluginSpec{"sso": {Path: bin, Config: map[string]any{
		"api_key":      apiKey,
		"login_url":    site + "/",
		"logout_url":   site + "/?action=logout",
		"register_url": site + "/?action=register",
	}}}
	var logs testenv.LogBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chat log:\n%s", logs.String())
		}
	})
	log := hclog.New(&hclog.LoggerOptions{Name: "chat", Output: &logs, Level: hclog.Debug})
	return servertest.URL(servertest.Start(t, cfg, servertest.WithLogger(log)))
}

// tab is one page; tabs made by newTab(parent) share parent's cookies.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// newTab opens a tab: in a fresh browser context (own cookies) when
// isolated, else in the browser context of parent.
func newTab(t *testing.T, parent context.Context, name string, isolated bool) *tab {
	t.Helper()
	var opts []chromedp.ContextOption
	if isolated {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: open tab: %v", name, err)
	}
	return &tab{t: t, name: name, ctx: ctx}
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %s: %v\n%s", b.name, what, err, b.dump())
	}
}

func (b *tab) dump() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	// The text, and each image with its state: a broken pixel shows why
	// a wait for it failed.
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText +
		Array.from(document.images, (i) => "\nimage " + i.id + " " + i.src + " complete=" + i.complete + " size=" + i.naturalWidth + "x" + i.naturalHeight).join("")`))
	if err != nil {
		return "(page unavailable: " + err.Error() + ")"
	}
	return "page of " + b.name + ": " + s
}

func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v\n%s", b.name, expr, err, b.dump())
	}
	return v
}

func poll(fn string, args ...any) chromedp.Action[chromedp.Void] {
	return testenv.Poll(pollTimeout, fn, args...)
}

// jsImageLoaded is true once the image with the id loaded as a 1x1 picture.
const jsImageLoaded = `(id) => { const i = document.getElementById(id); return i !== null && i.complete && i.naturalWidth === 1 && i.naturalHeight === 1; }`

// jsChatAs is true when the chat shows the chat view for the user.
const jsChatAs = `(name) => !document.getElementById("chat-view").hidden && document.getElementById("me-name").textContent === name && document.getElementById("login-view").hidden`

// jsChatLoggedOut is true when the chat shows its login form.
const jsChatLoggedOut = `() => !document.getElementById("login-view").hidden && document.getElementById("chat-view").hidden && document.getElementById("status").dataset.state !== "connecting"`

// siteLogin logs in on the site's form and waits for the chat's IMG tag.
func (b *tab) siteLogin(site, name, password string, remember bool) {
	b.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(site + "/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
	}
	if remember {
		steps = append(steps, chromedp.Click(chromedp.ID("remember")))
	}
	steps = append(steps,
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("welcome")),
		poll(jsImageLoaded, "chat-login"),
	)
	b.do("log in on the site as "+name, steps...)
}

// generate asks the chat for an access token, as a website's server does.
func generate(t *testing.T, chat, name, email string) string {
	t.Helper()
	q := url.Values{"apikey": {apiKey}, "username": {name}, "email": {email}}
	resp, err := http.Get(chat + "/sso/token/generate?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		Success     bool   `json:"success"`
		Message     string `json:"message"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || !res.Success {
		t.Fatalf("generate %s: %v %+v", name, err, res)
	}
	return res.AccessToken
}

func TestSiteLogsIntoChat(t *testing.T) {
	chatAddr := testenv.FreeAddr(t)
	site := serveSite(t, "http://"+chatAddr)
	chat := startChat(t, chatAddr, site)
	browser := testenv.Browser(t)

	// alice logs in on the site; its page loads the chat's IMG tag, so the
	// chat opens already logged in as alice.
	alice := newTab(t, browser, "alice", true)
	alice.siteLogin(site, "alice", "wonderland", false)
	alice.do("open the chat from the site",
		chromedp.Click(chromedp.ID("chat-link")),
		chromedp.WaitReady(chromedp.ID("chat-view")),
		poll(jsChatAs, "alice"),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id]`)),
	)
	// The site's and the chat's cookies live side by side on the host.
	cookies := eval[string](alice, `document.cookie`) // parlor_session is HttpOnly
	if strings.Contains(cookies, "parlor_session") {
		t.Fatalf("the chat cookie is readable by scripts: %q", cookies)
	}

	// With the chat still open, alice logs out on the site in a second
	// tab of the same browser: the open chat is logged out at once.
	aliceSite := newTab(t, alice.ctx, "alice's site tab", false)
	aliceSite.do("log out on the site",
		chromedp.Navigate(site+"/"),
		chromedp.WaitVisible(chromedp.ID("logout")),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("logged-out")),
		poll(jsImageLoaded, "chat-logout"),
	)
	alice.do("see the open chat logged out", poll(jsChatLoggedOut))
	alice.do("find the chat logged out",
		chromedp.Navigate(chat+"/"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		// The login form offers the site's login and registration pages.
		chromedp.WaitVisible(chromedp.ID("sso-login")),
		chromedp.WaitVisible(chromedp.ID("sso-register")),
	)
	time.Sleep(300 * time.Millisecond) // a session login would have answered by now
	alice.do("stay logged out", poll(jsChatLoggedOut))
	if href := eval[string](alice, `document.getElementById("sso-login").href`); href != site+"/" {
		t.Fatalf("Log in link %q, want %s/", href, site)
	}
	if href := eval[string](alice, `document.getElementById("sso-register").href`); href != site+"/?action=register" {
		t.Fatalf("Create account link %q", href)
	}

	// bob logs in with "remember me"; logging out in the chat sends him to
	// the site's logout page, which ends his chat session.
	bob := newTab(t, browser, "bob", true)
	bob.siteLogin(site, "bob", "builder", true)
	bob.do("open the chat as bob",
		chromedp.Navigate(chat+"/"),
		poll(jsChatAs, "bob"),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("logged-out")),
		poll(`(site) => location.href.startsWith(site)`, site),
		poll(jsImageLoaded, "chat-logout"),
		chromedp.Navigate(chat+"/"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
	)
	time.Sleep(300 * time.Millisecond)
	bob.do("stay logged out", poll(jsChatLoggedOut))
}

func TestLoginLinkWithoutImage(t *testing.T) {
	chatAddr := testenv.FreeAddr(t)
	site := serveSite(t, "http://"+chatAddr)
	chat := startChat(t, chatAddr, site)
	browser := testenv.Browser(t)

	// A browser that never loaded the IMG tag follows the link carrying
	// the token and is logged in; the token leaves the address bar.
	token := generate(t, chat, "carol", "carol@example.com")
	carol := newTab(t, browser, "carol", true)
	carol.do("follow the login link",
		chromedp.Navigate(fmt.Sprintf("%s/?access_token=%s&rememberMe=1", chat, url.QueryEscape(token))),
		poll(jsChatAs, "carol"),
	)
	if href := eval[string](carol, `location.href`); strings.Contains(href, "access_token") {
		t.Fatalf("the token stays in the address bar: %s", href)
	}
	// The cookie it got logs the next visit in as well.
	carol.do("come back", chromedp.Navigate(chat+"/"), poll(jsChatAs, "carol"))

	// A link with a bad token shows why it failed on the login form.
	dave := newTab(t, browser, "dave", true)
	dave.do("follow a bad login link",
		chromedp.Navigate(chat+"/?access_token=nope&rememberMe=0"),
		chromedp.WaitVisible(chromedp.ID("login-error")),
		poll(`() => document.getElementById("login-error").textContent.includes("expired")`),
	)
}
