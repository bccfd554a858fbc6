package pluginhost

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// AssetsPrefix is the URL path under which Assets serves the modules' web
// client files: /plugins/<name>/<path>.
const AssetsPrefix = "/plugins/"

// asset is one web client file of a module, ready to serve.
type asset struct {
	data  []byte
	etag  string
	ctype string
}

// contentTypes are the types of the files a web client extension ships,
// fixed here rather than taken from the system's mime.types (which may
// call JavaScript application/x-javascript or not know .mjs).
var contentTypes = map[string]string{
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".html":  "text/html; charset=utf-8",
	".json":  "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".jpg":   "image/jpeg",
	".jpeg":  "image/jpeg",
	".gif":   "image/gif",
	".webp":  "image/webp",
	".ico":   "image/x-icon",
	".wasm":  "application/wasm",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

// contentType is the Content-Type of a file name by its extension.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := contentTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// newAssetSet prepares a module's declared files.
func newAssetSet(files map[string][]byte) map[string]asset {
	if len(files) == 0 {
		return nil
	}
	out := make(map[string]asset, len(files))
	for name, b := range files {
		sum := sha256.Sum256(b)
		out[name] = asset{data: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: contentType(name)}
	}
	return out
}

// Assets serves the web client files the modules declared, at
// /plugins/<name>/<path> (mount it at AssetsPrefix): GET and HEAD, the
// Content-Type by extension, X-Content-Type-Options nosniff, an ETag, and
// 404 for a module or file that is not declared. A module that restarts
// with other files serves the new ones.
func (h *Host) Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, AssetsPrefix)
		name, file, ok2 := strings.Cut(rest, "/")
		m, known := h.plugins[name]
		if !ok || !ok2 || !known {
			http.NotFound(w, r)
			return
		}
		m.mu.Lock()
		a, found := m.assets[file]
		m.mu.Unlock()
		if !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.ctype)
		w.Header().Set("ETag", a.etag)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, file, time.Time{}, bytes.NewReader(a.data))
	})
}

// ClientURL is the URL of the ES module the web client imports for this
// module (/plugins/<name>/<client>), or "" when it declared none: the
// `extensions` of the hello frame.
func (mod *Module) ClientURL() string {
	caps, _ := mod.m.capabilities()
	if caps.Client == "" {
		return ""
	}
	return AssetsPrefix + mod.m.name + "/" + caps.Client
}
