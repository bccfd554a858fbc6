package serverapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/serverapi"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

const apiPwd = "3874-3459-9999-2199"

// apiConfig is servertest.Config with the server API on a free port.
func apiConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.ServerAPI.Addr = "127.0.0.1:0"
	cfg.ServerAPI.Groups = map[string]config.APIGroup{"default": {Password: apiPwd, AllowFrom: []string{"127.0.0.1"}}}
	cfg.Status.MinInterval = 20 * time.Millisecond
	return cfg
}

// send sends one XML command and returns the reply's code, message and
// document.
func send(t *testing.T, addr, command string) (serverapi.Code, string, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(command + "\x00")); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	code, msg, err := serverapi.ReplyCode(raw)
	if err != nil {
		t.Fatalf("reply %q: %v", raw, err)
	}
	return code, msg, string(raw)
}

func command(typ string, attrs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="%s" type="%s"`, apiPwd, typ)
	for i := 0; i+1 < len(attrs); i += 2 {
		fmt.Fprintf(&b, ` %s="%s"`, attrs[i], attrs[i+1])
	}
	b.WriteString("/>")
	return b.String()
}

func mustOK(t *testing.T, addr, cmd string) string {
	t.Helper()
	code, msg, raw := send(t, addr, cmd)
	if code != serverapi.CodeOK {
		t.Fatalf("%.80s: code %d %q", cmd, code, msg)
	}
	return raw
}

// hasRoom matches a rooms_delta that adds or changes a room named name.
func hasRoom(name string) func(map[string]any) bool {
	return func(ev map[string]any) bool {
		rooms, _ := ev["changed"].([]any)
		for _, r := range rooms {
			if r.(map[string]any)["name"] == name {
				return true
			}
		}
		return false
	}
}

// fileIs waits until path holds want.
func fileIs(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q (%v), want %q", filepath.Base(path), b, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fileGone(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServerAPIAgainstARunningServer(t *testing.T) {
	cfg := apiConfig(t)
	srv := servertest.Start(t, cfg)
	api := srv.APIAddr()
	if api == "" {
		t.Fatal("the API listener does not run")
	}
	dir := filepath.Join(cfg.DataDir, "default")

	alice := servertest.Dial(t, srv)
	alice.Send(map[string]string{"type": "login", "user": "alice"})
	alice.Want("login_ok")
	alice.Send(map[string]any{"type": "join", "room": 1})
	alice.Want("joined")
	anon := servertest.Dial(t, srv) // connected, never logs in
	fileIs(t, filepath.Join(dir, "online.txt"), "2|1|2")
	fileIs(t, filepath.Join(dir, "room_1.txt"), "alice\n")
	fileIs(t, filepath.Join(dir, "room_2.txt"), "")

	// add_room appears live in the web client and in the status files.
	raw := mustOK(t, api, command("add_room", "name", "test room", "owner", "aaa", "max", "200", "member", "false", "passallmessage", "true"))
	alice.WantMatch("rooms_delta", hasRoom("test room"))
	var id int64
	if _, err := fmt.Sscanf(raw[strings.Index(raw, "<Room id="):], `<Room id="%d"`, &id); err != nil || id < 3 {
		t.Fatalf("room id in %s: %v", raw, err)
	}
	fileIs(t, filepath.Join(dir, "online.txt"), "2|1|3")
	fileIs(t, filepath.Join(dir, fmt.Sprintf("room_%d.txt", id)), "")

	mustOK(t, api, command("edit_room", "roomid", "1", "name", "Main hall"))
	alice.WantMatch("rooms_delta", hasRoom("Main hall"))

	// broadcast reaches connections that have not logged in.
	mustOK(t, api, command("broadcast", "userid", "test", "msg", "welcome to parlor"))
	for _, c := range []*servertest.Client{alice, anon} {
		if ev := c.Want("notice"); ev["text"] != "welcome to parlor" || ev["from"] != "test" {
			t.Fatalf("notice %v", ev)
		}
	}
	mustOK(t, api, command("private_message", "dest_uid", "alice", "msg", "hello world", "emotion", "e2",
		"owner_uid", "admin", "owner_nick", "admin", "b", "1", "i", "1", "u", "1", "color", "0xff00ff"))
	pm := alice.Want("private")
	if st := pm["style"].(map[string]any); pm["from"] != "admin" || pm["text"] != "hello world" || st["color"] != "#ff00ff" || st["b"] != true {
		t.Fatalf("private %v", pm)
	}

	// Queries.
	if _, msg, raw := send(t, api, command("get_room_users", "room_id", "1")); !strings.Contains(raw, `<User name="alice"/>`) {
		t.Fatalf("get_room_users %s %s", msg, raw)
	}
	if _, _, raw := send(t, api, command("get_online")); !strings.Contains(raw, `<Online connections="2" users="1" rooms="3"/>`) {
		t.Fatalf("get_online %s", raw)
	}

	// The JSON twin on the HTTP listener, same dispatcher.
	req, _ := http.NewRequest("POST", "http://"+srv.HTTPAddr()+"/api/v1/", strings.NewReader(`{"type":"get_rooms"}`))
	req.Header.Set(serverapi.APIKeyHeader, apiPwd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Code  int              `json:"code"`
		Rooms []map[string]any `json:"rooms"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || out.Code != 0 || len(out.Rooms) != 3 || out.Rooms[0]["name"] != "Main hall" {
		t.Fatalf("HTTP get_rooms %d %+v", resp.StatusCode, out)
	}

	mustOK(t, api, command("del_room", "room_id", fmt.Sprint(id)))
	alice.WantMatch("rooms_delta", func(ev map[string]any) bool {
		removed, _ := ev["removed"].([]any)
		return len(removed) == 1 && removed[0] == float64(id)
	})
	fileGone(t, filepath.Join(dir, fmt.Sprintf("room_%d.txt", id)))

	// stop_group disconnects everyone and refuses logins until start_group.
	if code, msg, _ := send(t, api, command("stop_group")); code != 0 || !strings.Contains(msg, "2 connections closed") {
		t.Fatalf("stop_group %d %q", code, msg)
	}
	alice.Want("notice")
	alice.WaitClosed()
	anon.WaitClosed()
	fileIs(t, filepath.Join(dir, "online.txt"), "0|0|2")
	late := servertest.Dial(t, srv)
	late.Send(map[string]string{"type": "login", "user": "bob"})
	if ev := late.Want("error"); ev["code"] != "group_stopped" {
		t.Fatalf("login while stopped: %v", ev)
	}
	mustOK(t, api, command("start_group"))
	late.Send(map[string]string{"type": "login", "user": "bob"})
	late.Want("login_ok")
}

