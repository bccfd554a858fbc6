package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parlorchat/parlor/core/config"
	"github.com/parlorchat/parlor/internal/servertest"
	"github.com/parlorchat/parlor/internal/testenv"
)

const testAPIKey = "test-api-key-0123456789"

// ssoConfig runs the built SSO plugin with the given token lifetime (empty:
// the default) in a server keeping its data in dataDir.
func ssoConfig(t *testing.T, dataDir, tokenTTL string) *config.Config {
	t.Helper()
	bin := testenv.GoBuild(t, "./plugins/sso", "parlor-plugin-sso")
	cfg := servertest.Config(t)
	cfg.DataDir = dataDir
	cfg.ServerAPI.Addr = ""
	// Registrations hash passwords with bcrypt, which under -race on a
	// loaded machine can take seconds: these tests are not about timeouts.
	cfg.Plugins.CallTimeout = 30 * time.Second
	pc := map[string]any{
		"api_key":      testAPIKey,
		"login_url":    "http://127.0.0.1:1/login",
		"logout_url":   "http://127.0.0.1:1/logout",
		"register_url": "http://127.0.0.1:1/register",
	}
	if tokenTTL != "" {
		pc["token_ttl"] = tokenTTL
	}
	cfg.Plugins.Load = map[string]config.PluginSpec{"sso": {Path: bin, Config: pc}}
	return cfg
}

// startServer runs a server; stop ends it (also done when the test ends).
func startServer(t *testing.T, cfg *config.Config) (base string, stop func()) {
	t.Helper()
	srv := servertest.Start(t, cfg)
	return servertest.URL(srv), func() { servertest.Stop(t, srv) }
}

// answer is an endpoint's reply.
type answer struct {
	status int
	header http.Header
	body   []byte
	res    Response
}

// get calls path with params and returns the
// reply; a JSON reply must have exactly the spec's three fields.
func get(t *testing.T, base, path string, params url.Values) answer {
	t.Helper()
	return getWith(t, &http.Client{Timeout: 10 * time.Second}, base, path, params)
}

// getWith is get through client.
func getWith(t *testing.T, client *http.Client, base, path string, params url.Values) answer {
	t.Helper()
	resp, err := client.Get(base + path + "?" + params.Encode())
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: body}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("GET %s: bad JSON %q: %v", path, body, err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if path != "/sso/settings" {
			if strings.Join(keys, ",") != "access_token,message,success" {
				t.Fatalf("GET %s: JSON keys %v, want access_token, message, success: %s", path, keys, body)
			}
			if _, ok := m["success"].(bool); !ok {
				t.Fatalf("GET %s: success is not a boolean: %s", path, body)
			}
			if err := json.Unmarshal(body, &a.res); err != nil {
				t.Fatal(err)
			}
		}
	}
	return a
}

// with returns url.Values of key/value pairs plus the API key.
func with(kv ...string) url.Values {
	v := url.Values{"apikey": {testAPIKey}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// ok requires a successful JSON answer.
func (a answer) ok(t *testing.T, what string) Response {
	t.Helper()
	if a.status != 200 || !a.res.Success || a.res.Message == "" {
		t.Fatalf("%s: status %d, %s", what, a.status, a.body)
	}
	return a.res
}

// refused requires a JSON refusal whose message contains part.
func (a answer) refused(t *testing.T, what, part string) {
	t.Helper()
	if !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") || a.res.Success || a.res.AccessToken != "" {
		t.Fatalf("%s: want a JSON refusal, got status %d %s: %s", what, a.status, a.header.Get("Content-Type"), a.body)
	}
	if !strings.Contains(strings.ToLower(a.res.Message), strings.ToLower(part)) {
		t.Fatalf("%s: message %q does not mention %q", what, a.res.Message, part)
	}
	if len(a.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("%s: a refusal sets a cookie: %v", what, a.header.Values("Set-Cookie"))
	}
}

// sessionCookie is the chat login cookie an answer sets.
func (a answer) sessionCookie(t *testing.T) *http.Cookie {
	t.Helper()
	for _, line := range a.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if c.Name == "parlor_session" {
			return c
		}
	}
	t.Fatalf("no parlor_session cookie in %v", a.header.Values("Set-Cookie"))
	return nil
}

// wsClient is a protocol client whose want fails on an error event.
type wsClient struct {
	t  *testing.T
	c  *servertest.Client
	ws *websocket.Conn
}

// dialWS opens /ws with the cookie header (may be empty) and reads hello.
func dialWS(t *testing.T, base, cookie string) *wsClient {
	t.Helper()
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	c := servertest.DialURL(t, base, h)
	return &wsClient{t: t, c: c, ws: c.Conn()}
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	c.c.Send(v)
}

// nextEvent returns the next event; it fails the test on a read error.
func (c *wsClient) nextEvent() map[string]any {
	c.t.Helper()
	return c.c.Next()
}

// want returns the next event of type typ (an error event fails unless
// typ is "error").
func (c *wsClient) want(typ string) map[string]any {
	c.t.Helper()
	for {
		ev := c.c.Next()
		if ev["type"] == typ {
			return ev
		}
		if ev["type"] == "error" {
			c.t.Fatalf("waiting for %s: got %v", typ, ev)
		}
	}
}

// closed waits for the server to close the connection and returns the
// close reason.
func (c *wsClient) closed() string {
	c.t.Helper()
	err := c.c.WaitClosed()
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		c.t.Fatalf("waiting for close: %v", err)
	}
	return ce.Reason
}

// sessionLogin logs in with the cookie (token empty) or a token.
func (c *wsClient) sessionLogin(token string) map[string]any {
	c.t.Helper()
	if token == "" {
		c.send(map[string]any{"type": "login", "session": true})
	} else {
		c.send(map[string]any{"type": "login", "token": token})
	}
	for {
		ev := c.c.Next()
		if ev["type"] == "login_ok" || ev["type"] == "error" {
			return ev
		}
	}
}
