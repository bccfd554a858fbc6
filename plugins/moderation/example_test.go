package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	parlor "github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/testenv"
	"github.com/parlorchat/parlor/sdk"
)

// TestExampleConfig: config/moderation.yaml loads, names only keys the
// module knows (its Decode is strict) and, but for its example word list,
// says the defaults.
func TestExampleConfig(t *testing.T) {
	c, err := parlor.Load(filepath.Join(testenv.ModuleRoot(t), "config", "moderation.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, ok := c.Plugins.Load["moderation"]
	if !ok {
		t.Fatalf("config/moderation.yaml loads %+v", c.Plugins.Load)
	}
	raw, err := json.Marshal(spec.Config)
	if err != nil {
		t.Fatal(err)
	}
	m := newModeration(nil)
	if err := m.Configure(context.Background(), sdk.Config{Raw: raw}); err != nil {
		t.Fatalf("config/moderation.yaml: %v", err)
	}
	want := defaults()
	want.Automod.Words.List = []string{"darn", "heck"}
	got, _ := json.Marshal(m.cfg)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("config/moderation.yaml says\n%s\nthe defaults (with its words) are\n%s", got, exp)
	}
	if len(c.Rooms) != 2 || !c.Rooms[1].PassAllMessage {
		t.Errorf("rooms %+v", c.Rooms)
	}
}
