package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/core/serverapi"
	"github.com/parlorchat/parlor/core/version"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
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
	if info, ok := srv.Group().RoomInfo(3); !ok || info.Max != 200 || info.Member || len(info.Schedule) != 1 || info.Schedule[0].O != "day2" {
		t.Fatalf("room 3 %+v", info)
	}
	if !strings.Contains(out, `<Time o="day2" s="00:00:00" e="10:00:00"/>`) {
		t.Fatalf("add_room does not show the time:\n%s", out)
	}
	// time=none removes the times.
	if out, err := ctl(env, "--addr", api, "edit_room", "room_id=3", "time=none"); err != nil || !strings.Contains(out, "no opening times now") {
		t.Fatalf("edit_room time=none: %v\n%s", err, out)
	}
	if info, _ := srv.Group().RoomInfo(3); len(info.Schedule) != 0 {
		t.Fatalf("room 3 keeps %+v", info.Schedule)
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

	// The moderation commands: a ban, listed, lifted, and the audit log.
	out, err = ctl(env, "--addr", api, "ban", "ip=203.0.113.0/24", "minutes=30", "reason=spam wave")
	if err != nil || !strings.Contains(out, "<Sanction id=\"1\" kind=\"ban\" user=\"\" ip=\"203.0.113.0/24\"") || !strings.Contains(out, `source="api"`) {
		t.Fatalf("ban: %v\n%s", err, out)
	}
	out, err = ctl(env, "--addr", api, "get_sanctions")
	if err != nil || !strings.Contains(out, `reason="spam wave"`) || !strings.Contains(out, `active="1"`) {
		t.Fatalf("get_sanctions: %v\n%s", err, out)
	}
	out, err = ctl(env, "--addr", api, "unban", "id=1")
	if err != nil || !strings.Contains(out, "1 ban lifted") {
		t.Fatalf("unban: %v\n%s", err, out)
	}
	out, err = ctl(env, "--addr", api, "get_audit", "action=lift")
	if err != nil || !strings.Contains(out, `<Entry id="2"`) || !strings.Contains(out, `target="203.0.113.0/24"`) {
		t.Fatalf("get_audit: %v\n%s", err, out)
	}
	out, err = ctl(env, "--addr", api, "approve", "id=9")
	if !errors.As(err, &re) || re.code != serverapi.CodeNotFound {
		t.Fatalf("approve 9: %v\n%s", err, out)
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
	if !reflect.DeepEqual(configRoom, apiRoom) {
		t.Errorf("config room %+v\nadd_room room %+v", configRoom, apiRoom)
	}
}

// TestFlagsAfterTheCommand: flags given after the command (or between its
// arguments) are used, not ignored.
func TestFlagsAfterTheCommand(t *testing.T) {
	asked := make(chan string, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.Path
		_, _ = w.Write([]byte(`{"status":"ok","from":"the --url given after health"}`))
	}))
	defer ts.Close()
	out, err := ctl(nil, "health", "--url", ts.URL, "--timeout", "20s")
	if err != nil || !strings.Contains(out, "the --url given after health") {
		t.Fatalf("health --url %s: %v\n%s", ts.URL, err, out)
	}
	if path := <-asked; path != "/healthz" {
		t.Fatalf("asked %s", path)
	}

	srv := startServer(t)
	api := srv.APIAddr()
	out, err = ctl(nil, "get_online", "--addr", api, "--password", pwd)
	if err != nil || !strings.Contains(out, "<Online ") {
		t.Fatalf("get_online --addr: %v\n%s", err, out)
	}
	out, err = ctl(nil, "add_room", "name=Late flags", "--addr", api, "max=9", "--password", pwd)
	if err != nil || !strings.Contains(out, `name="Late flags"`) {
		t.Fatalf("add_room with flags between its arguments: %v\n%s", err, out)
	}
	// After -- everything is an argument.
	var ue usageError
	if _, err := ctl(nil, "--addr", api, "--password", pwd, "add_room", "--", "--plain"); !errors.As(err, &ue) || !strings.Contains(err.Error(), `"--plain" is not key=value`) {
		t.Fatalf("add_room -- --plain: %v", err)
	}
}

// parlorctl runs the built binary with args and returns its output and
// exit status.
func parlorctl(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	bin := testenv.GoBuild(t, "./cmd/parlorctl", "parlorctl")
	return testenv.Run(t, bin, "", []string{"PATH=" + os.Getenv("PATH")}, args...)
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"health", "--help"}} {
		out, errOut, code := parlorctl(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
		for _, want := range []string{"Usage:", "health ", "add_room ", "get_room_users ", "-addr host:port", "-url URL", "-password password", "-raw command", "-timeout duration", "-version", "Flags may come before or\nafter the command"} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: help lacks %q:\n%s", args, want, out)
			}
		}
	}
	out, errOut, code := parlorctl(t, "--version")
	if code != 0 || errOut != "" || out != "parlorctl "+version.Number+"\n" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, errOut, code := parlorctl(t, "--bogus"); code != 2 || !strings.Contains(errOut, "-bogus") {
		t.Errorf("--bogus: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := parlorctl(t, "--addr", "127.0.0.1:1", "--password", "x", "get_online"); code != 1 || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Errorf("unreachable: exit %d, stderr %q", code, errOut)
	}
}
