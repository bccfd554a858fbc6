package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/internal/testenv"
)

func TestUnknownKeysAreRefusedWithASuggestion(t *testing.T) {
	p := writeFile(t, `
http:
  adr: "127.0.0.1:9000"
chat:
  histroy: 20
history: 5
rooms:
  - {id: 1, name: A}
  - {id: 2, nmae: B, name: B}
plugins:
  load:
    authurl:
      pth: /usr/bin/x
      config:
        anything: goes
        nested: {deeply: [1, 2]}
server_api:
  groups:
    other:
      api_pwd: other-secret
      allow: ["*"]
frobnicate: yes
`)
	env := []string{"PARLOR_HTTP__ADRR=127.0.0.1:1", "PARLOR_HTTP__SEND_QUEUE=9"}
	_, err := Load(p, env, nil)
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{
		"config key http.adr in " + p + " is not a setting; did you mean http.addr?",
		"config key chat.histroy in " + p + " is not a setting; did you mean chat.history?",
		"config key history in " + p + " is not a setting; did you mean chat.history?",
		"config key rooms[1].nmae in " + p + " is not a setting; did you mean rooms[1].name?",
		"config key plugins.load.authurl.pth in " + p + " is not a setting; did you mean plugins.load.authurl.path?",
		"config key server_api.groups.other.allow in " + p + " is not a setting; did you mean server_api.groups.other.allow_from?",
		"config key frobnicate in " + p + " is not a setting\n",
		"config key http.adrr from PARLOR_HTTP__ADRR is not a setting; did you mean http.addr?",
	} {
		if !strings.Contains(err.Error()+"\n", want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	for _, free := range []string{"anything", "nested", "deeply", "send_queue", "rooms[0]"} {
		if strings.Contains(err.Error(), free) {
			t.Errorf("a good key was refused (%s):\n%v", free, err)
		}
	}
}

func TestUnknownKeysAndBadValuesTogether(t *testing.T) {
	p := writeFile(t, "chat:\n  histroy: 20\n  history: 5000\n")
	_, err := Load(p, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "chat.histroy") || !strings.Contains(err.Error(), "chat.history: 5000 is outside") {
		t.Fatalf("want both the unknown key and the bad value: %v", err)
	}
}

func TestOtherParlorEnvironmentIsNotConfig(t *testing.T) {
	env := []string{
		"PARLOR_REQUIRE_SERVICES=1", "PARLOR_API_PASSWORD=secret-secret",
		"PARLOR_TEST_POSTGRES_ADDR=127.0.0.1:5432", "PARLOR_TEST_MSSQL_DSN=sqlserver://x",
		"PARLOR_CHROMIUM=/usr/bin/chromium", "PARLOR_PLUGIN=cookie", "PARLOR_AUTH_DB_HOST=db",
		"PARLOR_HTTP__ADDR=127.0.0.1:9999", "PATH=/usr/bin", "NOT_PARLOR_HTTP__ADRR=x",
		"PARLOR_PLUGINS__LOAD__SSO__CONFIG__API_KEY=k", // a plugin's own config is free
	}
	c, err := Load("", env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:9999" || c.Plugins.Load["sso"].Config["api_key"] != "k" {
		t.Fatalf("http.addr = %q, plugins.load.sso = %+v", c.HTTP.Addr, c.Plugins.Load["sso"])
	}
}

func TestUnknownOverride(t *testing.T) {
	_, err := Load("", nil, map[string]any{"log.levle": "debug"})
	if err == nil || !strings.Contains(err.Error(), "config key log.levle from the command line is not a setting; did you mean log.level?") {
		t.Fatalf("err = %v", err)
	}
}

// TestExampleFilesUseOnlySettings loads every example under config/, so an
// example cannot teach a key that does not exist.
func TestExampleFilesUseOnlySettings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.ModuleRoot(t), "config", "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := Load(f, nil, nil); err != nil && strings.Contains(err.Error(), "is not a setting") {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

func TestSuggestIgnoresCase(t *testing.T) {
	p := writeFile(t, "HTTP:\n  addr: 127.0.0.1:1\n")
	_, err := Load(p, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "config key HTTP in "+p+" is not a setting; did you mean http?") {
		t.Fatalf("err = %v", err)
	}
}
