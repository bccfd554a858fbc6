package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"

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

// MaxAssetBytes bounds the web client files a module ships (Manifest.Assets),
// all files together: they travel in the module's capabilities.
const MaxAssetBytes = 4 << 20

// ErrNotServed is returned (wrapped) by the host side when the plugin does
// not serve what was asked: a module call to a plugin that is only an
// authenticator, a hook the module did not declare, HTTP from a module
// that declared none.
var ErrNotServed = errors.New("not served by this plugin")

// Module is the module a plugin serves (ServeOpts.Module): any value. What
// it serves is what it implements of the optional interfaces below, looked
// at once when the plugin starts:
//
//   - Configurer: receives the plugin's `config` block and the Host API;
//   - Manifester: declares command prefixes, quiet commands, HTTP, web
//     client assets, FailClosed and the notification kinds it wants;
//   - LoginHook, JoinHook, MessageHook: the decision hooks;
//   - Notifier: notifications (joined, left, logged out, delivered, room
//     changed, the held queue), of the kinds Manifest.Notify names;
//   - Commander: the client commands of the declared prefixes;
//   - Stopper: told when its process is about to end, to save its state;
//   - ClusterListener: the events its processes on other nodes publish.
//
// The host never calls a hook the module does not implement, so a hook
// costs nothing until a module wants it. Implementations must be safe for
// concurrent use and honour ctx cancellation.
type Module any

// Configurer is a Module that wants its configuration. Configure is
// called once per plugin process (so again after a restart), before any
// other call; cfg.Host is the Host API. An error stops the plugin from
// starting and is shown to the operator.
type Configurer interface {
	Configure(ctx context.Context, cfg Config) error
}

// Manifester is a Module that declares more than hooks. Manifest is read
// once, after Configure, so it may depend on the configuration.
type Manifester interface {
	Manifest() Manifest
}

// LoginHook is a Module asked about every login, after the authenticators
// established who the user is.
type LoginHook interface {
	OnLogin(ctx context.Context, ev LoginEvent) (LoginVerdict, error)
}

// JoinHook is a Module asked whether a user may enter a room.
type JoinHook interface {
	OnJoin(ctx context.Context, ev JoinEvent) (JoinVerdict, error)
}

// MessageHook is a Module asked about every message before anyone sees it.
type MessageHook interface {
	OnMessage(ctx context.Context, ev MessageEvent) (MessageVerdict, error)
}

// Notifier is a Module told what happened, in batches, in order. It must
// return promptly: the next batch waits for it (and the host drops
// notifications while it is behind).
type Notifier interface {
	OnNotify(ctx context.Context, batch []Notification)
}

// Stopper is a Module told that its process is about to be stopped (the
// server shuts down and stops its plugins). Stop is the last call the
// module gets, made while the Host API still works, so that it can save
// what it keeps in memory; ctx carries the host's deadline
// (modules.stop_timeout).
// The host goes on when Stop fails or does not return in time, and kills
// the process afterwards either way. A crash, a kill -9 or a plugin the
// host restarts because it stopped answering gets no Stop.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Commander is a Module that answers client commands of the prefixes its
// Manifest declares. A *Refusal error reaches the caller with its code and
// message; any other error as code module_error with a generic sentence.
type Commander interface {
	Command(ctx context.Context, cmd Command) (Reply, error)
}

// Manifest is what a module declares besides its hooks.
type Manifest struct {
	// Commands are the client command prefixes the module owns, each
	// ending in '.' ("dice."); the module must be a Commander.
	Commands []string
	// Quiet are command types (or prefixes) a muted user may still send.
	Quiet []string
	// HTTPPrefix is the URL path the module serves, starting and ending in
	// '/' ("/sso/"); HTTP serves the requests under it. The chat's session
	// cookie never reaches HTTP.
	HTTPPrefix string
	HTTP       http.Handler
	// Assets are the web client files, served by the host at
	// /plugins/<name>/<path> (at most MaxAssetBytes together); Client is
	// the ES module of Assets the web client imports ("main.js").
	Assets fs.FS
	Client string
	// FailClosed makes the host refuse what a declared hook would decide
	// while the module is down or late, instead of letting it pass.
	FailClosed bool
	// Notify are the notification kinds a Notifier wants (RoomChanged,
	// MessageHeld ...); empty means every kind. The host does not queue
	// the others for the module, so a module that needs room changes only
	// costs nothing per delivered message.
	Notify []NotificationKind
}

