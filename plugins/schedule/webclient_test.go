package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	parlor "github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
	"github.com/parlorchat/parlor/sdk/schedule"
)

// special is a special opening time from from to to (same day or the
// morning after), in UTC.
func special(from, to time.Time) parlor.OpenTime {
	from, to = from.UTC(), to.UTC()
	return parlor.OpenTime{O: "special", S: from.Format("2006-01-02 15:04:05"), E: to.Format("15:04:05")}
}

// shot keeps the page as <dir>/<test>-<name>.png when
// PARLOR_SCREENSHOT_DIR is set.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	testenv.Screenshot(t, ctx, name)
}

// TestWebClientClosedRoomAndMoveOut: in the web client, a room closed by
// its times shows its next opening in the room list and refuses to let a
// guest in, saying when it opens; a guest in a room that closes is moved
// out and told.
func TestWebClientClosedRoomAndMoveOut(t *testing.T) {
	cfg := serverConfig(t, map[string]any{"warn": "0s"})
	opensAt := time.Now().Truncate(time.Second).Add(2 * time.Hour)
	cfg.Rooms = []parlor.Room{
		{ID: 1, Name: "Lobby", Member: true, Open: true},
		{ID: 2, Name: "Show", Member: true, Open: true},
		{ID: 3, Name: "Later", Member: true, Open: true, OpenTimes: []parlor.OpenTime{special(opensAt, opensAt.Add(time.Hour))}},
	}
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)

	browser := testenv.Browser(t)
	ctx, do := openTab(t, browser)

	do("log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		chromedp.SendKeys(chromedp.ID("login-user"), "gina"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="3"] button`)),
		poll(`() => !!document.querySelector('#rooms [data-room-id="3"][data-open="false"][data-schedule="closed"] .badge-opens')`),
	)
	bctx, bcancel := context.WithTimeout(ctx, 5*time.Second)
	defer bcancel()
	badge, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#rooms [data-room-id="3"] .badge-opens').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	// "opens Tue 1 Dec, 18:52 UTC" in the browser's words: the time of
	// the room's zone (UTC) is in it.
	if want := opensAt.UTC().Format("15:04"); !strings.HasPrefix(badge, "opens ") || !strings.Contains(badge, want) {
		t.Errorf("room 3's badge %q, want its opening at %s", badge, want)
	}
	do("try the closed room",
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="3"] button`)),
		poll(`(text) => { const e = document.getElementById("room-error"); return !e.hidden && e.textContent.includes(text); }`,
			"The room \"Later\" is closed; it opens at "),
	)
	shot(t, ctx, "closed-room")

	do("enter the open room",
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="2"] button`)),
		poll(`() => [...document.querySelectorAll("#messages .msg")].some(li => li.textContent.includes("You are in Show."))`),
	)
	// Once the guest is in, the room gets times that close it in a few
	// seconds, as an administrator would give them.
	now := time.Now().Truncate(time.Second)
	times := []schedule.Entry{{O: "special", S: now.Add(-time.Hour).UTC().Format("2006-01-02 15:04:05"), E: now.Add(5 * time.Second).UTC().Format("15:04:05")}}
	if _, err := srv.HostAPI("test").Rooms().Edit(context.Background(), 2, sdk.RoomEdit{Schedule: &times}); err != nil {
		t.Fatal(err)
	}
	do("see the room open until its closing",
		poll(`() => !!document.querySelector('#rooms [data-room-id="2"][data-open="true"][data-schedule="open"] .badge-closes')`),
	)
	do("be moved out when it closes",
		poll(`() => [...document.querySelectorAll("#messages .msg")].some(li => li.textContent.includes("The room Show has closed."))`),
		poll(`() => [...document.querySelectorAll("#messages .msg")].some(li => li.textContent.includes("You left Show: room closed"))`),
		poll(`() => !!document.querySelector('#rooms [data-room-id="2"][data-open="false"][data-schedule="closed"]')`),
		poll(`() => document.getElementById("room-title").textContent === "No room"`),
	)
	shot(t, ctx, "moved-out")
}