func TestAPIRoomsSurviveRestart(t *testing.T) {
	cfg := apiConfig(t)
	srv := servertest.Start(t, cfg)
	raw := mustOK(t, srv.APIAddr(), command("add_room", "name", "Made by API", "desc", "kept", "max", "7", "en", "0"))
	if !strings.Contains(raw, `name="Made by API"`) {
		t.Fatal(raw)
	}
	mustOK(t, srv.APIAddr(), command("edit_room", "roomid", "2", "desc", "edited at run time"))
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	srv2 := servertest.Start(t, cfg) // same data dir and config
	_, _, raw = send(t, srv2.APIAddr(), command("get_rooms"))
	for _, want := range []string{`name="Made by API" owner="" desc="kept" max="7"`, `en="0"`, `name="Help" owner="" desc="edited at run time"`, `name="Lobby"`} {
		if !strings.Contains(raw, want) {
			t.Errorf("after restart get_rooms lacks %s:\n%s", want, raw)
		}
	}
}

func TestNoPasswordMeansNoAPI(t *testing.T) {
	cfg := apiConfig(t)
	cfg.ServerAPI.Groups = config.Default().ServerAPI.Groups // shipped: no api_pwd
	var logs testenv.LogBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &logs})
	srv := servertest.Start(t, cfg, servertest.WithLogger(log))
	if srv.APIAddr() != "" {
		t.Fatalf("API listener runs without a password on %s", srv.APIAddr())
	}
	text := logs.String()
	if !strings.Contains(text, "server_api.groups.default.api_pwd") || !strings.Contains(text, "PARLOR_SERVER_API__GROUPS__DEFAULT__API_PWD") {
		t.Fatalf("the log does not say how to enable the API:\n%s", text)
	}
	req, _ := http.NewRequest("POST", "http://"+srv.HTTPAddr()+"/api/v1/get_online", nil)
	req.Header.Set(serverapi.APIKeyHeader, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), `"status":"disabled"`) {
		t.Fatalf("HTTP without a password: %d %s", resp.StatusCode, body)
	}
}