// ModuleCapabilities returns what m serves, as the host will learn it:
// the hooks it implements and its Manifest, checked. It fails for a
// declaration that cannot work (commands without Command, a prefix
// without '.', HTTP without a prefix, assets over MaxAssetBytes).
// Authenticator is left false; the plugin set says it.
func ModuleCapabilities(m Module) (Capabilities, error) {
	caps, _, err := capabilities(m)
	return caps, err
}

// capabilities is ModuleCapabilities with the Manifest it read.
func capabilities(m Module) (Capabilities, Manifest, error) {
	if m == nil {
		return Capabilities{}, Manifest{}, errors.New("module capabilities: no module")
	}
	caps := Capabilities{Module: true}
	if _, ok := m.(LoginHook); ok {
		caps.Hooks = append(caps.Hooks, HookLogin)
	}
	if _, ok := m.(JoinHook); ok {
		caps.Hooks = append(caps.Hooks, HookJoin)
	}
	if _, ok := m.(MessageHook); ok {
		caps.Hooks = append(caps.Hooks, HookMessage)
	}
	_, notifier := m.(Notifier)
	if notifier {
		caps.Hooks = append(caps.Hooks, HookNotify)
	}
	if _, ok := m.(Stopper); ok {
		caps.Hooks = append(caps.Hooks, HookStop)
	}
	if _, ok := m.(ClusterListener); ok {
		caps.Hooks = append(caps.Hooks, HookCluster)
	}
	var man Manifest
	if mf, ok := m.(Manifester); ok {
		man = mf.Manifest()
	}
	var errs []error
	_, commander := m.(Commander)
	for _, p := range man.Commands {
		if len(p) < 2 || !strings.HasSuffix(p, ".") || strings.ContainsAny(p, " \t\r\n") {
			errs = append(errs, fmt.Errorf("command prefix %q must be a word ending in '.' such as \"dice.\"", p))
		}
	}
	switch {
	case len(man.Commands) > 0 && !commander:
		errs = append(errs, fmt.Errorf("commands %v are declared but %T has no Command method", man.Commands, m))
	case len(man.Commands) == 0 && commander:
		errs = append(errs, fmt.Errorf("%T has a Command method but Manifest declares no command prefix", m))
	}
	caps.Commands = append(caps.Commands, man.Commands...)
	caps.Quiet = append(caps.Quiet, man.Quiet...)
	switch {
	case man.HTTP != nil && man.HTTPPrefix == "":
		errs = append(errs, errors.New("an HTTP handler is declared without an HTTPPrefix"))
	case man.HTTP == nil && man.HTTPPrefix != "":
		errs = append(errs, fmt.Errorf("HTTPPrefix %q is declared without an HTTP handler", man.HTTPPrefix))
	case man.HTTPPrefix != "" && (len(man.HTTPPrefix) < 3 || man.HTTPPrefix[0] != '/' || !strings.HasSuffix(man.HTTPPrefix, "/")):
		errs = append(errs, fmt.Errorf("HTTPPrefix %q must start and end with '/' such as \"/sso/\"", man.HTTPPrefix))
	}
	caps.HTTPPrefix = man.HTTPPrefix
	caps.FailClosed = man.FailClosed
	if len(man.Notify) > 0 && !notifier {
		errs = append(errs, fmt.Errorf("notification kinds %v are declared but %T has no OnNotify method", man.Notify, m))
	}
	known := NotificationKinds()
	for _, k := range man.Notify {
		if !slices.Contains(known, k) {
			errs = append(errs, fmt.Errorf("notification kind %q is not one of %v", k, known))
		}
	}
	caps.Notify = append(caps.Notify, man.Notify...)
	if man.Assets != nil {
		assets, err := readAssets(man.Assets)
		if err != nil {
			errs = append(errs, err)
		}
		caps.Assets = assets
	}
	if man.Client != "" {
		if _, ok := caps.Assets[man.Client]; !ok {
			errs = append(errs, fmt.Errorf("client %q is not one of the assets", man.Client))
		}
		caps.Client = man.Client
	}
	if err := errors.Join(errs...); err != nil {
		return Capabilities{}, Manifest{}, fmt.Errorf("module capabilities: %w", err)
	}
	return caps, man, nil
}

