package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

// TestClientFilesTyped: every file of the client is served with the type
// its extension calls for (a module script with another type does not
// run) and under the strict policy.
func TestClientFilesTyped(t *testing.T) {
	h := Mux(Routes{WebSocket: http.NotFoundHandler()})
	var js int
	err := fs.WalkDir(Client(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, ok := contentTypes[path.Ext(p)]
		if !ok {
			t.Errorf("%s: no content type for its extension", p)
			return nil
		}
		if path.Ext(p) == ".js" {
			js++
		}
		url := "/" + p
		if p == "index.html" {
			url = "/" // the file server redirects /index.html to /
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET /%s: status %d", p, rec.Code)
		}
		if got := rec.Header().Get("Content-Type"); got != want {
			t.Errorf("GET /%s: Content-Type %q, want %q", p, got, want)
		}
		if got := rec.Header().Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self';") {
			t.Errorf("GET /%s: Content-Security-Policy %q lacks script-src 'self'", p, got)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /%s: no nosniff", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if js < 8 {
		t.Errorf("%d JavaScript files embedded, want the client's modules (app.js, js/, js/views/)", js)
	}
}

var importRE = regexp.MustCompile(`(?m)^\s*import\s[^"']*["']([^"']+)["']`)

// TestClientImportsResolve: every static import of a client module names
// an embedded file, so a missing or misspelt module fails here rather
// than in a browser.
func TestClientImportsResolve(t *testing.T) {
	err := fs.WalkDir(Client(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		src, err := fs.ReadFile(Client(), p)
		if err != nil {
			return err
		}
		for _, m := range importRE.FindAllStringSubmatch(string(src), -1) {
			spec := m[1]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				t.Errorf("%s imports %q: only relative, same-origin modules", p, spec)
				continue
			}
			target := path.Join(path.Dir(p), spec)
			if _, err := fs.Stat(Client(), target); err != nil {
				t.Errorf("%s imports %q: %s is not embedded", p, spec, target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	index, err := fs.ReadFile(Client(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(index), `<script type="module" src="app.js"></script>`) {
		t.Error("index.html does not load app.js as a module")
	}
}

// TestClientPageCarriesTheServers: with WebSocket URLs the page names them
// for the client, and the policy lets it connect to their origins; without
// them the page and the policy are the plain ones.
func TestClientPageCarriesTheServers(t *testing.T) {
	get := func(h http.Handler, url string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", url, rec.Code)
		}
		return rec
	}
	plain := get(Mux(Routes{WebSocket: http.NotFoundHandler()}), "/")
	if !strings.Contains(plain.Body.String(), wsURLsTag) {
		t.Errorf("the plain page lacks %s", wsURLsTag)
	}
	if got := plain.Header().Get("Content-Security-Policy"); got != ContentSecurityPolicy {
		t.Errorf("plain policy %q, want %q", got, ContentSecurityPolicy)
	}

	urls := []string{"/ws", "wss://chat-b.example.com/ws", `ws://10.0.0.2:8080/ws?a=1&b="2"`}
	h := Mux(Routes{WebSocket: http.NotFoundHandler(), WebSocketURLs: urls})
	page := get(h, "/")
	body := page.Body.String()
	want := `<meta name="parlor-ws-urls" content="/ws wss://chat-b.example.com/ws ws://10.0.0.2:8080/ws?a=1&amp;b=&#34;2&#34;">`
	if !strings.Contains(body, want) || strings.Contains(body, wsURLsTag) {
		t.Errorf("page does not carry the URLs as %s:\n%s", want, body[:min(len(body), 600)])
	}
	if !strings.Contains(body, `<script type="module" src="app.js">`) {
		t.Error("the page with the URLs lost the rest of index.html")
	}
	if ct := page.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("page Content-Type %q", ct)
	}
	if cc := page.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("page Cache-Control %q, want no-cache so that a changed list takes effect", cc)
	}
	for _, path := range []string{"/", "/app.js"} {
		csp := get(h, path).Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "connect-src 'self' wss://chat-b.example.com ws://10.0.0.2:8080;") || !strings.Contains(csp, "script-src 'self';") {
			t.Errorf("GET %s: policy %q does not admit the servers' origins (and only them)", path, csp)
		}
	}
}
