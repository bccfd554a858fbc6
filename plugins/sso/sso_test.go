package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTokenLoginLogout(t *testing.T) {
	base, _ := startServer(t, ssoConfig(t, t.TempDir(), ""))

	gen := get(t, base, "/sso/token/generate", with("username", "alice", "email", "alice@example.com", "avatarUrl", "https://example.com/a.png")).ok(t, "generate")
	if len(gen.AccessToken) < 22 { // 128 bits in base64
		t.Fatalf("access token %q is too short", gen.AccessToken)
	}
	again := get(t, base, "/sso/token/generate", with("username", "alice", "email", "ALICE@example.com")).ok(t, "generate again")
	if again.AccessToken == gen.AccessToken {
		t.Fatal("two generate calls gave the same token")
	}

	// rememberMe=1: a persistent cookie and the 43-byte GIF.
	a := get(t, base, "/sso/token/login", url.Values{"access_token": {gen.AccessToken}, "rememberMe": {"1"}})
	if a.status != 200 || a.header.Get("Content-Type") != "image/gif" || len(a.body) != 43 || !bytes.HasPrefix(a.body, []byte("GIF89a")) {
		t.Fatalf("login answered %d %s, %d bytes", a.status, a.header.Get("Content-Type"), len(a.body))
	}
	persistent := a.sessionCookie(t)
	if !persistent.HttpOnly || persistent.Path != "/" || persistent.SameSite != 2 /* Lax */ || persistent.MaxAge <= 0 || len(persistent.Value) < 43 {
		t.Fatalf("persistent cookie %+v", persistent)
	}
	// rememberMe=0: a session cookie (no Max-Age, no Expires).
	b := get(t, base, "/sso/token/login", url.Values{"access_token": {again.AccessToken}, "rememberMe": {"0"}})
	sessionOnly := b.sessionCookie(t)
	if !sessionOnly.HttpOnly || sessionOnly.MaxAge != 0 || !sessionOnly.Expires.IsZero() || strings.Contains(b.header.Get("Set-Cookie"), "Max-Age") {
		t.Fatalf("session cookie %q", b.header.Get("Set-Cookie"))
	}

	// The cookie logs a WebSocket in as alice, with or without the hint.
	c := dialWS(t, base, "parlor_session="+persistent.Value)
	if u := c.sessionLogin("")["user"].(map[string]any); u["name"] != "alice" || u["guest"] != false {
		t.Fatalf("session login user %v", u)
	}
	c2 := dialWS(t, base, "")
	if ev := c2.sessionLogin(sessionOnly.Value); ev["type"] != "error" || ev["code"] != "name_taken" {
		t.Fatalf("second login of alice while online: %v", ev)
	}
	// Without a cookie there is no session.
	none := dialWS(t, base, "")
	if ev := none.sessionLogin(""); ev["code"] != "no_session" {
		t.Fatalf("session login without a cookie: %v", ev)
	}

	// Logout ends alice's chat sessions: the open connection is closed and
	// neither cookie works any more.
	out := get(t, base, "/sso/token/logout", url.Values{"access_token": {gen.AccessToken}})
	if out.status != 200 || out.header.Get("Content-Type") != "image/gif" || len(out.body) != 43 {
		t.Fatalf("logout answered %d %s", out.status, out.header.Get("Content-Type"))
	}
	if cl := out.sessionCookie(t); cl.Value != "" || cl.MaxAge >= 0 {
		t.Fatalf("logout cookie %q does not clear", out.header.Get("Set-Cookie"))
	}
	if reason := c.closed(); reason != "logged out" {
		t.Fatalf("close reason %q", reason)
	}
	for _, v := range []string{persistent.Value, sessionOnly.Value} {
		if ev := dialWS(t, base, "parlor_session="+v).sessionLogin(""); ev["code"] != "no_session" {
			t.Fatalf("session after logout: %v", ev)
		}
	}
	// The logged-out token is gone; the other one still logs in.
	get(t, base, "/sso/token/logout", url.Values{"access_token": {gen.AccessToken}}).refused(t, "logout twice", "unknown")
	get(t, base, "/sso/token/login", url.Values{"access_token": {gen.AccessToken}}).refused(t, "login after logout", "unknown")
	if ev := dialWS(t, base, "parlor_session="+get(t, base, "/sso/token/login", url.Values{"access_token": {again.AccessToken}}).sessionCookie(t).Value).sessionLogin(""); ev["type"] != "login_ok" {
		t.Fatalf("login with the other token: %v", ev)
	}
}