// readAssets reads every file of fsys, MaxAssetBytes together at most.
func readAssets(fsys fs.FS) (map[string][]byte, error) {
	out := map[string][]byte{}
	total := 0
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if total+int(info.Size()) > MaxAssetBytes {
			return fmt.Errorf("module assets: %s (%d bytes) brings them over the limit of %d bytes (4 MiB) for all files together", path, info.Size(), MaxAssetBytes)
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		if total += len(b); total > MaxAssetBytes {
			return fmt.Errorf("module assets: %s brings them over the limit of %d bytes (4 MiB) for all files together", path, MaxAssetBytes)
		}
		out[path] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read module assets: %w", err)
	}
	return out, nil
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
	ms := &moduleServer{impl: p.Impl, auth: p.Auth, broker: broker, log: log, channel: openChannel()}
	if ms.channel != nil {
		go ms.serveChannel(ms.channel)
	}
	proto.RegisterModuleServer(s, ms)
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
	// channel is the message channel the host offered, nil without one.
	channel *frames

	mu         sync.RWMutex
	configured bool
	http       http.Handler
}

func (s *moduleServer) recovered(method string, err *error) {
	if r := recover(); r != nil {
		s.log.Error("plugin panicked", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*err = status.Errorf(codes.Internal, "%s: plugin panicked: %v", method, r)
	}
}

// answerError is the gRPC form of an error a hook or handler returned.
func answerError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return status.FromContextError(ctxErr).Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

// refusalOf splits a hook's error into a refusal (answered in the reply)
// and any other error (answered as a gRPC error).
func refusalOf(err error) (*proto.Refusal, error) {
	var r *Refusal
	if errors.As(err, &r) {
		return &proto.Refusal{Code: r.Code, Message: r.Message}, nil
	}
	return nil, err
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
	if c, ok := s.impl.(Configurer); ok {
		if err := c.Configure(ctx, cfg); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	if s.auth != nil && !sameValue(s.auth, s.impl) {
		if err := s.auth.Configure(ctx, cfg); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	caps, man, err := capabilities(s.impl)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	s.configured, s.http = true, man.HTTP
	s.mu.Unlock()
	return &proto.ModuleConfigureResponse{Authenticator: s.auth != nil, Capabilities: capabilitiesToProto(caps), MessageChannel: s.channel != nil}, nil
}

// sameValue reports whether a and b are the same comparable value.
func sameValue(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	return a == b
}

// ready fails a call that comes before Configure.
func (s *moduleServer) ready() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.configured {
		return status.Error(codes.FailedPrecondition, "the module is not configured yet")
	}
	return nil
}

func (s *moduleServer) ServeHTTP(ctx context.Context, req *proto.HTTPRequest) (_ *proto.HTTPResponse, err error) {
	defer s.recovered("serve http", &err)
	if err := s.ready(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	h := s.http
	s.mu.RUnlock()
	if h == nil {
		return nil, status.Error(codes.Unimplemented, "the module serves no HTTP")
	}
	res, err := serveHTTP(ctx, h, req)
	if err != nil {
		return nil, answerError(ctx, err)
	}
	return res, nil
}

func (s *moduleServer) OnLogin(ctx context.Context, req *proto.LoginEvent) (_ *proto.LoginVerdict, err error) {
	defer s.recovered("on login", &err)
	hook, ok := s.impl.(LoginHook)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the module has no OnLogin")
	}
	v, err := hook.OnLogin(ctx, loginEventFromProto(req))
	r, err := refusalOf(err)
	if err != nil {
		return nil, answerError(ctx, err)
	}
	out := loginVerdictToProto(v)
	out.Refusal = r
	return out, nil
}

func (s *moduleServer) OnJoin(ctx context.Context, req *proto.JoinEvent) (_ *proto.JoinVerdict, err error) {
	defer s.recovered("on join", &err)
	hook, ok := s.impl.(JoinHook)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the module has no OnJoin")
	}
	v, err := hook.OnJoin(ctx, joinEventFromProto(req))
	r, err := refusalOf(err)
	if err != nil {
		return nil, answerError(ctx, err)
	}
	return &proto.JoinVerdict{Deny: v.Deny, Reason: v.Reason, Refusal: r}, nil
}

func (s *moduleServer) OnMessage(ctx context.Context, req *proto.MessageEvent) (_ *proto.MessageVerdict, err error) {
	defer s.recovered("on message", &err)
	hook, ok := s.impl.(MessageHook)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the module has no OnMessage")
	}
	v, err := hook.OnMessage(ctx, messageEventFromProto(req))
	r, err := refusalOf(err)
	if err != nil {
		return nil, answerError(ctx, err)
	}
	out := messageVerdictToProto(v)
	out.Refusal = r
	return out, nil
}

