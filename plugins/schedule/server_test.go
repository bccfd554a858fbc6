package main

// These tests run the built plugin in a real server, as an operator
// would, on the real clock.

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	parlor "github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/core/server"
	"github.com/parlorchat/parlor/core/serverapi"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk/schedule"
)

const apiPwd = "3874-3459-9999-2199"

// seedAddRoom is the seed's full add_room sample (server-api.txt), byte
// for byte: its lines end in "\n", its Time gives e before s.
const seedAddRoom = `<?xml version="1.0" encoding="UTF-8"?><Command group="default" api_pwd="3874-3459-9999-2199" type="add_room" name="test room" owner="aaa" desc="room for test" max="200" speaker="bbb" member="false" pwd="" passallmessage="true" >
<roomOpen>
<Time o="day2" e="10:00:00" s="00:00:00"></Time>
</roomOpen>
</Command>`

// serverConfig is a server with the server API on, and the built plugin
// loaded with pluginCfg unless it is nil.
func serverConfig(t *testing.T, pluginCfg map[string]any) *parlor.Config {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.ServerAPI.Addr = "127.0.0.1:0"
	cfg.ServerAPI.Groups = map[string]parlor.APIGroup{"default": {Password: apiPwd, AllowFrom: []string{"127.0.0.1"}}}
	cfg.Rooms = []parlor.Room{{ID: 1, Name: "Lobby", Member: true, Open: true}}
	if pluginCfg != nil {
		cfg.Plugins.Load = map[string]parlor.PluginSpec{"schedule": {
			Path: testenv.GoBuild(t, "./plugins/schedule", "parlor-plugin-schedule"), Config: pluginCfg}}
	}
	return cfg
}

// send sends one XML command over TCP and returns the reply document.
func send(t *testing.T, srv *server.Server, command string) (serverapi.Code, string, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.APIAddr(), 2*time.Second)
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

func command(typ string, attrs string) string {
	return fmt.Sprintf(`<Command group="default" api_pwd="%s" type="%s" %s/>`, apiPwd, typ, attrs)
}

var roomOpenXML = regexp.MustCompile(`(?s)<Room id="2" [^>]*>\n<roomOpen>\n<Time o="day2" s="00:00:00" e="10:00:00"/>\n</roomOpen>\n</Room>`)

