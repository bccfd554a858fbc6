package servertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/parlorchat/parlor/core/config"
)

// APIPassword is the api_pwd WithServerAPI sets for the default group.
const APIPassword = "test-api-pwd-0123"

// EnableAPI turns cfg's JSON server API on for its chat group, from any
// address, with APIPassword.
func EnableAPI(cfg *config.Config) {
	cfg.ServerAPI.HTTP = true
	cfg.ServerAPI.Groups = map[string]config.APIGroup{cfg.Chat.Group: {Password: APIPassword, AllowFrom: []string{"*"}}}
}

// APICommand posts a server API command of typ with attributes attrs to
// the JSON twin at base ("http://host:port") and returns the decoded
// reply and its HTTP status.
func APICommand(t testing.TB, base, typ string, attrs map[string]any) (int, map[string]any) {
	t.Helper()
	body := map[string]any{"type": typ}
	for k, v := range attrs {
		body[k] = v
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Parlor-Api-Key", APIPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("server API %s: %v", typ, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("server API %s: %v", typ, err)
	}
	return resp.StatusCode, out
}

// APIOK is APICommand for a command that must succeed (code 0).
func APIOK(t testing.TB, base, typ string, attrs map[string]any) map[string]any {
	t.Helper()
	status, out := APICommand(t, base, typ, attrs)
	if status != http.StatusOK || out["code"] != 0.0 {
		t.Fatalf("server API %s %v: %d %v", typ, attrs, status, out)
	}
	return out
}
