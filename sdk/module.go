package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/sdk/proto"
)

// ModulePluginName is the key of the module in the plugin set a plugin
// serves and the host dispenses.
const ModulePluginName = "module"

// ErrNotServed is returned (wrapped) by the host side when the plugin does
// not serve the kind asked for (for example a module call to a plugin that
// is only an authenticator).
var ErrNotServed = errors.New("not served by this plugin")

// HTTPRequest is an HTTP request the host forwards to a module. The host
// forwards every request under /<plugin name>/ (the SSO plugin, named
// "sso", receives /sso/...). The chat's session cookie is removed from
// Header before it reaches the plugin.
type HTTPRequest struct {
	Method   string
	Path     string // URL path, such as /sso/token/login
	RawQuery string // URL query without '?'
	Header   map[string][]string
	Body     []byte
	RemoteIP string
}

// HTTPResponse is a module's answer to an HTTPRequest. Status 0 means 200.
type HTTPResponse struct {
	Status int
	Header map[string][]string
	Body   []byte
}

// Module is a plugin that serves HTTP routes for the host and calls back
// into it through the Host API. Implementations must be safe for
// concurrent use and honour ctx cancellation.
//
// Hooks (OnLogin, OnMessage, ...) and client commands come with a later
// protocol addition; a Module written today keeps working then.
type Module interface {
	// Configure receives the plugin's `config` block and, in cfg.Host, the
	// Host API. It is called once per plugin process (so again after a
	// restart) before any ServeHTTP.
	Configure(ctx context.Context, cfg Config) error
	// ServeHTTP answers one forwarded request. An error answers 500 with a
	// generic body; the error is logged by the host.
	ServeHTTP(ctx context.Context, req HTTPRequest) (HTTPResponse, error)
}

// ModuleInfo is what the host learns when it configures a module.
type ModuleInfo struct {
	// Authenticator is true when the plugin also serves an Authenticator;
	// it was configured by the same call.
	Authenticator bool
}

// ModulePlugin is the go-plugin glue for a Module. On the plugin side
// GRPCServer serves Impl (and configures Auth, when set, from the same
// Configure call); on the host side GRPCClient returns a *ModuleClient that
// serves Host to the plugin through the broker.
type ModulePlugin struct {
	plugin.NetRPCUnsupportedPlugin

	// Impl is served by GRPCServer; unused on the host side.
	Impl Module
	// Auth is the plugin's authenticator, if it serves one too; it is
	// configured together with Impl (once, when it is the same value).
	Auth Authenticator
	// Host is served to the plugin on the host side; unused on the plugin
	// side. Nil offers no Host API.
	Host Host
	// Logger receives recovered panics of Impl; may be nil.
	Logger hclog.Logger
}

var _ plugin.GRPCPlugin = (*ModulePlugin)(nil)

// GRPCServer registers Impl with the plugin's gRPC server.
func (p *ModulePlugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("register module: no implementation")
	}
	log := p.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	proto.RegisterModuleServer(s, &moduleServer{impl: p.Impl, auth: p.Auth, broker: broker, log: log})
	return nil
}

// GRPCClient returns the host side: a *ModuleClient calling the plugin
// over conn.
func (p *ModulePlugin) GRPCClient(_ context.Context, broker *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &ModuleClient{rpc: proto.NewModuleClient(conn), broker: broker, host: p.Host}, nil
}

// moduleServer adapts a Module to the generated gRPC service.
type moduleServer struct {
	proto.UnimplementedModuleServer
	impl   Module
	auth   Authenticator
	broker *plugin.GRPCBroker
	log    hclog.Logger
}

func (s *moduleServer) recovered(method string, err *error) {
	if r := recover(); r != nil {
		s.log.Error("plugin panicked", "method", method, "panic", fmt.Sprint(r))
		*err = status.Errorf(codes.Internal, "%s: plugin panicked: %v", method, r)
	}
}

