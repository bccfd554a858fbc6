package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/sdk"
)

// config/sso.yaml names only keys the plugin knows (Decode is strict), and
// a typo is refused with the key's name.
func TestExampleConfigDecodes(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "..", "config", "sso.yaml"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(c.Plugins.Load["sso"].Config)
	if err != nil {
		t.Fatal(err)
	}
	var got Config
	if err := (sdk.Config{Raw: raw}).Decode(&got); err != nil {
		t.Fatalf("config/sso.yaml: %v", err)
	}
	if got.TokenTTL != "1h" || got.APIKeyLockout != "1m" || got.LoginURL == "" {
		t.Fatalf("decoded %+v", got)
	}
	err = (sdk.Config{Raw: []byte(`{"api_key":"0123456789abcdef","token_tll":"1h"}`)}).Decode(&got)
	if err == nil || !strings.Contains(err.Error(), `plugin config: unknown key "token_tll"`) {
		t.Fatalf("typo: %v", err)
	}
}