func TestSettings(t *testing.T) {
	base, _ := startServer(t, ssoConfig(t, t.TempDir(), ""))
	a := get(t, base, "/sso/settings", nil)
	want := `{"login_url":"http://127.0.0.1:1/login","logout_url":"http://127.0.0.1:1/logout","register_url":"http://127.0.0.1:1/register"}`
	if a.status != 200 || string(a.body) != want {
		t.Fatalf("settings: %d %s", a.status, a.body)
	}
	if a := get(t, base, "/sso/nope", nil); a.status != 404 || a.res.Success {
		t.Fatalf("unknown endpoint: %d %s", a.status, a.body)
	}
	if a := get(t, base, "/sso/token/login/", url.Values{"access_token": {"nope"}}); !strings.Contains(a.res.Message, "unknown or has expired") {
		t.Fatalf("login with a trailing slash: %d %s", a.status, a.body)
	}

	// A form POST is read like a query; a malformed query is refused.
	form := with("username", "carol", "email", "carol@example.com")
	res, err := http.PostForm(base+"/sso/token/generate", form)
	if err != nil {
		t.Fatal(err)
	}
	var r Response
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || !r.Success || r.AccessToken == "" {
		t.Fatalf("form POST: %d %+v %v", res.StatusCode, r, err)
	}
	res.Body.Close()
	res, err = http.Get(base + "/sso/token/generate?apikey=%zz")
	if err != nil {
		t.Fatal(err)
	}
	r = Response{}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || r.Success || !strings.Contains(r.Message, "malformed") {
		t.Fatalf("malformed query: %d %+v %v", res.StatusCode, r, err)
	}
	res.Body.Close()
}

func TestRegisterAndPasswordAccounts(t *testing.T) {
	base, _ := startServer(t, ssoConfig(t, t.TempDir(), ""))

	// Registered without a password: SSO works, a password login does not,
	// and guests can't take the name.
	reg := get(t, base, "/sso/user/register", with("username", "bob", "email", "bob@example.com")).ok(t, "register bob")
	if reg.AccessToken == "" {
		t.Fatal("register gave no access token")
	}
	get(t, base, "/sso/user/register", with("username", "bob2", "email", "Bob@Example.com")).refused(t, "register the e-mail twice", "registered already")
	get(t, base, "/sso/user/register", with("username", "BOB", "email", "other@example.com")).refused(t, "register the name twice", "taken")
	c := dialWS(t, base, "")
	c.send(map[string]any{"type": "login", "user": "bob", "password": "anything"})
	if ev := c.want("error"); ev["code"] != "wrong_password" {
		t.Fatalf("password login of a password-less account: %v", ev)
	}
	c.send(map[string]any{"type": "login", "user": "bob"})
	if ev := c.want("error"); ev["code"] != "name_taken" {
		t.Fatalf("guest with an account's name: %v", ev)
	}
	cookie := get(t, base, "/sso/token/login", url.Values{"access_token": {reg.AccessToken}}).sessionCookie(t)
	if ev := dialWS(t, base, "parlor_session="+cookie.Value).sessionLogin(""); ev["type"] != "login_ok" {
		t.Fatalf("SSO login of a password-less account: %v", ev)
	}

	// Setting a password through edit allows password logins.
	get(t, base, "/sso/user/edit", with("user", "bob@example.com", "password", "bob-secret")).ok(t, "set bob's password")
	c.send(map[string]any{"type": "login", "user": "bob", "password": "wrong"})
	if ev := c.want("error"); ev["code"] != "wrong_password" {
		t.Fatalf("wrong password: %v", ev)
	}

	// Registered with a password: logs in directly.
	get(t, base, "/sso/user/register", with("username", "carol", "email", "carol@example.com", "password", "carol-pw")).ok(t, "register carol")
	d := dialWS(t, base, "")
	d.send(map[string]any{"type": "login", "user": "carol", "password": "carol-pw"})
	if u := d.want("login_ok")["user"].(map[string]any); u["name"] != "carol" || u["guest"] != false {
		t.Fatalf("carol = %v", u)
	}
}

