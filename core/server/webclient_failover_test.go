package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// The web client with several servers (http.ws_urls, docs/clustering.md):
// when its server goes away it moves to the next one by itself, signs in
// again and goes back to its room. The servers of these tests share
// nothing, so a guest comes back by name and a password login finds its
// token unknown; with a shared store the token works on every node.

// TestWebClientServerList runs the client's server list in the page: the
// URLs of the meta tag, resolved and without repeats, and the connection
// moving from one to the next.
func TestWebClientServerList(t *testing.T) {
	base := startWebServer(t)
	browser := testenv.Browser(t)
	tab := openBrowserTab(t, browser, base, "units")
	tab.do("open the client", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("login-user")))
	got := evalAsync[[]string](tab, `(async () => {
		const { serverURLs, Connection } = await import("/js/connection.js");
		const doc = (content) => ({ querySelector: (sel) => sel === 'meta[name="parlor-ws-urls"]' && content !== null ? { getAttribute: () => content } : null });
		const loc = { protocol: "https:", host: "chat.example.com" };
		const c = new Connection({ urls: ["wss://a/ws", "wss://b/ws", "wss://c/ws"] });
		const seen = [c.url];
		for (let i = 0; i < 3; i++) { c.nextServer(); seen.push(c.url); }
		const one = new Connection({ urls: serverURLs() });
		return [
			serverURLs(doc(null), loc).join(" "),
			serverURLs(doc(""), loc).join(" "),
			serverURLs(doc(" /ws  wss://b.example.com/ws https://x.example.com/ws //evil.example.net/ws /ws wss://chat.example.com/ws /chat/ws "), loc).join(" "),
			serverURLs(doc("ws://10.0.0.2:8080/ws"), { protocol: "http:", host: "127.0.0.1:1" }).join(" "),
			seen.join(" ") + " several " + c.several,
			one.url + " several " + one.several,
		];
	})()`)
	want := []string{
		"wss://chat.example.com/ws",
		"wss://chat.example.com/ws",
		"wss://chat.example.com/ws wss://b.example.com/ws wss://chat.example.com/chat/ws",
		"ws://10.0.0.2:8080/ws",
		"wss://a/ws wss://b/ws wss://c/ws wss://a/ws several true",
		"ws" + strings.TrimPrefix(base, "http") + "/ws several false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("server list:\n got %q\nwant %q", got, want)
	}
}

// TestWebClientFailsOverToTheNextServer: a guest chats on server A, whose
// page names A and then B. A is killed (kill -9); the page says the
// connection is lost and that it reconnects to the next server, signs in
// on B by itself, goes back to the Lobby, and what the guest then says
// reaches the people on B.
func TestWebClientFailsOverToTheNextServer(t *testing.T) {
	bin := testenv.GoBuild(t, "./cmd/parlor", "parlor")
	addrB := testenv.FreeAddr(t)
	conf := filepath.Join(t.TempDir(), "parlor.yaml")
	yaml := "http:\n  ws_urls: [\"/ws\", \"ws://" + addrB + "/ws\"]\n"
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	a := servertest.StartProcess(t, bin, t.TempDir(), "--log-level", "error", "--config", conf)
	cfgB := webConfig(t)
	cfgB.HTTP.Addr = addrB
	cfgB.HTTP.AllowedOrigins = []string{a.URL()} // the page A served
	b := servertest.Start(t, cfgB)

	browser := testenv.Browser(t)
	gus := openBrowserTab(t, browser, a.URL(), "gus")
	hal := openBrowserTab(t, browser, servertest.URL(b), "hal")
	watch := testenv.WatchPage(t, gus.ctx)
	gus.login()
	gus.joinLobby()
	gus.say("hello from A")
	gus.do("see own message on A", pollJS(jsHasLine, "message", "gus", "hello from A"))
	hal.login()
	hal.joinLobby()
	if _, on := b.Group().Online("gus"); on {
		t.Fatal("gus is on server B before A is gone: the page did not start with the first URL")
	}

	a.Kill()
	gus.do("see the connection lost and the next server announced",
		chromedp.WaitVisible(chromedp.ID("conn-lost")),
		pollJS(`() => document.getElementById("conn-lost-text").textContent.includes("Reconnecting to the next server")`),
		pollJS(`() => document.getElementById("compose-text").disabled`),
	)
	gus.screenshot("reconnecting")
	gus.waitBackInLobby()
	gus.do("see that the page moved", pollJS(jsHasText, "Reconnected to another server."))
	hal.waitUser("gus")
	gus.say("hello from B")
	gus.do("see own message on B", pollJS(jsHasLine, "message", "gus", "hello from B"))
	hal.do("see gus's message", pollJS(jsHasLine, "message", "gus", "hello from B"))
	gus.screenshot("back")

	logins := framesWith(watch.SentFrames(), `"type":"login"`)
	if n := len(framesWith(logins, `"user":"gus"`)); n != 2 {
		t.Errorf("%d guest logins as gus, want 2 (the form on A, then the reconnect on B): %q", n, logins)
	}
	if p := watch.Problems(); len(p) != 0 {
		// A refused connection or a policy violation shows here.
		for _, s := range p {
			if strings.Contains(s, "Content Security Policy") || strings.Contains(s, "403") {
				t.Errorf("the page reported: %s", s)
			}
		}
	}
}

