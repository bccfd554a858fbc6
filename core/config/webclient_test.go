package config

import (
	"slices"
	"strings"
	"testing"
)

func TestWebClientURLsDefaultToThePagesOwnServer(t *testing.T) {
	c := Default()
	if len(c.HTTP.WSURLs) != 0 || len(c.HTTP.AllowedOrigins) != 0 {
		t.Fatalf("http.ws_urls = %q, http.allowed_origins = %q; both must default to empty", c.HTTP.WSURLs, c.HTTP.AllowedOrigins)
	}
	if o := c.HTTP.PageOrigins(); len(o) != 0 {
		t.Fatalf("page origins by default = %q, want none", o)
	}
}

func TestWebClientURLsFromTheEnvironment(t *testing.T) {
	c, err := Load("", []string{
		"PARLOR_HTTP__WS_URLS=/ws, wss://Chat-B.example.com:443/ws,ws://10.0.0.2:8080/ws",
		"PARLOR_HTTP__ALLOWED_ORIGINS=https://www.example.com/,https://*.example.org:8443",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/ws", "wss://Chat-B.example.com:443/ws", "ws://10.0.0.2:8080/ws"}; !slices.Equal(c.HTTP.WSURLs, want) {
		t.Errorf("http.ws_urls = %q, want %q", c.HTTP.WSURLs, want)
	}
	// As browsers send the Origin header: lower case, no default port.
	want := []string{"https://www.example.com", "https://*.example.org:8443", "https://chat-b.example.com", "http://10.0.0.2:8080"}
	if got := c.HTTP.PageOrigins(); !slices.Equal(got, want) {
		t.Errorf("page origins = %q, want %q", got, want)
	}
}

func TestWebClientURLsRefusedNamingTheKey(t *testing.T) {
	for _, tc := range []struct {
		set  map[string]any
		key  string
		says string
	}{
		{map[string]any{"http.ws_urls": []string{"https://chat-b.example.com/ws"}}, "http.ws_urls[0]", "wss://"},
		{map[string]any{"http.ws_urls": []string{"/ws", "chat-b.example.com"}}, "http.ws_urls[1]", "WebSocket URL"},
		{map[string]any{"http.ws_urls": []string{""}}, "http.ws_urls[0]", "empty"},
		{map[string]any{"http.ws_urls": []string{"//chat-b.example.com/ws"}}, "http.ws_urls[0]", "WebSocket URL"},
		{map[string]any{"http.ws_urls": []string{"wss:///ws"}}, "http.ws_urls[0]", "no host"},
		{map[string]any{"http.ws_urls": []string{"wss://a b/ws"}}, "http.ws_urls[0]", "no spaces"},
		{map[string]any{"http.ws_urls": []string{"wss://u:pw@chat-b.example.com/ws"}}, "http.ws_urls[0]", "password"},
		{map[string]any{"http.ws_urls": []string{"/ws", "/ws"}}, "http.ws_urls[1]", "twice"},
		{map[string]any{"http.allowed_origins": []string{"www.example.com"}}, "http.allowed_origins[0]", "https://www.example.com"},
		{map[string]any{"http.allowed_origins": []string{"https://www.example.com/chat"}}, "http.allowed_origins[0]", "no path"},
		{map[string]any{"http.allowed_origins": []string{"https://*"}}, "http.allowed_origins[0]", "origin"},
		{map[string]any{"http.allowed_origins": []string{"https://a.*.example.com"}}, "http.allowed_origins[0]", "origin"},
		{map[string]any{"http.allowed_origins": []string{"wss://www.example.com"}}, "http.allowed_origins[0]", "origin"},
	} {
		_, err := Load("", nil, tc.set)
		if err == nil || !strings.Contains(err.Error(), "config key "+tc.key+":") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%v: error %v, want one naming %s that says %q", tc.set, err, tc.key, tc.says)
		}
	}
}