func TestEditAndDelete(t *testing.T) {
	base, _ := startServer(t, ssoConfig(t, t.TempDir(), ""))
	for _, u := range []string{"dave", "erin", "frank"} {
		get(t, base, "/sso/user/register", with("username", u, "email", u+"@example.com", "password", u+"-pw")).ok(t, "register "+u)
	}
	// Empty username and email are not applied; the password is.
	get(t, base, "/sso/user/edit", with("user", "dave@example.com", "username", "", "email", "", "password", "new-pw")).ok(t, "edit with empty fields")
	login := func(name, pw string) map[string]any {
		c := dialWS(t, base, "")
		c.send(map[string]any{"type": "login", "user": name, "password": pw})
		for {
			ev := c.nextEvent()
			if ev["type"] == "login_ok" || ev["type"] == "error" {
				_ = c.ws.CloseNow()
				return ev
			}
		}
	}
	if ev := login("dave", "new-pw"); ev["type"] != "login_ok" {
		t.Fatalf("dave with the new password: %v", ev)
	}
	// Rename and re-address dave.
	get(t, base, "/sso/user/edit", with("user", "dave@example.com", "username", "david", "email", "david@example.com")).ok(t, "rename dave")
	if ev := login("david", "new-pw"); ev["type"] != "login_ok" {
		t.Fatalf("david: %v", ev)
	}
	get(t, base, "/sso/user/edit", with("user", "dave@example.com", "username", "x")).refused(t, "edit by the old e-mail", "no user")
	get(t, base, "/sso/user/edit", with("user", "david@example.com", "username", "erin")).refused(t, "take erin's name", "taken")
	get(t, base, "/sso/user/edit", with("user", "david@example.com", "email", "ERIN@example.com")).refused(t, "take erin's e-mail", "e-mail")
	get(t, base, "/sso/user/edit", with("user", "david@example.com", "username", "bad!name")).refused(t, "invalid name", "not a valid name")
	if ev := login("david", "new-pw"); ev["type"] != "login_ok" {
		t.Fatalf("david after refused edits: %v", ev)
	}

	// A delete naming an unknown e-mail deletes nothing.
	get(t, base, "/sso/user/delete", with("emails", "erin@example.com,nobody@example.com")).refused(t, "delete with an unknown e-mail", "nobody@example.com")
	if ev := login("erin", "erin-pw"); ev["type"] != "login_ok" {
		t.Fatalf("erin after a refused delete: %v", ev)
	}
	// A comma list deletes several.
	get(t, base, "/sso/user/delete", with("emails", "erin@example.com, frank@example.com")).ok(t, "delete two")
	for _, u := range []string{"erin", "frank"} {
		if ev := login(u, u+"-pw"); ev["code"] != "no_such_user" {
			t.Fatalf("%s after delete: %v", u, ev)
		}
	}
	if ev := login("david", "new-pw"); ev["type"] != "login_ok" {
		t.Fatalf("david after deleting others: %v", ev)
	}
}

