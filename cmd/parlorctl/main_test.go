package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/core/serverapi"
	"github.com/parlorchat/parlor/internal/servertest"
)

const pwd = "3874-3459-9999-2199"

// startServer runs a server with the server API on a free port.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.ServerAPI.Addr = "127.0.0.1:0"
	cfg.ServerAPI.Groups = map[string]config.APIGroup{"default": {Password: pwd, AllowFrom: []string{"127.0.0.1"}}}
	return servertest.Start(t, cfg)
}

func ctl(env map[string]string, args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out)
	return out.String(), err
}

func TestCommands(t *testing.T) {
	srv := startServer(t)
	api := srv.APIAddr()
	env := map[string]string{PasswordEnv: pwd}

	out, err := ctl(env, "--addr", api, "add_room", "name=test room", "max=200", "member=false", "time=day2,00:00:00,10:00:00")
	if err != nil {
		t.Fatalf("add_room: %v\n%s", err, out)
	}
	if !strings.Contains(out, "<Result code=\"0\" type=\"add_room\"") || !strings.Contains(out, "\n  <Room id=\"3\" name=\"test room\"") {
		t.Fatalf("add_room printed:\n%s", out)
	}
	if info, ok := srv.Group().RoomInfo(3); !ok || info.Max != 200 || info.Member {
		t.Fatalf("room 3 %+v", info)
	}

	// --password wins over the environment.
	_, err = ctl(env, "--addr", api, "--password", "wrong-password", "get_online")
	var re resultError
	if !errors.As(err, &re) || re.code != serverapi.CodeDenied {
		t.Fatalf("wrong password: %v", err)
	}

	out, err = ctl(nil, "--addr", api, "--raw", `<Command group="default" api_pwd="`+pwd+`" type="get_room_users" room_id="1"/>`, "--plain")
	if err != nil || !strings.HasPrefix(out, `<?xml version="1.0" encoding="UTF-8"?>`) || !strings.Contains(out, `<Users room="1" count="0"/>`) {
		t.Fatalf("raw: %v\n%s", err, out)
	}
	out, err = ctl(env, "--addr", api, "del_room", "room_id=42")
	if !errors.As(err, &re) || re.code != serverapi.CodeNotFound || !strings.Contains(out, `code="7"`) {
		t.Fatalf("del_room 42: %v\n%s", err, out)
	}
	if _, err := ctl(env, "--addr", api, "--raw", "<Command"); !errors.As(err, &re) || re.code != serverapi.CodeMalformed {
		t.Fatalf("raw malformed: %v", err)
	}

	// health is still there.
	out, err = ctl(nil, "--url", "http://"+srv.HTTPAddr(), "health")
	if err != nil || !strings.Contains(out, `"status":"ok"`) {
		t.Fatalf("health: %v %s", err, out)
	}
}

func TestUsageErrors(t *testing.T) {
	var ue usageError
	for _, args := range [][]string{
		{},
		{"--bogus"},
		{"get_online"}, // no password
		{"--password", "x", "add_room", "name"},
		{"--password", "x", "add_room", "=v"},
		{"--password", "x", "add_room", "name=a", "name=b"},
		{"--password", "x", "add_room", "time=day1"},
		{"--password", "x", "add_room", "api_pwd=y"},
		{"--raw", "<Command/>", "extra"},
	} {
		if _, err := ctl(nil, args...); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	if _, err := ctl(map[string]string{PasswordEnv: "x"}, "--addr", "127.0.0.1:1", "get_online"); err == nil || errors.As(err, &ue) {
		t.Fatalf("unreachable server: %v", err)
	}
}

// TestConfigRoomsDefaultAsAddRoom: a room of a config file that gives only
// id and name has the properties of a room add_room makes with only a name.
func TestConfigRoomsDefaultAsAddRoom(t *testing.T) {
	file := filepath.Join(t.TempDir(), "parlor.yaml")
	if err := os.WriteFile(file, []byte("rooms:\n  - id: 7\n    name: From the file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := config.Load(file, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := servertest.Config(t)
	cfg.Rooms = fromFile.Rooms
	cfg.ServerAPI.Addr = "127.0.0.1:0"
	cfg.ServerAPI.Groups = map[string]config.APIGroup{"default": {Password: pwd, AllowFrom: []string{"127.0.0.1"}}}
	srv := servertest.Start(t, cfg)
	if out, err := ctl(map[string]string{PasswordEnv: pwd}, "--addr", srv.APIAddr(), "add_room", "name=From the API"); err != nil {
		t.Fatalf("add_room: %v\n%s", err, out)
	}
	var configRoom, apiRoom chat.RoomInfo
	for _, r := range srv.Group().Rooms() {
		switch r.Name {
		case "From the file":
			configRoom, _ = srv.Group().RoomInfo(r.ID)
		case "From the API":
			apiRoom, _ = srv.Group().RoomInfo(r.ID)
		}
	}
	if !configRoom.Open || !configRoom.Member {
		t.Errorf("the config room is closed or members-only: %+v", configRoom)
	}
	// Compare all but what names the room and where it comes from.
	apiRoom.ID, apiRoom.Name, apiRoom.Origin = configRoom.ID, configRoom.Name, configRoom.Origin
	if configRoom != apiRoom {
		t.Errorf("config room %+v\nadd_room room %+v", configRoom, apiRoom)
	}
}
