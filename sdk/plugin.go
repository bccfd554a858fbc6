package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/parlorchat/parlor/sdk/proto"
)

// ProtocolVersion is the version of the plugin protocol. The host refuses a
// plugin built against another version; it changes only when the protocol
// breaks compatibility.
const ProtocolVersion = 1

// MagicCookieKey and MagicCookieValue are the handshake cookie: the host
// sets the environment variable MagicCookieKey=MagicCookieValue when it
// launches a plugin, so a plugin binary started by hand says it is a plugin
// instead of waiting for a host. The cookie is a convenience, not security.
const (
	MagicCookieKey   = "PARLOR_PLUGIN"
	MagicCookieValue = "7c1f0e4a2b9d48c3a5e6f8d0b3c2a1e9"
)

// AuthenticatorPluginName is the key of the authenticator in the plugin set
// a plugin serves and the host dispenses.
const AuthenticatorPluginName = "authenticator"

// ErrInvalidCode is returned (wrapped) by the host side of an authenticator
// when the plugin answered a code outside 0..5; the result is then
// LoginError.
var ErrInvalidCode = errors.New("invalid result code")

// Handshake returns the handshake both the host and every plugin use.
func Handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// ServeOpts is what a plugin serves.
type ServeOpts struct {
	// Authenticator is the plugin's authenticator, if it serves one.
	Authenticator Authenticator
	// Module is the plugin's module, if it serves one (see Module for the
	// optional interfaces it may implement). A plugin serves an
	// Authenticator, a Module or both; when it serves both, the host
	// configures them with one call (the module's Configure, if it is a
	// Configurer, then Authenticator.Configure unless it is the same value).
	Module Module
	// Logger receives the plugin's own and go-plugin's log lines. When nil,
	// NewLogger("plugin") is used. Lines written as JSON to the original
	// stderr (as NewLogger does) reach the host log with their level and
	// fields, tagged with the plugin name.
	Logger hclog.Logger
}

// NewLogger returns a logger that writes JSON lines to the process's
// stderr, which the host reads and merges into its own log. Create it in
// main before calling Serve (Serve redirects os.Stderr afterwards).
func NewLogger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
}

// PluginSet returns the plugin set for opts. A plugin serves it (Serve does
// this); the host passes PluginSet(ServeOpts{}) to go-plugin's client so it
// can dispense AuthenticatorPluginName and ModulePluginName. The module
// entry is present only when opts.Module is set or opts.Authenticator is
// nil (the host's empty set), so an authenticator-only plugin keeps
// serving exactly the Authenticator service.
func PluginSet(opts ServeOpts) plugin.PluginSet {
	set := plugin.PluginSet{}
	if opts.Authenticator != nil || opts.Module == nil {
		set[AuthenticatorPluginName] = &AuthenticatorPlugin{Impl: opts.Authenticator, Logger: opts.Logger}
	}
	if opts.Module != nil || opts.Authenticator == nil {
		set[ModulePluginName] = &ModulePlugin{Impl: opts.Module, Auth: opts.Authenticator, Logger: opts.Logger}
	}
	return set
}

// Serve runs the plugin until the host stops it. It is the last call of a
// plugin's main:
//
//	func main() { sdk.Serve(sdk.ServeOpts{Authenticator: &myAuth{}}) }
//
// Serve exits the process when the plugin stops.
func Serve(opts ServeOpts) {
	if opts.Logger == nil {
		opts.Logger = NewLogger("plugin")
	}
	if opts.Authenticator == nil && opts.Module == nil {
		opts.Logger.Error("sdk.Serve: ServeOpts has neither an Authenticator nor a Module; nothing to serve")
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake(),
		Plugins:         PluginSet(opts),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts, GRPCServerOptions()...))
		},
		Logger: opts.Logger,
	})
}

// grpcWindow is the HTTP/2 flow-control window of a plugin connection.
// Setting it turns off gRPC's bandwidth-delay probing, which otherwise
// sends a PING (and gets one back) with most messages: on a local socket
// that doubles the system calls of a call for nothing.
const grpcWindow = 1 << 20

// GRPCServerOptions are the gRPC settings of the plugin side of a plugin
// connection; Serve applies them. They pair with GRPCDialOptions.
func GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InitialWindowSize(grpcWindow),
		grpc.InitialConnWindowSize(grpcWindow),
	}
}