func TestBadInput(t *testing.T) {
	base, _ := startServer(t, ssoConfig(t, t.TempDir(), "1s"))
	noKey := func(kv ...string) url.Values {
		v := with(kv...)
		v.Del("apikey")
		return v
	}
	wrongKey := func(kv ...string) url.Values {
		v := with(kv...)
		v.Set("apikey", testAPIKey+"x")
		return v
	}
	for _, ep := range []string{"/sso/token/generate", "/sso/user/register", "/sso/user/delete", "/sso/user/edit"} {
		get(t, base, ep, noKey("username", "mallory", "email", "mallory@example.com", "emails", "mallory@example.com", "user", "mallory@example.com")).refused(t, ep+" without apikey", "apikey")
		get(t, base, ep, wrongKey("username", "mallory", "email", "mallory@example.com", "emails", "mallory@example.com", "user", "mallory@example.com")).refused(t, ep+" with a wrong apikey", "apikey")
	}
	for _, bad := range []string{"not-an-email", "a@", "Mallory <m@example.com>", "m @example.com"} {
		get(t, base, "/sso/token/generate", with("username", "mallory", "email", bad)).refused(t, "generate with "+bad, "e-mail")
		get(t, base, "/sso/user/register", with("username", "mallory", "email", bad)).refused(t, "register with "+bad, "e-mail")
		get(t, base, "/sso/user/delete", with("emails", bad)).refused(t, "delete "+bad, "e-mail")
		get(t, base, "/sso/user/edit", with("user", bad)).refused(t, "edit "+bad, "e-mail")
	}
	get(t, base, "/sso/token/generate", with("email", "mallory@example.com")).refused(t, "generate without a name", "username")
	get(t, base, "/sso/token/generate", with("username", "bad!name", "email", "mallory@example.com")).refused(t, "generate with a bad name", "not a valid name")

	// None of that created mallory: registering works and is the first.
	get(t, base, "/sso/user/register", with("username", "mallory", "email", "mallory@example.com", "password", "m-pw")).ok(t, "register mallory")

	// A valid account: a bad edit changes nothing.
	get(t, base, "/sso/user/edit", wrongKey("user", "mallory@example.com", "username", "eve")).refused(t, "edit with a wrong key", "apikey")
	get(t, base, "/sso/user/edit", with("user", "mallory@example.com", "email", "broken")).refused(t, "edit to a bad e-mail", "e-mail")
	get(t, base, "/sso/user/delete", wrongKey("emails", "mallory@example.com")).refused(t, "delete with a wrong key", "apikey")
	c := dialWS(t, base, "")
	c.send(map[string]any{"type": "login", "user": "mallory", "password": "m-pw"})
	c.want("login_ok")

	// Unknown and expired tokens.
	for _, ep := range []string{"/sso/token/login", "/sso/token/logout"} {
		get(t, base, ep, url.Values{"access_token": {"no-such-token"}}).refused(t, ep+" with an unknown token", "unknown")
		get(t, base, ep, url.Values{}).refused(t, ep+" without a token", "access_token")
	}
	tok := get(t, base, "/sso/token/generate", with("username", "mallory", "email", "mallory@example.com")).ok(t, "generate").AccessToken
	get(t, base, "/sso/token/login", url.Values{"access_token": {tok}, "rememberMe": {"2"}}).refused(t, "rememberMe=2", "rememberMe")
	time.Sleep(1200 * time.Millisecond)
	get(t, base, "/sso/token/login", url.Values{"access_token": {tok}}).refused(t, "expired token", "expired")
	get(t, base, "/sso/token/logout", url.Values{"access_token": {tok}}).refused(t, "logout with an expired token", "expired")
}

func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServer(t, ssoConfig(t, dir, ""))
	tok := get(t, base, "/sso/token/generate", with("username", "grace", "email", "grace@example.com")).ok(t, "generate").AccessToken
	cookie := get(t, base, "/sso/token/login", url.Values{"access_token": {tok}, "rememberMe": {"1"}}).sessionCookie(t)
	stop()

	base, _ = startServer(t, ssoConfig(t, dir, ""))
	if ev := dialWS(t, base, "parlor_session="+cookie.Value).sessionLogin(""); ev["type"] != "login_ok" {
		t.Fatalf("session after restart: %v", ev)
	}
	again := get(t, base, "/sso/token/login", url.Values{"access_token": {tok}})
	if again.header.Get("Content-Type") != "image/gif" {
		t.Fatalf("token after restart: %s", again.body)
	}
	get(t, base, "/sso/user/register", with("username", "grace2", "email", "grace@example.com")).refused(t, "account after restart", "registered already")
}