// expected is what the seed's Tuesday 00:00-10:00 UTC says now: the
// state word and the next-change attribute.
func expected(t *testing.T) (string, string) {
	t.Helper()
	rules, err := schedule.ParseAll([]schedule.Entry{{O: "day2", S: "00:00:00", E: "10:00:00"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	next, _, err := schedule.NextChange(rules, time.UTC, now)
	if err != nil {
		t.Fatal(err)
	}
	if schedule.IsOpen(rules, time.UTC, now) {
		return "open", fmt.Sprintf(`closes="%s"`, next.UTC().Format(time.RFC3339))
	}
	return "closed", fmt.Sprintf(`opens="%s"`, next.UTC().Format(time.RFC3339))
}

// getRoom2 polls get_rooms until room 2 has the schedule state want, and
// returns the reply.
func getRoom2(t *testing.T, srv *server.Server, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, doc := send(t, srv, command("get_rooms", ""))
		if strings.Contains(doc, `schedule="`+want+`"`) || time.Now().After(deadline) {
			return doc
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSeedSampleWithoutTheModule: the seed's add_room is stored and shown
// with its times, and the replies say that they are not applied.
func TestSeedSampleWithoutTheModule(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, nil))
	code, msg, _ := send(t, srv, seedAddRoom)
	if code != serverapi.CodeOK || !strings.Contains(msg, "stored and shown but not applied: scheduling needs the schedule module") {
		t.Fatalf("add_room: %d %q", code, msg)
	}
	_, msg, doc := send(t, srv, command("get_rooms", ""))
	if !strings.Contains(msg, "not applied") || !roomOpenXML.MatchString(doc) || !strings.Contains(doc, `tz="UTC" schedule="off">`) {
		t.Fatalf("get_rooms without the module:\n%s", doc)
	}
}

// TestSeedSampleByteForByte: the seed's add_room sample, sent as it is,
// makes a room whose times the module applies: get_rooms and its JSON
// twin show them with the state and the next change, a join says when
// it opens, the times survive a restart, and an empty roomOpen removes
// them.
func TestSeedSampleByteForByte(t *testing.T) {
	cfg := serverConfig(t, map[string]any{})
	srv := servertest.Start(t, cfg)
	code, msg, doc := send(t, srv, seedAddRoom)
	if code != serverapi.CodeOK || msg != `Room 2 "test room" added.` || !roomOpenXML.MatchString(doc) {
		t.Fatalf("add_room: %d %q\n%s", code, msg, doc)
	}
	state, next := expected(t)
	doc = getRoom2(t, srv, state)
	if !roomOpenXML.MatchString(doc) || !strings.Contains(doc, `count="0" tz="UTC" schedule="`+state+`" `+next+`>`) {
		t.Fatalf("get_rooms, want %s %s:\n%s", state, next, doc)
	}
	if strings.Contains(doc, "not applied") {
		t.Fatalf("get_rooms with the module says: %s", doc)
	}

	req, _ := http.NewRequest(http.MethodGet, servertest.URL(srv)+"/api/v1/get_rooms", nil)
	req.Header.Set("X-Parlor-Api-Key", apiPwd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Rooms []map[string]any `json:"rooms"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Rooms) != 2 {
		t.Fatalf("JSON get_rooms: %v %v", out, err)
	}
	raw, _ := json.Marshal(out.Rooms[1]["roomOpen"])
	var times []schedule.Entry
	_ = json.Unmarshal(raw, &times)
	if r := out.Rooms[1]; len(times) != 1 || times[0] != (schedule.Entry{O: "day2", S: "00:00:00", E: "10:00:00"}) || r["tz"] != "UTC" || r["schedule"] != state {
		t.Fatalf("JSON room 2: %v", r)
	}
	if _, ok := out.Rooms[0]["roomOpen"]; ok {
		t.Fatalf("JSON room 1 has opening times: %v", out.Rooms[0])
	}

	// The sample's room is for members only; let guests in to see the
	// module's answer to a join.
	if code, msg, _ := send(t, srv, command("edit_room", `roomid="2" member="1"`)); code != serverapi.CodeOK {
		t.Fatalf("edit_room: %d %q", code, msg)
	}
	c := servertest.Dial(t, srv)
	c.Login("carol", "")
	c.Send(map[string]any{"type": "join", "room": 2})
	if state == "closed" {
		if msg := c.WantError("room_closed"); !strings.Contains(msg, "opens at Tue ") {
			t.Fatalf("join: %q", msg)
		}
	} else {
		c.Want("joined")
	}

	// The times are stored with the room.
	servertest.Stop(t, srv)
	srv = servertest.Start(t, cfg)
	if doc := getRoom2(t, srv, state); !roomOpenXML.MatchString(doc) {
		t.Fatalf("get_rooms after a restart:\n%s", doc)
	}

	// An empty roomOpen removes them: the room is always open.
	code, msg, doc = send(t, srv, `<Command group="default" api_pwd="`+apiPwd+`" type="edit_room" roomid="2"><roomOpen/></Command>`)
	if code != serverapi.CodeOK || !strings.Contains(msg, "no opening times now") || strings.Contains(doc, "roomOpen") || strings.Contains(doc, "schedule=") {
		t.Fatalf("clearing edit_room: %d %q\n%s", code, msg, doc)
	}
	c = servertest.Dial(t, srv)
	c.Login("carol", "")
	c.Join(2, "")
}

// TestBadTimesAreRefused: nonsense opening times are refused with code 3
// and a message naming the entry; a bad zone too.
func TestBadTimesAreRefused(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, map[string]any{}))
	for cmd, want := range map[string]string{
		`<Command group="default" api_pwd="` + apiPwd + `" type="add_room" name="x"><roomOpen><Time o="day9" s="25:00:00" e="10:00:00"/></roomOpen></Command>`: `roomOpen: opening time 1: "day9" is not a kind of opening time`,
		`<Command group="default" api_pwd="` + apiPwd + `" type="add_room" name="x"><roomOpen><Time o="day1" s="25:00:00" e="10:00:00"/></roomOpen></Command>`: `opening time 1: start: "25:00:00" is not a time of day`,
		command("add_room", `name="x" tz="Mars/Olympus"`): `tz: "Mars/Olympus" is not an IANA time zone`,
	} {
		code, msg, _ := send(t, srv, cmd)
		if code != serverapi.CodeBadArgument || !strings.Contains(msg, want) {
			t.Errorf("%s: %d %q, want %q", cmd, code, msg, want)
		}
	}
}

// TestOpensARoomAddedWhileRunning: a room added through the server API
// while the module runs opens at its time although the module's own
// recheck is an hour away: the module hears of the room through the
// room_changed notification, the one kind it asks for.
func TestOpensARoomAddedWhileRunning(t *testing.T) {
	srv := servertest.Start(t, serverConfig(t, map[string]any{"recheck": "1h"}))
	now := time.Now().UTC()
	opens := now.Add(4 * time.Second)
	times := fmt.Sprintf(`<roomOpen><Time o="daily" s="%s" e="%s"/></roomOpen>`, opens.Format("15:04:05"), now.Add(time.Hour).Format("15:04:05"))
	code, msg, _ := send(t, srv, `<Command group="default" api_pwd="`+apiPwd+`" type="add_room" name="soon" member="1">`+times+`</Command>`)
	if code != serverapi.CodeOK {
		t.Fatalf("add_room: %d %q", code, msg)
	}
	if doc := getRoom2(t, srv, "closed"); !strings.Contains(doc, `schedule="closed"`) {
		t.Fatalf("room 2 before its time:\n%s", doc)
	}
	c := servertest.Dial(t, srv)
	c.Login("carol", "")
	c.Send(map[string]any{"type": "join", "room": 2})
	c.WantError("room_closed")
	if doc := getRoom2(t, srv, "open"); !strings.Contains(doc, `schedule="open"`) {
		t.Fatalf("room 2 after its opening time %s (now %s):\n%s", opens.Format(time.TimeOnly), time.Now().UTC().Format(time.TimeOnly), doc)
	}
	c.Join(2, "")
}
