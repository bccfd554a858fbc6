package server_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

// postgresConfig is testConfig with store.driver postgres on dsn, the
// server API's JSON twin on, and a data directory of its own.
func postgresConfig(t *testing.T, dsn string) *config.Config {
	t.Helper()
	cfg := testConfig(t)
	cfg.Store.Driver = config.StoreDriverPostgres
	cfg.Store.Postgres.DSN = dsn
	servertest.EnableAPI(cfg)
	cfg.ServerAPI.Addr = "" // the JSON twin only: two servers run at once
	return cfg
}

// Two servers on one PostgreSQL database share their state: what was said
// on the first, a run-time room made there and a ban given there are what
// the second finds when it starts. Neither keeps a SQLite file.
func TestPostgresStoreIsShared(t *testing.T) {
	_, dsn := testenv.PostgresDB(t, fmt.Sprintf("parlor_server_%d", os.Getpid()))
	cfgA := postgresConfig(t, dsn)
	a := servertest.Start(t, cfgA)
	alice := servertest.Dial(t, a)
	alice.Login("alice", "")
	alice.Join(1, "")
	alice.Send(map[string]any{"type": "say", "text": "said on the first node", "style": map[string]any{"b": true}})
	said := alice.Want("message")
	base := servertest.URL(a)
	servertest.APIOK(t, base, "add_room", map[string]any{"name": "Made at run time"})
	onA := servertest.Dial(t, a)
	onA.Login("mallory", "")
	servertest.APIOK(t, base, "ban", map[string]any{"user": "mallory", "minutes": 60, "reason": "spam on node a"})
	onA.Want("logged_out")

	cfgB := postgresConfig(t, dsn)
	b := servertest.Start(t, cfgB)
	bob := servertest.Dial(t, b)
	bob.Login("bob", "")
	list := bob.Want("rooms")["rooms"].([]any)
	var names []string
	for _, r := range list {
		names = append(names, r.(map[string]any)["name"].(string))
	}
	if !strings.Contains(strings.Join(names, "|"), "Made at run time") {
		t.Errorf("the second server's rooms %q lack the room made on the first", names)
	}
	hist := bob.Join(1, "")["history"].([]any)
	if len(hist) != 1 {
		t.Fatalf("the second server's history of the Lobby has %d messages, want 1: %v", len(hist), hist)
	}
	m := hist[0].(map[string]any)
	if m["text"] != "said on the first node" || m["from"] != "alice" || m["id"] != said["id"] {
		t.Fatalf("history on the second server = %v, said on the first = %v", m, said)
	}
	if st := m["style"].(map[string]any); st["b"] != true {
		t.Errorf("style on the second server = %v", st)
	}
	mallory := servertest.Dial(t, b)
	mallory.Send(map[string]string{"type": "login", "user": "mallory"})
	if msg := mallory.WantError("banned"); !strings.Contains(msg, "spam on node a") {
		t.Errorf("mallory on the second server: %q", msg)
	}
	for _, dir := range []string{cfgA.DataDir, cfgB.DataDir} {
		if _, err := os.Stat(filepath.Join(dir, "parlor.db")); !os.IsNotExist(err) {
			t.Errorf("%s/parlor.db exists (%v): the SQLite store was opened too", dir, err)
		}
	}
}

// A server whose PostgreSQL cannot be reached does not start, within
// store.postgres.connect_timeout when nothing answers, and says which key
// to look at.
func TestPostgresUnreachableStopsTheStart(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := refused.Addr().String()
	_ = refused.Close() // nothing listens there now
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := silent.Accept() // and never answer
			if err != nil {
				for _, c := range held {
					_ = c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	for name, addr := range map[string]string{"refused": closed, "silent": silent.Addr().String()} {
		t.Run(name, func(t *testing.T) {
			cfg := postgresConfig(t, "postgres://parlor@"+addr+"/parlor?sslmode=disable")
			cfg.Store.Postgres.ConnectTimeout = 500 * time.Millisecond
			start := time.Now()
			srv, err := servertest.TryStart(t, cfg)
			if err == nil {
				t.Fatalf("the server started on %s without its database", srv.HTTPAddr())
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the start took %v to fail", took)
			}
			for _, want := range []string{"store.postgres.dsn", addr} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("start error %q does not name %s", err, want)
				}
			}
		})
	}
}
