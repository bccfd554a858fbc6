package main

import (
	"testing"
)

func TestRegisterComparesNamesAndEmailsByKey(t *testing.T) {
	base, _ := startServer(t, ssoConfig(t, t.TempDir(), ""))
	get(t, base, "/sso/user/register", with("username", "Élise", "email", "elise@example.com", "password", "elise-pw")).ok(t, "register Élise")
	get(t, base, "/sso/user/register", with("username", "Uwe", "email", "üwe@example.com")).ok(t, "register üwe@")

	// Other spellings of a registered name or e-mail are the same identity.
	get(t, base, "/sso/user/register", with("username", "élise", "email", "elise2@example.com")).refused(t, "register élise", "taken")
	get(t, base, "/sso/user/register", with("username", "E\u0301LISE", "email", "elise3@example.com")).refused(t, "register decomposed ÉLISE", "taken")
	get(t, base, "/sso/user/register", with("username", "Uwe2", "email", "ÜWE@example.com")).refused(t, "register ÜWE@", "registered already")
	get(t, base, "/sso/user/register", with("username", "Uwe3", "email", "U\u0308we@EXAMPLE.com")).refused(t, "register decomposed Üwe@", "registered already")
	// Edit: the same keys are taken.
	get(t, base, "/sso/user/edit", with("user", "ÜWE@example.com", "username", "ÉLISE")).refused(t, "rename Uwe to ÉLISE", "taken")
	get(t, base, "/sso/user/register", with("username", "Zoe", "email", "zoe@example.com")).ok(t, "register Zoe")
	get(t, base, "/sso/user/edit", with("user", "zoe@example.com", "email", "Üwe@example.com")).refused(t, "Zoe's e-mail to Üwe@", "belongs to another account")
	// A name the chat cannot key is refused with the reason.
	get(t, base, "/sso/user/register", with("username", "x²", "email", "x@example.com")).refused(t, "register x²", "can't be used")

	// Only one of each was made: the guest rule and the password login see Élise.
	c := dialWS(t, base, "")
	c.send(map[string]any{"type": "login", "user": "élise"})
	if ev := c.nextEvent(); ev["type"] != "error" || ev["code"] != "name_taken" {
		t.Fatalf("guest élise: %v", ev)
	}
	c.send(map[string]any{"type": "login", "user": "élise", "password": "elise-pw"})
	if u := c.want("login_ok")["user"].(map[string]any); u["display"] != "Élise" || u["guest"] != false {
		t.Fatalf("password login as élise: %v", u)
	}
}
