package server_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// usersPluginConfig runs the example users-file authenticator as the only
// link of the chain.
func usersPluginConfig(t *testing.T) *config.Config {
	t.Helper()
	bin := testenv.GoBuild(t, "./examples/auth-plugin", "parlor-plugin-users")
	users := filepath.Join(t.TempDir(), "users.txt")
	alice, _ := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.MinCost)
	root, _ := bcrypt.GenerateFromPassword([]byte("root-pw"), bcrypt.MinCost)
	body := "alice:" + string(alice) + "\nroot:" + string(root) + ":admin\n"
	if err := os.WriteFile(users, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Plugins.CallTimeout = 2 * time.Second
	cfg.Plugins.HealthInterval = 200 * time.Millisecond
	cfg.Plugins.Load = map[string]config.PluginSpec{
		"users": {Path: bin, Config: map[string]any{"users_file": users}},
	}
	cfg.Auth.Chain = []string{"users"}
	return cfg
}

func TestLoginThroughPlugin(t *testing.T) {
	srv := servertest.Start(t, usersPluginConfig(t))

	c := servertest.Dial(t, srv)
	u := c.Login("alice", "alice-pw")["user"].(map[string]any)
	if u["guest"] != false || u["admin"] != false {
		t.Fatalf("alice = %v", u)
	}
	r := servertest.Dial(t, srv)
	if u := r.Login("root", "root-pw")["user"].(map[string]any); u["admin"] != true {
		t.Fatalf("root = %v", u)
	}
	// An administrator enters a room with a password without it.
	r.Join(2, "")

	bad := servertest.Dial(t, srv)
	bad.Send(map[string]string{"type": "login", "user": "alice", "password": "nope"})
	bad.WantError("wrong_password")
	bad.Send(map[string]string{"type": "login", "user": "root"}) // guest with a member's name
	bad.WantError("name_taken")
	bad.Send(map[string]string{"type": "login", "user": "stranger", "password": "x"})
	bad.WantError("no_such_user")
	bad.Login("visitor", "") // unknown name, no password: a guest
}

func TestPluginKilledMidRunNextLoginWorks(t *testing.T) {
	srv := servertest.Start(t, usersPluginConfig(t))
	st := srv.Plugins().Status()
	if len(st) != 1 || !st[0].Running || st[0].PID == 0 {
		t.Fatalf("plugin status = %+v", st)
	}
	if err := syscall.Kill(st[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c := servertest.Dial(t, srv)
	c.Login("alice", "alice-pw")
	if st := srv.Plugins().Status(); st[0].PID == 0 || st[0].Restarts < 1 {
		t.Fatalf("after kill -9: %+v", st)
	}
}
