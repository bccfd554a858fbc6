package chat

import (
	"strings"
	"testing"
)

func TestNameKeySameIdentity(t *testing.T) {
	for _, tc := range []struct {
		key   string
		names []string
	}{
		{"élise", []string{"Élise", "élise", "E\u0301lise", "ÉLISE", "e\u0301lise"}},
		{"kate", []string{"Kate", "kate", "KATE", "\u212Aate", "ＫＡＴＥ", "Ｋate"}},
		{"anna maria", []string{"Anna Maria", "anna  maria", "ANNA MARIA"}},
		{"o'neil_x-1.2", []string{"O'Neil_X-1.2"}},
		{"дмитрий", []string{"Дмитрий", "ДМИТРИЙ"}},
		{"σοφία", []string{"Σοφία", "ΣΟΦΊΑ"}},
	} {
		for _, name := range tc.names {
			got, err := UsableNameKey(name)
			if err != nil || got != tc.key {
				t.Errorf("UsableNameKey(%q) = %q, %v; want %q", name, got, err, tc.key)
			}
			if k := NameKey(name); k != tc.key {
				t.Errorf("NameKey(%q) = %q, want %q", name, k, tc.key)
			}
		}
	}
	for _, pair := range [][2]string{{"alice", "alicia"}, {"kate", "kat e"}, {"élise", "elise"}, {"straße", "strasse"}} {
		if NameKey(pair[0]) == NameKey(pair[1]) {
			t.Errorf("%q and %q share the key %q", pair[0], pair[1], NameKey(pair[0]))
		}
	}
}

func TestNameKeyRefusals(t *testing.T) {
	for _, name := range []string{"x²", "ﬁsh", "a\u200db", "Ⅻ", "", "   ", "smile☺", "tab\there"} {
		k, err := UsableNameKey(name)
		if err == nil {
			t.Errorf("UsableNameKey(%q) = %q, want a refusal", name, k)
			continue
		}
		wantCode(t, err, CodeNameUnusable)
		// A refused name still has a stable in-memory key, its own.
		if nk := NameKey(name); nk != NameKey(name) || !strings.HasPrefix(nk, unkeyed) {
			t.Errorf("NameKey(%q) = %q", name, nk)
		}
		if _, err := UsableNameKey(NameKey(name)); err == nil {
			t.Errorf("NameKey(%q) = %q is a usable key", name, NameKey(name))
		}
	}
	wantCode(t, CheckName("x²"), CodeNameUnusable)
	wantCode(t, CheckName("no!bang"), CodeNameUnusable)
	wantCode(t, CheckName("x\u0301"), CodeNameUnusable) // a mark that composes with nothing
	for _, ok := range []string{"Élise Dupont", "E\u0301lise", "\u212Aate", "ＫＡＴＥ"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
}

func TestEmailKey(t *testing.T) {
	for _, tc := range []struct{ key, email string }{
		{"üwe@example.com", "üwe@example.com"},
		{"üwe@example.com", "ÜWE@example.com"},
		{"üwe@example.com", "U\u0308we@EXAMPLE.com"},
		{"kate+chat@example.org", "\u212Aate+Chat@Example.ORG"},
		{"a@b", "a@b"},
	} {
		got, err := EmailKey(tc.email)
		if err != nil || got != tc.key {
			t.Errorf("EmailKey(%q) = %q, %v; want %q", tc.email, got, err, tc.key)
		}
	}
	for _, bad := range []string{"", "nobody", "@example.com", "kate@", "a b@example.com", "x²@example.com"} {
		if k, err := EmailKey(bad); err == nil {
			t.Errorf("EmailKey(%q) = %q, want an error", bad, k)
		}
	}
}

func TestNameSkeleton(t *testing.T) {
	for _, pair := range [][2]string{
		{"Kate1", "Katel"},
		{"B0b", "Bob"},
		{"\u0410dmin", "Admin"}, // Cyrillic А
		{"Iris", "lris"},
		{"paypal", "раураl"}, // Cyrillic р, а, у
		{"Anna  Maria", "anna maria"},
		{"ＫＡＴＥ", "kate"},
		{"Élise", "E\u0301lise"},
	} {
		if a, b := NameSkeleton(pair[0]), NameSkeleton(pair[1]); a != b {
			t.Errorf("NameSkeleton(%q) = %q, NameSkeleton(%q) = %q; want equal", pair[0], a, pair[1], b)
		}
	}
	for _, pair := range [][2]string{{"alice", "bob"}, {"kate", "katie"}, {"élise", "elise"}} {
		if NameSkeleton(pair[0]) == NameSkeleton(pair[1]) {
			t.Errorf("%q and %q share a skeleton", pair[0], pair[1])
		}
	}
}

func TestMixedScripts(t *testing.T) {
	for name, want := range map[string]bool{
		"\u0410dmin":    true, // Cyrillic А, Latin dmin
		"\u03A9mega":    true, // Greek Ω
		"Дмитрий Ωμέγα": true, // Cyrillic and Greek
		"Admin":         false,
		"Дмитрий":       false,
		"Σοφία 2":       false,
		"Élise_1.x":     false,
		"山田 Taro":       false, // Han and Latin are not confused with each other here
	} {
		if got := MixedScripts(name); got != want {
			t.Errorf("MixedScripts(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestLoginComparesNamesByKey(t *testing.T) {
	g := newTestGroup(t)
	login(t, g, "Kate", false)
	wantCode(t, g.Login(&Member{Name: "\u212Aate", Guest: true, Conn: &fakeConn{}}), CodeNameTaken)
	wantCode(t, g.Login(&Member{Name: "ＫＡＴＥ", Guest: true, Conn: &fakeConn{}}), CodeNameTaken)
	login(t, g, "Élise", true)
	wantCode(t, g.Login(&Member{Name: "E\u0301LISE", Conn: &fakeConn{}}), CodeNameTaken)
	if m, ok := g.Online("e\u0301lise"); !ok || m.Name != "Élise" {
		t.Fatalf("Online(decomposed élise) = %v, %v", m, ok)
	}
}

func TestGuestRefusedLookalikeOfOnlineUser(t *testing.T) {
	g := newTestGroup(t)
	kate, _ := login(t, g, "Kate1", false)
	wantCode(t, g.Login(&Member{Name: "Katel", Guest: true, Conn: &fakeConn{}}), CodeNameConfusable)
	// A look-alike guest blocks another look-alike guest too.
	login(t, g, "B0b", true)
	wantCode(t, g.Login(&Member{Name: "Bob", Guest: true, Conn: &fakeConn{}}), CodeNameConfusable)
	// Accounts own their names: an account is not refused for a guest's look-alike.
	login(t, g, "bob", false)
	g.Logout(kate)
	login(t, g, "Katel", true)
}