func (s *moduleServer) Configure(ctx context.Context, req *proto.ModuleConfigureRequest) (_ *proto.ModuleConfigureResponse, err error) {
	defer s.recovered("configure", &err)
	cfg := Config{Raw: req.GetJson()}
	if id := req.GetHostApiBrokerId(); id != 0 {
		conn, err := s.broker.Dial(id)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "connect to the host API: %v", err)
		}
		cfg.Host = newHostClient(conn)
	}
	if err := s.impl.Configure(ctx, cfg); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if s.auth != nil && !sameValue(s.auth, s.impl) {
		if err := s.auth.Configure(ctx, cfg); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	return &proto.ModuleConfigureResponse{Authenticator: s.auth != nil}, nil
}

// sameValue reports whether a and b are the same comparable value.
func sameValue(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

func (s *moduleServer) ServeHTTP(ctx context.Context, req *proto.HTTPRequest) (_ *proto.HTTPResponse, err error) {
	defer s.recovered("serve http", &err)
	res, err := s.impl.ServeHTTP(ctx, HTTPRequest{
		Method:   req.GetMethod(),
		Path:     req.GetPath(),
		RawQuery: req.GetRawQuery(),
		Header:   headersFromProto(req.GetHeaders()),
		Body:     req.GetBody(),
		RemoteIP: req.GetRemoteIp(),
	})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, status.FromContextError(ctxErr).Err()
		}
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return &proto.HTTPResponse{Status: int32(res.Status), Headers: headersToProto(res.Header), Body: res.Body}, nil
}

// ModuleClient is the host side of a module plugin.
type ModuleClient struct {
	rpc    proto.ModuleClient
	broker *plugin.GRPCBroker
	host   Host
}

var _ Module = (*ModuleClient)(nil)

// Setup configures the module, first serving the Host API to it through
// the broker, and reports what the plugin serves. A plugin that serves no
// module answers an error wrapping ErrNotServed.
func (c *ModuleClient) Setup(ctx context.Context, cfg Config) (ModuleInfo, error) {
	req := &proto.ModuleConfigureRequest{Json: cfg.Raw}
	if c.host != nil && c.broker != nil {
		id := c.broker.NextId()
		go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(opts...)
			proto.RegisterHostAPIServer(s, &hostServer{impl: c.host})
			return s
		})
		req.HostApiBrokerId = id
	}
	resp, err := c.rpc.Configure(ctx, req)
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return ModuleInfo{}, fmt.Errorf("configure module: %w", ErrNotServed)
		}
		return ModuleInfo{}, fmt.Errorf("configure module: %w", err)
	}
	return ModuleInfo{Authenticator: resp.GetAuthenticator()}, nil
}

// Configure is Setup without the report.
func (c *ModuleClient) Configure(ctx context.Context, cfg Config) error {
	_, err := c.Setup(ctx, cfg)
	return err
}

// ServeHTTP forwards one request to the plugin.
func (c *ModuleClient) ServeHTTP(ctx context.Context, req HTTPRequest) (HTTPResponse, error) {
	resp, err := c.rpc.ServeHTTP(ctx, &proto.HTTPRequest{
		Method:   req.Method,
		Path:     req.Path,
		RawQuery: req.RawQuery,
		Headers:  headersToProto(req.Header),
		Body:     req.Body,
		RemoteIp: req.RemoteIP,
	})
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return HTTPResponse{}, fmt.Errorf("serve http: %w", ErrNotServed)
		}
		return HTTPResponse{}, fmt.Errorf("serve http: %w", err)
	}
	st := int(resp.GetStatus())
	if st == 0 {
		st = http.StatusOK
	}
	return HTTPResponse{Status: st, Header: headersFromProto(resp.GetHeaders()), Body: resp.GetBody()}, nil
}

func headersToProto(h map[string][]string) []*proto.Header {
	if len(h) == 0 {
		return nil
	}
	out := make([]*proto.Header, 0, len(h))
	for name, values := range h {
		out = append(out, &proto.Header{Name: name, Values: values})
	}
	return out
}

func headersFromProto(hs []*proto.Header) map[string][]string {
	out := make(map[string][]string, len(hs))
	for _, h := range hs {
		name := http.CanonicalHeaderKey(h.GetName())
		out[name] = append(out[name], h.GetValues()...)
	}
	return out
}
