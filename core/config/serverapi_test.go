package config

import (
	"strings"
	"testing"
	"time"
)

func TestServerAPIDefaults(t *testing.T) {
	c := Default()
	a := c.ServerAPI
	if a.Addr != "127.0.0.1:51127" || !a.HTTP || a.ReadTimeout != 10*time.Second || a.MaxFrameBytes != 65536 || a.MaxConns != 64 {
		t.Fatalf("server_api defaults %+v", a)
	}
	g, ok := a.Groups["default"]
	if !ok || g.Password != "" {
		t.Fatalf("the default group must ship without a password: %+v", a.Groups)
	}
	if strings.Join(g.AllowFrom, ",") != "127.0.0.1,::1" {
		t.Fatalf("allow_from %v", g.AllowFrom)
	}
	if !c.Status.Enabled || c.Status.MinInterval != 250*time.Millisecond {
		t.Fatalf("status %+v", c.Status)
	}
}

func TestServerAPIFromFileAndEnv(t *testing.T) {
	p := writeFile(t, `
server_api:
  addr: ""
  groups:
    default:
      api_pwd: from-the-file
    other:
      api_pwd: other-secret
      allow_from: ["*"]
status:
  enabled: false
`)
	env := []string{
		"PARLOR_SERVER_API__GROUPS__DEFAULT__API_PWD=3874-3459-9999-2199",
		"PARLOR_SERVER_API__GROUPS__DEFAULT__ALLOW_FROM=10.0.0.0/8, 192.168.1.7",
		"PARLOR_SERVER_API__READ_TIMEOUT=3s",
	}
	c, err := Load(p, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := c.ServerAPI
	if a.Addr != "" || a.ReadTimeout != 3*time.Second || c.Status.Enabled {
		t.Fatalf("overrides lost: %+v %+v", a, c.Status)
	}
	if g := a.Groups["default"]; g.Password != "3874-3459-9999-2199" || strings.Join(g.AllowFrom, "|") != "10.0.0.0/8|192.168.1.7" {
		t.Fatalf("default group %+v", g)
	}
	if g := a.Groups["other"]; g.Password != "other-secret" || len(g.AllowFrom) != 1 || g.AllowFrom[0] != "*" {
		t.Fatalf("other group %+v", g)
	}
}

func TestServerAPIValidationNamesTheKey(t *testing.T) {
	p := writeFile(t, `
server_api:
  addr: "51127"
  read_timeout: 0s
  max_frame_bytes: 10
  max_conns: 0
  groups:
    default:
      api_pwd: short
      allow_from: ["127.0.0.1", "localhost", "10.0.0.0/33"]
status:
  min_interval: 1ms
`)
	_, err := Load(p, nil, nil)
	if err == nil {
		t.Fatal("bad server_api accepted")
	}
	for _, want := range []string{
		"config key server_api.addr:",
		"config key server_api.read_timeout:",
		"config key server_api.max_frame_bytes:",
		"config key server_api.max_conns:",
		"config key server_api.groups.default.api_pwd: is shorter than 8",
		`config key server_api.groups.default.allow_from[1]: "localhost" is not an IP address`,
		`config key server_api.groups.default.allow_from[2]: "10.0.0.0/33" is not a CIDR prefix`,
		"config key status.min_interval:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "allow_from[0]") {
		t.Errorf("a good entry was reported: %v", err)
	}
}

func TestCheckAllowFrom(t *testing.T) {
	for _, ok := range []string{"*", "127.0.0.1", "::1", "10.0.0.0/8", "2001:db8::/32", " 127.0.0.1 "} {
		if err := CheckAllowFrom(ok); err != nil {
			t.Errorf("CheckAllowFrom(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "localhost", "**", "1.2.3", "1.2.3.4/", "1.2.3.4/40"} {
		if err := CheckAllowFrom(bad); err == nil {
			t.Errorf("CheckAllowFrom(%q) accepted", bad)
		}
	}
}

func TestRoomListWrites(t *testing.T) {
	if got := Default().Chat.RoomListWrites; got != 5000 {
		t.Fatalf("chat.room_list_writes default %d, want 5000", got)
	}
	p := writeFile(t, "chat:\n  room_list_writes: -1\n")
	if _, err := Load(p, nil, nil); err == nil || !strings.Contains(err.Error(), "config key chat.room_list_writes:") {
		t.Fatalf("room_list_writes -1: %v", err)
	}
}
