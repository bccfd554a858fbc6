package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
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

// A plugin that dies during start-up does not stop the server: /healthz
// reports it down with its error, password logins get login_error (and so
// do guests: the down authenticator cannot say whether the name is
// registered, see docs/protocol.md "Login rule"), the rest serves, and
// once the plugin can start it is restarted and logins work.
func TestPluginDyingAtStartUpLeavesServerUp(t *testing.T) {
	bin := testenv.GoBuild(t, "./core/pluginhost/testdata/parlor-plugin-dies", "parlor-plugin-dies")
	ready := filepath.Join(t.TempDir(), "ready")
	cfg := testConfig(t)
	cfg.Plugins.HealthInterval = 100 * time.Millisecond
	cfg.Plugins.MaxBackoff = 500 * time.Millisecond
	cfg.Plugins.Load = map[string]config.PluginSpec{
		"dies": {Path: bin, Config: map[string]any{"ready_file": ready}},
	}
	cfg.Auth.Chain = []string{"dies"}
	srv := servertest.Start(t, cfg)

	code, health := getHealth(t, srv)
	plugins, _ := health["plugins"].([]any)
	if code != http.StatusServiceUnavailable || health["status"] != "degraded" || len(plugins) != 1 {
		t.Fatalf("/healthz = %d %v", code, health)
	}
	p := plugins[0].(map[string]any)
	if p["name"] != "dies" || p["running"] != false || !strings.Contains(fmt.Sprint(p["last_error"]), bin) {
		t.Fatalf("plugin in /healthz = %v", p)
	}

	c := servertest.Dial(t, srv)
	c.Send(map[string]string{"type": "login", "user": "alice", "password": "pw"})
	c.WantError("login_error")
	c.Send(map[string]string{"type": "login", "user": "visitor"})
	c.WantError("login_error")

	// The rest serves: the web client, and a login by session.
	if res, err := http.Get(servertest.URL(srv) + "/"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	ctx := context.Background()
	u, err := srv.HostAPI("test").Users().Create(ctx, sdk.NewUser{Name: "nora"})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := srv.HostAPI("test").Sessions().Issue(ctx, u.ID, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	c.Send(map[string]any{"type": "login", "token": sess.Token})
	c.Want("login_ok")
	c.Join(1, "")
	c.Send(map[string]any{"type": "say", "text": "still here"})
	c.Want("message")

	// Once it can start, the plugin is restarted with backoff.
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for code, health = getHealth(t, srv); code != http.StatusOK; code, health = getHealth(t, srv) {
		if time.Now().After(deadline) {
			t.Fatalf("/healthz still %d: %v", code, health)
		}
		time.Sleep(50 * time.Millisecond)
	}
	servertest.Dial(t, srv).Login("alice", "pw")
	if u := servertest.Dial(t, srv).Login("visitor", "")["user"].(map[string]any); u["guest"] != true {
		t.Fatalf("guest = %v", u)
	}
}

// getHealth fetches /healthz.
func getHealth(t *testing.T, srv *server.Server) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(servertest.URL(srv) + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}