func (s *moduleServer) Command(ctx context.Context, req *proto.CommandRequest) (_ *proto.CommandReply, err error) {
	defer s.recovered("command", &err)
	c, ok := s.impl.(Commander)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the module has no Command")
	}
	reply, err := c.Command(ctx, commandFromProto(req))
	r, err := refusalOf(err)
	if err != nil {
		return nil, answerError(ctx, err)
	}
	if r != nil {
		return &proto.CommandReply{Refusal: r}, nil
	}
	return &proto.CommandReply{Data: reply.Data}, nil
}

func (s *moduleServer) Notify(stream grpc.ClientStreamingServer[proto.NotificationBatch, proto.NotifyResult]) error {
	n, ok := s.impl.(Notifier)
	if !ok {
		return status.Error(codes.Unimplemented, "the module has no OnNotify")
	}
	ctx := stream.Context()
	for {
		batch, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return stream.SendAndClose(&proto.NotifyResult{})
			}
			return err
		}
		s.notify(ctx, n, notificationsFromProto(batch.GetNotifications()))
	}
}

func (s *moduleServer) Stop(ctx context.Context, _ *proto.StopRequest) (_ *proto.StopResponse, err error) {
	defer s.recovered("stop", &err)
	st, ok := s.impl.(Stopper)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "the module has no Stop")
	}
	if err := st.Stop(ctx); err != nil {
		return nil, answerError(ctx, err)
	}
	return &proto.StopResponse{}, nil
}

// notify hands one batch to the module; a panic loses that batch only.
func (s *moduleServer) notify(ctx context.Context, n Notifier, batch []Notification) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("plugin panicked", "method", "on notify", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	n.OnNotify(ctx, batch)
}

// ModuleClient is the host side of a module plugin. It is safe for
// concurrent use.
type ModuleClient struct {
	rpc    proto.ModuleClient
	broker *plugin.GRPCBroker
	host   Host

	messages messageStream   // OnMessage calls (messages.go)
	channel  *MessageChannel // offered to the plugin, until Setup takes it up or closes it

	notifyMu     sync.Mutex // serialises Notify and guards the fields below
	notifyStream grpc.ClientStreamingClient[proto.NotificationBatch, proto.NotifyResult]
	notifyCancel context.CancelFunc
}

// UseChannel hands the client the host's end of the message channel
// offered to its plugin (NewMessageChannel). Setup takes it up when the
// plugin took its end, and closes it otherwise; call it before Setup.
func (c *ModuleClient) UseChannel(ch *MessageChannel) { c.channel = ch }

