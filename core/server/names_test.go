package server_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/store"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// createAccounts makes accounts (without passwords, as SSO may) in the
// store of dataDir before a server starts on it, and returns the
// database's path.
func createAccounts(t *testing.T, dataDir string, names ...string) string {
	t.Helper()
	path := filepath.Join(dataDir, "parlor.db")
	st, err := store.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if _, err := st.CreateAccount(context.Background(), store.Account{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGuestNamesAreComparedByKeyAndLookalikesRefused(t *testing.T) {
	cfg := testConfig(t)
	createAccounts(t, cfg.DataDir, "Élise", "Admin")
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

func TestAccountsWithoutKeyAreLoggedAtStart(t *testing.T) {
	cfg := testConfig(t)
	path := createAccounts(t, cfg.DataDir, "Élise", "Other")
	// What migration 3 leaves of two old accounts that share a key: the
	// newer one, élise, has none.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE users SET name = 'élise', name_key = NULL WHERE name = 'Other'`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var logs testenv.LogBuffer
	servertest.Start(t, cfg, servertest.WithLogger(hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})))
	if out := logs.String(); !strings.Contains(out, "account shares its name with an older account; rename it to use it") ||
		!strings.Contains(out, `id=2 name="élise" older_account=1`) {
		t.Fatalf("no warning of the account without a key in the log:\n%s", out)
	}
}