// maxHostMessage is the largest message the host accepts from a plugin:
// a module's capabilities carry up to MaxAssetBytes of assets, and an HTTP
// answer up to MaxHTTPResponse, plus their framing.
const maxHostMessage = MaxAssetBytes + 1<<20

// GRPCDialOptions are the gRPC settings the host uses to reach a plugin
// (go-plugin's ClientConfig.GRPCDialOptions).
func GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(grpcWindow),
		grpc.WithInitialConnWindowSize(grpcWindow),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxHostMessage)),
	}
}

// AuthenticatorPlugin is the go-plugin glue for an Authenticator. On the
// plugin side GRPCServer serves Impl; on the host side GRPCClient returns an
// Authenticator that calls the plugin over gRPC. Only gRPC is supported.
type AuthenticatorPlugin struct {
	plugin.NetRPCUnsupportedPlugin

	// Impl is served by GRPCServer; unused on the host side.
	Impl Authenticator
	// Logger receives recovered panics of Impl; may be nil.
	Logger hclog.Logger
}

var _ plugin.GRPCPlugin = (*AuthenticatorPlugin)(nil)

// GRPCServer registers Impl with the plugin's gRPC server.
func (p *AuthenticatorPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("register authenticator: no implementation")
	}
	log := p.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	proto.RegisterAuthenticatorServer(s, &authServer{impl: p.Impl, log: log})
	return nil
}

// GRPCClient returns the host side: an Authenticator whose calls go to the
// plugin over conn.
func (p *AuthenticatorPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return &authClient{rpc: proto.NewAuthenticatorClient(conn)}, nil
}

// authServer adapts an Authenticator to the generated gRPC service.
type authServer struct {
	proto.UnimplementedAuthenticatorServer
	impl Authenticator
	log  hclog.Logger
}

// recovered turns a panic of the implementation into a gRPC error so one
// bad request does not take the plugin down.
func (s *authServer) recovered(method string, err *error) {
	if r := recover(); r != nil {
		s.log.Error("plugin panicked", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "%s: plugin panicked: %v", method, r)
	}
}

func (s *authServer) Configure(ctx context.Context, req *proto.ConfigureRequest) (_ *proto.ConfigureResponse, err error) {
	defer s.recovered("configure", &err)
	if err := s.impl.Configure(ctx, Config{Raw: req.GetJson()}); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &proto.ConfigureResponse{}, nil
}

func (s *authServer) Authenticate(ctx context.Context, req *proto.AuthRequest) (_ *proto.AuthResult, err error) {
	defer s.recovered("authenticate", &err)
	res, err := s.impl.Authenticate(ctx, AuthRequest{
		Group:    req.GetGroup(),
		Username: req.GetUsername(),
		Password: req.GetPassword(),
		RemoteIP: req.GetRemoteIp(),
	})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, status.FromContextError(ctxErr).Err()
		}
		return nil, status.Error(codes.Unknown, err.Error())
	}
	return &proto.AuthResult{
		Code:        int32(res.Code),
		DisplayName: res.DisplayName,
		Email:       res.Email,
		Avatar:      res.Avatar,
		Message:     res.Message,
	}, nil
}

// authClient is the host side of an authenticator plugin.
type authClient struct {
	rpc proto.AuthenticatorClient
}

func (c *authClient) Configure(ctx context.Context, cfg Config) error {
	if _, err := c.rpc.Configure(ctx, &proto.ConfigureRequest{Json: cfg.Raw}); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	return nil
}

func (c *authClient) Authenticate(ctx context.Context, req AuthRequest) (AuthResult, error) {
	resp, err := c.rpc.Authenticate(ctx, &proto.AuthRequest{
		Group:    req.Group,
		Username: req.Username,
		Password: req.Password,
		RemoteIp: req.RemoteIP,
	})
	if err != nil {
		return AuthResult{Code: LoginError}, fmt.Errorf("authenticate: %w", err)
	}
	code := Code(resp.GetCode())
	if !code.Valid() {
		return AuthResult{Code: LoginError, Message: "the authenticator answered an invalid code"},
			fmt.Errorf("authenticate: %w %d", ErrInvalidCode, resp.GetCode())
	}
	return AuthResult{
		Code:        code,
		DisplayName: resp.GetDisplayName(),
		Email:       resp.GetEmail(),
		Avatar:      resp.GetAvatar(),
		Message:     resp.GetMessage(),
	}, nil
}
