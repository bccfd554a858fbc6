package server

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/parlorchat/parlor/core/auth"
	"github.com/parlorchat/parlor/core/chat"
	"github.com/parlorchat/parlor/core/modules"
	"github.com/parlorchat/parlor/core/pluginhost"
	"github.com/parlorchat/parlor/core/session"
	"github.com/parlorchat/parlor/sdk"
)

// moduleParts is the module pipeline over the plugins that serve a
// module. It is made after the plugins start; a plugin whose capabilities
// become known later (it was down at start-up, or a restart declared
// something else) refreshes it.
type moduleParts struct {
	pipe atomic.Pointer[modules.Pipeline]
}

// pluginSpecs orders the configured plugins for the plugin host: the
// names of modules.order first, in that order, then the others by name.
// The hooks are asked in this order.
func (s *Server) pluginSpecs() []pluginhost.Spec {
	pc := s.cfg.Plugins
	rank := make(map[string]int, len(s.cfg.Modules.Order))
	for i, name := range s.cfg.Modules.Order {
		rank[name] = i + 1
	}
	var specs []pluginhost.Spec
	for name, p := range pc.Load {
		if !p.Disabled {
			specs = append(specs, pluginhost.Spec{Name: name, Path: p.Path, Config: p.Config})
		}
	}
	slices.SortFunc(specs, func(a, b pluginhost.Spec) int {
		ra, rb := rank[a.Name], rank[b.Name]
		switch {
		case ra != 0 && rb != 0:
			return cmp.Compare(ra, rb)
		case ra != 0:
			return -1
		case rb != 0:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return specs
}

// startModules makes the module pipeline over the plugins that serve a
// module, in hook order.
func (s *Server) startModules() *modules.Pipeline {
	mc := s.cfg.Modules
	var plugins []modules.Plugin
	for _, mod := range s.plugins.Modules() {
		plugins = append(plugins, mod)
	}
	p := modules.New(plugins, modules.Options{
		HookTimeout: mc.HookTimeout, CommandTimeout: mc.CommandTimeout,
		NotifyQueue: mc.NotifyQueue, NotifyBatch: mc.NotifyBatch, NotifyTimeout: mc.NotifyTimeout,
		ClusterQueue: mc.ClusterQueue, Logger: s.log.Named("modules"),
	})
	s.mods.pipe.Store(p)
	p.Refresh()
	return p
}

// moduleReady follows a plugin whose capabilities became known: the
// pipeline's hook tables and the hello frame change with them.
func (s *Server) moduleReady(string) {
	if p := s.mods.pipe.Load(); p != nil {
		p.Refresh()
	}
	s.announce()
}

// announce puts the modules, their web client extensions and their
// command prefixes in the hello frame of new connections.
func (s *Server) announce() {
	if s.node == nil || s.plugins == nil {
		return
	}
	names, exts, cmds := s.moduleAnnouncement()
	s.node.Announce(names, exts, cmds)
}

func (s *Server) moduleAnnouncement() (names []string, exts []session.Extension, cmds []string) {
	for _, mod := range s.plugins.Modules() {
		caps := mod.Capabilities()
		if mod.Ready() && !caps.Module {
			continue
		}
		names = append(names, mod.Name())
		if u := mod.ClientURL(); u != "" {
			exts = append(exts, session.Extension{Module: mod.Name(), URL: u})
		}
		cmds = append(cmds, caps.Commands...)
	}
	return names, exts, cmds
}

// observe hands the group's notifications to the modules; it never
// waits.
func (s *Server) observe(n sdk.Notification) {
	if p := s.mods.pipe.Load(); p != nil {
		p.Notify(n)
	}
}

// commandPrefixes are the client command prefixes the plugin called name
// declared; its custom events' types must start with one.
func (s *Server) commandPrefixes(name string) []string {
	if s.plugins == nil {
		return nil
	}
	mod, ok := s.plugins.Module(name)
	if !ok {
		return nil
	}
	return mod.Capabilities().Commands
}

// scheduleApplied reports whether a running module owns the schedule.
// command prefix, the module that applies rooms' opening times.
func (s *Server) scheduleApplied() bool {
	if s.plugins == nil {
		return false
	}
	for _, mod := range s.plugins.Modules() {
		if !mod.Ready() {
			continue
		}
		for _, p := range mod.Capabilities().Commands {
			if p == "schedule." {
				return true
			}
		}
	}
	return false
}

// endBanned ends the logins a new ban of the whole chat covers.
func (s *Server) endBanned(chat.Sanction) {
	if s.node != nil {
		s.node.EndBanned()
	}
}

// reservedPrefixes are the paths of the core a module may not serve.
var reservedPrefixes = []string{"/ws", "/api/", "/metrics", "/healthz", "/plugins/", "/js/"}

// moduleRoutes mounts the web client assets of the modules under
// /plugins/ and forwards each module's HTTP prefix to it, merged into
// extra. A module down since start-up is mounted at /<name>/ until it
// runs. A prefix that would shadow the core or another module is refused
// with a warning.
func (s *Server) moduleRoutes(extra map[string]http.Handler) map[string]http.Handler {
	out := make(map[string]http.Handler, len(extra)+4)
	for k, v := range extra {
		out[k] = v
	}
	mods := s.plugins.Modules()
	if len(mods) == 0 {
		return out
	}
	out["GET /plugins/"] = s.plugins.Assets()
	taken := map[string]string{}
	for _, mod := range mods {
		p := mod.Capabilities().HTTPPrefix
		if !mod.Ready() {
			p = "/" + mod.Name() + "/"
		}
		if p == "" {
			continue
		}
		if why := prefixRefused(p, taken); why != "" {
			s.log.Warn("module HTTP prefix refused", "plugin", mod.Name(), "prefix", p, "reason", why)
			continue
		}
		taken[p] = mod.Name()
		h := mod.HTTPHandler(auth.SessionCookie)
		out["GET "+p] = h
		out["POST "+p] = h
		s.log.Info("plugin serves HTTP", "plugin", mod.Name(), "prefix", p)
	}
	return out
}

// prefixRefused says why a module may not serve the path prefix p, or "".
func prefixRefused(p string, taken map[string]string) string {
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || p == "/" {
		return "a prefix starts and ends with / and is not / itself"
	}
	for _, r := range reservedPrefixes {
		if strings.HasPrefix(p, r) || strings.HasPrefix(r, p) {
			return "it overlaps " + r + ", which the server serves"
		}
	}
	for other, name := range taken {
		if strings.HasPrefix(p, other) || strings.HasPrefix(other, p) {
			return "it overlaps " + other + " of the module " + name
		}
	}
	return ""
}
