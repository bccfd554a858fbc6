package server_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/internal/servertest"
)

func TestGuestNamesAreComparedByKeyAndLookalikesRefused(t *testing.T) {
	cfg := testConfig(t)
	// Accounts made before the server starts, as SSO would have made them.
	st, err := store.OpenSQLite(context.Background(), filepath.Join(cfg.DataDir, "parlor.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Élise", "Admin"} {
		if _, err := st.CreateAccount(context.Background(), store.Account{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, cfg)
	kate := servertest.Dial(t, srv)
	kate.Login("Kate", "")

	c := servertest.Dial(t, srv)
	refused := func(name, code, says string) {
		t.Helper()
		c.Send(map[string]string{"type": "login", "user": name})
		if msg := c.WantError(code); !strings.Contains(msg, says) {
			t.Fatalf("guest %q: %s %q does not say %q", name, code, msg, says)
		}
	}
	// The account Élise owns every spelling of the name.
	refused("élise", "name_taken", "registered")
	refused("E\u0301LISE", "name_taken", "registered")
	// The Kelvin sign and full-width letters are Kate, who is online.
	refused("\u212Aate", "name_taken", "online")
	refused("ＫＡＴＥ", "name_taken", "online")
	// Look-alikes of an online user's or an account's name, and names that
	// mix scripts.
	refused("Kat\u0435", "name_confusable", "mix Latin, Greek and Cyrillic") // Cyrillic е
	refused("\u0410dmin", "name_confusable", "mix Latin, Greek and Cyrillic")
	refused("Adrnin", "name_confusable", `"Admin"`)
	refused("x²", "name_unusable", "can't be used")

	kate1 := servertest.Dial(t, srv)
	kate1.Login("Kate1", "")
	refused("Katel", "name_confusable", "online")

	// The connection is still usable: a name like nobody's gets in.
	if u := c.Login("Katie", "")["user"].(map[string]any); u["guest"] != true || u["name"] != "Katie" {
		t.Fatalf("login_ok user = %v", u)
	}
}