// TestWebClientAdminEditsTimes: an administrator gives the Lobby opening
// times in the web client ("Opening times" in the top bar); the Lobby
// closes at once for the others' room list, with its next opening, while
// the administrator stays in it. A guest has no such button.
func TestWebClientAdminEditsTimes(t *testing.T) {
	cfg := serverConfig(t, map[string]any{})
	users := filepath.Join(t.TempDir(), "users.txt")
	hash, _ := bcrypt.GenerateFromPassword([]byte("root-pw"), bcrypt.MinCost)
	if err := os.WriteFile(users, []byte("root:"+string(hash)+":admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Plugins.Load["users"] = parlor.PluginSpec{Path: testenv.GoBuild(t, "./examples/auth-plugin", "parlor-plugin-users"),
		Config: map[string]any{"users_file": users}}
	cfg.Auth.Chain = []string{"users"}
	srv := servertest.Start(t, cfg)
	base := servertest.URL(srv)
	browser := testenv.Browser(t)

	root, rootDo := openTab(t, browser)
	gina, ginaDo := openTab(t, browser)
	opensAt := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	rule := "special," + opensAt.Format("2006-01-02 15:04:05") + "," + opensAt.Add(time.Hour).Format("15:04:05")

	ginaDo("log in as a guest",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		chromedp.SendKeys(chromedp.ID("login-user"), "gina"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="1"] button`)),
		poll(`() => performance.getEntriesByType("resource").some(e => e.name.endsWith("/plugins/schedule/web/main.js"))`),
		poll(`() => !document.querySelector('[data-button="schedule.times"]')`),
	)
	rootDo("log in as the administrator and enter the Lobby",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		chromedp.SendKeys(chromedp.ID("login-user"), "root"),
		chromedp.SendKeys(chromedp.ID("login-password"), "root-pw"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#rooms [data-room-id="1"] button`)),
		chromedp.Click(chromedp.CSS(`#rooms [data-room-id="1"] button`)),
		poll(`() => [...document.querySelectorAll("#messages .msg")].some(li => li.textContent.includes("You are in Lobby."))`),
		chromedp.WaitVisible(chromedp.CSS(`[data-button="schedule.times"]`)),
		chromedp.Click(chromedp.CSS(`[data-button="schedule.times"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-panel="schedule.times"] textarea`)),
		poll(`() => document.querySelector('[data-panel="schedule.times"] .schedule-status').textContent.includes("always open")`),
		chromedp.SendKeys(chromedp.CSS(`[data-panel="schedule.times"] textarea`), rule),
		chromedp.Click(chromedp.CSS(`[data-panel="schedule.times"] .schedule-save`)),
		poll(`() => document.querySelector('[data-panel="schedule.times"] .schedule-status').textContent.startsWith("Saved. ")`),
	)
	ginaDo("see the Lobby closed with its opening",
		poll(`() => !!document.querySelector('#rooms [data-room-id="1"][data-open="false"][data-schedule="closed"] .badge-opens')`),
	)
	if info, _ := srv.Group().RoomInfo(1); len(info.Schedule) != 1 || info.Schedule[0].S != opensAt.Format("2006-01-02 15:04:05") {
		t.Fatalf("the Lobby's times: %+v", info.Schedule)
	}
	if users, _ := srv.Group().Users(1); len(users) != 1 || users[0] != "root" {
		t.Fatalf("the Lobby holds %v, want the administrator kept", users)
	}
	rootDo("see the saved state", poll(`() => document.querySelector('[data-panel="schedule.times"] .schedule-status').textContent.includes("closed, opens ")`))
	shot(t, root, "admin-panel")
	shot(t, gina, "guest-list")
}

// openTab opens a tab and returns it with a runner of steps that fails
// the test with the chat log.
func openTab(t *testing.T, browser context.Context) (context.Context, func(string, ...chromedp.Action[chromedp.Void])) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx, func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, steps...); err != nil {
			c2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
			defer cancel2()
			log, _ := chromedp.Run(c2, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#messages .msg")].map(li => li.textContent.trim())`))
			list, _ := chromedp.Run(c2, chromedp.Evaluate[string](`document.getElementById("rooms").outerHTML`))
			t.Fatalf("%s: %v\nchat log:\n%s\nroom list: %s", what, err, strings.Join(log, "\n"), list)
		}
	}
}

func poll(fn string, args ...any) chromedp.Action[chromedp.Void] {
	return testenv.Poll(20*time.Second, fn, args...)
}
