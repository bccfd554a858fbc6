package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsRunAsIs(t *testing.T) {
	c := Default()
	if c.HTTP.Addr != "127.0.0.1:8080" || c.Chat.Group != "default" || c.Chat.History != 50 {
		t.Fatalf("defaults: addr %q group %q history %d", c.HTTP.Addr, c.Chat.Group, c.Chat.History)
	}
	if len(c.Rooms) == 0 || c.Rooms[0].Name != "Lobby" || !c.Rooms[0].Open || !c.Rooms[0].Member {
		t.Fatalf("default rooms: %+v", c.Rooms)
	}
	if len(c.Rooms) < 2 || c.Rooms[1].Name != "Help" || !c.Rooms[1].Open || !c.Rooms[1].Member {
		t.Fatalf("the Help room leaves en and member out and must be open to guests: %+v", c.Rooms)
	}
	if c.Plugins.CallTimeout != 3*time.Second {
		t.Fatalf("plugins.call_timeout = %v", c.Plugins.CallTimeout)
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "parlor.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileThenEnvThenFlags(t *testing.T) {
	p := writeFile(t, `
http:
  addr: "0.0.0.0:9000"
  send_queue: 10
chat:
  history: 20
plugins:
  load:
    authurl:
      config:
        url: http://example.test/auth.php
auth:
  chain: [authurl]
rooms:
  - {id: 5, name: Only, max: 3, pwd: secret, en: true}
`)
	env := []string{"PARLOR_HTTP__SEND_QUEUE=99", "PARLOR_CHAT__MAX_MESSAGE_CHARS=300", "HOME=/root"}
	c, err := Load(p, env, map[string]any{"chat.history": 7})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "0.0.0.0:9000" {
		t.Errorf("file value lost: addr %q", c.HTTP.Addr)
	}
	if c.HTTP.SendQueue != 99 || c.Chat.MaxMessageChars != 300 {
		t.Errorf("env overrides: send_queue %d max_message_chars %d", c.HTTP.SendQueue, c.Chat.MaxMessageChars)
	}
	if c.Chat.History != 7 {
		t.Errorf("flag override: history %d", c.Chat.History)
	}
	if c.HTTP.MaxFrameBytes != 65536 {
		t.Errorf("default kept under a partial file: max_frame_bytes %d", c.HTTP.MaxFrameBytes)
	}
	if len(c.Rooms) != 1 || c.Rooms[0].Password != "secret" || c.Rooms[0].Max != 3 {
		t.Errorf("rooms from file replace the defaults: %+v", c.Rooms)
	}
	if got := c.Plugins.Load["authurl"].Config["url"]; got != "http://example.test/auth.php" {
		t.Errorf("plugin config url = %v", got)
	}
}

func TestEnvList(t *testing.T) {
	p := writeFile(t, "plugins:\n  load:\n    a: {}\n    b: {}\n")
	c, err := Load(p, []string{"PARLOR_AUTH__CHAIN=b, a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Auth.Chain, ",") != "b,a" {
		t.Fatalf("chain = %v", c.Auth.Chain)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	cases := []struct{ body, env, key string }{
		{"http:\n  addr: nonsense\n", "", "http.addr"},
		{"http:\n  send_queue: lots\n", "", "send_queue"},
		{"log:\n  level: loud\n", "", "log.level"},
		{"", "PARLOR_PLUGINS__CALL_TIMEOUT=soon", "call_timeout"},
		{"auth:\n  chain: [ghost]\n", "", "auth.chain[0]"},
		{"rooms:\n  - {id: 1, name: A}\n  - {id: 1, name: B}\n", "", "rooms[1].id"},
		{"rooms:\n  - {id: 1, name: A, st: 1}\n", "", "rooms[0].st"},
		{"rooms:\n  - {id: 1, name: Event, open_times: [{o: day9, s: \"25:00:00\", e: \"10:00:00\"}]}\n", "", `rooms[0].open_times: room "Event": opening time 1: "day9" is not a kind of opening time`},
		{"rooms:\n  - {id: 1, name: Event, open_times: [{o: day2, s: \"10:00\", e: \"10:00\"}]}\n", "", `rooms[0].open_times: room "Event": opening time 1: the window opens and closes at 10:00:00`},
		{"rooms:\n  - {id: 1, name: Event, tz: Mars/Olympus}\n", "", `rooms[0].tz: room "Event": "Mars/Olympus" is not an IANA time zone`},
		{"rooms:\n  - {id: 1, name: Event, open_times: [{o: day2, s: \"09:00\", e: \"10:00\", x: 1}]}\n", "", "rooms[0].open_times[0].x"},
		{"chat:\n  time_zone: Local\n", "", "chat.time_zone"},
		// A '.' marks the core's own names in the plugins' key-value store.
		{"plugins:\n  load:\n    \"core.reconnect\": {path: /bin/true}\n", "", `plugins.load: "core.reconnect" is not a plugin name`},
		{"plugins:\n  load:\n    \"../up\": {path: /bin/true}\n", "", `plugins.load: "../up" is not a plugin name`},
		{"cluster:\n  nats: {url: \"http://127.0.0.1:4222\"}\n", "", `cluster.nats.url: "http://127.0.0.1:4222" is not nats://host:port`},
		{"cluster:\n  prefix: \"a.b\"\n", "", "cluster.prefix"},
		{"cluster:\n  node: \"node one\"\n", "", "cluster.node"},
		{"cluster:\n  lease: 100ms\n", "", "cluster.lease: 100ms is outside 1s..10m"},
		{"cluster:\n  pending_bytes: 1000\n", "", "cluster.pending_bytes"},
	}
	for _, tc := range cases {
		p := writeFile(t, tc.body)
		var env []string
		if tc.env != "" {
			env = []string{tc.env}
		}
		_, err := Load(p, env, nil)
		if err == nil {
			t.Errorf("%q %q: accepted, want an error naming %s", tc.body, tc.env, tc.key)
			continue
		}
		if !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q %q: error %q does not name %s", tc.body, tc.env, err, tc.key)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}

// TestRoomDefaultsAsAddRoom: a room entry that leaves out en and member is
// open and lets guests in, as a room made by add_room; one that sets them
// keeps its values.
func TestRoomDefaultsAsAddRoom(t *testing.T) {
	p := writeFile(t, `
rooms:
  - id: 1
    name: Plain
  - id: 2
    name: Closed
    en: false
    member: false
  - {id: 3, name: Nulls, en: null, member: ~}
`)
	c, err := Load(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Room{
		{ID: 1, Name: "Plain", Open: true, Member: true},
		{ID: 2, Name: "Closed"},
		{ID: 3, Name: "Nulls", Open: true, Member: true},
	}
	if len(c.Rooms) != len(want) {
		t.Fatalf("rooms %+v", c.Rooms)
	}
	for i := range want {
		if !reflect.DeepEqual(c.Rooms[i], want[i]) {
			t.Errorf("room %d = %+v, want %+v", i, c.Rooms[i], want[i])
		}
	}
}