// TestWebClientFailsOverToAServerThatDoesNotKnowTheLogin: a password
// login's reconnect token means nothing to a server that does not share
// the first one's store. The page moves to B when A stops, says why it
// must sign in again, and the password signs in on B.
func TestWebClientFailsOverToAServerThatDoesNotKnowTheLogin(t *testing.T) {
	const password = "alice-pw"
	cfgA, cfgB := passwordWebConfig(t), passwordWebConfig(t)
	cfgA.HTTP.Addr = testenv.FreeAddr(t)
	cfgB.HTTP.AllowedOrigins = []string{"http://" + cfgA.HTTP.Addr}
	b := servertest.Start(t, cfgB)
	cfgA.HTTP.WSURLs = []string{"/ws", "ws://" + b.HTTPAddr() + "/ws"}
	a := servertest.Start(t, cfgA)

	browser := testenv.Browser(t)
	alice := openBrowserTab(t, browser, servertest.URL(a), "alice")
	watch := testenv.WatchPage(t, alice.ctx)
	alice.loginWithPassword("alice", password)
	alice.joinLobby()

	servertest.Stop(t, a)
	alice.do("see the login form and why",
		chromedp.WaitVisible(chromedp.ID("login-view")),
		pollJS(`() => document.getElementById("chat-view").hidden`),
		pollJS(`() => document.getElementById("login-error").textContent.includes("the server the chat reconnected to does not know your login")`),
		pollJS(`() => document.getElementById("login-user").value === "alice"`),
		pollJS(`() => document.getElementById("conn-lost").hidden`),
	)
	alice.screenshot("signed-out")
	logins := framesWith(watch.SentFrames(), `"type":"login"`)
	if n := len(logins); n < 2 || !strings.Contains(logins[n-1], `"token":"`) {
		t.Errorf("login frames = %q, want the token login last (on B)", logins)
	}
	if got := framesWith(watch.SentFrames(), password); len(got) != 1 {
		t.Errorf("%d frames carry the password, want only the first login:\n%s", len(got), strings.Join(got, "\n"))
	}

	alice.do("sign in on B",
		chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID("login-submit")),
		pollJS(`() => document.getElementById("status").textContent.includes("alice")`),
		chromedp.WaitVisible(chromedp.CSS("#rooms [data-room-id]")),
	)
	if _, on := b.Group().Online("alice"); !on {
		t.Fatal("alice signed in again, but not on server B")
	}
	alice.joinLobby()
	alice.say("signed in on B")
	alice.do("see own message", pollJS(jsHasLine, "message", "alice", "signed in on B"))
}

// TestWebClientGuestWaitsForItsName: a guest coming back finds its name
// still held (as on a node that has not yet let a crashed node's members
// go); the page waits and tries again instead of asking for a name.
func TestWebClientGuestWaitsForItsName(t *testing.T) {
	srv := servertest.Start(t, webConfig(t))
	browser := testenv.Browser(t)
	gus := openBrowserTab(t, browser, servertest.URL(srv), "gus")
	gus.login()
	gus.joinLobby()

	dropConnection(t, srv, "gus")
	// Someone takes the name before the page is back (it waits at least a
	// second before it reconnects).
	other := servertest.Dial(t, srv)
	for deadline := time.Now().Add(browserPollTimeout); ; {
		other.Send(map[string]any{"type": "login", "user": "gus"})
		ev := other.Next()
		if ev["type"] == "login_ok" {
			break
		}
		if ev["code"] != "name_taken" || time.Now().After(deadline) {
			t.Fatalf("login as gus: %v", ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gus.do("see the page wait",
		pollJS(`() => document.getElementById("conn-lost-text").textContent.includes("old connection")`),
	)
	gus.screenshot("waiting")
	time.Sleep(1500 * time.Millisecond) // a try or two more on the taken name
	if evalJS[bool](gus, `!document.getElementById("login-view").hidden`) {
		t.Fatalf("the page asks for a name while its own is held\n%s", gus.dump())
	}
	_ = other.Conn().CloseNow()
	gus.waitBackInLobby()
	gus.say("still gus")
	gus.do("see own message", pollJS(jsHasLine, "message", "gus", "still gus"))
}
