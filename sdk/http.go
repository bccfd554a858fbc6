package sdk

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/parlorchat/parlor/sdk/proto"
)

// MaxHTTPResponse bounds the body a module's HTTP handler may answer; a
// longer answer fails the request (the client gets 502).
const MaxHTTPResponse = 4 << 20

// errResponseTooLarge fails a handler's Write past MaxHTTPResponse.
var errResponseTooLarge = fmt.Errorf("http response body over %d bytes", MaxHTTPResponse)

// HTTPRequest is an HTTP request as the host forwards it to a module over
// the wire. Module authors do not see it: their Manifest.HTTP handler gets
// an *http.Request. The chat's session cookie is removed from Header
// before it reaches the plugin.
type HTTPRequest struct {
	Method   string
	Path     string // URL path, such as /sso/token/login
	RawQuery string // URL query without '?'
	Header   map[string][]string
	Body     []byte
	RemoteIP string
	Host     string // the Host header of the client's request
}

// HTTPResponse is a module's answer to an HTTPRequest. Status 0 means 200.
type HTTPResponse struct {
	Status int
	Header map[string][]string
	Body   []byte
}

// Write answers a request with the response: its headers, its status (0
// is 200) and its body.
func (r HTTPResponse) Write(w http.ResponseWriter) {
	for name, values := range r.Header {
		for _, v := range values {
			w.Header().Add(name, v)
		}
	}
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	w.WriteHeader(r.Status)
	_, _ = w.Write(r.Body)
}

// ClientIP returns the address of the client whose request the host
// forwarded to a module's HTTP handler (r.RemoteAddr without the port).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// serveHTTP runs h on the forwarded request and collects its answer.
func serveHTTP(ctx context.Context, h http.Handler, req *proto.HTTPRequest) (*proto.HTTPResponse, error) {
	r, err := newHTTPRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	w := &responseRecorder{header: http.Header{}}
	h.ServeHTTP(w, r)
	if w.err != nil {
		return nil, w.err
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &proto.HTTPResponse{Status: int32(w.status), Headers: headersToProto(w.header), Body: w.body.Bytes()}, nil
}

// newHTTPRequest builds the *http.Request a handler sees.
func newHTTPRequest(ctx context.Context, req *proto.HTTPRequest) (*http.Request, error) {
	u := &url.URL{Path: req.GetPath(), RawQuery: req.GetRawQuery()}
	if u.Path == "" {
		u.Path = "/"
	}
	method := req.GetMethod()
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(req.GetBody()))
	if err != nil {
		return nil, fmt.Errorf("forwarded request: %w", err)
	}
	r.Header = http.Header(headersFromProto(req.GetHeaders()))
	r.RequestURI = u.RequestURI()
	r.Host = req.GetHost()
	if ip := req.GetRemoteIp(); ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	if len(req.GetBody()) == 0 {
		r.Body = http.NoBody
	}
	return r, nil
}

// responseRecorder is the http.ResponseWriter of a forwarded request.
type responseRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	err    error
}

func (w *responseRecorder) Header() http.Header { return w.header }

func (w *responseRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *responseRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.body.Len()+len(b) > MaxHTTPResponse {
		w.err = errResponseTooLarge
		return 0, w.err
	}
	return w.body.Write(b)
}

// ensure responseRecorder stays a plain writer (no Flusher or Hijacker:
// the answer travels as one message).
var _ http.ResponseWriter = (*responseRecorder)(nil)