// OnChannel reports whether OnMessage calls go on the message channel.
func (c *ModuleClient) OnChannel() bool { return c.messages.onChannel() }

// Setup configures the module, first serving the Host API to it through
// the broker, and returns its capabilities (Module true; Authenticator
// when the plugin serves one too, configured by the same call). A plugin
// that serves no module answers an error wrapping ErrNotServed.
func (c *ModuleClient) Setup(ctx context.Context, cfg Config) (Capabilities, error) {
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
	if ch := c.channel; ch != nil {
		c.channel = nil
		if err != nil || !resp.GetMessageChannel() {
			_ = ch.Close() // the plugin left its end alone
		} else if err := c.takeChannel(ch); err != nil {
			return Capabilities{}, fmt.Errorf("configure module: %w", err)
		}
	}
	if err != nil {
		if status.Code(err) == codes.Unimplemented {
			return Capabilities{}, fmt.Errorf("configure module: %w", ErrNotServed)
		}
		return Capabilities{}, fmt.Errorf("configure module: %w", err)
	}
	caps := capabilitiesFromProto(resp.GetCapabilities())
	caps.Module, caps.Authenticator = true, resp.GetAuthenticator()
	return caps, nil
}

// takeChannel makes ch, whose other end the plugin took, the message
// stream.
func (c *ModuleClient) takeChannel(ch *MessageChannel) error {
	ch.Started()
	conn, err := net.FileConn(ch.host)
	_ = ch.host.Close() // FileConn holds a copy
	if err != nil {
		return fmt.Errorf("message channel: %w", err)
	}
	c.messages.useChannel(newFrames(conn))
	return nil
}

// rpcError wraps the error of a call named what; Unimplemented becomes
// ErrNotServed.
func rpcError(what string, err error) error {
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("%s: %w", what, ErrNotServed)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// refusalError is the error of a reply's refusal, or nil.
func refusalError(r *proto.Refusal) error {
	if r == nil {
		return nil
	}
	return &Refusal{Code: r.GetCode(), Message: r.GetMessage()}
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
		Host:     req.Host,
	})
	if err != nil {
		return HTTPResponse{}, rpcError("serve http", err)
	}
	st := int(resp.GetStatus())
	if st == 0 {
		st = http.StatusOK
	}
	return HTTPResponse{Status: st, Header: headersFromProto(resp.GetHeaders()), Body: resp.GetBody()}, nil
}

// OnLogin asks the module's OnLogin. A refusal is a *Refusal error.
func (c *ModuleClient) OnLogin(ctx context.Context, ev LoginEvent) (LoginVerdict, error) {
	resp, err := c.rpc.OnLogin(ctx, loginEventToProto(ev))
	if err != nil {
		return LoginVerdict{}, rpcError("on login", err)
	}
	return loginVerdictFromProto(resp), refusalError(resp.GetRefusal())
}

// OnJoin asks the module's OnJoin. A refusal is a *Refusal error.
func (c *ModuleClient) OnJoin(ctx context.Context, ev JoinEvent) (JoinVerdict, error) {
	resp, err := c.rpc.OnJoin(ctx, joinEventToProto(ev))
	if err != nil {
		return JoinVerdict{}, rpcError("on join", err)
	}
	return JoinVerdict{Deny: resp.GetDeny(), Reason: resp.GetReason()}, refusalError(resp.GetRefusal())
}

// OnMessage asks the module's OnMessage. A refusal is a *Refusal error.
func (c *ModuleClient) OnMessage(ctx context.Context, ev MessageEvent) (MessageVerdict, error) {
	type result struct {
		v   MessageVerdict
		err error
	}
	ch := make(chan result, 1)
	c.OnMessageAsync(ctx, ev, func(v MessageVerdict, err error) { ch <- result{v, err} })
	r := <-ch
	return r.v, r.err
}

