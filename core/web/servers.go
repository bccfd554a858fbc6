package web

import (
	"bytes"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The client's servers: with http.ws_urls the page carries the WebSocket
// URLs in <meta name="parlor-ws-urls" content="URL URL ...">, which
// js/connection.js reads (the policy allows no inline script, and a meta
// tag needs no request of its own before the first connect). A page that
// embeds a copy of the client may write the tag itself. The policy's
// connect-src admits the origins of the absolute URLs.

// wsURLsTag is the tag of index.html that the URLs are written into.
const wsURLsTag = `<meta name="parlor-ws-urls" content="">`

// clientPage serves index.html with urls in its wsURLsTag.
func clientPage(urls []string) http.Handler {
	page, err := fs.ReadFile(Client(), "index.html")
	if err != nil {
		panic(err) // embedded at build time
	}
	if !bytes.Contains(page, []byte(wsURLsTag)) {
		panic("web: index.html lacks " + wsURLsTag) // a build-time mistake that web_test catches
	}
	tag := `<meta name="parlor-ws-urls" content="` + html.EscapeString(strings.Join(urls, " ")) + `">`
	page = bytes.Replace(page, []byte(wsURLsTag), []byte(tag), 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentTypes[".html"])
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(page))
	})
}

// contentSecurityPolicy is ContentSecurityPolicy with the origins of the
// absolute WebSocket URLs (ws:// or wss://) added to connect-src; a path
// is on the page's origin, which 'self' admits already.
func contentSecurityPolicy(urls []string) string {
	var sources []string
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil || p.Host == "" || (p.Scheme != "ws" && p.Scheme != "wss") {
			continue
		}
		sources = append(sources, p.Scheme+"://"+p.Host)
	}
	if len(sources) == 0 {
		return ContentSecurityPolicy
	}
	return strings.Replace(ContentSecurityPolicy, "connect-src 'self'", "connect-src 'self' "+strings.Join(sources, " "), 1)
}