// OnMessageAsync asks the module's OnMessage like OnMessage but returns at
// once: done gets the verdict or the error exactly once, usually on the
// goroutine that reads the plugin's answers, so it must be quick and must
// not block (hand anything slow to a goroutine of its own). The call ends
// with ctx: done then gets ctx's error.
func (c *ModuleClient) OnMessageAsync(ctx context.Context, ev MessageEvent, done func(MessageVerdict, error)) {
	req := messageEventToProto(ev)
	unary := func() {
		resp, err := c.rpc.OnMessage(ctx, req)
		done(messageAnswer(resp, err))
	}
	if c.messages.send(ctx, c.rpc, req, func(r answer) {
		resp, isUnary, err := c.messages.result(r)
		if isUnary {
			go unary()
			return
		}
		done(messageAnswer(resp, err))
	}) {
		go unary()
	}
}

// messageAnswer is the verdict of an OnMessage answer, or its error.
func messageAnswer(resp *proto.MessageVerdict, err error) (MessageVerdict, error) {
	if err != nil {
		return MessageVerdict{}, rpcError("on message", err)
	}
	return messageVerdictFromProto(resp), refusalError(resp.GetRefusal())
}

// Command hands a client command to the module. A refusal is a *Refusal
// error.
func (c *ModuleClient) Command(ctx context.Context, cmd Command) (Reply, error) {
	resp, err := c.rpc.Command(ctx, commandToProto(cmd))
	if err != nil {
		return Reply{}, rpcError("command", err)
	}
	if err := refusalError(resp.GetRefusal()); err != nil {
		return Reply{}, err
	}
	return Reply{Data: resp.GetData()}, nil
}

// Notify sends a batch on the plugin's notification stream, opening it
// first if needed. It returns when the batch is handed to the connection
// (not when the module has seen it) or when ctx ends; then the stream is
// dropped, and the next Notify opens a new one.
func (c *ModuleClient) Notify(ctx context.Context, batch []Notification) error {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	if c.notifyStream == nil {
		sctx, cancel := context.WithCancel(context.Background())
		stream, err := c.rpc.Notify(sctx)
		if err != nil {
			cancel()
			return rpcError("notify", err)
		}
		c.notifyStream, c.notifyCancel = stream, cancel
	}
	stream := c.notifyStream
	msg := &proto.NotificationBatch{Notifications: notificationsToProto(batch)}
	done := make(chan error, 1)
	go func() { done <- stream.Send(msg) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		c.notifyCancel()
		<-done
		c.notifyStream, c.notifyCancel = nil, nil
		return fmt.Errorf("notify: %w", ctx.Err())
	}
	if err != nil {
		// The stream's own error comes from its end.
		if _, rerr := stream.CloseAndRecv(); rerr != nil {
			err = rerr
		}
		c.notifyCancel()
		c.notifyStream, c.notifyCancel = nil, nil
		return rpcError("notify", err)
	}
	return nil
}

// Stop tells the module that its process is about to end and waits for
// it to return or for ctx to end. A module that is not a Stopper answers
// an error wrapping ErrNotServed.
func (c *ModuleClient) Stop(ctx context.Context) error {
	if _, err := c.rpc.Stop(ctx, &proto.StopRequest{}); err != nil {
		return rpcError("stop", err)
	}
	return nil
}

// CloseNotify ends the notification stream, if open, and waits until the
// module has handled every batch sent on it (or ctx ends).
func (c *ModuleClient) CloseNotify(ctx context.Context) error {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	stream, cancel := c.notifyStream, c.notifyCancel
	if stream == nil {
		return nil
	}
	c.notifyStream, c.notifyCancel = nil, nil
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := stream.CloseAndRecv()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return rpcError("close notify", err)
		}
		return nil
	case <-ctx.Done():
		cancel()
		<-done
		return fmt.Errorf("close notify: %w", ctx.Err())
	}
}

func headersToProto(h map[string][]string) []*proto.Header {
	if len(h) == 0 {
		return nil
	}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]*proto.Header, 0, len(h))
	for _, name := range names {
		out = append(out, &proto.Header{Name: name, Values: h[name]})
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
